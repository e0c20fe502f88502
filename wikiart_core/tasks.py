"""Training tasks: what one kind of training adds to the shared loop in ``engine``.

A task answers four questions, and the engine asks nothing else:

    prepare(model, train_data, seed)       anything fitted on the training data before epoch 1
    augment(images, generator) -> images   the batch as the model should see it
    loss(model, images, labels, rng)       -> (scalar loss, {name: logged part})
    validate(model, val_data, batch_size, device) -> {metric: value}

plus ``best_metric`` and ``higher_is_better``: the validation number that decides
``best.pt``. Classification and reconstruction are the two tasks here; the Part 3
generator is a third, in its own module, without touching the engine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from . import augment as augmentation
from . import data


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

    def improved(self, score: float | None, best: float | None) -> bool:
        """Whether validation ``score`` beats ``best`` (None: no score yet)."""
        if score is None:
            return False
        if best is None:
            return True
        return score > best if self.higher_is_better else score < best


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
        augmentation.check_preset(self.augment_preset)
        if self.loss_function is None:
            self.loss_function = nn.CrossEntropyLoss(label_smoothing=self.label_smoothing)

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
        from . import evaluate

        predictions = evaluate.predict(model, val_data, batch_size=batch_size, device=device,
                                       input_size=self.input_size)
        metrics = evaluate.classification_metrics(predictions.y_true, predictions.y_pred, val_data.classes)
        return {key: metrics[key] for key in ("accuracy", "balanced_accuracy", "macro_f1")}

    def describe(self):
        return {"task": self.name, "loss": type(self.loss_function).__name__,
                "label_smoothing": self.label_smoothing, "mixup": self.mixup, "augment": self.augment_preset,
                "input_size": self.input_size}


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
        augmentation.check_preset(self.augment_preset)
        if self.loss_function is None:
            self.loss_function = nn.MSELoss()

    def augment(self, images, generator):
        return augmentation.apply_preset(self.augment_preset, images, generator)

    def loss(self, model, images, labels, rng):
        return self.loss_function(model(images).float(), images), {}

    def validate(self, model, val_data, batch_size, device):
        from . import evaluate

        return evaluate.reconstruction_metrics(model, val_data, batch_size=batch_size, device=device)

    def describe(self):
        return {"task": self.name, "loss": getattr(self.loss_function, "__name__", type(self.loss_function).__name__),
                "augment": self.augment_preset}
