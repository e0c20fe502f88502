"""Training and evaluation throughput of StyleCNN and the autoencoder, settings side by side.

    .venv/bin/python benchmarks/bench_train.py                                   # CPU: a quick check
    .venv/bin/python benchmarks/bench_train.py --images 13350 --image-size 224 --compile   # GPU: 13.4k images

Everything is measured in one run on one machine, so the ratios are what count:
  training images/s (the engine's own ``train_one_epoch``, after one warm-up epoch) for
    fp32 against bf16 autocast + channels_last (CUDA only: on a CPU the engine stays fp32),
    ``torch.compile`` (with --compile), and several batch sizes;
  evaluation images/s at batch 1 (the course loop's way) against batch 256.
Appends a dated section to benchmarks/RESULTS.md (unless --no-record).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from wikiart_core import engine, evaluate, models, synth, tasks  # noqa: E402
from wikiart_core.data import WikiArtDataset  # noqa: E402
from wikiart_core.device import pick_device  # noqa: E402

from bench_pipeline import data_root, machine_line, scale_for  # noqa: E402  (the same 416 px images)

HERE = Path(__file__).resolve().parent


def train_rate(model, task, dataset, device, batch_size: int, amp: bool, epochs: int) -> list[float]:
    """Training images/s of each epoch after the first (warm-up: allocator, cudnn autotuning, compilation)."""
    model.to(device)
    if amp and device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    config = engine.TrainConfig(epochs=epochs + 1, lr=1e-3, batch_size=batch_size, device=str(device), amp=amp)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    steps = len(dataset) // batch_size
    rates = []
    for epoch in range(1, epochs + 2):
        _, _, seen, seconds = engine.train_one_epoch(model, task, dataset, optimizer, scheduler, epoch=epoch,
                                                     config=config, steps=steps, sampler=None, device=device,
                                                     use_amp=amp and device.type == "cuda", progress=False)
        if epoch > 1:
            rates.append(seen / seconds)
    return rates


def eval_rate(model, dataset, device, batch_size: int, limit: int) -> float:
    subset = dataset.subset(range(min(limit, len(dataset))))
    evaluate.predict(model, subset.subset(range(min(batch_size, len(subset)))), batch_size=batch_size, device=device)
    started = time.perf_counter()
    evaluate.predict(model, subset, batch_size=batch_size, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(subset) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000, help="416 px training images (shared with bench_pipeline)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per setting (after one warm-up)")
    parser.add_argument("--width", type=int, default=16, help="StyleCNN width")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (slow to start)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    device = pick_device(args.device, verbose=True)
    root = data_root(args.images)
    synth.ensure(root, scale=scale_for(args.images), size=416, seed=0, progress=False)
    dataset = WikiArtDataset(root / "train", image_size=args.image_size, cache_dir=HERE / "_work" / "cache",
                             progress=False)
    n_classes = len(dataset.classes)
    builders = {
        "StyleCNN": (lambda: models.StyleCNN(n_classes=n_classes, width=args.width), tasks.Classification()),
        "ConvAutoencoder": (lambda: models.ConvAutoencoder(image_size=args.image_size), tasks.Reconstruction()),
    }
    settings = [("fp32", False, False)]
    if device.type == "cuda":
        settings.append(("bf16 autocast + channels_last", True, False))
    if args.compile:
        settings.append(("torch.compile" + (" + bf16" if device.type == "cuda" else ""), device.type == "cuda", True))

    rows = []
    for name, (build, task) in builders.items():
        for batch_size in args.batch_sizes:
            for setting, amp, compiled in settings:
                torch.manual_seed(0)
                model = build()
                if compiled:
                    model.forward = torch.compile(model.forward)
                rates = train_rate(model, task, dataset, device, batch_size, amp, args.epochs)
                rows.append((name, batch_size, setting, statistics.median(rates), min(rates), max(rates)))
                print(f"{name:<16} batch {batch_size:<4} {setting:<32} {statistics.median(rates):>9,.0f} img/s")
    torch.manual_seed(0)
    classifier = models.StyleCNN(n_classes=n_classes, width=args.width).to(device)
    one = eval_rate(classifier, dataset, device, 1, limit=256)
    many = eval_rate(classifier, dataset, device, 256, limit=len(dataset))
    print(f"evaluation: batch 1 {one:,.0f} img/s, batch 256 {many:,.0f} img/s ({many / one:.1f}x)")

    baseline = {(n, b): r for n, b, s, r, _, _ in rows if s == "fp32"}
    lines = [f"### training throughput, {time.strftime('%Y-%m-%d %H:%M')} on {machine_line(device)}", "",
             f"{len(dataset)} synthetic 416 px images cached at {args.image_size} px; StyleCNN width {args.width}; "
             f"median [min, max] of {args.epochs} epochs after one warm-up epoch per setting."
             + (" CPU: the engine keeps fp32 there, so there is no bf16 row." if device.type != "cuda" else ""), "",
             "| model | batch | setting | train images/s | vs fp32 |", "|---|---:|---|---|---:|"]
    lines += [f"| {n} | {b} | {s} | {r:,.0f} [{lo:,.0f}, {hi:,.0f}] | {r / baseline[(n, b)]:.2f}x |"
              for n, b, s, r, lo, hi in rows]
    lines += ["", f"Evaluation (StyleCNN): batch 1 {one:,.0f} img/s, batch 256 {many:,.0f} img/s: "
                  f"**{many / one:.1f}x**.", ""]
    print("\n".join(lines))
    if not args.no_record:
        with (HERE / "RESULTS.md").open("a") as handle:
            handle.write("\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
