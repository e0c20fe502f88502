"""Counts, rendering and the dataset on disk.

Layout written by :func:`generate` (the ImageFolder layout the real data uses)::

    out_dir/train/<Style>/<Style>_00000.jpg
    out_dir/test/<Style>/<Style>_00000.jpg
    out_dir/synth.json          parameters, counts, "complete": true when done

Every image has its own random generator seeded from ``(seed, split, style,
index)``, so a dataset is byte-identical for a seed whatever the number of
worker processes.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from PIL import Image

from ..wikiart_facts import TRAIN_COUNTS
from .grammars import GRAMMARS
from .nuisance import NUISANCE, apply_nuisance

# Bump when the pictures change (grammars, canvas helpers or nuisance), so ensure()
# regenerates stale folders.
SYNTH_VERSION = 3

# Train images per style in the real WikiArt split (the imbalance the synthetic data copies).
REAL_TRAIN_COUNTS: dict[str, int] = dict(TRAIN_COUNTS)

STYLES: list[str] = sorted(REAL_TRAIN_COUNTS)

assert sorted(GRAMMARS) == STYLES

SPLITS = ("train", "test")
MANIFEST = "synth.json"

# The parameters that decide the pixels; ensure() compares exactly these.
_CONTENT_PARAMS = ("scale", "size", "seed", "test_fraction", "quality")


# ---------------------------------------------------------------------------
# Counts
# ---------------------------------------------------------------------------

def split_counts(scale: float, test_fraction: float = 0.15, min_train: int = 3,
                 min_test: int = 1) -> tuple[dict[str, int], dict[str, int]]:
    """Images per style for a dataset ``scale`` times the real train split.

    Train: ``max(min_train, round(real * scale))``; test:
    ``max(min_test, round(train * test_fraction))``, so the test split is
    imbalanced like the train split (as the real one is). Returns
    ``(train_counts, test_counts)``, both keyed by style name.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    train = {s: max(min_train, int(round(REAL_TRAIN_COUNTS[s] * scale))) for s in STYLES}
    test = {s: max(min_test, int(round(train[s] * test_fraction))) for s in STYLES}
    return train, test


# ---------------------------------------------------------------------------
# Rendering one image
# ---------------------------------------------------------------------------

def render(style: str, rng: np.random.Generator, size: int) -> Image.Image:
    """One ``size`` x ``size`` (pixels) RGB painting in ``style``, drawn with ``rng``.

    The grammar paints at twice the size; then every style gets the same strong
    nuisance variation (:func:`~wikiart_core.synth.nuisance.apply_nuisance`:
    random crop and zoom, flips, a wrap-around shift, hue rotation, tone curve,
    colour cast, illumination, noise), so where things are gives little away and
    texture and local structure (dots, facets, strokes, outlines, drips) carry
    much of the style.

    Colour is weakened as a cue, not removed: palettes overlap between styles
    and the nuisance randomises hue, saturation and tone, but colour statistics
    still carry part of the style. A linear classifier on six numbers per image
    (the mean and standard deviation of each RGB channel) reaches about 33 %
    balanced accuracy on this data, against 3.7 % chance (1 in 27). That is why
    every classification table reports a colour-statistics baseline
    (:mod:`wikiart_core.colour_baseline`) next to the models.

    Raises ValueError for a style not in ``STYLES``.
    """
    try:
        grammar = GRAMMARS[style]
    except KeyError:
        raise ValueError(f"unknown style {style!r}; expected one of {STYLES}") from None
    side = 2 * int(size)
    return apply_nuisance(grammar(rng, side), rng, int(size))


def _image_rng(seed: int, split_index: int, style_index: int, image_index: int):
    """The image's own generator: a function of these four numbers only."""
    sequence = np.random.SeedSequence([seed, split_index, style_index, image_index])
    return np.random.default_rng(sequence)


def _image_path(out_dir: Path, split: str, style: str, index: int) -> Path:
    return out_dir / split / style / f"{style}_{index:05d}.jpg"


def _write_images(out_dir: str, jobs, size: int, seed: int, quality: int) -> int:
    """Worker (module level, so it pickles for ProcessPoolExecutor): render and save
    ``jobs`` = [(split_index, style_index, image_index), ...]. Returns len(jobs)."""
    root = Path(out_dir)
    for split_i, style_i, idx in jobs:
        style = STYLES[style_i]
        path = _image_path(root, SPLITS[split_i], style, idx)
        img = render(style, _image_rng(seed, split_i, style_i, idx), size)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
        img.save(tmp, format="JPEG", quality=quality)
        os.replace(tmp, path)  # a killed run never leaves a half-written JPEG
    return len(jobs)


# ---------------------------------------------------------------------------
# The dataset on disk
# ---------------------------------------------------------------------------

def _params(scale, size, seed, test_fraction, quality):
    # The nuisance ranges are part of what the pixels depend on: a dataset drawn with
    # other ranges is stale. (The JSON round trip makes tuples compare equal to the
    # lists read back from synth.json.)
    nuisance = json.loads(json.dumps(NUISANCE, sort_keys=True))
    return {"version": SYNTH_VERSION, "scale": float(scale), "size": int(size), "seed": int(seed),
            "test_fraction": float(test_fraction), "quality": int(quality), "nuisance": nuisance}


def _write_manifest(out_dir: Path, manifest: dict) -> None:
    tmp = out_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, out_dir / MANIFEST)


def read_manifest(out_dir) -> dict | None:
    """The parsed ``synth.json`` of ``out_dir``, or None if missing or unreadable."""
    try:
        return json.loads((Path(out_dir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _run(out_dir: Path, params: dict, workers, progress: bool, resume: bool) -> Path:
    train, test = split_counts(params["scale"], params["test_fraction"])
    manifest = dict(params, counts={"train": train, "test": test}, complete=False)
    existing = read_manifest(out_dir)
    if existing is None and any((out_dir / s).exists() for s in SPLITS):
        # Not ours (perhaps real data): never delete what we did not write.
        raise FileExistsError(f"{out_dir} has train/test folders but no {MANIFEST}; "
                              "refusing to overwrite them")
    if not resume:
        for s in SPLITS:
            shutil.rmtree(out_dir / s, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_manifest(out_dir, manifest)

    jobs = []
    for split_i, counts in enumerate((train, test)):
        for style_i, style in enumerate(STYLES):
            (out_dir / SPLITS[split_i] / style).mkdir(parents=True, exist_ok=True)
            for idx in range(counts[style]):
                if not (resume and _image_path(out_dir, SPLITS[split_i], style, idx).exists()):
                    jobs.append((split_i, style_i, idx))
    total = sum(train.values()) + sum(test.values())

    workers = max(1, int(workers or os.cpu_count() or 1))
    chunk = 16
    chunks = [jobs[i:i + chunk] for i in range(0, len(jobs), chunk)]
    args = (str(out_dir), params["size"], params["seed"], params["quality"])
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, initial=total - len(jobs), desc="synth", unit="img")
    try:
        if workers == 1 or len(chunks) <= 1:
            for ch in chunks:
                n = _write_images(args[0], ch, *args[1:])
                if bar is not None:
                    bar.update(n)
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
                futures = [pool.submit(_write_images, args[0], ch, *args[1:]) for ch in chunks]
                for fut in as_completed(futures):
                    n = fut.result()
                    if bar is not None:
                        bar.update(n)
    finally:
        if bar is not None:
            bar.close()
    manifest["complete"] = True  # last: only a finished run is marked complete
    _write_manifest(out_dir, manifest)
    return out_dir


def generate(out_dir, *, scale: float = 0.25, size: int = 128, seed: int = 0,
             test_fraction: float = 0.15, workers: int | None = None, progress: bool = True,
             quality: int = 90) -> Path:
    """Paint the whole dataset into ``out_dir`` (replacing an earlier synth dataset there).

    ``scale`` multiplies the real train counts (0.25: about 3,400 train and 500
    test images); ``size`` is the side in pixels; ``test_fraction`` is test
    images per train image; ``quality`` the JPEG quality; ``workers`` processes
    (default: all CPUs) render in parallel; the result is identical for a seed
    whatever the number of workers. Refuses (FileExistsError) to overwrite
    train/test folders without a ``synth.json``. Returns ``out_dir`` as a Path.
    """
    out_dir = Path(out_dir)
    return _run(out_dir, _params(scale, size, seed, test_fraction, quality), workers, progress,
                resume=False)


def ensure(out_dir, **params) -> Path:
    """Make sure ``out_dir`` holds a complete synth dataset with these parameters.

    Accepts :func:`generate`'s keyword arguments. Does nothing when
    ``synth.json`` says a run with the same content parameters (scale, size,
    seed, test_fraction, quality, grammar version, nuisance ranges) completed;
    finishes an interrupted run with the same parameters (written images are
    whole and deterministic, so they are kept); otherwise regenerates from
    scratch. Returns ``out_dir`` as a Path.
    """
    out_dir = Path(out_dir)
    workers = params.pop("workers", None)
    progress = params.pop("progress", True)
    unknown = set(params) - set(_CONTENT_PARAMS)
    if unknown:
        raise TypeError(f"ensure() got unexpected parameters {sorted(unknown)}")
    defaults = {"scale": 0.25, "size": 128, "seed": 0, "test_fraction": 0.15, "quality": 90}
    wanted = _params(**{**defaults, **params})
    old = read_manifest(out_dir)
    same = old is not None and all(old.get(k) == v for k, v in wanted.items())
    if same and old.get("complete") is True:
        return out_dir
    train, test = split_counts(wanted["scale"], wanted["test_fraction"])
    print(f"wikiart_core.synth: generating {sum(train.values())} train + {sum(test.values())} "
          f"test images ({wanted['size']} px, seed {wanted['seed']}) into {out_dir}", flush=True)
    return _run(out_dir, wanted, workers, progress, resume=same)
