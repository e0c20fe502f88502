"""Painting with and without the LoRA: the same prompts, the same seeds, side by side.

Every image has its own seeded CPU generator, so its starting noise depends only on
its seed, not on what else is in its batch or on the device: the "before" and "after"
pictures start from identical noise, and any difference between them is the LoRA's.
(Batches of different sizes may still round differently in the last bits.)

The figures are functions that return a matplotlib Figure (no pyplot state), like
``wikiart_core.plots``.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from .. import files
from . import LORA_FILE_NAME, LoraError
from .captions import style_caption, style_words

VIEW_ADAPTER = "wikiart_style_loaded"  # the name a saved LoRA gets while it is loaded for painting


@dataclass
class StyleGrid:
    """Generated images, styles x seeds, with and without the LoRA.

    Attributes:
        styles, seeds, prompts: rows (style folder names, their prompts) and columns.
        base: (S, K, H, W, 3) float32 images in [0, 1] from the base model.
        lora: the same with the LoRA at ``lora_scale`` (None when no LoRA was given).
    """

    styles: list[str]
    seeds: list[int]
    prompts: list[str]
    base: np.ndarray
    lora: np.ndarray | None
    lora_scale: float
    steps: int
    guidance: float


def _lora_location(lora: str | os.PathLike) -> tuple[str, str]:
    path = Path(lora)
    if path.is_dir():
        folder, name = path, LORA_FILE_NAME
    else:
        folder, name = path.parent, path.name
    if not (folder / name).is_file():
        raise LoraError(f"no LoRA weights at {folder / name}. Fix: train one first "
                        f"(python -m wikiart_core lora --out {folder}) or point at its folder.")
    return str(folder), name


@contextlib.contextmanager
def lora_loaded(pipeline, lora: str | os.PathLike | None):
    """Within the block, ``pipeline`` paints with the saved LoRA (a folder holding
    ``pytorch_lora_weights.safetensors``, or the file itself); afterwards it is taken off
    again. ``lora`` None: the block runs with the pipeline as it is."""
    if lora is None:
        yield pipeline
        return
    folder, name = _lora_location(lora)
    pipeline.load_lora_weights(folder, weight_name=name, adapter_name=VIEW_ADAPTER)
    try:
        yield pipeline
    finally:
        if set(getattr(pipeline.unet, "peft_config", None) or {}) == {VIEW_ADAPTER}:
            pipeline.unload_lora_weights()  # nothing else loaded: back to the plain modules
        else:
            pipeline.delete_adapters(VIEW_ADAPTER)


def paint(pipeline, prompts: Sequence[str], seeds: Sequence[int], steps: int, guidance: float, *,
          lora_scale: float | None = None, batch_size: int = 8) -> np.ndarray:
    """One image per (prompt, seed) pair.

    Args:
        prompts, seeds: equally long; image i is ``prompts[i]`` from noise seeded ``seeds[i]``.
        steps: denoising steps of the pipeline's scheduler. guidance: classifier-free
            guidance scale (1: none).
        lora_scale: the weight of a loaded LoRA (``cross_attention_kwargs={"scale": ...}``).
        batch_size: images per pipeline call (memory, not results).

    Returns:
        (N, H, W, 3) float32 in [0, 1], H = W = the pipeline's resolution.
    """
    if len(prompts) != len(seeds):
        raise ValueError(f"{len(prompts)} prompts but {len(seeds)} seeds")
    kwargs = {} if lora_scale is None else {"cross_attention_kwargs": {"scale": float(lora_scale)}}
    images = []
    for start in range(0, len(prompts), batch_size):
        chunk = slice(start, start + batch_size)
        generators = [torch.Generator("cpu").manual_seed(int(seed)) for seed in seeds[chunk]]
        output = pipeline(list(prompts[chunk]), num_inference_steps=int(steps), guidance_scale=float(guidance),
                          generator=generators, output_type="np", **kwargs)
        images.append(np.asarray(output.images, dtype=np.float32))
    return np.concatenate(images) if images else np.zeros((0, 0, 0, 3), np.float32)


def generate_style_grid(pipeline, styles: Sequence[str], seeds: Sequence[int], steps: int, guidance: float,
                        lora: str | os.PathLike | None = None, lora_scale: float = 1.0, *,
                        with_token: bool = False, batch_size: int = 8) -> StyleGrid:
    """The prompts of ``styles`` painted from ``seeds``, by the base model and (when
    ``lora`` names a saved LoRA) with the LoRA at ``lora_scale``.

    Args:
        pipeline: from :func:`~wikiart_core.lora.pipeline.load_text_to_image`, without an
            adapter of its own (``train_lora`` takes its adapter off when it ends).
        styles: style folder names (``Analytical_Cubism``); prompts are their captions.
        seeds: one column per seed; the same noise for both models.
        steps, guidance: denoising steps and guidance scale.
        lora: the LoRA folder (or file); None paints the base model only.
        lora_scale: 0 (base model) to 1 (the LoRA as trained).
        with_token: prompts with the styles' rare tokens (if the LoRA was trained with them).

    Returns:
        :class:`StyleGrid` with ``base`` and ``lora`` arrays of shape (S, K, H, W, 3).
    """
    styles, seeds = [str(style) for style in styles], [int(seed) for seed in seeds]
    prompts = [style_caption(style, with_token=with_token) for style in styles]
    flat_prompts = [prompt for prompt in prompts for _ in seeds]
    flat_seeds = [seed for _ in prompts for seed in seeds]
    shape = (len(styles), len(seeds))

    def as_grid(images: np.ndarray) -> np.ndarray:
        return images.reshape(*shape, *images.shape[1:])

    base = as_grid(paint(pipeline, flat_prompts, flat_seeds, steps, guidance, batch_size=batch_size))
    adapted = None
    if lora is not None:
        with lora_loaded(pipeline, lora):
            adapted = as_grid(paint(pipeline, flat_prompts, flat_seeds, steps, guidance, lora_scale=lora_scale,
                                    batch_size=batch_size))
    return StyleGrid(styles=styles, seeds=seeds, prompts=prompts, base=base, lora=adapted,
                     lora_scale=float(lora_scale), steps=int(steps), guidance=float(guidance))


def lora_scale_strip(pipeline, style: str, seed: int, scales: Sequence[float], steps: int, guidance: float,
                     lora: str | os.PathLike, *, with_token: bool = False) -> np.ndarray:
    """One prompt and seed painted with the LoRA at each of ``scales`` (0: the base
    model, 1: the LoRA as trained). Returns (len(scales), H, W, 3) float32 in [0, 1]."""
    prompt = style_caption(style, with_token=with_token)
    with lora_loaded(pipeline, lora):
        return np.concatenate([paint(pipeline, [prompt], [seed], steps, guidance, lora_scale=scale)
                               for scale in scales])


def save_png(image: np.ndarray, path: str | os.PathLike) -> Path:
    """One (H, W, 3) float image in [0, 1] as an 8-bit RGB PNG at ``path``, atomically and
    readable by the group (``files.atomic_write``). Returns ``path``."""
    from PIL import Image

    pixels = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    return files.atomic_write(path, lambda handle: Image.fromarray(pixels).save(handle, format="PNG"))


def save_grid_pictures(grid: StyleGrid, out_dir: str | os.PathLike) -> list[Path]:
    """Every image of ``grid`` as ``out_dir/{base|lora}_{style}_seed{seed}.png``
    (:func:`save_png`). Returns the files written."""
    written = []
    for name, images in (("base", grid.base), ("lora", grid.lora)):
        if images is None:
            continue
        for row, style in enumerate(grid.styles):
            for column, seed in enumerate(grid.seeds):
                written.append(save_png(images[row, column], Path(out_dir) / f"{name}_{style}_seed{seed}.png"))
    return written


# --------------------------------------------------------------------------- figures


def _tiles(images: np.ndarray, tile_px: int) -> np.ndarray:
    """(N, H, W, 3) floats in [0, 1] -> (N, tile_px, tile_px, 3) uint8 (area-averaged
    when shrinking, nearest when enlarging so tiny images stay crisp)."""
    tensor = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    if tensor.shape[-1] > tile_px:
        tensor = torch.nn.functional.interpolate(tensor, size=(tile_px, tile_px), mode="bilinear", antialias=True,
                                                 align_corners=False)
    elif tensor.shape[-1] < tile_px:
        tensor = torch.nn.functional.interpolate(tensor, size=(tile_px, tile_px), mode="nearest")
    return (tensor.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _picture_figure(canvas: np.ndarray, dpi: int) -> tuple[Figure, object]:
    height, width = canvas.shape[:2]
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(canvas, interpolation="nearest")
    axes.set_axis_off()
    return figure, axes


def style_grid_figure(grid: StyleGrid, tile_px: int = 96, title: str | None = None) -> Figure:
    """Rows: styles; left block: the base model's images, right block: with the LoRA
    (same seeds, column by column). Drawn one screen pixel per tile pixel."""
    from wikiart_core import plots

    blocks = [("base model", grid.base)] + ([(f"with LoRA (scale {grid.lora_scale:g})", grid.lora)]
                                            if grid.lora is not None else [])
    n_styles, n_seeds = grid.base.shape[:2]
    # Room for the longest style name at 8 pt (about 7 px a character at plots.DPI = 100).
    label_px = max(80, 7 * max((len(style_words(style)) for style in grid.styles), default=0) + 12)
    gap, header_px = 4, 22 + (14 if title else 0)
    block_w = n_seeds * (tile_px + gap)
    width = label_px + len(blocks) * (block_w + 3 * gap)
    height = header_px + n_styles * (tile_px + gap)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    for b, (_, images) in enumerate(blocks):
        tiles = _tiles(images.reshape(-1, *images.shape[2:]), tile_px).reshape(n_styles, n_seeds, tile_px, tile_px, 3)
        left0 = label_px + b * (block_w + 3 * gap)
        for row in range(n_styles):
            for column in range(n_seeds):
                top, left = header_px + row * (tile_px + gap), left0 + column * (tile_px + gap)
                canvas[top:top + tile_px, left:left + tile_px] = tiles[row, column]
    figure, axes = _picture_figure(canvas, plots.DPI)
    for b, (name, _) in enumerate(blocks):
        axes.text(label_px + b * (block_w + 3 * gap) + block_w / 2, header_px - 6, name, ha="center", va="bottom",
                  fontsize=9)
    for row, style in enumerate(grid.styles):
        axes.text(label_px - 6, header_px + row * (tile_px + gap) + tile_px / 2, style_words(style), ha="right",
                  va="center", fontsize=8)
    if title:
        axes.text(width / 2, 2, title, ha="center", va="top", fontsize=9)
    return figure


def scale_strip_figure(images: np.ndarray, scales: Sequence[float], style: str, tile_px: int = 96) -> Figure:
    """The images of :func:`lora_scale_strip` in a row, each labelled with its scale."""
    from wikiart_core import plots

    gap, header_px, label_px = 4, 34, 4
    tiles = _tiles(images, tile_px)
    width = label_px + len(tiles) * (tile_px + gap)
    canvas = np.full((header_px + tile_px + gap, width, 3), 255, dtype=np.uint8)
    for i, tile in enumerate(tiles):
        left = label_px + i * (tile_px + gap)
        canvas[header_px:header_px + tile_px, left:left + tile_px] = tile
    figure, axes = _picture_figure(canvas, plots.DPI)
    axes.text(width / 2, 2, f"{style_words(style)}: LoRA scale", ha="center", va="top", fontsize=9)
    for i, scale in enumerate(scales):
        axes.text(label_px + i * (tile_px + gap) + tile_px / 2, header_px - 3, f"{scale:g}", ha="center",
                  va="bottom", fontsize=8)
    return figure


def loss_figure(losses: Sequence[float], title: str = "LoRA training loss", window: int | None = None) -> Figure:
    """The noise-prediction MSE of every optimiser step, with a moving average over
    ``window`` steps (default: a tenth of the run, at least 1). It is noisy by nature:
    each step sees different timesteps, and the loss at a high-noise timestep is small."""
    from wikiart_core import plots

    losses = np.asarray(losses, dtype=np.float64)
    steps = np.arange(1, len(losses) + 1)
    figure = Figure(figsize=(6, 3), dpi=plots.DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.plot(steps, losses, color="0.7", linewidth=1, label="per step")
    window = window or max(1, len(losses) // 10)
    if len(losses) >= window > 1:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        axes.plot(steps[window - 1:], smooth, color="C0", linewidth=2, label=f"mean of {window} steps")
    axes.set_xlabel("optimiser step")
    axes.set_ylabel("noise-prediction MSE")
    axes.set_title(title)
    # Beside the axes: inside, the legend would cover the noisy per-step line.
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    return figure
