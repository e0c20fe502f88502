"""Training images with captions: the project's data layer, seen by a text-to-image model.

Each training image of the train split (never validation or test) gets the caption of
its style folder, ``Analytical_Cubism`` -> "a painting in the style of Analytical
Cubism" (optionally with a rare token per style). Images are decoded as the data layer
decodes them (shorter side resized to the pipeline's resolution, centre square
cropped), straight from the split's files.

Styles are drawn *uniformly* (:func:`balanced_indices`): with WikiArt's imbalance
(2269 Impressionism images, 15 Analytical Cubism) plain shuffling would teach the LoRA
mostly Impressionism. And because the VAE is frozen, every image is encoded once
(:func:`encode_latents`, cached on disk) instead of at every step.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .. import files
from . import LoraError

CAPTION_TEMPLATE = "a painting in the style of {style}"


def style_words(style: str) -> str:
    """A folder name as words: ``Naive_Art_Primitivism`` -> ``Naive Art Primitivism``."""
    return " ".join(str(style).replace("_", " ").split())


def rare_token(style: str) -> str:
    """A made-up word for ``style`` (e.g. ``wkrtukiyoe``): a prompt word the text
    encoder has no prior meaning for, which the LoRA can bind to the style."""
    return "wkrt" + "".join(style_words(style).lower().split())


def style_caption(style: str, *, with_token: bool = False, template: str = CAPTION_TEMPLATE) -> str:
    """The caption (and generation prompt) of a style folder:
    ``style_caption("Analytical_Cubism")`` -> ``"a painting in the style of Analytical Cubism"``;
    with ``with_token`` the style's :func:`rare_token` follows the name."""
    words = style_words(style)
    return template.format(style=f"{words} {rare_token(style)}" if with_token else words)


def balanced_indices(targets: Sequence[int], count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` item indices drawn class-balanced: a style uniformly among the styles
    that have images, then one of its images uniformly (with replacement).

    Args:
        targets: (N,) style label of each item.
        count: how many indices to draw.
        rng: the numpy generator (seed it per step for reproducible, resumable runs).

    Returns:
        (count,) int64 indices into ``targets``.
    """
    targets = np.asarray(targets, dtype=np.int64)
    styles, starts, sizes = np.unique(np.sort(targets), return_index=True, return_counts=True)
    if len(styles) == 0:
        raise LoraError("no training images to draw from: the caption dataset is empty")
    members = np.argsort(targets, kind="stable")  # members[starts[s]:starts[s]+sizes[s]] are style s's items
    chosen = rng.integers(0, len(styles), size=count)
    within = (rng.random(count) * sizes[chosen]).astype(np.int64)
    return members[starts[chosen] + within]


@dataclass
class CaptionedImages:
    """Training images (decoded at the pipeline's resolution when needed) and the
    captions of their styles.

    Attributes:
        paths: (N,) image files, from the train split.
        targets: (N,) int64 style labels, in the train split's label order.
        resolution: image side in pixels.
        classes: style names in label order (the train split's ``.classes``).
        captions: one caption per style, in label order.
        input_ids: (C, L) int64 token ids of the captions (L = the tokenizer's max length).
        images_per_style: the cap :func:`caption_dataset` applied (None: every image).
        selection_seed: the seed that chose the images under that cap.

    The images are decoded from the files on demand (:meth:`pixels`), not kept: with
    the latents cached they are needed once, and 5000 paintings at 512 px would be 4 GB.
    """

    paths: list[str]
    targets: np.ndarray
    resolution: int
    classes: list[str]
    captions: list[str]
    input_ids: torch.Tensor
    images_per_style: int | None = None
    selection_seed: int = 0

    def __len__(self) -> int:
        return len(self.paths)

    def pixels(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """((B, 3, R, R) float32 images in [-1, 1], the range the VAE expects; (B,) labels).
        Decoded as the data layer decodes (shorter side resized, centre square cropped)."""
        from concurrent.futures import ThreadPoolExecutor

        from wikiart_core.data import decode_image

        indices = np.asarray(indices, dtype=np.int64)
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            arrays = list(pool.map(lambda i: decode_image(self.paths[i], self.resolution), indices.tolist()))
        images = torch.from_numpy(np.stack(arrays)) if arrays else torch.zeros(0, 3, self.resolution,
                                                                                 self.resolution, dtype=torch.uint8)
        return images.float().div(127.5).sub(1.0), torch.from_numpy(self.targets[indices])

    def class_counts(self) -> dict[str, int]:
        """Images per style, in label order."""
        counts = np.bincount(self.targets, minlength=len(self.classes))
        return {style: int(count) for style, count in zip(self.classes, counts)}

    def record(self) -> dict:
        """What a LoRA run trained on, for its resume state: a resumed run must train on
        the same images, or it mixes two runs.

        Returns {"resolution": px, "images_per_style": cap or None, "selection_seed": the
        cap's seed (None without a cap: it then chooses nothing), "n_images": N,
        "files_sha256": a SHA-256 over each image's ``style folder/file name`` and label}. The
        names leave out the folders above the style folders, so a dataset that moved
        (copied to scratch, another mount point) is still the same training set."""
        digest = hashlib.sha256()
        for path, label in zip(self.paths, self.targets.tolist()):
            digest.update(f"{Path(path).parent.name}/{Path(path).name}\t{label}\n".encode())
        return {"resolution": int(self.resolution), "images_per_style": self.images_per_style,
                "selection_seed": int(self.selection_seed) if self.images_per_style is not None else None,
                "n_images": len(self), "files_sha256": digest.hexdigest()[:16]}


def caption_dataset(train, tokenizer, resolution: int, *, images_per_style: int | None = None, seed: int = 0,
                    with_token: bool = False) -> CaptionedImages:
    """The captioned training set of a LoRA run.

    Args:
        train: the train split (``splits.train``, a WikiArtDataset at any size): its label
            mapping (``.classes``) and its files; never validation or test.
        tokenizer: the pipeline's CLIP tokenizer (captions padded to its ``model_max_length``).
        resolution: image side in pixels (the pipeline's, e.g. 512 for SD 1.5).
        images_per_style: keep at most this many images per style (seeded; None: all).
        seed: which images that cap keeps.
        with_token: add each style's rare token to its caption.
    """
    chosen = train.limit_per_class(images_per_style, seed)
    classes = list(train.classes)
    captions = [style_caption(style, with_token=with_token) for style in classes]
    input_ids = tokenizer(captions, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                          return_tensors="pt").input_ids
    return CaptionedImages(paths=list(chosen.paths), targets=np.asarray(chosen.targets, dtype=np.int64),
                           resolution=int(resolution), classes=classes, captions=captions, input_ids=input_ids,
                           images_per_style=None if images_per_style is None else int(images_per_style),
                           selection_seed=int(seed))


# --------------------------------------------------------------------------- latents, once


def latent_cache_file(cache_dir: str | os.PathLike, source: str, dataset: CaptionedImages) -> Path:
    """Where the latents of ``dataset`` under the VAE of pipeline ``source`` are cached:
    the key covers the VAE's weight file (path, size, time), the resolution and the files."""
    vae_files = sorted(Path(source, "vae").glob("*")) if Path(source, "vae").is_dir() else []
    stamp = [str(source)] + [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in vae_files]
    digest = hashlib.sha256(json.dumps([stamp, dataset.resolution, dataset.paths]).encode()).hexdigest()[:20]
    return Path(cache_dir) / "lora_latents" / f"{digest}.pt"


@torch.no_grad()
def encode_latents(dataset: CaptionedImages, vae, *, batch_size: int = 16, device="cpu", dtype=torch.float32,
                   cache_file: str | os.PathLike | None = None) -> torch.Tensor:
    """Every image's latent distribution under the frozen VAE, computed once.

    Returns:
        (N, 2 * latent_channels, R / f, R / f) float32 on the CPU: the mean and log-variance
        of each image's diagonal Gaussian (f is the VAE's down-scaling factor, 8 for SD).
        Training draws a fresh sample from it at every step (:func:`sample_latents`), as
        encoding every step would, at none of the cost. Read from ``cache_file`` when it
        exists; written there (atomically: ``files.atomic_write``) otherwise.
    """
    if cache_file is not None and Path(cache_file).is_file():
        cached = torch.load(cache_file, map_location="cpu", weights_only=True)
        if cached.shape[0] == len(dataset):
            return cached
    parameters = []
    for start in range(0, len(dataset), batch_size):
        pixels, _ = dataset.pixels(range(start, min(start + batch_size, len(dataset))))
        posterior = vae.encode(pixels.to(device, dtype)).latent_dist
        parameters.append(torch.cat([posterior.mean, posterior.logvar], dim=1).float().cpu())
    latents = torch.cat(parameters) if parameters else torch.zeros(0)
    if cache_file is not None:
        # Serialised in memory first: torch.save writing into a file handle turns the
        # handle's "no space left" into a RuntimeError ("unexpected pos"), which would hide
        # a full disk; a plain write of the bytes keeps the OSError (files.DiskFullError).
        data = _torch_bytes(latents)
        files.atomic_write(cache_file, lambda handle: handle.write(data))
    return latents


def _torch_bytes(value) -> bytes:
    """``torch.save(value)`` as bytes."""
    import io

    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


def sample_latents(parameters: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """(B, 2c, h, w) mean and log-variance -> (B, c, h, w) samples: mean + std * noise
    (what ``latent_dist.sample()`` does; log-variance clamped as diffusers clamps it)."""
    mean, logvar = parameters.chunk(2, dim=1)
    std = torch.exp(0.5 * logvar.clamp(-30.0, 20.0))
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device="cpu").to(mean.device)
    return mean + std * noise
