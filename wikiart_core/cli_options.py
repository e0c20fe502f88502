"""The options every command of ``python -m wikiart_core`` shares, defined once: the
checked flag types (a value out of range ends in one line naming the flag, exit 2,
before any data is read), the data options, the run options, the training options of
every training command, and what the commands make of them (the splits, the RunSpec
overrides, whether to draw progress bars). ``cli`` and ``lora.cli`` both build on this
module; it imports neither.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from . import config
from .data import MAX_IMAGE_SIDE


class UsageError(ValueError):
    """Options that do not fit together; the message says which."""


# --------------------------------------------------------------------------- checked values of flags
# argparse turns a ValueError/ArgumentTypeError of a ``type=`` function into one line
# naming the flag ("argument --mix: ...") and exit 2, before any data is read.


def _number(text: str, kind=float):
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a {'whole ' if kind is int else ''}number") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1 (epochs, batch sizes, channels, counts of things to make)."""
    value = _number(text, int)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a whole number >= 1")
    return value


def count(text: str) -> int:
    """A whole number >= 0 (trials to add: 0 only retrains the best one)."""
    value = _number(text, int)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative; give a whole number >= 0")
    return value


def image_side(text: str) -> int:
    """Pixels of an image side, in [8, data.MAX_IMAGE_SIDE]."""
    value = _number(text, int)
    if not 8 <= value <= MAX_IMAGE_SIDE:
        raise argparse.ArgumentTypeError(f"{value} px is outside 8 to {MAX_IMAGE_SIDE} px")
    return value


def fraction(text: str) -> float:
    """A finite number in [0, 1] (mix weights, shares, loss weights of that kind)."""
    value = _number(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{value:g} is outside 0 to 1")
    return value


def open_fraction(text: str) -> float:
    """A finite number strictly between 0 and 1 (a validation share)."""
    value = _number(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"{value:g} is not strictly between 0 and 1")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (learning rates, data scales)."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value:g} is not > 0")
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (weight decay, loss weights, mixup strength)."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value:g} is negative")
    return value


RUN_FLAGS = ("epochs", "lr", "batch_size", "weight_decay")


def run_overrides(args: argparse.Namespace) -> dict:
    """The training settings given on the command line ({field: value} for each of
    --epochs, --lr, --batch-size and --weight-decay that was given, plus --seed and
    --device): what a command's own RunSpec (the profile's, or the dataclass defaults)
    is ``replace``d with. A flag left out keeps that spec's value, so every default lives
    in one place."""
    given = {name: getattr(args, name, None) for name in RUN_FLAGS}
    return {**{name: value for name, value in given.items() if value is not None},
            "seed": args.seed, "device": args.device}


def model_argument(text: str) -> tuple[str, object]:
    """One ``--model-arg KEY=VALUE``: (KEY, VALUE read as YAML: 3 -> int, 0.5 -> float,
    true -> bool, [1, 2] -> list, anything else the text)."""
    import yaml

    key, equals, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not equals or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (e.g. width=32), got {text!r}")
    try:
        return key, yaml.safe_load(value) if value.strip() else value
    except yaml.YAMLError:
        return key, value


def model_args_from(args: argparse.Namespace) -> dict:
    """The model constructor arguments given on the command line: ``--width`` and
    ``--depth``, then every ``--model-arg KEY=VALUE`` (a later one wins). ``RunSpec.problems``
    names any the model does not take."""
    given = {name: getattr(args, name, None) for name in ("width", "depth")}
    chosen = {name: value for name, value in given.items() if value is not None}
    chosen.update(dict(getattr(args, "model_arg", None) or []))
    return chosen


def checked_spec(spec):
    """``spec`` (an ``experiment.RunSpec``) when ``spec.problems()`` is empty, else a
    UsageError listing them: the one validation the panel and ``engine.fit`` make too."""
    found = spec.problems()
    if found:
        raise UsageError("; ".join(found))
    return spec


def splits_from_args(args: argparse.Namespace, image_size: int | None = None):
    """(profile, splits, dataset name) from the shared data options: --train/--test
    folders, else the dataset of data_paths.yaml; the profile's caps and the stratified
    validation share of the training folder (seeded by --split-seed, not --seed:
    seeds compare training, not data)."""
    from . import data

    progress = progress_wanted(args)
    profile = config.get_profile(args.profile)
    size = image_size or getattr(args, "image_size", None) or profile.image_size
    size = data.cache_side(size, getattr(args, "cache_margin", 1.0))
    fraction = args.validation_fraction if args.validation_fraction is not None else profile.validation_fraction
    caps = dict(validation_fraction=fraction, split_seed=args.split_seed,
                max_train_per_class=profile.max_train_per_class, max_test_per_class=profile.max_test_per_class)
    if (args.train is None) != (args.test is None):
        raise UsageError("give both --train and --test, or neither (then data_paths.yaml decides)")
    if args.train is not None:
        train_folder = data.WikiArtDataset(args.train, image_size=size, cache_dir=args.cache_dir,
                                           progress=progress)
        test_folder = data.WikiArtDataset(args.test, image_size=size, classes=train_folder.classes,
                                          cache_dir=args.cache_dir, progress=progress)
        return profile, data.make_splits(train_folder, test_folder, **caps), str(Path(args.train).resolve().parent)
    paths = config.load_paths(args.paths, args.dataset)
    return profile, data.load_splits(paths, size, progress=progress, **caps), paths.dataset


def data_options() -> argparse.ArgumentParser:
    """--paths/--dataset or --train/--test, --profile, --cache-dir, the validation split."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("data")
    group.add_argument("--paths", help="data_paths.yaml to use (default: $WIKIART_PATHS or ./data_paths.yaml)")
    group.add_argument("--dataset", help="dataset entry in data_paths.yaml (default: $WIKIART_DATASET or the file's)")
    group.add_argument("--train", type=Path, help="train split folder (instead of data_paths.yaml; with --test)")
    group.add_argument("--test", type=Path, help="test split folder (with --train)")
    group.add_argument("--cache-dir", type=Path, help="decode cache for --train/--test folders (default: none)")
    group.add_argument("--profile", choices=sorted(config.PROFILES),
                       help="run size (default: $WIKIART_PROFILE or demo)")
    group.add_argument("--validation-fraction", type=open_fraction,
                       help="share of each style's training images held out for validation (default: the profile's)")
    group.add_argument("--split-seed", type=int, default=0, help="seed of the validation split and of the caps")
    return parser


def run_options() -> argparse.ArgumentParser:
    """--seed, --device, --quiet."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("run")
    group.add_argument("--seed", type=int, default=0, help="initial weights, order, augmentation")
    group.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cuda, cuda:1, mps or cpu")
    group.add_argument("--quiet", action="store_true", help="no progress bars (there are none when the output is not a terminal)")
    return parser


def training_options() -> argparse.ArgumentParser:
    """--epochs, --image-size, --batch-size, --lr, --weight-decay, --cache-margin: the
    same on every training command. Each defaults to None: the command's own RunSpec (the
    profile's settings for that part, else ``RunSpec``'s defaults) decides, so no default
    is written twice (:func:`run_overrides`)."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("training (default: the profile's settings for this command)")
    group.add_argument("--epochs", type=positive_int, help="epochs in total (a search: per trial)")
    group.add_argument("--image-size", type=image_side, help="image side in pixels")
    group.add_argument("--batch-size", type=positive_int, help="images per step")
    group.add_argument("--lr", type=positive_float, help="AdamW's peak learning rate (warm-up, then cosine decay)")
    group.add_argument("--weight-decay", type=non_negative_float, help="AdamW's decoupled weight decay")
    group.add_argument("--cache-margin", type=positive_float, default=1.0,
                       help="cache images this much larger than --image-size (e.g. 1.143: 256 for 224) so "
                            "training crops are shrunk, not stretched; see benchmarks/RESULTS.md")
    return parser


def progress_wanted(args: argparse.Namespace) -> bool:
    """Progress bars only on a terminal: piped into a log file (nohup, a batch job) a bar
    is carriage-return spam, and the one line per epoch that training logs says it all."""
    return not getattr(args, "quiet", False) and sys.stderr.isatty()


