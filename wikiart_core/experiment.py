"""One experiment runner: a run specification in, a :class:`RunResult` out.

    result = experiment.run(RunSpec(name="stylecnn", model="stylecnn", epochs=12, lr=3e-3), splits)

does, in this order and nowhere else:

    seed -> model -> task (loss, imbalance method, augmentation) -> engine.fit on train,
    validated on the validation split -> validation predictions, metrics and baselines
    -> test predictions, metrics and baselines (once, at the end) -> RunResult

Notebooks, the training panel, ``imbalance.compare`` and the command line all call
:func:`run`. The test split is never handed to ``fit`` and never chooses anything:
:func:`choose_by_validation` picks among finished runs on validation scores and scores
the test split of the chosen one only. ``RunResult`` serialises to JSON
(``metrics.json``, ``results.json``) with the validation file list, so a run can be
reproduced and its split rebuilt.
"""
from __future__ import annotations

import inspect
import time
import weakref
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from . import engine, evaluate, files, imbalance, models, tasks
from .data import Splits

TASKS = ("classify", "reconstruct")
# The headline metric of each task: what "best" means, on validation.
SCORE = {"classify": "balanced_accuracy", "reconstruct": "psnr"}


@dataclass
class RunSpec:
    """Everything that defines a run, as plain values (JSON- and checkpoint-safe).

    name: a label for tables. task: "classify" or "reconstruct". model: a key of
    ``models.MODELS`` (case-insensitive); model_args: its constructor arguments
    (``n_classes`` and ``image_size`` are filled in from the data). imbalance: a key of
    ``imbalance.METHODS``. augment: a key of ``augment.PRESETS`` (None: the task's own,
    "art" for classify, "flip" for reconstruct). input_size: classify only, the model's
    input side when the splits were decoded larger (``data.cache_side``): training crops
    are shrunk to it rather than stretched, evaluation takes the central crop; None: the
    splits' size. ssim_weight: reconstruct only. The rest is
    :class:`~wikiart_core.engine.TrainConfig`."""

    name: str = "run"
    task: str = "classify"
    model: str = "stylecnn"
    model_args: dict = field(default_factory=dict)
    imbalance: str = "none"
    epochs: int = 1
    lr: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    label_smoothing: float = 0.0
    mixup: float = 0.0
    augment: str | None = None
    input_size: int | None = None
    ssim_weight: float = 0.0
    seed: int = 0
    device: str = "auto"
    amp: bool = True

    def replace(self, **changes: Any) -> "RunSpec":
        values = asdict(self)
        values.update(changes)
        return RunSpec(**values)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "RunSpec":
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in values.items() if key in known})

    def train_config(self) -> engine.TrainConfig:
        return engine.TrainConfig(epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
                                  weight_decay=self.weight_decay, warmup_epochs=self.warmup_epochs, seed=self.seed,
                                  device=self.device, amp=self.amp)


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
        return float(metrics[SCORE[self.spec.task]])

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
    model_class = models.model_class(spec.model)
    arguments = dict(spec.model_args)
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
    """The task and the sampler (None: a seeded shuffle) for ``spec``."""
    if spec.task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {spec.task!r}")
    if spec.task == "reconstruct":
        return tasks.Reconstruction(models.reconstruction_loss(spec.ssim_weight), spec.augment or "flip"), None
    loss, sampler = imbalance.configure(spec.imbalance, splits.train.class_counts(), splits.train.targets,
                                        seed=spec.seed, label_smoothing=spec.label_smoothing)
    return tasks.Classification(loss, spec.label_smoothing, spec.mixup, spec.augment or "art",
                                input_size=spec.input_size), sampler


# --------------------------------------------------------------------------- baselines, once per split set

_BASELINE_CACHE: "weakref.WeakKeyDictionary[Splits, dict]" = weakref.WeakKeyDictionary()


def _baselines_of(splits: Splits) -> dict:
    """The cached baselines of ``splits`` (computed on first use)."""
    cached = _BASELINE_CACHE.get(splits)
    if cached is None:
        from . import colour_baseline

        counts = splits.train.class_counts()
        colour = colour_baseline.colour_statistics_baseline(splits.train, splits.validation, splits.test)
        tables = {}
        for split_name, dataset in (("validation", splits.validation), ("test", splits.test)):
            simple = evaluate.baselines(counts, dataset.targets, splits.classes)
            tables[split_name] = {"majority": simple["majority"], "stratified": simple["stratified"],
                                  "colour_statistics": {**colour[split_name], "chosen": colour["chosen"]}}
        cached = {"tables": tables, "colour_test_predictions": np.asarray(colour["test_predictions"], np.int64)}
        _BASELINE_CACHE[splits] = cached
    return cached


def classification_baselines(splits: Splits) -> dict:
    """{"validation": {...}, "test": {...}}, each with the majority, stratified-random
    and colour-statistics baselines (metrics as fractions). The colour baseline is a
    logistic regression on colour statistics fitted on train and chosen on validation.
    Computed once per ``splits`` object."""
    return _baselines_of(splits)["tables"]


def colour_baseline_test_predictions(splits: Splits) -> np.ndarray:
    """(N,) the colour-statistics baseline's test predictions, for paired comparisons
    (``stats.paired_bootstrap``) of a model against it."""
    return _baselines_of(splits)["colour_test_predictions"]


def _classification_scores(model, dataset, spec: RunSpec) -> tuple[dict, list[int], list[int]]:
    predictions = evaluate.predict(model, dataset, batch_size=max(spec.batch_size, 256), device=spec.device,
                                   input_size=spec.input_size)
    metrics = evaluate.classification_metrics(predictions.y_true, predictions.y_pred, dataset.classes,
                                              predictions.probabilities)
    scores = {key: metrics[key] for key in ("accuracy", "balanced_accuracy", "macro_f1", "top3_accuracy",
                                            "n_samples")}
    scores["per_class_recall"] = {style: values["recall"] for style, values in metrics["per_class"].items()}
    return scores, predictions.y_pred.tolist(), predictions.y_true.tolist()


def _score_split(result: RunResult, splits: Splits, split_name: str) -> None:
    """Fill ``result``'s metrics, baselines and predictions for one split."""
    dataset = splits.validation if split_name == "validation" else splits.test
    if result.spec.task == "classify":
        scores, y_pred, y_true = _classification_scores(result.model, dataset, result.spec)
        result.predictions[split_name], result.y_true[split_name] = y_pred, y_true
        result.baselines[split_name] = classification_baselines(splits)[split_name]
    else:
        from . import cluster

        scores = evaluate.reconstruction_metrics(result.model, dataset, device=result.spec.device)
        ratio = result.model.compression_ratio
        result.baselines[split_name] = {"resize": cluster.resize_baseline_metrics(dataset, ratio)}
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
    _score_split(result, splits, "test")
    return result


# --------------------------------------------------------------------------- running


def run(spec: RunSpec, splits: Splits, *, checkpoint_dir: str | Path | None = None,
        resume: str | Path | None = None, score_test_split: bool = True, meta: dict | None = None,
        fit_fn: Callable = engine.fit, on_epoch_end: Callable | None = None, progress: bool = False,
        log: Callable[[str], Any] | None = None) -> RunResult:
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
        fit_fn: the training function (tests pass a spy).
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
    history = fit_fn(model, task, splits.train, splits.validation, spec.train_config(), sampler=sampler,
                     checkpoint_dir=checkpoint_dir, resume=resume, meta=checkpoint_meta, on_epoch_end=on_epoch_end,
                     progress=progress, log=log or (lambda *_args, **_kwargs: None))
    result = RunResult(spec=spec, history=history, validation={}, split=split_info, model=model)
    _score_split(result, splits, "validation")
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
            log(f"{spec.name}: lr {lr:g} -> validation {SCORE[spec.task]} {candidate.score():.3f}")
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
