"""Colour transfer (Reinhard, Ashikhmin, Gooch and Shirley, 2001): the tint baseline of Part 3.

Reinhard et al. move an image's colours towards another's by matching, per channel,
the mean and standard deviation in the lαβ colour space (Ruderman et al. 1998), where
the three channels of natural images are close to decorrelated, so the channels can be
matched one at a time without strange cross-channel casts:

    RGB -> LMS (cone responses, a 3x3 matrix) -> log10 -> lαβ (a second 3x3 matrix)

Here the "other image" is a whole style: the target mean and standard deviation are
averages over that style's training images. A Part 3 generator that only does what
this does has learnt a tint, which is exactly what the original Part 3 produced; it
has to beat this to claim more.
"""
from __future__ import annotations

import math
from typing import Iterable

import torch

# The matrices of Reinhard et al. (2001), eq. 1-4: RGB -> LMS, then log-LMS -> lαβ.
RGB_TO_LMS = torch.tensor([[0.3811, 0.5783, 0.0402],
                           [0.1967, 0.7244, 0.0782],
                           [0.0241, 0.1288, 0.8444]], dtype=torch.float64)
LOG_LMS_TO_LAB = (torch.diag(torch.tensor([1 / math.sqrt(3), 1 / math.sqrt(6), 1 / math.sqrt(2)], dtype=torch.float64))
                  @ torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, -2.0], [1.0, -1.0, 0.0]], dtype=torch.float64))
# Below this an LMS response is treated as this (log10 of a black pixel would be -inf).
_SMALLEST_LMS = 1e-4


def _apply(matrix: torch.Tensor, images: torch.Tensor) -> torch.Tensor:
    """A 3x3 colour matrix applied to (B, 3, H, W) images."""
    return torch.einsum("ij,bjhw->bihw", matrix.to(images), images)


def rgb_to_lab(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) RGB in [0, 1] -> (B, 3, H, W) Reinhard lαβ (decorrelated, log units)."""
    lms = _apply(RGB_TO_LMS, images.double()).clamp_min(_SMALLEST_LMS)
    return _apply(LOG_LMS_TO_LAB, torch.log10(lms)).to(images.dtype)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`rgb_to_lab` (not clipped: out-of-gamut values stay)."""
    log_lms = _apply(torch.linalg.inv(LOG_LMS_TO_LAB), lab.double())
    return _apply(torch.linalg.inv(RGB_TO_LMS), torch.pow(10.0, log_lms)).to(lab.dtype)


def lab_statistics(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image lαβ mean and standard deviation: (B, 3, H, W) RGB -> ((B, 3), (B, 3))."""
    lab = rgb_to_lab(images)
    return lab.mean(dim=(2, 3)), lab.std(dim=(2, 3))


def style_statistics(batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
                     n_styles: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The target of each style: the average per-image lαβ mean and standard deviation
    over that style's images.

    batches: (images (B, 3, H, W) RGB in [0, 1], labels (B,)) pairs, e.g. the training split.
    Returns (means, stds), each (n_styles, 3); a style with no images gets NaN rows."""
    sums = torch.zeros(n_styles, 6, dtype=torch.float64)
    counts = torch.zeros(n_styles, dtype=torch.float64)
    for images, labels in batches:
        mean, std = lab_statistics(images.float())
        labels = labels.long().cpu()
        sums.index_add_(0, labels, torch.cat([mean, std], dim=1).double().cpu())
        counts.index_add_(0, labels, torch.ones(len(labels), dtype=torch.float64))
    averages = sums / counts[:, None]  # 0/0 = NaN marks styles without images
    return averages[:, :3].float(), averages[:, 3:].float()


def transfer(images: torch.Tensor, target_mean: torch.Tensor, target_std: torch.Tensor,
             clip: bool = True) -> torch.Tensor:
    """Reinhard colour transfer of each image to its target statistics.

    images: (B, 3, H, W) RGB in [0, 1]; target_mean, target_std: (B, 3) lαβ statistics
    (rows of :func:`style_statistics`). Each lαβ channel is shifted and scaled so that
    its mean and standard deviation become the target's. Returns (B, 3, H, W) RGB,
    clipped to [0, 1] unless ``clip=False`` (then the lαβ statistics match exactly)."""
    lab = rgb_to_lab(images)
    mean = lab.mean(dim=(2, 3), keepdim=True)
    std = lab.std(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    target_mean = target_mean.to(lab)[:, :, None, None]
    target_std = target_std.to(lab)[:, :, None, None]
    result = lab_to_rgb((lab - mean) / std * target_std + target_mean)
    return result.clamp(0.0, 1.0) if clip else result
