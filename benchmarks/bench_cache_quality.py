"""What the cache feeds: crops stretched up from a cache at the training size, against
crops shrunk from a cache 8/7 larger (256 for 224, as the torchvision references do).

    .venv/bin/python benchmarks/bench_cache_quality.py [--sizes 32 64] [--seeds 0 1] [--profile demo]

For each training size S, the same StyleCNN run (the profile's width, epochs, learning
rate 1e-2 and batch size) is trained twice per seed on the embedded data:
  stretched: images cached at S; random crops of 60-100 % of the area are resampled UP to S;
  shrunk:    images cached at round(S * 8/7); crops are resampled DOWN to S, evaluation
             takes the central S x S.
Scored on the *validation* split (the comparison chooses a default; the test split is
not consulted), with a paired bootstrap over validation images and seeds. The memory of
each cache (uint8 bytes of the training split) is in the table. Appends to RESULTS.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from wikiart_core import config, data, experiment, stats  # noqa: E402
from wikiart_core.device import pick_device  # noqa: E402

from bench_pipeline import machine_line  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64], help="training sizes, px")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--profile", default="demo")
    parser.add_argument("--lr", type=float, default=1e-2, help="StyleCNN's lr chosen on validation in notebook 01")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    profile = config.get_profile(args.profile)
    paths = config.load_paths(dataset="synthart")
    started = time.perf_counter()
    rows, comparisons = [], []
    for size in args.sizes:
        runs = {}
        for variant, side in (("stretched", size), ("shrunk", data.cache_side(size))):
            splits = data.load_splits(paths, side, validation_fraction=profile.validation_fraction,
                                      max_train_per_class=profile.max_train_per_class,
                                      max_test_per_class=profile.max_test_per_class, progress=False)
            spec = experiment.RunSpec(name=variant, model="stylecnn", model_args=profile.style_cnn,
                                      epochs=profile.epochs, lr=args.lr, batch_size=profile.batch_size,
                                      device=args.device, input_size=size if side != size else None)
            runs[variant] = [experiment.run(spec.replace(seed=seed), splits, score_test_split=False)
                             for seed in args.seeds]
            scores = [run.validation["balanced_accuracy"] for run in runs[variant]]
            megabytes = len(splits.train) * 3 * side * side / 1e6
            seconds = float(np.mean([run.seconds for run in runs[variant]]))
            rows.append((size, variant, side, float(np.mean(scores)), min(scores), max(scores), megabytes, seconds))
            print(f"{size} px, {variant:<9} (cache {side} px): validation balanced accuracy "
                  f"{np.mean(scores):.3f} over seeds {args.seeds}; train cache {megabytes:.1f} MB; {seconds:.0f} s/run")
        y_true, shrunk = experiment.predictions_matrix(runs["shrunk"], "validation")
        _, stretched = experiment.predictions_matrix(runs["stretched"], "validation")
        result = stats.paired_bootstrap(y_true, shrunk, stretched, metric="balanced_accuracy", seed=0)
        comparisons.append((size, stats.verdict_words(result, "shrunk crops", "stretched crops")))
        print(comparisons[-1][1])

    lines = [f"### cache quality, {time.strftime('%Y-%m-%d %H:%M')} on {machine_line(pick_device(args.device))}", "",
             f"Embedded data, profile `{profile.name}` ({len(args.seeds)} seeds {args.seeds}, {profile.epochs} epochs, "
             f"StyleCNN {profile.style_cnn}, lr {args.lr:g}); validation split only "
             f"({time.perf_counter() - started:.0f} s in all).", "",
             "| train size | crops | cache side | val. balanced acc. (mean [min, max] over seeds) | train cache MB | s/run |",
             "|---:|---|---:|---|---:|---:|"]
    lines += [f"| {size} | {variant} | {side} | {100 * mean:.1f}% [{100 * low:.1f}, {100 * high:.1f}] | "
              f"{mb:.1f} | {s:.0f} |" for size, variant, side, mean, low, high, mb, s in rows]
    lines += ["", *[f"- {size} px: {words} (paired bootstrap over validation images and seeds)"
                    for size, words in comparisons], ""]
    print("\n".join(lines))
    if not args.no_record:
        with (HERE / "RESULTS.md").open("a") as handle:
            handle.write("\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
