"""Batched data augmentation on the device, seeded per epoch.

Augmentation runs on whole (B, 3, S, S) float batches where the model runs (GPU or
CPU), not per image in a data-loader worker. Every random number comes from a
``torch.Generator`` on the CPU, so a seed gives the same augmented batch on any device.

``PRESETS`` names the recipes a run specification can ask for:
``"art"`` (random resized crop of 60-100 % of the area, flip, mild colour jitter:
what suits paintings), ``"light"`` (crops of 80-100 % of the area and mild colour
jitter, no flip: safe for data whose meaning changes in a mirror, such as digits or
text), ``"flip"`` (horizontal flips only, for reconstruction) and ``"none"``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

PRESETS: dict[str, dict | None] = {
    "art": dict(crop=True, flip=True, jitter=0.1),
    "light": dict(crop=True, flip=False, jitter=0.1, crop_scale=(0.8, 1.0)),
    "flip": dict(crop=False, flip=True, jitter=0.0),
    "none": None,
}


def check_preset(name: str) -> str:
    """``name`` if it is a key of :data:`PRESETS`, else a ValueError listing them."""
    if name not in PRESETS:
        raise ValueError(f"unknown augmentation {name!r}; choose one of {sorted(PRESETS)}")
    return name


def apply_preset(name: str, images: torch.Tensor, generator: torch.Generator,
                 output_size: int | None = None) -> torch.Tensor:
    """``images`` augmented with the preset ``name`` (``"none"``: only the centre
    ``output_size`` crop), at ``output_size`` px (default: their own size)."""
    settings = PRESETS[check_preset(name)]
    if settings is None:
        return center_crop(images, output_size)
    return augment_batch(images, generator, output_size=output_size, **settings)


def center_crop(images: torch.Tensor, size: int | None) -> torch.Tensor:
    """The central ``size`` x ``size`` of (B, 3, S, S) images (unchanged when ``size`` is
    None or S): how a model trained on crops of a larger cache sees whole images, at the
    scale of its training crops and without resampling."""
    side = images.shape[-1]
    if size is None or size == side:
        return images
    if size > side:
        raise ValueError(f"cannot crop {size} px out of {side} px images: the cache must be at least the input size")
    start = (side - size) // 2
    return images[..., start:start + size, start:start + size]


def augment_batch(images: torch.Tensor, generator: torch.Generator, *, crop: bool = True, flip: bool = True,
                  jitter: float = 0.1, crop_scale: tuple[float, float] = (0.6, 1.0),
                  crop_ratio: tuple[float, float] = (3 / 4, 4 / 3), output_size: int | None = None) -> torch.Tensor:
    """Random resized crop, horizontal flip and colour jitter on a whole batch at once.

    ``images``: (B, 3, S, S) floats in [0, 1] on any device; returns (B, 3, O, O) with
    O = ``output_size`` (default S). Each image gets its own crop (a fraction
    ``crop_scale`` of the area, aspect ratio in ``crop_ratio``, resampled to O x O
    bilinearly: with a cache larger than O, crops are shrunk, never stretched; without
    crop, the centre O x O is kept), a flip with probability
    1/2, and brightness, contrast and saturation factors in [1 - jitter, 1 + jitter].
    The random numbers are drawn on the CPU from ``generator`` (a few per image), so the
    result depends only on the generator's seed, whatever the device."""
    batch = images.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(batch, generator=generator) * (high - low) + low

    if crop:
        area = uniform(*crop_scale)
        ratio = uniform(math.log(crop_ratio[0]), math.log(crop_ratio[1])).exp()
        width = (area * ratio).sqrt().clamp(max=1.0)   # as a fraction of the image side
        height = (area / ratio).sqrt().clamp(max=1.0)
        # affine_grid works in [-1, 1] coordinates: the crop's centre may move by 1 - its size.
        centre_x = uniform(-1.0, 1.0) * (1 - width)
        centre_y = uniform(-1.0, 1.0) * (1 - height)
        theta = torch.zeros(batch, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2] = width, centre_x
        theta[:, 1, 1], theta[:, 1, 2] = height, centre_y
        out_shape = [batch, images.shape[1], output_size or images.shape[-2], output_size or images.shape[-1]]
        grid = F.affine_grid(theta.to(images.device, images.dtype), out_shape, align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    else:
        images = center_crop(images, output_size)
    if flip:
        flipped = (torch.rand(batch, generator=generator) < 0.5).to(images.device).view(-1, 1, 1, 1)
        images = torch.where(flipped, images.flip(-1), images)
    if jitter > 0:
        def factor() -> torch.Tensor:
            return uniform(1 - jitter, 1 + jitter).to(images.device, images.dtype).view(-1, 1, 1, 1)

        brightness, contrast, saturation = factor(), factor(), factor()
        images = images * brightness
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = (images - mean) * contrast + mean
        grey = (images * torch.tensor([0.299, 0.587, 0.114], device=images.device,
                                      dtype=images.dtype).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
        images = ((images - grey) * saturation + grey).clamp(0.0, 1.0)
    return images
