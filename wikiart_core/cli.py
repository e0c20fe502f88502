"""Command line for long runs without a notebook (e.g. in tmux on the GPU server).

    python -m wikiart_core synth --out data/synthart --scale 0.25 --size 128 --seed 0
    python -m wikiart_core info                      # what data_paths.yaml points at

Each sub-command is one small function; argparse stays at the edge.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import config


def cmd_synth(args: argparse.Namespace) -> int:
    """Write the embedded procedural dataset (27 style folders, real imbalance)."""
    from . import synth

    out = synth.generate(args.out, scale=args.scale, size=args.size, seed=args.seed,
                         test_fraction=args.test_fraction, workers=args.workers, progress=not args.quiet)
    train_counts, test_counts = synth.split_counts(args.scale, args.test_fraction)
    print(f"wrote {sum(train_counts.values())} train + {sum(test_counts.values())} test images "
          f"({args.size}px, seed {args.seed}) to {out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Print the resolved data_paths.yaml entry and the profile."""
    paths = config.load_paths(args.paths, args.dataset)
    profile = config.get_profile(args.profile)
    print(f"paths file : {paths.source}")
    print(f"dataset    : {paths.dataset}{' (embedded synthetic data, not WikiArt)' if paths.synth else ''}")
    print(f"train      : {paths.train}")
    print(f"test       : {paths.test}")
    print(f"cache_dir  : {paths.cache_dir}")
    print(f"outputs_dir: {paths.outputs_dir}")
    for name, folder in paths.pretrained.items():
        print(f"pretrained : {name} = {folder}{'' if Path(folder).exists() else ' (missing)'}")
    print(f"profile    : {profile}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    """Generate the embedded dataset named in data_paths.yaml if it is missing."""
    from . import data

    paths = config.load_paths(args.paths, args.dataset)
    data.ensure_dataset(paths, progress=not args.quiet)
    print(f"dataset {paths.dataset!r} ready: {paths.train}, {paths.test}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Execute the notebooks and export HTML + Markdown into --out."""
    from . import report

    report.build_report(args.notebooks, args.out, execute=not args.no_execute, only=args.only)
    return 0


def add_common_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--paths", help="data_paths.yaml to use (default: $WIKIART_PATHS or ./data_paths.yaml)")
    parser.add_argument("--dataset", help="dataset entry in data_paths.yaml (default: $WIKIART_DATASET or the file's)")
    parser.add_argument("--profile", choices=sorted(config.PROFILES), help="run size (default: $WIKIART_PROFILE or demo)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wikiart_core", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="generate the embedded synthetic dataset")
    synth.add_argument("--out", type=Path, default=Path("data/synthart"), help="output folder (gets train/ and test/)")
    synth.add_argument("--scale", type=float, default=0.25, help="fraction of the real train counts (min 3 per style)")
    synth.add_argument("--size", type=int, default=128, help="image side, pixels")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--test-fraction", type=float, default=0.15, help="test images per train image")
    synth.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(run=cmd_synth)

    info = commands.add_parser("info", help="show what data_paths.yaml and the profile resolve to")
    add_common_data_arguments(info)
    info.set_defaults(run=cmd_info)

    prepare = commands.add_parser("prepare", help="generate the embedded dataset if it is missing")
    add_common_data_arguments(prepare)
    prepare.add_argument("--quiet", action="store_true", help="no progress bar")
    prepare.set_defaults(run=cmd_prepare)

    report = commands.add_parser("report", help="execute the notebooks and export the report")
    report.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    report.add_argument("--out", type=Path, default=Path("reports"))
    report.add_argument("--only", help="execute only notebooks whose name contains this (export all)")
    report.add_argument("--no-execute", action="store_true", help="export the notebooks as they are")
    report.set_defaults(run=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (config.ConfigError, FileNotFoundError, ValueError) as exc:
        # Our errors already say what to do; a traceback would bury that.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
