"""Honest evaluation: batched predictions, scikit-learn metrics, and the baselines
every result is read against.

The course test loop ran one image at a time and reported accuracy alone. On data
where one style is 16% of the test set, accuracy alone hides a model that always
answers that style; so every table here carries balanced accuracy (mean per-class
recall, chance = 1/C), macro-F1, and the two baselines computed from the train counts.
Reconstructions are read against :class:`ResizeBaseline`: shrink the image to as many
numbers as the latent has and blow it back up.
"""
from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
from sklearn.metrics import (ConfusionMatrixDisplay, accuracy_score, balanced_accuracy_score, f1_score,
                             precision_recall_fscore_support)

from . import data
from .augment import center_crop
from .device import pick_device


@dataclass
class Predictions:
    """What a classifier said about a dataset, in dataset order.

    y_true: (N,) int64 true labels; y_pred: (N,) int64 argmax labels;
    probabilities: (N, C) float32 softmax probabilities (rows sum to 1)."""
    y_true: np.ndarray
    y_pred: np.ndarray
    probabilities: np.ndarray


def _batches(n: int, batch_size: int):
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for start in range(0, n, batch_size):
        yield np.arange(start, min(start + batch_size, n))


def forward_batches(model, dataset, *, batch_size: int = 256, device: str | torch.device = "auto",
                    function=None, input_size: int | None = None):
    """Run ``dataset`` through a model batch by batch, in dataset order.

    Yields ``(inputs, labels, outputs)``: the (B, 3, S, S) floats in [0, 1] on ``device``
    (the central ``input_size`` crop when the cache is larger than the model's input),
    the (B,) int64 labels, and ``function(inputs)`` (default ``model(inputs)``). Runs
    under ``torch.inference_mode``; an ``nn.Module`` is moved to ``device`` (it stays
    there) and put in eval mode, and its train/eval mode is restored when the loop ends.
    ``model`` may also be a plain function of the inputs."""
    device = pick_device(device)
    module = model if isinstance(model, torch.nn.Module) else None
    function = function or model
    was_training = module.training if module is not None else False
    if module is not None:
        module.to(device).eval()
    try:
        with torch.inference_mode():
            for indices in _batches(len(dataset), batch_size):
                images, labels = dataset.get_batch(indices)
                inputs = center_crop(data.to_float(images, device), input_size)
                yield inputs, labels, function(inputs)
    finally:
        if module is not None:
            module.train(was_training)


def predict(model: torch.nn.Module, dataset, *, batch_size: int = 256, device: str | torch.device = "auto",
            input_size: int | None = None) -> Predictions:
    """Classify every item of ``dataset`` (a :class:`~wikiart_core.data.WikiArtDataset`).

    Batches of ``batch_size`` images go through ``model`` (in eval mode, under
    ``torch.inference_mode``) as floats in [0, 1]; the model standardises them itself.
    The model is moved to ``device`` ("auto": CUDA, MPS, else CPU) and stays there;
    its train/eval mode is restored afterwards. Works for logits and log-probabilities
    alike (softmax of log-probabilities gives the same probabilities back)."""
    y_true, probabilities = [], []
    for _, labels, scores in forward_batches(model, dataset, batch_size=batch_size, device=device,
                                             input_size=input_size):
        probabilities.append(torch.softmax(scores.float(), dim=1).cpu().numpy())
        y_true.append(labels.numpy())
    n_classes = len(getattr(dataset, "classes", ())) or None
    if probabilities:
        probs = np.concatenate(probabilities).astype(np.float32)
        truth = np.concatenate(y_true).astype(np.int64)
    else:
        probs = np.zeros((0, n_classes or 0), dtype=np.float32)
        truth = np.zeros(0, dtype=np.int64)
    return Predictions(y_true=truth, y_pred=probs.argmax(axis=1).astype(np.int64), probabilities=probs)


TOP_K = 3


def top_k_accuracy(y_true: Sequence[int], scores: np.ndarray, k: int = TOP_K) -> float:
    """Share of items whose true label is among the ``k`` highest of its row of
    ``scores`` ((N, C) probabilities or logits, columns = label indices); ties are broken
    by label order (the lower label first), so a constant row is scored deterministically.
    With k >= C every item counts. Top-3 matters for styles that blur into each other
    (Impressionism, Post-Impressionism, Pointillism): a model that ranks the right style
    second is not the same as one that has no idea."""
    y_true = np.asarray(y_true, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if len(y_true) == 0:
        return float("nan")
    k = min(k, scores.shape[1])
    # A stable sort of -scores keeps the lower label first among equal scores.
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float((ranked == y_true[:, None]).any(axis=1).mean())


def classification_metrics(y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str],
                           probabilities: np.ndarray | None = None) -> dict:
    """Accuracy, balanced accuracy, macro-F1 and per-class scores (all fractions in [0, 1]),
    and ``top3_accuracy`` when ``probabilities`` ((N, C) scores per label) are given.

    ``balanced_accuracy`` is the mean recall over the styles present in ``y_true``
    (chance level 1/C); ``macro_f1`` averages F1 over the styles present in ``y_true``
    or ``y_pred`` (scikit-learn's default), with 0 where a style is never predicted.
    ``per_class`` has every style of ``classes``, also those absent from ``y_true``
    (support 0): {style: {precision, recall, f1, support}}."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(len(classes))), zero_division=0)
    per_class = {style: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]),
                         "support": int(support[i])}
                 for i, style in enumerate(classes)}
    with warnings.catch_warnings():
        # A style predicted but absent from y_true is expected on small test sets, not news.
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        balanced_accuracy = float(balanced_accuracy_score(y_true, y_pred))
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": balanced_accuracy,
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "n_samples": int(len(y_true)),
        "per_class": per_class,
    }
    if probabilities is not None:
        metrics["top3_accuracy"] = top_k_accuracy(y_true, probabilities, TOP_K)
    return metrics


def reconstruction_metrics(model: torch.nn.Module, dataset, *, batch_size: int = 256,
                           device: str | torch.device = "auto") -> dict[str, float]:
    """Mean squared error over every pixel and channel of ``dataset`` (images in [0, 1])
    between the images and ``model(images)``, and the PSNR of that MSE in dB with peak
    1: 10 * log10(1 / mse) (from the dataset-wide MSE, not an average of per-image
    PSNRs). Mode and device handling as in :func:`predict`."""
    squared_error, count = 0.0, 0
    for images, _, reconstructions in forward_batches(model, dataset, batch_size=batch_size, device=device):
        squared_error += float(((reconstructions.float() - images) ** 2).sum())
        count += images.numel()
    if count == 0:
        raise ValueError("reconstruction_metrics needs a non-empty dataset")
    mse = squared_error / count
    return {"mse": mse, "psnr": 10.0 * math.log10(1.0 / mse) if mse > 0 else float("inf")}


# --------------------------------------------------------------------------- the reconstruction baseline


def resize_baseline_side(image_size: int, compression_ratio: float) -> int:
    """Side of the shrunken image that holds 3 * S**2 / ratio numbers (rounded, at least 1)."""
    return max(1, round(image_size / math.sqrt(compression_ratio)))


class ResizeBaseline(torch.nn.Module):
    """The no-learning reference for an autoencoder: resize (B, 3, S, S) images in
    [0, 1] down to ``side`` x ``side`` (bilinear with antialiasing, i.e. averaging
    the pixels each output pixel covers) and back up to S x S (bilinear).

    With ``side = S / sqrt(ratio)`` the small image holds as many numbers as a
    latent with that compression ratio, so the two are compared at equal size.
    It has no weights; it is a module so that the same evaluation code measures it.
    """

    def __init__(self, image_size: int, compression_ratio: float):
        super().__init__()
        self.image_size = int(image_size)
        self.side = resize_baseline_side(image_size, compression_ratio)
        # The ratio actually achieved after rounding the side to whole pixels.
        self.compression_ratio = self.image_size ** 2 / self.side ** 2

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.interpolate(x, size=(self.side, self.side), mode="bilinear", antialias=True,
                                               align_corners=False)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        size = (self.image_size, self.image_size)
        return torch.nn.functional.interpolate(z, size=size, mode="bilinear", align_corners=False).clamp(0, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def resize_baseline_metrics(dataset, compression_ratio: float, *, batch_size: int = 256,
                            device: str | torch.device = "cpu") -> dict[str, float]:
    """MSE and PSNR (dB, peak 1) of :class:`ResizeBaseline` on ``dataset``, measured
    by :func:`reconstruction_metrics` exactly as the autoencoder is, plus the ``side``
    of the shrunken image and the ``compression_ratio`` it achieves."""
    baseline = ResizeBaseline(dataset.image_size, compression_ratio)
    metrics = reconstruction_metrics(baseline, dataset, batch_size=batch_size, device=device)
    return {**metrics, "side": baseline.side, "compression_ratio": baseline.compression_ratio}


def baselines(train_counts: Mapping[str, int], y_true: Sequence[int], classes: Sequence[str]) -> dict:
    """The two no-skill baselines, computed from the train counts and scored on ``y_true``.

    - ``majority``: always answer the largest training style (ties: first in
      ``classes``). Scored exactly with scikit-learn on that constant prediction, so
      balanced accuracy is 1/(number of styles present in y_true).
    - ``stratified``: answer style c at random with its training share p_train(c).
      Computed analytically, as expected values, not by sampling:
      accuracy = sum_c p_train(c) * p_test(c); balanced accuracy = mean over the
      styles present in y_true of p_train(c) (= 1/C when all are present);
      macro-F1 from the expected counts (TP_c = n_c p_train(c), predicted_c =
      N p_train(c)): F1_c = 2 n_c p_train(c) / (N p_train(c) + n_c), averaged over the
      styles that appear in y_true or get predicted (a ratio of expectations, an
      approximation of the expected F1).

    Top-3 accuracy (``top3_accuracy``): the majority baseline ranks styles by their
    training counts (the three largest always); the stratified one draws three distinct
    styles, each draw in proportion to p_train among those not drawn yet, and its top-3
    accuracy is the exact expectation (see :func:`_stratified_top_k_hit`).

    Returns {"majority": {"style", "accuracy", "balanced_accuracy", "macro_f1", "top3_accuracy"},
             "stratified": {"accuracy", "balanced_accuracy", "macro_f1", "top3_accuracy"}}."""
    y_true = np.asarray(y_true, dtype=np.int64)
    if len(y_true) == 0:
        raise ValueError("baselines needs a non-empty y_true")
    train = np.array([train_counts.get(style, 0) for style in classes], dtype=np.float64)
    if train.sum() <= 0:
        raise ValueError("train_counts has no images for the given classes")
    majority = int(np.argmax(train))
    constant = np.full_like(y_true, majority)
    n_test = np.bincount(y_true, minlength=len(classes)).astype(np.float64)
    p_train = train / train.sum()
    p_test = n_test / n_test.sum()
    present = n_test > 0
    expected_tp = n_test * p_train
    expected_predicted = n_test.sum() * p_train
    scored = present | (p_train > 0)
    f1 = np.divide(2 * expected_tp, expected_predicted + n_test, out=np.zeros_like(n_test),
                   where=(expected_predicted + n_test) > 0)
    return {
        "majority": {
            "style": classes[majority],
            "accuracy": float(accuracy_score(y_true, constant)),
            "balanced_accuracy": float(balanced_accuracy_score(y_true, constant)),
            "macro_f1": float(f1_score(y_true, constant, average="macro", zero_division=0)),
            "top3_accuracy": top_k_accuracy(y_true, np.tile(train, (len(y_true), 1)), TOP_K),
        },
        "stratified": {
            "accuracy": float((p_train * p_test).sum()),
            "balanced_accuracy": float(p_train[present].mean()),
            "macro_f1": float(f1[scored].mean()),
            "top3_accuracy": float((p_test * _stratified_top_k_hit(p_train, TOP_K)).sum()),
        },
    }


def _stratified_top_k_hit(p_train: np.ndarray, k: int) -> np.ndarray:
    """(C,) the probability that style c is among k distinct styles drawn one after the
    other, each draw in proportion to ``p_train`` among the styles not drawn yet. Exact,
    by summing over the ordered draws (C!/(C-k)! of them: 17,550 for 27 styles and k=3)."""
    positive = np.flatnonzero(p_train > 0)
    k = min(k, len(positive))
    hit = np.zeros(len(p_train))
    for draws in itertools.permutations(positive.tolist(), k):
        probability, remaining = 1.0, 1.0
        for style in draws:
            probability *= p_train[style] / remaining
            remaining -= p_train[style]
        hit[list(draws)] += probability
    return hit


_COLUMNS = (("accuracy", "acc."), ("balanced_accuracy", "bal. acc."), ("macro_f1", "macro-F1"),
            ("top3_accuracy", "top-3"))
_BASELINE_NAMES = {"majority": "always {style}", "stratified": "stratified random (expected)",
                   "colour_statistics": "colour statistics (logistic regression)"}


def results_table(rows: Mapping[str, Mapping[str, Mapping[str, float]]],
                  baselines: Mapping[str, Mapping[str, Mapping]] | None = None) -> str:
    """A fixed-width text table with validation and test side by side.

    ``rows``: {model name: {"validation": metrics, "test": metrics}} (metrics with
    accuracy, balanced_accuracy, macro_f1, top3_accuracy as fractions; a missing split or
    metric shows "-").
    ``baselines``: {"validation": {...}, "test": {...}}, each {"majority": ...,
    "stratified": ..., "colour_statistics": ...} as made by
    ``tasks.classification_baselines``. Percentages with one decimal."""
    splits = ("validation", "test")
    lines = []
    if baselines:
        for key, template in _BASELINE_NAMES.items():
            per_split = {split: baselines.get(split, {}).get(key) for split in splits}
            if any(per_split.values()):
                style = next((v.get("style") for v in per_split.values() if v and v.get("style")), "majority")
                lines.append((f"baseline: {template.format(style=style)}",
                              {split: values or {} for split, values in per_split.items()}))
    entries = list(rows.items())
    width = max([len("model")] + [len(name) for name, _ in entries + lines]) + 1
    cell = 10
    header_top = f"{'':<{width}}" + "".join(f"{split:-^{cell * len(_COLUMNS)}}" for split in splits)
    header = f"{'model':<{width}}" + "".join(f"{title:>{cell}}" for _ in splits for _, title in _COLUMNS)

    def line(name, by_split):
        cells = []
        for split in splits:
            metrics = by_split.get(split) or {}
            for key, _ in _COLUMNS:
                value = metrics.get(key)
                cells.append(f"{'-':>{cell}}" if value is None else f"{100 * value:>{cell - 1}.1f}%")
        return f"{name:<{width}}" + "".join(cells)

    out = [header_top, header, "-" * len(header)] + [line(n, m) for n, m in entries]
    if lines:
        if entries:
            out.append("-" * len(header))
        out += [line(n, m) for n, m in lines]
    return "\n".join(out)


def confusion_matrix_figure(y_true: Sequence[int], y_pred: Sequence[int], classes: Sequence[str],
                            normalize: str | None = "true", title: str | None = None):
    """A confusion matrix with style names (rows: true style, columns: predicted),
    normalised per true style by default (so the diagonal is per-class recall).
    Returns a matplotlib Figure (built by ``plots._figure``, no pyplot state)."""
    from . import plots

    size = 0.26 * len(classes) + 2.5
    figure = plots._figure(size + 1.0, size)
    axes = figure.add_subplot()
    labels = [style.replace("_", " ") for style in classes]
    ConfusionMatrixDisplay.from_predictions(
        np.asarray(y_true), np.asarray(y_pred), labels=list(range(len(classes))), display_labels=labels,
        normalize=normalize, include_values=len(classes) <= 12, ax=axes, colorbar=True, cmap="Blues",
        xticks_rotation="vertical", values_format=".2f")
    # At plots.DPI (100) a row is 0.26 in = 26 px, room for 9 pt style names; the figure
    # then fits a notebook column without being shrunk below the 8 pt plots checks.
    axes.tick_params(labelsize=9)
    axes.set_xlabel("predicted style", fontsize=10)
    axes.set_ylabel("true style", fontsize=10)
    if title:
        axes.set_title(title, fontsize=10)
    return figure
