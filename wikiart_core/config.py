"""Where the data lives (``data_paths.yaml``) and how big a run is (profiles).

``load_paths()`` reads ``data_paths.yaml`` (or the file named by ``$WIKIART_PATHS``),
picks a dataset entry (the file's ``dataset:`` line, or ``$WIKIART_DATASET``) and
returns a :class:`Paths` with every relative path resolved against the file's folder.
``$WIKIART_OUTPUTS_DIR`` replaces the file's ``outputs_dir``: the tests, nbval and the
browser suite point it at a temporary folder, so they never touch a report's results.
Inside it, each dataset and profile has its own folder (:meth:`Paths.run_outputs`):
a ``smoke`` run cannot overwrite the checkpoints of a ``full`` one.
Every mistake in the file (a key given twice, at any level, included) raises one
:class:`ConfigError` that names the key, its line, the path and what to do about it.

``get_profile()`` returns the :class:`Profile` chosen by ``$WIKIART_PROFILE`` (or the
notebook's parameter cell): ``smoke`` for tests, ``demo`` for a laptop CPU on the
embedded data, ``full`` for the GPU server on real data.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PATHS_FILE_NAME = "data_paths.yaml"
TOP_LEVEL_KEYS = {"dataset", "datasets", "cache_dir", "outputs_dir", "pretrained"}
DATASET_KEYS = {"train", "test", "synth"}
SYNTH_KEYS = {"scale", "size", "seed", "test_fraction"}
OUTPUTS_ENV = "WIKIART_OUTPUTS_DIR"


class ConfigError(ValueError):
    """A problem in data_paths.yaml or in the environment variables that select it."""


@dataclass(frozen=True)
class Paths:
    """Resolved locations for one dataset entry of ``data_paths.yaml``.

    ``synth`` holds the generation parameters when the dataset is the embedded
    procedural one (its folders may not exist yet: :func:`wikiart_core.data.ensure_dataset`
    generates them); it is ``None`` for real folders, which must exist.
    """

    dataset: str
    train: Path
    test: Path
    cache_dir: Path
    outputs_dir: Path
    pretrained: dict[str, Path]
    synth: dict[str, Any] | None
    source: Path

    def __getitem__(self, key: str) -> Any:
        # Lets notebooks write paths["train"] as well as paths.train.
        return getattr(self, key)

    def run_outputs(self, profile: "Profile | str") -> Path:
        """``outputs_dir/<dataset>/<profile>``: where the notebooks of one profile on one
        dataset keep their results and checkpoints, so that runs of another profile or
        dataset (the tests' ``smoke``, a ``demo`` on a laptop) never overwrite them."""
        return self.outputs_dir / self.dataset / getattr(profile, "name", profile)

    def notebook_outputs(self, profile: "Profile | str", notebook: str) -> Path:
        """``run_outputs(profile)/<notebook>``, e.g. ``outputs/synthart/demo/01_bonusA``."""
        return self.run_outputs(profile) / notebook


def find_paths_file(path: str | os.PathLike | None = None) -> Path:
    """The data_paths.yaml to read: ``path``, else ``$WIKIART_PATHS``, else the
    first ``data_paths.yaml`` found in the working directory or its parents, else
    the one at the repository root next to the package."""
    if path is None:
        path = os.environ.get("WIKIART_PATHS")
    if path is not None:
        chosen = Path(path).expanduser()
        if not chosen.is_file():
            raise ConfigError(
                f"{chosen}: no such file (given as the paths file"
                f"{' by $WIKIART_PATHS' if os.environ.get('WIKIART_PATHS') == str(path) else ''}). "
                f"Fix: point $WIKIART_PATHS at an existing data_paths.yaml, or unset it."
            )
        return chosen.resolve()
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        candidate = folder / PATHS_FILE_NAME
        if candidate.is_file():
            return candidate
    bundled = Path(__file__).resolve().parent.parent / PATHS_FILE_NAME
    if bundled.is_file():
        return bundled
    raise ConfigError(
        f"No {PATHS_FILE_NAME} in {here} or its parents. "
        f"Fix: run from the wikiart-lab checkout, or set $WIKIART_PATHS to the file."
    )


def _line_numbers(node: yaml.Node, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], int]:
    """Map each key path (('datasets', 'wikiart', 'train')) to its 1-based line."""
    lines: dict[tuple[str, ...], int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key_path = prefix + (str(key_node.value),)
            lines[key_path] = key_node.start_mark.line + 1
            lines.update(_line_numbers(value_node, key_path))
    return lines


class _DuplicateKey(yaml.YAMLError):
    """A key given twice in one mapping: ``key`` (as written), the 1-based ``lines`` of both."""

    def __init__(self, key: str, first: int, second: int):
        super().__init__(f"key {key!r} on lines {first} and {second}")
        self.key, self.first, self.second = key, first, second


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice in one mapping, at any level.

    PyYAML silently keeps the last of two ``dataset:`` lines, so an edit appended below
    an old line (or an old one left in) would win or lose without a word."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # "<<: *anchor" may be followed by keys that override it, on purpose
                key = self.construct_object(key_node, deep=True)  # so "1" and "0x1" are the same key
                try:
                    if key in seen:
                        raise _DuplicateKey(str(key_node.value), seen[key], key_node.start_mark.line + 1)
                    seen[key] = key_node.start_mark.line + 1
                except TypeError:
                    continue  # an unhashable key: SafeLoader itself refuses it below
        return super().construct_mapping(node, deep=deep)


class _Reader:
    """Reads values out of the parsed YAML and names key + line in every error."""

    def __init__(self, source: Path):
        self.source = source
        text = source.read_text(encoding="utf-8")
        try:
            root = yaml.compose(text, Loader=_UniqueKeyLoader)
            self.lines = _line_numbers(root) if root is not None else {}
            self.data = yaml.load(text, Loader=_UniqueKeyLoader) or {}  # a SafeLoader: no Python objects
        except _DuplicateKey as duplicate:
            raise ConfigError(f"{self.key_of(duplicate)} is given twice, on lines {duplicate.first} and "
                              f"{duplicate.second} (YAML would silently keep the second). Fix: delete the line "
                              f"you do not mean") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{source}: not valid YAML ({exc}). Fix the syntax at the line shown.") from exc
        if not isinstance(self.data, dict):
            raise ConfigError(f"{source}: expected a mapping of keys (dataset, datasets, ...), got {type(self.data).__name__}.")

    def key_of(self, duplicate: _DuplicateKey) -> str:
        """"<file>, key 'datasets.mine.train'" for a duplicate: its full path is the one whose
        (last-kept) line is the second occurrence's; just the key where none is (a list item)."""
        paths = [path for path, line in self.lines.items() if line == duplicate.second and path[-1] == duplicate.key]
        return f"{self.source}, key '{'.'.join(paths[0]) if paths else duplicate.key}'"

    def where(self, *key_path: str) -> str:
        line = self.lines.get(tuple(key_path))
        name = ".".join(key_path)
        return f"{self.source}, key '{name}'" + (f" (line {line})" if line else "")

    def error(self, key_path: tuple[str, ...], problem: str, fix: str) -> ConfigError:
        return ConfigError(f"{self.where(*key_path)}: {problem}. Fix: {fix}")

    def check_keys(self, mapping: dict, allowed: set[str], key_path: tuple[str, ...]) -> None:
        for key in mapping:
            if key not in allowed:
                raise self.error(key_path + (str(key),), "unknown key",
                                 f"use one of {sorted(allowed)} (check the spelling)")

    def get(self, mapping: dict, key_path: tuple[str, ...], kind: type | tuple[type, ...]) -> Any:
        key = key_path[-1]
        if key not in mapping:
            parent = ".".join(key_path[:-1]) or "the top level"
            raise ConfigError(f"{self.source}: missing key '{'.'.join(key_path)}' under {parent}. "
                              f"Fix: add '{key}:' there (see the README for an example).")
        value = mapping[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            kinds = kind if isinstance(kind, tuple) else (kind,)
            expected = " or ".join(k.__name__ for k in kinds)
            raise self.error(key_path, f"expected {expected}, got {type(value).__name__} ({value!r})",
                             f"write a {expected} there")
        return value

    def path(self, mapping: dict, key_path: tuple[str, ...]) -> Path:
        value = self.get(mapping, key_path, str)
        path = Path(os.path.expandvars(value)).expanduser()
        return path if path.is_absolute() else (self.source.parent / path).resolve()


def load_paths(path: str | os.PathLike | None = None, dataset: str | None = None) -> Paths:
    """Read data_paths.yaml and return the selected dataset's locations.

    Args:
        path: the YAML file; default ``$WIKIART_PATHS`` or the nearest ``data_paths.yaml``.
        dataset: the entry under ``datasets:``; default ``$WIKIART_DATASET`` or the
            file's ``dataset:`` line.

    Returns:
        :class:`Paths` with absolute ``train``/``test`` roots, ``cache_dir`` and
        ``outputs_dir`` (created if missing; ``$WIKIART_OUTPUTS_DIR`` when set) and
        ``pretrained`` (name → Path).

    Raises:
        ConfigError: unknown, missing or duplicated key, wrong type, unknown dataset name,
            or a real (non-synthetic) dataset folder that does not exist; the message
            names the key, its line, the path and the fix.
    """
    source = find_paths_file(path)
    reader = _Reader(source)
    data = reader.data
    reader.check_keys(data, TOP_LEVEL_KEYS, ())

    datasets = reader.get(data, ("datasets",), dict)
    env_choice = os.environ.get("WIKIART_DATASET")
    name = dataset or env_choice or reader.get(data, ("dataset",), str)
    if name not in datasets:
        origin = ("the dataset argument" if dataset else "$WIKIART_DATASET" if env_choice
                  else reader.where("dataset"))
        raise ConfigError(f"{source}: unknown dataset '{name}' (from {origin}). "
                          f"Fix: use one of {sorted(datasets)} or add an entry under 'datasets:'.")
    entry = reader.get(datasets, ("datasets", name), dict)
    reader.check_keys(entry, DATASET_KEYS, ("datasets", name))
    train = reader.path(entry, ("datasets", name, "train"))
    test = reader.path(entry, ("datasets", name, "test"))

    synth = None
    if "synth" in entry:
        synth = dict(reader.get(entry, ("datasets", name, "synth"), dict))
        reader.check_keys(synth, SYNTH_KEYS, ("datasets", name, "synth"))
        for key in synth:
            reader.get(synth, ("datasets", name, "synth", key), (int, float))
    else:
        # Real folders must exist; synthetic ones are generated on first use.
        for split, root in (("train", train), ("test", test)):
            if not root.is_dir():
                raise reader.error(("datasets", name, split), f"folder {root} does not exist",
                                   "correct the path, or switch 'dataset:' back to an entry that exists "
                                   "on this machine (e.g. synthart)")

    cache_dir = reader.path(data, ("cache_dir",))
    outputs_dir = reader.path(data, ("outputs_dir",))
    if os.environ.get(OUTPUTS_ENV):
        outputs_dir = Path(os.environ[OUTPUTS_ENV]).expanduser().resolve()
    pretrained_raw = data.get("pretrained") or {}
    if not isinstance(pretrained_raw, dict):
        raise reader.error(("pretrained",), f"expected a mapping of name: folder, got {type(pretrained_raw).__name__}",
                           "write 'pretrained:' followed by indented 'name: path' lines")
    pretrained = {key: reader.path(pretrained_raw, ("pretrained", key)) for key in pretrained_raw}
    for folder in (cache_dir, outputs_dir):
        folder.mkdir(parents=True, exist_ok=True)
    return Paths(dataset=name, train=train, test=test, cache_dir=cache_dir, outputs_dir=outputs_dir,
                 pretrained=pretrained, synth=synth, source=source)


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class Profile:
    """How big a run is: the one source of sizes. Notebooks and the command line read
    every size from here, so one word switches a notebook from the tests' seconds-long
    run to the report's real one.

    image_size: side of the square images fed to the classifiers, pixels.
    max_train_per_class / max_test_per_class: cap on images per style (None: all).
    validation_fraction: share of each style's training images held out for validation.
    epochs / batch_size: classifier training; SeedCNN and StyleCNN get the same epochs.
    lr_grid: learning rates tried per model, the one with the best validation score kept.
    seeds: how many seeds the multi-seed comparisons use (0, 1, ...).
    style_cnn: StyleCNN's constructor arguments (width, depth, stem_stride; "auto":
        ``models.auto_stem_stride`` of the input size, 2 at 64 px, 1 at 32 px).
    lr: a from-scratch classifier's peak learning rate when nothing chooses one (the
        ``train`` command's default). 1e-2 and an "auto" stem
        did best on validation across three datasets (benchmarks/ablate_classifier.py,
        benchmarks/RESULTS.md); notebooks still choose among ``lr_grid`` on validation.
    imbalance: notebook 02's comparison (image_size, width, depth, epochs, lr).
    autoencoder: notebook 03's autoencoder (base_channels, depth, latent_channels, epochs,
        lr, batch_size) and clustering settings (max_points, tsne_max_iter, min_style_images).
    generator: notebook 04's style-conditioned autoencoder (image_size, base_channels, depth,
        embedding_dim, epochs, lr, batch_size, style_weight), the StyleCNN that defines its
        style loss (loss_network: constructor arguments; trained at image_size) and the
        judge's width (judge_width; the judge is that StyleCNN with another width and seed).
    lora: notebook 05's LoRA fine-tuning (steps, rank, batch_size per process, gradient_accumulation, lr,
        resolution of the tiny stand-in pipeline (real weights train at their own), checkpoint_every,
        images_per_style cap, inference_steps, guidance, generation_seeds per style; pretrained: False
        keeps a test profile on the tiny pipeline even when real weights are configured).
    search: the hyperparameter search (``search.run_study``; notebook 02 and the ``search``
        command): trials per session, epochs per trial, startup_trials (random trials before
        TPE models the results, and completed trials before the median pruner stops any),
        min_epochs (epochs a trial trains before it can be pruned).
    command_style_cnn: the ``train`` command's StyleCNN when no --width/--depth is given;
        None: :data:`TRAIN_STYLE_CNN` (measured, benchmarks/RESULTS.md). The test profile sets
        a small one.
    probe: notebook 01's "Beyond from scratch" (``parts.transfer``): backbones to try in
        order (the first with local weights runs), input_side (px; None: the weights' own),
        finetune_epochs (0: the linear probe only).
    """

    name: str
    image_size: int
    max_train_per_class: int | None
    max_test_per_class: int | None
    epochs: int
    batch_size: int
    seeds: int
    lr_grid: tuple[float, ...]
    style_cnn: dict[str, Any]
    imbalance: dict[str, Any]
    autoencoder: dict[str, Any]
    generator: dict[str, Any] = dataclasses.field(default_factory=dict)
    lora: dict[str, Any] = dataclasses.field(default_factory=dict)
    search: dict[str, Any] = dataclasses.field(default_factory=dict)
    validation_fraction: float = 0.1
    lr: float = 1e-2
    command_style_cnn: dict[str, Any] | None = None
    probe: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def seed_list(self) -> list[int]:
        return list(range(self.seeds))

    def replace(self, **changes: Any) -> "Profile":
        return dataclasses.replace(self, **changes)


# The `train` command's default StyleCNN capacity on every profile but the test one. Widths
# 16, 32 and 64 for 15 epochs, scored on validation on two datasets (benchmarks/RESULTS.md,
# "StyleCNN width"): width 64 had the best accuracy on both and the best balanced accuracy on
# the embedded set; 32 gained nothing over 16. One seed each, so read it as "no reason to stay
# at 16", not as a precise optimum. Notebooks keep their profile's `style_cnn` (demo's width
# 16 fits its CPU minutes; 64 costs about 9x the time).
TRAIN_STYLE_CNN: dict[str, Any] = dict(width=64, depth=4, stem_stride="auto")

PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", image_size=32, max_train_per_class=8, max_test_per_class=4, epochs=1, batch_size=32,
                     seeds=2, lr_grid=(1e-3, 3e-3), style_cnn=dict(width=8, depth=3, stem_stride=2),
                     imbalance=dict(image_size=32, width=4, depth=2, epochs=1, lr=3e-3),
                     autoencoder=dict(base_channels=8, depth=2, latent_channels=3, epochs=1, lr=3e-3, batch_size=16,
                                      max_points=1500, tsne_max_iter=250, min_style_images=3),
                     generator=dict(image_size=16, base_channels=8, depth=2, embedding_dim=8, epochs=1, lr=3e-3,
                                    batch_size=16, style_weight=1.0,
                                    loss_network=dict(width=8, depth=2, stem_stride=1), judge_width=12),
                     lora=dict(steps=2, rank=4, batch_size=2, gradient_accumulation=1, lr=1e-3, resolution=32,
                               checkpoint_every=1, images_per_style=2, inference_steps=2, guidance=7.5,
                               generation_seeds=1, pretrained=False),
                     search=dict(trials=4, epochs=2, startup_trials=2, min_epochs=1),
                     command_style_cnn=dict(width=8, depth=3, stem_stride=2),
                     probe=dict(backbones=("tf_efficientnet_lite0",), input_side=32, finetune_epochs=0)),
    # demo: all five notebooks in minutes on two CPU cores (width 16; a stride-2 stem at 64 px: the
    # stride-4 "patchify" stem it had cost 9 points of validation balanced accuracy, see RESULTS.md).
    "demo": Profile("demo", image_size=64, max_train_per_class=None, max_test_per_class=None, epochs=10,
                    batch_size=64, seeds=5, lr_grid=(3e-3, 1e-2, 3e-2),
                    style_cnn=dict(width=16, depth=4, stem_stride="auto"),
                    imbalance=dict(image_size=32, width=12, depth=3, epochs=6, lr=3e-3),
                    autoencoder=dict(base_channels=16, depth=2, latent_channels=3, epochs=5, lr=3e-3, batch_size=16,
                                     max_points=1500, tsne_max_iter=750, min_style_images=5),
                    # 32 px: a generator paints every pixel twice per step (own and other style),
                    # which at 64 px would not fit the demo's minutes on two cores.
                    generator=dict(image_size=32, base_channels=8, depth=2, embedding_dim=16, epochs=4, lr=3e-3,
                                   batch_size=32, style_weight=1.0,
                                   loss_network=dict(width=16, depth=3, stem_stride=2), judge_width=24),
                    lora=dict(steps=40, rank=4, batch_size=4, gradient_accumulation=2, lr=1e-3, resolution=32,
                              checkpoint_every=20, images_per_style=8, inference_steps=10, guidance=7.5,
                              generation_seeds=2),
                    # 8 two-epoch trials of notebook 02's small StyleCNN: about a minute on two cores.
                    search=dict(trials=8, epochs=2, startup_trials=4, min_epochs=1),
                    # The ImageNet weights the dev extra ships, at 128 px (11 ms an image on two cores;
                    # 224 px, the weights' own side, takes 40): a linear probe only, no fine-tune.
                    probe=dict(backbones=("tf_efficientnet_lite0",), input_side=128, finetune_epochs=0)),
    # full: the GPU server on the real data.
    "full": Profile("full", image_size=224, max_train_per_class=None, max_test_per_class=None, epochs=30,
                    batch_size=128, seeds=5, lr_grid=(1e-3, 3e-3, 1e-2),
                    style_cnn=dict(width=32, depth=4, stem_stride=2),
                    imbalance=dict(image_size=128, width=32, depth=4, epochs=20, lr=2e-3),
                    autoencoder=dict(base_channels=32, depth=3, latent_channels=12, epochs=30, lr=2e-3, batch_size=64,
                                     max_points=1500, tsne_max_iter=1000, min_style_images=5),
                    generator=dict(image_size=128, base_channels=32, depth=3, embedding_dim=32, epochs=30, lr=2e-3,
                                   batch_size=64, style_weight=1.0,
                                   loss_network=dict(width=32, depth=4, stem_stride=2), judge_width=48),
                    # Stable Diffusion 1.5 at 512 px: batch 8 x 4 accumulation steps = 32 images a step per GPU;
                    # at most 250 images per style (drawn class-balanced anyway) keeps the latent encoding short.
                    lora=dict(steps=3000, rank=4, batch_size=8, gradient_accumulation=4, lr=1e-4, resolution=512,
                              checkpoint_every=500, images_per_style=250, inference_steps=30, guidance=7.5,
                              generation_seeds=4),
                    search=dict(trials=50, epochs=15, startup_trials=10, min_epochs=4),
                    # A foundation model first when its weights are in pretrained.backbones, at its own side.
                    probe=dict(backbones=("vit_base_patch14_dinov2.lvd142m", "resnet50", "convnext_tiny",
                                          "tf_efficientnet_lite0"), input_side=None, finetune_epochs=10)),
}


def rehearsal_of(profile: Profile, name: str = "rehearsal") -> Profile:
    """``profile`` with its counts shrunk and its sizes kept: the same image sizes,
    widths, depths, resolutions, learning rates and seeds-plural code paths, on a handful
    of images per style, one epoch, two search trials and two LoRA steps. The tests run
    every notebook in ``rehearsal_of(PROFILES["full"])`` so that the branches ``full``
    takes on the GPU server keep working between GPU runs (only the tiny LoRA stand-in's
    resolution drops to one a CPU can take; real weights train at their own anyway)."""
    return profile.replace(
        name=name, max_train_per_class=3, max_test_per_class=2, epochs=1, seeds=2,
        imbalance={**profile.imbalance, "epochs": 1},
        autoencoder={**profile.autoencoder, "epochs": 1, "max_points": 60, "tsne_max_iter": 250,
                     "min_style_images": 2},
        generator={**profile.generator, "epochs": 1},
        lora={**profile.lora, "steps": 2, "checkpoint_every": 1, "images_per_style": 1, "inference_steps": 2,
              "generation_seeds": 1, "resolution": min(profile.lora["resolution"], 64), "pretrained": False},
        search={**profile.search, "trials": 2, "epochs": 1, "startup_trials": 1, "min_epochs": 1},
        probe={**profile.probe, "finetune_epochs": min(1, profile.probe.get("finetune_epochs", 0))})


# `full` rehearsed on a CPU (tests/test_full_rehearsal.py): never for results.
PROFILES["rehearsal"] = rehearsal_of(PROFILES["full"])
DEFAULT_PROFILE = "demo"


def get_profile(name: str | None = None) -> Profile:
    """The profile called ``name``, else ``$WIKIART_PROFILE``, else ``demo``."""
    chosen = name or os.environ.get("WIKIART_PROFILE") or DEFAULT_PROFILE
    if chosen not in PROFILES:
        raise ConfigError(f"Unknown profile '{chosen}'"
                          f"{' (from $WIKIART_PROFILE)' if not name else ''}. Fix: use one of {sorted(PROFILES)}.")
    return PROFILES[chosen]
