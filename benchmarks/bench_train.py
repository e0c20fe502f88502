"""Training throughput of StyleCNN with and without the CUDA fast path.

    .venv/bin/python benchmarks/bench_train.py --scale 1.0 --image-size 224   # GPU: 13.4k images of 416 px
    .venv/bin/python benchmarks/bench_train.py --scale 0.02 --image-size 64    # CPU: a quick check

Generates synthetic 416 px paintings (scale 1.0 = the real dataset's 13.4k train
images), decodes them once into the uint8 cache, then trains the same StyleCNN
with the same seed twice, in the same run:
  fast: amp=True  (bf16 autocast + channels_last on CUDA; on the CPU amp is ignored)
  base: amp=False (fp32, default memory format)
and records seconds per epoch and training images/s (the ratio is the result).
Appends to benchmarks/RESULTS.md.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from wikiart_core import engine, models, synth, tasks  # noqa: E402
from wikiart_core.data import WikiArtDataset  # noqa: E402
from wikiart_core.device import pick_device  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the real dataset's train counts")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2, help="per setting; the first includes warm-up effects")
    parser.add_argument("--width", type=int, default=32, help="StyleCNN width")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    device = pick_device(args.device, verbose=True)
    root = HERE / "_work" / f"synth416-scale{args.scale:g}"
    start = time.perf_counter()
    synth.ensure(root, scale=args.scale, size=416, seed=0, progress=False)
    generate_s = time.perf_counter() - start
    start = time.perf_counter()
    dataset = WikiArtDataset(root / "train", image_size=args.image_size, cache_dir=HERE / "_work" / "cache",
                             progress=False)
    decode_s = time.perf_counter() - start
    print(f"{len(dataset)} images: generated in {generate_s:.0f} s, decoded/cached in {decode_s:.0f} s")

    rows = []
    for name, amp in (("fp32 (amp=False)", False), ("bf16 autocast + channels_last (amp=True)", True)):
        torch.manual_seed(0)  # the same initial weights for both settings
        model = models.StyleCNN(n_classes=len(dataset.classes), width=args.width)
        config = engine.TrainConfig(epochs=args.epochs, lr=1e-3, batch_size=args.batch_size, seed=0,
                                    device=str(device), amp=amp)
        history = engine.fit(model, tasks.Classification(), dataset, None, config, progress=False)
        last = history.records[-1]  # the last epoch: after cudnn autotuning and allocator warm-up
        rows.append((name, last.seconds, last.images_per_s, last.train_loss))
        if device.type == "cuda":
            torch.cuda.synchronize()

    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{platform.processor() or 'CPU'}"
    base, fast = rows[0], rows[1]
    lines = [
        f"### StyleCNN training, {time.strftime('%Y-%m-%d %H:%M')} on {device.type} ({gpu}), "
        f"{os.cpu_count()} cores, torch {torch.__version__}",
        "",
        f"{len(dataset)} synthetic 416 px images at {args.image_size} px, batch {args.batch_size}, "
        f"StyleCNN width {args.width}, seed 0; last of {args.epochs} epochs per setting.",
        "",
        "| setting | s/epoch | train images/s | train loss |",
        "|---|---:|---:|---:|",
        *[f"| {n} | {s:.1f} | {r:,.0f} | {l:.3f} |" for n, s, r, l in rows],
        "",
        f"**amp=True / amp=False throughput: {fast[2] / base[2]:.2f}x**"
        + ("" if device.type == "cuda" else " (on the CPU amp is ignored: both runs are fp32, so ~1x is expected)"),
        "",
    ]
    print("\n".join(lines))
    if not args.no_record:
        results = HERE / "RESULTS.md"
        with results.open("a") as handle:
            handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
