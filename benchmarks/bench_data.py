"""Data-layer throughput: first (decoding) pass vs cached passes, on 416 px JPEGs.

    .venv/bin/python benchmarks/bench_data.py [--images 800] [--image-size 224]

Generates 416 px synthetic paintings (the real files' size) under
benchmarks/_work/, then measures, in the same run:
  1. first pass: a new WikiArtDataset with an empty cache (parallel Pillow decode,
     JPEG draft mode, write of the uint8 memmap), then one epoch of shuffled batches;
  2. second pass: a new WikiArtDataset on the same folder (reads the cache) and one
     epoch of shuffled batches, as a notebook re-run or the next epoch does.
The ratio of the two is what matters; absolute numbers depend on the machine.
Results are appended to benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from wikiart_core import synth  # noqa: E402
from wikiart_core.data import WikiArtDataset  # noqa: E402

HERE = Path(__file__).resolve().parent


def one_epoch(dataset: WikiArtDataset, batch_size: int, seed: int) -> int:
    order = np.random.default_rng(seed).permutation(len(dataset))
    seen = 0
    for start in range(0, len(order), batch_size):
        images, labels = dataset.get_batch(order[start:start + batch_size])
        seen += images.shape[0]
        assert images.dtype == torch.uint8 and labels.shape[0] == images.shape[0]
    return seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=800, help="approximate number of train images to generate")
    parser.add_argument("--image-size", type=int, default=224, help="decoded side, pixels")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3, help="cached epochs to time (the median is reported)")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    args = parser.parse_args()

    work = HERE / "_work"
    scale = args.images / sum(synth.REAL_TRAIN_COUNTS.values())
    root = work / f"synth416-{args.images}"
    synth.ensure(root, scale=scale, size=416, seed=0, progress=False)
    train = root / "train"
    n_files = sum(1 for _ in train.rglob("*.jpg"))
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)

    os.sync() if hasattr(os, "sync") else None
    start = time.perf_counter()
    first = WikiArtDataset(train, image_size=args.image_size, cache_dir=cache, progress=False)
    one_epoch(first, args.batch_size, seed=0)
    first_seconds = time.perf_counter() - start

    cached_seconds = []
    for repeat in range(args.repeats):
        start = time.perf_counter()
        again = WikiArtDataset(train, image_size=args.image_size, cache_dir=cache, progress=False)
        one_epoch(again, args.batch_size, seed=repeat + 1)
        cached_seconds.append(time.perf_counter() - start)
    cached = float(np.median(cached_seconds))

    first_rate, cached_rate = n_files / first_seconds, n_files / cached
    lines = [
        f"### data layer, {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}",
        "",
        f"{n_files} synthetic 416x416 JPEGs decoded to {args.image_size}px, batch {args.batch_size}, "
        f"one shuffled epoch each (median of {args.repeats} cached passes).",
        "",
        "| pass | seconds | images/s |",
        "|---|---:|---:|",
        f"| first (decode + write cache) | {first_seconds:.2f} | {first_rate:,.0f} |",
        f"| second (cache, new dataset object) | {cached:.3f} | {cached_rate:,.0f} |",
        "",
        f"**cached / first: {first_seconds / cached:.0f}x faster**",
        "",
    ]
    print("\n".join(lines))
    if not args.no_record:
        results = HERE / "RESULTS.md"
        if not results.exists():
            results.write_text("# Benchmark results\n\nAppended by the scripts in this folder; newest last.\n\n")
        with results.open("a") as handle:
            handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
