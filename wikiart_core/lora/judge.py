"""Judging generated paintings with an independent classifier.

The judge is the StyleCNN of the classification notebook: it was trained on the
paintings' labels and never sees the LoRA's loss, so it cannot be gamed by what the
LoRA optimised. A generated image "hits" when the judge assigns it the style its
prompt asked for. The hit rate of the LoRA's images against the base model's (same
prompts, same seeds) is the headline; chance is 1 / (number of styles).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


@torch.inference_mode()
def classify_images(classifier: torch.nn.Module, images: np.ndarray, image_size: int, *, device="cpu",
                    batch_size: int = 64) -> np.ndarray:
    """The classifier's predicted style index for each image.

    Args:
        classifier: a StyleCNN (input (B, 3, S, S) floats in [0, 1], output logits).
        images: (N, H, W, 3) float32 in [0, 1], as the pipeline paints them.
        image_size: the side S the classifier was trained at; the images are resized to
            it (area-averaged when shrinking), as the data layer resizes real paintings.
        device: where to run the classifier.

    Returns:
        (N,) int64 predicted labels.
    """
    was_training = classifier.training
    classifier.to(device).eval()
    predictions = []
    try:
        for start in range(0, len(images), batch_size):
            batch = torch.from_numpy(np.ascontiguousarray(images[start:start + batch_size], dtype=np.float32))
            batch = batch.permute(0, 3, 1, 2).to(device)
            if batch.shape[-1] != image_size or batch.shape[-2] != image_size:
                batch = torch.nn.functional.interpolate(batch, size=(image_size, image_size), mode="bilinear",
                                                        antialias=True, align_corners=False)
            predictions.append(classifier(batch.clamp(0, 1)).argmax(dim=1).cpu())
    finally:
        classifier.train(was_training)
    return torch.cat(predictions).numpy().astype(np.int64) if predictions else np.zeros(0, np.int64)


def style_hit_rate(classifier: torch.nn.Module, images: np.ndarray, styles: Sequence[str], classes: Sequence[str],
                   image_size: int, *, device="cpu") -> dict:
    """How often the judge sees the style that the prompt asked for.

    Args:
        images: (S, K, H, W, 3) or (N, H, W, 3) floats in [0, 1]; with a grid, row s
            was prompted with ``styles[s]``; flat, image i with ``styles[i]``.
        styles: the prompted style of each row (or image).
        classes: the classifier's label order (the train split's ``.classes``).
        image_size: the classifier's input side, pixels.

    Returns:
        {"hit_rate": share of images judged as their prompted style, "n_images",
        "chance": 1 / len(classes), "per_style": {style: hit rate},
        "predicted": [predicted style name per image, row by row], "prompted_labels" and
        "predicted_labels": the same as label indices (for ``stats.paired_bootstrap``)}.
    """
    images = np.asarray(images)
    if images.ndim == 5:
        per_row = images.shape[1]
        prompted = [style for style in styles for _ in range(per_row)]
        images = images.reshape(-1, *images.shape[2:])
    else:
        prompted = list(styles)
    if len(prompted) != len(images):
        raise ValueError(f"{len(images)} images but {len(prompted)} prompted styles")
    index = {style: i for i, style in enumerate(classes)}
    unknown = sorted(set(prompted) - set(index))
    if unknown:
        raise ValueError(f"styles {unknown} are not among the classifier's classes")
    predicted = classify_images(classifier, images, image_size, device=device)
    wanted = np.array([index[style] for style in prompted], dtype=np.int64)
    hits = predicted == wanted
    per_style = {style: float(hits[[i for i, s in enumerate(prompted) if s == style]].mean())
                 for style in dict.fromkeys(prompted)}
    return {"hit_rate": float(hits.mean()) if len(hits) else float("nan"), "n_images": int(len(hits)),
            "chance": 1.0 / len(classes), "per_style": per_style,
            "predicted": [classes[label] for label in predicted],
            "prompted_labels": wanted.tolist(), "predicted_labels": predicted.tolist()}
