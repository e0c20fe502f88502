"""What costs the StyleCNN on data it was not tuned on: one-factor ablations on validation.

    .venv/bin/python benchmarks/ablate_classifier.py                 # all datasets, all settings
    .venv/bin/python benchmarks/ablate_classifier.py --datasets digits --settings old,stride1
    .venv/bin/python benchmarks/ablate_classifier.py --record        # append the table to RESULTS.md

Three datasets, none of them WikiArt:
  embedded  the embedded synthetic set (data_paths.yaml's default), 64 px;
  digits    scikit-learn's handwritten digits as a 10-folder image set (digits_folder.py), 32 px;
  synth-s1  the embedded generator at another seed (1) and size (96 px files, trained at 48 px).
Every setting starts from ``old`` (the defaults before this study: lr 3e-3, a stride-4
stem, width 16, "art" augmentation) and changes one thing, except the rows marked as
combinations. Each run trains ``--epochs`` epochs (10: the demo budget) and is scored on
its validation split only (a stratified 10 % of the training folder, seeded); the test
split is not touched. Finished runs are kept in ``benchmarks/_work/ablation.jsonl`` and
skipped when the script runs again, so an interrupted study continues.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
from wikiart_core import config, data, experiment, synth  # noqa: E402

from bench_pipeline import machine_line  # noqa: E402
from digits_folder import write_digits_folder  # noqa: E402

WORK = HERE / "_work"
LOG = WORK / "ablation.jsonl"

# Each setting: RunSpec changes, StyleCNN argument changes, and a cache margin (see data.cache_side).
OLD = dict(spec=dict(lr=3e-3, augment="art"), model=dict(width=16, depth=4, stem_stride=4), margin=1.0)
SETTINGS: dict[str, dict] = {
    "old": {},
    "stride2": dict(model=dict(stem_stride=2)),
    "stride1": dict(model=dict(stem_stride=1)),
    "width32": dict(model=dict(width=32)),
    "lr1e-2": dict(spec=dict(lr=1e-2)),
    "lr1e-3": dict(spec=dict(lr=1e-3)),
    "aug-light": dict(spec=dict(augment="light")),
    "aug-none": dict(spec=dict(augment="none")),
    "smooth0.1": dict(spec=dict(label_smoothing=0.1)),
    "margin8/7": dict(margin=8 / 7),
    "wd0.005": dict(spec=dict(weight_decay=0.005)),
    # combinations of the single changes that helped
    "stride2+lr1e-2": dict(spec=dict(lr=1e-2), model=dict(stem_stride=2)),
    "stride-auto+lr1e-2": dict(spec=dict(lr=1e-2), model=dict(stem_stride="auto")),
    "stride-auto+lr1e-2+smooth": dict(spec=dict(lr=1e-2, label_smoothing=0.1), model=dict(stem_stride="auto")),
    # without augmentation (how digits are meant to be run: flips and 60 % crops change a digit)
    "none+stride-auto": dict(spec=dict(augment="none"), model=dict(stem_stride="auto")),
    "none+stride-auto+lr1e-2": dict(spec=dict(augment="none", lr=1e-2), model=dict(stem_stride="auto")),
    "none+stride2+lr1e-2": dict(spec=dict(augment="none", lr=1e-2), model=dict(stem_stride=2)),
    # capacity on top of today's defaults (stride "auto", lr 1e-2): what the `train` command's
    # default width should be (15 epochs: python benchmarks/ablate_classifier.py --epochs 15
    # --settings now-width16,now-width32,now-width64 --seeds 1)
    "now-width16": dict(spec=dict(lr=1e-2), model=dict(stem_stride="auto", width=16)),
    "now-width32": dict(spec=dict(lr=1e-2), model=dict(stem_stride="auto", width=32)),
    "now-width64": dict(spec=dict(lr=1e-2), model=dict(stem_stride="auto", width=64)),
}
DATASETS = {"embedded": 64, "digits": 32, "synth-s1": 48}


def dataset_roots(name: str) -> tuple[Path, Path]:
    """(train, test) folders of a dataset, generated on first use."""
    if name == "embedded":
        paths = config.load_paths()
        return paths.train, paths.test
    if name == "digits":
        root = WORK / "digits"
        if not (root / "test").exists():
            write_digits_folder(root)
        return root / "train", root / "test"
    if name == "synth-s1":
        root = WORK / "synth-seed1-96px"
        if not (root / "test").exists():
            synth.generate(root, scale=0.15, size=96, seed=1, progress=True)
        return root / "train", root / "test"
    raise ValueError(f"unknown dataset {name!r}; choose from {sorted(DATASETS)}")


def resolve_stride(stride, image_size: int) -> int:
    """A number, or "auto": the rule being tested (see models.auto_stem_stride)."""
    if stride != "auto":
        return int(stride)
    from wikiart_core.models import auto_stem_stride

    return auto_stem_stride(image_size)


def run_one(dataset: str, setting: str, seed: int, epochs: int, splits_cache: dict) -> dict:
    changes = SETTINGS[setting]
    size = DATASETS[dataset]
    margin = changes.get("margin", OLD["margin"])
    key = (dataset, margin)
    if key not in splits_cache:
        train_root, test_root = dataset_roots(dataset)
        side = data.cache_side(size, margin)
        cache = WORK / "cache"
        train = data.WikiArtDataset(train_root, image_size=side, cache_dir=cache, progress=False)
        test = data.WikiArtDataset(test_root, image_size=side, classes=train.classes, cache_dir=cache, progress=False)
        splits_cache[key] = data.make_splits(train, test, validation_fraction=0.1, split_seed=0)
    splits = splits_cache[key]
    model_args = {**OLD["model"], **changes.get("model", {})}
    model_args["stem_stride"] = resolve_stride(model_args["stem_stride"], size)
    spec = experiment.RunSpec(name=setting, model="stylecnn", model_args=model_args, epochs=epochs, batch_size=64,
                              seed=seed, input_size=size if margin > 1 else None,
                              **{**OLD["spec"], **changes.get("spec", {})})
    result = experiment.run(spec, splits, score_test_split=False)
    return {"dataset": dataset, "setting": setting, "seed": seed, "epochs": epochs, "image_size": size,
            "model_args": model_args, "accuracy": result.validation["accuracy"],
            "balanced_accuracy": result.validation["balanced_accuracy"],
            "macro_f1": result.validation["macro_f1"], "seconds": round(result.seconds, 1)}


def table(rows: list[dict], datasets: list[str], settings: list[str]) -> str:
    """Markdown: one row per setting, validation accuracy / balanced accuracy per dataset
    (mean over seeds), and the mean balanced-accuracy change against ``old``."""
    def mean(dataset, setting, metric):
        values = [r[metric] for r in rows if r["dataset"] == dataset and r["setting"] == setting]
        return statistics.mean(values) if values else None

    header = "| setting | " + " | ".join(f"{d} acc / bal. acc" for d in datasets) + " | mean Δ bal. acc vs old |"
    lines = [header, "|" + "---|" * (len(datasets) + 2)]
    for setting in settings:
        cells, deltas = [], []
        for dataset in datasets:
            acc, bal = mean(dataset, setting, "accuracy"), mean(dataset, setting, "balanced_accuracy")
            old = mean(dataset, "old", "balanced_accuracy")
            n = sum(r["dataset"] == dataset and r["setting"] == setting for r in rows)
            cells.append("–" if acc is None else f"{acc:.1%} / {bal:.1%} (n={n})")
            if bal is not None and old is not None:
                deltas.append(bal - old)
        delta = f"{statistics.mean(deltas) * 100:+.1f} points" if deltas and setting != "old" else ""
        lines.append(f"| {setting} | " + " | ".join(cells) + f" | {delta} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steady on shared cores)")
    parser.add_argument("--record", action="store_true", help="append the table to benchmarks/RESULTS.md")
    parser.add_argument("--table-only", action="store_true",
                        help="train nothing: the table of the runs already in the log (seeds: those run)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    datasets, settings = args.datasets.split(","), args.settings.split(",")
    WORK.mkdir(parents=True, exist_ok=True)
    done = [json.loads(line) for line in LOG.read_text().splitlines()] if LOG.exists() else []
    splits_cache: dict = {}
    for dataset in datasets:
        for setting in settings:
            for seed in range(0 if args.table_only else args.seeds):
                if any(r["dataset"] == dataset and r["setting"] == setting and r["seed"] == seed
                       and r["epochs"] == args.epochs for r in done):
                    continue
                started = time.perf_counter()
                row = run_one(dataset, setting, seed, args.epochs, splits_cache)
                done.append(row)
                with LOG.open("a") as log:
                    log.write(json.dumps(row) + "\n")
                print(f"{dataset:9s} {setting:28s} seed {seed}: val acc {row['accuracy']:.3f} "
                      f"bal {row['balanced_accuracy']:.3f} ({time.perf_counter() - started:.0f} s)", flush=True)
    rows = [r for r in done if r["epochs"] == args.epochs]
    text = table(rows, datasets, settings)
    print(text)
    if args.record:
        with (HERE / "RESULTS.md").open("a") as results:
            results.write(f"\n## StyleCNN ablations on validation ({time.strftime('%Y-%m-%d')})\n\n"
                          f"{machine_line(torch.device('cpu'))}; {args.epochs} epochs, batch 64, mean over the seeds run "
                          f"(n per cell below), {args.threads} torch thread(s); validation = stratified 10 % of each "
                          f"training folder (split seed 0: 334 embedded, about 200 synth-s1 and 144 digits "
                          f"images, so one seed moves by a few points). Rows change one thing from `old` "
                          f"(lr 3e-3, stride-4 stem, width 16, `art` augmentation) unless named with `+`; "
                          f"the last column averages over the datasets the row was run on. None of these "
                          f"datasets is WikiArt.\n\n{text}\n")


if __name__ == "__main__":
    main()
