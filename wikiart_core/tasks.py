"""Training tasks: what one kind of training adds to the shared loop in ``engine``, and
how a finished run of that kind is scored.

A task answers four questions, and the engine asks nothing else:

    prepare(model, train_data, seed)       anything fitted on the training data before epoch 1
    augment(images, generator) -> images   the batch as the model should see it
    loss(model, images, labels, rng)       -> (scalar loss, {name: logged part})
    validate(model, val_data, batch_size, device) -> {metric: value}

plus ``best_metric`` and ``higher_is_better``: the validation number that decides
``best.pt`` (and "best" everywhere else: the headline metric of the task).

The runner (``experiment.run``) finds a task by the name in a ``RunSpec`` through
:data:`TASKS` (``@register_task``) and asks it three more things, so it never branches
on task names:

    from_spec(spec, splits) -> (task, sampler)          the task a RunSpec describes
    score(model, dataset, spec) -> (metrics, labels)   one split's metrics (and predictions)
    baselines(model, splits, split) -> {name: metrics} what the run must beat on that split

Classification and reconstruction are the two registered tasks; the Part 3 generator is
a third (``style.StyleTransfer``), trained by its part without the runner.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from . import augment as augmentation
from . import colour_baseline, data, evaluate, imbalance, models

TASKS: dict[str, type["Task"]] = {}


def register_task(task_class: type["Task"]) -> type["Task"]:
    """Class decorator: make ``task_class`` reachable as ``RunSpec(task=task_class.name)``."""
    TASKS[task_class.name] = task_class
    return task_class


def task_class(name: str) -> type["Task"]:
    """The registered task called ``name``; ValueError listing the known ones."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {name!r}")
    return TASKS[name]


@dataclass
class EpochRandom:
    """The random streams of one epoch, seeded from (run seed, epoch) by the engine:
    ``generator`` (torch, CPU) for order, crops, flips and partners; ``numpy`` for
    scalar draws such as a mixup weight."""

    generator: torch.Generator
    numpy: np.random.Generator


class Task:
    """Base class with the defaults: no preparation, no augmentation, no logged parts."""

    name = "task"
    best_metric = "loss"
    higher_is_better = False

    def prepare(self, model: nn.Module, train_data, seed: int) -> None:
        """Called once before a fresh (not resumed) run."""

    def augment(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return images

    def loss(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             rng: EpochRandom) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        raise NotImplementedError

    def validate(self, model: nn.Module, val_data, batch_size: int, device: torch.device) -> dict[str, float]:
        return {}

    def describe(self) -> dict[str, Any]:
        """Plain settings recorded in checkpoints."""
        return {"task": self.name}

    # What the runner asks of a registered task (see the module docstring).
    uses_imbalance = False  # whether RunSpec.imbalance (and the search's imbalance dimension) applies

    @classmethod
    def from_spec(cls, spec, splits) -> tuple["Task", Any]:
        """(task, sampler or None) for an ``experiment.RunSpec`` and its ``data.Splits``."""
        raise NotImplementedError

    def score(self, model: nn.Module, dataset, spec) -> tuple[dict, dict]:
        """(metrics of ``model`` on ``dataset``, {"predictions": [...], "y_true": [...]} or {})."""
        raise NotImplementedError

    def baselines(self, model: nn.Module, splits, split: str) -> dict:
        """{baseline name: metrics} on ``split`` ("validation" or "test") of ``splits``."""
        return {}

    def improved(self, score: float | None, best: float | None) -> bool:
        """Whether validation ``score`` beats ``best`` (None: no score yet)."""
        if score is None:
            return False
        if best is None:
            return True
        return score > best if self.higher_is_better else score < best


def _checked(augment_preset: str, loss_function: Callable | None, default_loss: Callable[[], Callable]) -> Callable:
    """A task's loss after checking its augmentation preset: the given one, else ``default_loss()``."""
    augmentation.check_preset(augment_preset)
    return default_loss() if loss_function is None else loss_function


@register_task
@dataclass
class Classification(Task):
    """Images -> style logits.

    loss: None (cross-entropy with ``label_smoothing``) or any ``loss(logits, labels)``
        (the imbalance module's weighted or logit-adjusted losses).
    mixup: Beta(mixup, mixup) mixing of image pairs (0: off).
    augment_preset: a key of ``augment.PRESETS`` (default "art").
    input_size: the model's input side in px when the cache is larger (training crops are
        shrunk to it, validation takes the central crop); None: the cache's size.
    Validation: accuracy, balanced accuracy (decides best.pt) and macro-F1, as fractions.
    """

    loss_function: Callable | None = None
    label_smoothing: float = 0.0
    mixup: float = 0.0
    augment_preset: str = "art"
    input_size: int | None = None
    name: str = field(default="classify", init=False)
    best_metric: str = field(default="balanced_accuracy", init=False)
    higher_is_better: bool = field(default=True, init=False)

    def __post_init__(self):
        self.loss_function = _checked(self.augment_preset, self.loss_function,
                                      lambda: nn.CrossEntropyLoss(label_smoothing=self.label_smoothing))

    def prepare(self, model, train_data, seed):
        # Models that standardise their own input learn the mean and std of the training images.
        if hasattr(model, "set_input_stats"):
            model.set_input_stats(*data.channel_stats(train_data, seed=seed))

    def augment(self, images, generator):
        return augmentation.apply_preset(self.augment_preset, images, generator, output_size=self.input_size)

    def loss(self, model, images, labels, rng):
        if self.mixup > 0:
            weight = float(rng.numpy.beta(self.mixup, self.mixup))
            partner = torch.randperm(images.shape[0], generator=rng.generator).to(images.device)
            logits = model(weight * images + (1 - weight) * images[partner]).float()
            value = weight * self.loss_function(logits, labels) + (1 - weight) * self.loss_function(logits,
                                                                                                    labels[partner])
        else:
            value = self.loss_function(model(images).float(), labels)
        return value, {}

    def validate(self, model, val_data, batch_size, device):
        predictions = evaluate.predict(model, val_data, batch_size=batch_size, device=device,
                                       input_size=self.input_size)
        metrics = evaluate.classification_metrics(predictions.y_true, predictions.y_pred, val_data.classes)
        return {key: metrics[key] for key in ("accuracy", "balanced_accuracy", "macro_f1")}

    def describe(self):
        return {"task": self.name, "loss": type(self.loss_function).__name__,
                "label_smoothing": self.label_smoothing, "mixup": self.mixup, "augment": self.augment_preset,
                "input_size": self.input_size}

    uses_imbalance = True

    @classmethod
    def from_spec(cls, spec, splits):
        """The spec's imbalance method (loss or balanced sampler, fitted to the training
        counts), label smoothing, mixup, augmentation (None: "art") and input size."""
        loss, sampler = imbalance.configure(spec.imbalance, splits.train.class_counts(), splits.train.targets,
                                            seed=spec.seed, label_smoothing=spec.label_smoothing)
        return cls(loss, spec.label_smoothing, spec.mixup, spec.augment or cls.augment_preset,
                   input_size=spec.input_size), sampler

    def score(self, model, dataset, spec):
        """Accuracy, balanced accuracy, macro-F1, top-3 accuracy (fractions), n_samples and
        per-style recall, with the predicted and true labels (for paired bootstraps)."""
        predictions = evaluate.predict(model, dataset, batch_size=max(spec.batch_size, 256), device=spec.device,
                                       input_size=self.input_size)
        metrics = evaluate.classification_metrics(predictions.y_true, predictions.y_pred, dataset.classes,
                                                  predictions.probabilities)
        scores = {key: metrics[key] for key in ("accuracy", "balanced_accuracy", "macro_f1", "top3_accuracy",
                                                "n_samples")}
        scores["per_class_recall"] = {style: values["recall"] for style, values in metrics["per_class"].items()}
        return scores, {"predictions": predictions.y_pred.tolist(), "y_true": predictions.y_true.tolist()}

    def baselines(self, model, splits, split):
        """Majority, stratified random and colour statistics (:func:`classification_baselines`)."""
        return classification_baselines(splits)[split]


@register_task
@dataclass
class Reconstruction(Task):
    """Images -> the same images (autoencoders). The target is the input in [0, 1].

    loss: None (mean squared error) or any ``loss(reconstruction, target)``, e.g.
        ``models.reconstruction_loss(ssim_weight)``.
    augment_preset: default "flip" (crops would only teach it to paint crops).
    Validation: MSE and PSNR in dB (PSNR decides best.pt).
    """

    loss_function: Callable | None = None
    augment_preset: str = "flip"
    name: str = field(default="reconstruct", init=False)
    best_metric: str = field(default="psnr", init=False)
    higher_is_better: bool = field(default=True, init=False)

    def __post_init__(self):
        self.loss_function = _checked(self.augment_preset, self.loss_function, nn.MSELoss)

    def augment(self, images, generator):
        return augmentation.apply_preset(self.augment_preset, images, generator)

    def loss(self, model, images, labels, rng):
        return self.loss_function(model(images).float(), images), {}

    def validate(self, model, val_data, batch_size, device):
        return evaluate.reconstruction_metrics(model, val_data, batch_size=batch_size, device=device)

    def describe(self):
        return {"task": self.name, "loss": getattr(self.loss_function, "__name__", type(self.loss_function).__name__),
                "augment": self.augment_preset}

    @classmethod
    def from_spec(cls, spec, splits):
        """MSE plus ``spec.ssim_weight`` x (1 - SSIM); augmentation ``spec.augment`` (None: "flip")."""
        return cls(models.reconstruction_loss(spec.ssim_weight), spec.augment or cls.augment_preset), None

    def score(self, model, dataset, spec):
        """MSE and PSNR (dB) over every pixel of ``dataset``."""
        return evaluate.reconstruction_metrics(model, dataset, device=spec.device), {}

    def baselines(self, model, splits, split):
        """Downscale-then-upscale at the model's compression ratio (``evaluate.resize_baseline_metrics``)."""
        dataset = splits.validation if split == "validation" else splits.test
        return {"resize": evaluate.resize_baseline_metrics(dataset, model.compression_ratio)}


# --------------------------------------------------------------------------- classification baselines, once per split set

_BASELINE_CACHE: "weakref.WeakKeyDictionary[data.Splits, dict]" = weakref.WeakKeyDictionary()


def _baselines_of(splits) -> dict:
    """The cached baselines of ``splits`` (computed on first use)."""
    cached = _BASELINE_CACHE.get(splits)
    if cached is None:
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


def classification_baselines(splits) -> dict:
    """{"validation": {...}, "test": {...}}, each with the majority, stratified-random
    and colour-statistics baselines (metrics as fractions). The colour baseline is a
    logistic regression on colour statistics fitted on train and chosen on validation.
    Computed once per ``splits`` object."""
    return _baselines_of(splits)["tables"]


def colour_baseline_test_predictions(splits) -> np.ndarray:
    """(N,) the colour-statistics baseline's test predictions, for paired comparisons
    (``stats.paired_bootstrap``) of a model against it."""
    return _baselines_of(splits)["colour_test_predictions"]
