"""One experiment runner: a run specification in, a :class:`RunResult` out.

    result = experiment.run(RunSpec(name="stylecnn", model="stylecnn", epochs=12, lr=3e-3), splits)

does, in this order and nowhere else:

    seed -> model -> task (loss, imbalance method, augmentation) -> engine.fit on train,
    validated on the validation split -> validation predictions, metrics and baselines
    -> test predictions, metrics and baselines (once, at the end) -> RunResult

Notebooks, the training panel, ``parts.part1_imbalance.compare`` and the command line all call
:func:`run`. The test split is never handed to ``fit`` and never chooses anything:
:func:`choose_by_validation` picks among finished runs on validation scores and scores
the test split of the chosen one only. ``RunResult`` serialises to JSON
(``metrics.json``, ``results.json``) with the validation file list, so a run can be
reproduced and its split rebuilt.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from . import augment as augment_presets
from . import data, engine, files, imbalance, models, probe, tasks
from .data import Splits



@dataclass
class RunSpec(engine.TrainConfig):
    """Everything that defines a run, as plain values (JSON- and checkpoint-safe): the
    training settings of :class:`~wikiart_core.engine.TrainConfig` (epochs, lr,
    batch_size, weight_decay, warmup_epochs, seed, device, amp; their defaults live
    there) and what to train.

    name: a label for tables. task: a key of ``tasks.TASKS`` ("classify",
    "reconstruct"). model: a key of ``models.MODELS`` (case-insensitive); model_args: its
    constructor arguments (``n_classes`` and ``image_size`` are filled in from the data).
    imbalance: a key of ``imbalance.METHODS`` (classify only). augment: a key of
    ``augment.PRESETS`` (None: the task's own, "art" for classify, "flip" for
    reconstruct). label_smoothing, mixup, input_size: classify only, defaults those of
    ``tasks.Classification``; input_size is the model's input side when the splits were
    decoded larger (``data.cache_side``): training crops are shrunk to it rather than
    stretched, evaluation takes the central crop; None: the splits' size. ssim_weight:
    reconstruct only, the weight of 1 - SSIM in the loss."""

    name: str = "run"
    task: str = "classify"
    model: str = "stylecnn"
    model_args: dict = field(default_factory=dict)
    imbalance: str = "none"
    label_smoothing: float = tasks.Classification.label_smoothing
    mixup: float = tasks.Classification.mixup
    augment: str | None = None
    input_size: int | None = tasks.Classification.input_size
    ssim_weight: float = 0.0

    def replace(self, **changes: Any) -> "RunSpec":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "RunSpec":
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    @property
    def headline_metric(self) -> str:
        """What "best" means for this spec's task, on validation (balanced_accuracy, psnr)."""
        return tasks.task_class(self.task).best_metric

    def problems(self) -> list[str]:
        """Everything wrong with this spec, one phrase each (empty: it can run). The one
        validation that the panel shows, the CLI reports and ``fit`` raises."""
        found = super().problems()
        if self.task not in tasks.TASKS:
            found.append(f"task must be one of {sorted(tasks.TASKS)} (got {self.task!r})")
        try:
            model_class, fixed = models.resolve(self.model)
        except ValueError as error:
            found.append(str(error))
        else:
            found += _argument_problems(model_class, {**fixed, **self.model_args})
        if self.imbalance not in imbalance.METHODS:
            found.append(f"imbalance method must be one of {list(imbalance.METHODS)} (got {self.imbalance!r})")
        if self.augment is not None and self.augment not in augment_presets.PRESETS:
            found.append(f"augmentation must be one of {sorted(augment_presets.PRESETS)} (got {self.augment!r})")
        if not 0.0 <= self.label_smoothing < 1.0:
            found.append(f"label smoothing must be in [0, 1) (got {self.label_smoothing:g})")
        if not (math.isfinite(self.mixup) and self.mixup >= 0):
            found.append(f"mixup strength must be >= 0 (got {self.mixup:g})")
        if not 0.0 <= self.ssim_weight <= 1.0:
            found.append(f"SSIM weight must be in [0, 1] (got {self.ssim_weight:g})")
        if self.input_size is not None and not 8 <= self.input_size <= data.MAX_IMAGE_SIDE:
            found.append(f"input size must be 8 to {data.MAX_IMAGE_SIDE} px (got {self.input_size})")
        return found


def _argument_problems(model_class: type, arguments: dict) -> list[str]:
    """A phrase for model constructor arguments that ``model_class`` does not take (a typo
    in ``--model-arg`` is named before any data is read, with the arguments it does take)."""
    parameters = inspect.signature(model_class).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return []
    unknown = sorted(set(arguments) - set(parameters))
    if not unknown:
        return []
    return [f"{model_class.__name__} takes no argument {', '.join(map(repr, unknown))} (it takes "
            f"{', '.join(name for name in parameters if name not in ('n_classes', 'image_size'))})"]


@dataclass
class RunResult:
    """What a run produced.

    validation / test: metrics on that split (classify: accuracy, balanced_accuracy,
    macro_f1, top3_accuracy, per_class_recall; reconstruct: mse, psnr), as fractions or dB; ``test`` is
    None until the test split is scored (once). baselines: {"validation": ..., "test": ...},
    each {name: metrics} (classify: majority, stratified, colour_statistics; reconstruct:
    resize). predictions / y_true: {"validation": [...], "test": [...]} label lists
    (classify), for paired bootstrap comparisons. split: sizes and the validation file list.
    model: the trained model (not serialised)."""

    spec: RunSpec
    history: engine.History
    validation: dict
    test: dict | None = None
    baselines: dict = field(default_factory=dict)
    predictions: dict = field(default_factory=dict)
    y_true: dict = field(default_factory=dict)
    split: dict = field(default_factory=dict)
    seconds: float = 0.0
    model: torch.nn.Module | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def interrupted(self) -> bool:
        return self.history.interrupted

    def score(self, split: str = "validation") -> float:
        """The task's headline metric on ``split`` (balanced accuracy, or PSNR in dB)."""
        metrics = self.validation if split == "validation" else self.test
        if metrics is None:
            raise ValueError(f"run {self.name!r} has no {split} scores yet")
        return float(metrics[self.spec.headline_metric])

    def to_dict(self) -> dict:
        return {"spec": self.spec.to_dict(), "validation": self.validation, "test": self.test,
                "baselines": self.baselines, "predictions": self.predictions, "y_true": self.y_true,
                "split": self.split, "seconds": self.seconds, "history": self.history.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> "RunResult":
        return cls(spec=RunSpec.from_dict(values["spec"]), history=engine.History.from_dict(values["history"]),
                   validation=values["validation"], test=values.get("test"), baselines=values.get("baselines", {}),
                   predictions=values.get("predictions", {}), y_true=values.get("y_true", {}),
                   split=values.get("split", {}), seconds=values.get("seconds", 0.0))

    def save_json(self, path: str | Path) -> Path:
        return files.write_json(path, self.to_dict())


# --------------------------------------------------------------------------- building the pieces


def build_model(spec: RunSpec, splits: Splits) -> torch.nn.Module:
    """A fresh model for ``spec``, its initial weights seeded by ``spec.seed``.
    ``n_classes`` (classifiers) and ``image_size`` (models whose layers depend on it:
    SeedCNN, ConvAutoencoder) come from the data; ``stem_stride="auto"`` becomes
    ``models.auto_stem_stride`` of the input size."""
    model_class, fixed_arguments = models.resolve(spec.model)
    arguments = {**fixed_arguments, **spec.model_args}
    parameters = inspect.signature(model_class).parameters
    if "n_classes" in parameters:
        arguments.setdefault("n_classes", len(splits.classes))
    if "image_size" in parameters:
        arguments["image_size"] = spec.input_size or splits.image_size
    if arguments.get("stem_stride") == "auto":
        # Resolved here, where the input size is known; the model (and its checkpoint) keeps the number.
        arguments["stem_stride"] = models.auto_stem_stride(spec.input_size or splits.image_size)
    torch.manual_seed(spec.seed)
    return model_class(**arguments)


def build_task(spec: RunSpec, splits: Splits) -> tuple[tasks.Task, Any]:
    """The task and the sampler (None: a seeded shuffle) for ``spec``: its registered
    task (``tasks.TASKS``) built from the spec."""
    return tasks.task_class(spec.task).from_spec(spec, splits)


def _score_split(result: RunResult, task: tasks.Task, splits: Splits, split_name: str) -> None:
    """Fill ``result``'s metrics, baselines and predictions for one split."""
    dataset = splits.validation if split_name == "validation" else splits.test
    scores, labels = task.score(result.model, dataset, result.spec)
    if labels:
        result.predictions[split_name], result.y_true[split_name] = labels["predictions"], labels["y_true"]
    result.baselines[split_name] = task.baselines(result.model, splits, split_name)
    if split_name == "validation":
        result.validation = scores
    else:
        result.test = scores


def score_test(result: RunResult, splits: Splits) -> RunResult:
    """Score the test split of a finished run, once (a second call is an error: the
    test split must not be consulted again and again)."""
    if result.test is not None:
        raise ValueError(f"run {result.name!r} was already scored on the test split")
    if result.model is None:
        raise ValueError(f"run {result.name!r} has no model in memory (read from JSON?)")
    task, _ = build_task(result.spec, splits)
    _score_split(result, task, splits, "test")
    return result


# --------------------------------------------------------------------------- running


def training_function(model: torch.nn.Module, cache_dir: str | Path | None = None) -> Callable:
    """How ``model`` is trained: ``probe.fit`` (embeddings cached in ``cache_dir``) when it
    is a linear probe on a frozen backbone, else ``engine.fit``."""
    if getattr(model, "linear_probe", False):
        return functools.partial(probe.fit, cache_dir=cache_dir)
    return engine.fit


def run(spec: RunSpec, splits: Splits, *, checkpoint_dir: str | Path | None = None,
        resume: str | Path | None = None, score_test_split: bool = True, meta: dict | None = None,
        fit_fn: Callable | None = None, on_epoch_end: Callable | None = None, progress: bool = False,
        log: Callable[[str], Any] | None = None, cache_dir: str | Path | None = None) -> RunResult:
    """Train and score one run.

    Args:
        spec: the :class:`RunSpec`.
        splits: train, validation and test (``data.load_splits``). fit sees train and
            validation only.
        checkpoint_dir: last.pt / best.pt (chosen on validation) go here; with it an
            interrupt can go back to the last complete epoch and be resumed.
        resume: a last.pt of the same spec, or "auto" (``engine.fit``: continue checkpoint_dir/last.pt
            when it holds this very run, else start afresh).
        score_test_split: score the test split at the end (False when this run is one
            candidate of a choice: :func:`choose_by_validation` scores the chosen one).
        meta: more plain values for the checkpoints (profile, dataset, ...).
        fit_fn: the training function (tests pass a spy); None: ``engine.fit``, or
            ``probe.fit`` for a model that is a linear probe (``model.linear_probe``: a
            frozen pretrained backbone, whose head a logistic regression fits).
        cache_dir: where ``probe.fit`` caches embeddings (None: not cached).
        log: per-epoch lines (None: silent).
    Returns:
        a :class:`RunResult`; an interrupted run is scored on validation only.
    """
    started = time.perf_counter()
    model = build_model(spec, splits)
    task, sampler = build_task(spec, splits)
    split_info = {**splits.describe(), "validation_files": splits.validation_files()}
    checkpoint_meta = {**(meta or {}), "spec": spec.to_dict(), "validation_files": split_info["validation_files"],
                       "validation_fraction": splits.validation_fraction, "split_seed": splits.split_seed}
    if fit_fn is None:
        fit_fn = training_function(model, cache_dir)
    history = fit_fn(model, task, splits.train, splits.validation, spec, sampler=sampler,
                     checkpoint_dir=checkpoint_dir, resume=resume, meta=checkpoint_meta, on_epoch_end=on_epoch_end,
                     progress=progress, log=log or (lambda *_args, **_kwargs: None))
    result = RunResult(spec=spec, history=history, validation={}, split=split_info, model=model)
    _score_split(result, task, splits, "validation")
    if score_test_split and not history.interrupted:
        score_test(result, splits)
    result.seconds = time.perf_counter() - started
    return result


def choose_by_validation(candidates: Sequence[RunResult], splits: Splits) -> RunResult:
    """The candidate with the best validation score (the task's headline metric; ties:
    the first), its test split scored once. The others are never scored on test."""
    if not candidates:
        raise ValueError("no candidate runs to choose from")
    chosen = max(candidates, key=lambda result: result.score("validation"))
    if chosen.test is None:
        score_test(chosen, splits)
    return chosen


def learning_rate_search(spec: RunSpec, splits: Splits, learning_rates: Sequence[float], *,
                         log: Callable[[str], Any] | None = print, **run_options) -> tuple[RunResult, list[dict]]:
    """Train ``spec`` once per learning rate, keep the one with the best validation
    score, score its test split. A rate whose training diverges (``TrainingError``) is
    recorded as such and left out of the choice. Returns (chosen run, one row per rate:
    lr, the validation metrics or ``diverged``, and ``chosen``)."""
    candidates, rows = [], []
    for lr in learning_rates:
        try:
            candidate = run(spec.replace(lr=float(lr)), splits, score_test_split=False, **run_options)
        except engine.TrainingError as error:
            rows.append({"lr": float(lr), "diverged": str(error).split(":")[0], "chosen": False})
            if log is not None:
                log(f"{spec.name}: lr {lr:g} -> diverged, left out ({error})")
            continue
        candidates.append(candidate)
        rows.append({"lr": float(lr), **{k: v for k, v in candidate.validation.items() if k != "per_class_recall"},
                     "chosen": False})
        if log is not None:
            log(f"{spec.name}: lr {lr:g} -> validation {spec.headline_metric} {candidate.score():.3f}")
    if not candidates:
        raise engine.TrainingError(f"{spec.name}: training diverged at every learning rate {list(learning_rates)}. "
                                   f"Fix: try smaller learning rates.")
    chosen = choose_by_validation(candidates, splits)
    for row in rows:
        row["chosen"] = row["lr"] == chosen.spec.lr and "diverged" not in row
    return chosen, rows


def results_rows(results: Sequence[RunResult]) -> dict[str, dict]:
    """{run name: {"validation": metrics, "test": metrics}} for ``evaluate.results_table``."""
    return {result.name: {"validation": result.validation, "test": result.test or {}} for result in results}


def predictions_matrix(results: Sequence[RunResult], split: str = "test") -> tuple[np.ndarray, np.ndarray]:
    """(y_true (N,), predictions (S, N)) of runs that differ only by seed, for
    ``stats.paired_bootstrap`` and ``stats.bootstrap_interval``."""
    if not results:
        raise ValueError("no runs")
    y_true = np.asarray(results[0].y_true[split], dtype=np.int64)
    for result in results[1:]:
        if result.y_true[split] != results[0].y_true[split]:
            raise ValueError(f"runs {results[0].name!r} and {result.name!r} were scored on different {split} items")
    return y_true, np.asarray([result.predictions[split] for result in results], dtype=np.int64)
