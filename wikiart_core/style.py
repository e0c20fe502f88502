"""Part 3's generic pieces: style statistics from a frozen classifier, the generator's
training task, mismatched style pairs, and the measures of content kept.

The style loss follows Huang and Belongie (2017) and Dumoulin et al. (2017) in spirit:
a style is described by the per-channel means and standard deviations of a frozen
network's intermediate features. There are no ImageNet weights offline, so the frozen
network is a StyleCNN trained on the styles by the runner (the *loss network*). A
style's target is the average of those statistics over its training images.

The generator is trained as a task of the shared engine (:class:`StyleTransfer`):

    loss = MSE(G(x, own style), x)                                  # reconstruct
         + style_weight   * |stats(G(x, other style)) - target(other style)|^2
         + content_weight * MSE(deep features of G(x, other), of x)  # optional

Judging must not use the loss network: :func:`check_independent_judge` refuses it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch
from torch import nn

from . import augment as augmentation
from .tasks import EpochRandom, Task

# Features used: 0 is the stem's output, i >= 1 the output of the StyleCNN's i-th block.
DEFAULT_STYLE_LAYERS = (0, 1, 2)
DEFAULT_CONTENT_LAYER = 2


class JudgeError(ValueError):
    """The network asked to judge the generator is the one that trained it."""


# --------------------------------------------------------------------------- features and statistics


def feature_maps(network: nn.Module, images: torch.Tensor, layers: Sequence[int]) -> dict[int, torch.Tensor]:
    """The StyleCNN's feature maps at ``layers`` (0: stem, i: after block i).

    images: (B, 3, S, S) in [0, 1]. Returns {layer: (B, C_layer, H_layer, W_layer)}.
    Runs only as deep as the deepest layer asked for."""
    wanted, deepest = set(layers), max(layers)
    x = network.stem(network.standardise(images))
    maps = {0: x} if 0 in wanted else {}
    for index, block in enumerate(network.stages, start=1):
        if index > deepest:
            break
        x = block(x)
        if index in wanted:
            maps[index] = x
    missing = wanted - set(maps)
    if missing:
        raise ValueError(f"layers {sorted(missing)} do not exist: the network has the stem (0) and "
                         f"{len(network.stages)} blocks (1..{len(network.stages)})")
    return maps


def channel_statistics(feature: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 2C): per-channel mean, then standard deviation, over H and W."""
    flat = feature.flatten(2).float()
    return torch.cat([flat.mean(dim=2), (flat.var(dim=2, unbiased=False) + 1e-5).sqrt()], dim=1)


def style_statistics(network: nn.Module, images: torch.Tensor, layers: Sequence[int]) -> list[torch.Tensor]:
    """[(B, 2 C_layer) for each layer in ``layers``]: what a style is, to the loss network."""
    maps = feature_maps(network, images, layers)
    return [channel_statistics(maps[layer]) for layer in layers]


def style_loss(statistics: Sequence[torch.Tensor], targets: Sequence[torch.Tensor]) -> torch.Tensor:
    """Mean squared distance between statistics and targets, summed over layers (each
    (B, 2C)); zero when they are equal."""
    return sum(nn.functional.mse_loss(s, t) for s, t in zip(statistics, targets))


@torch.no_grad()
def style_targets(network: nn.Module, dataset, layers: Sequence[int] = DEFAULT_STYLE_LAYERS, *,
                  batch_size: int = 256, device: str | torch.device = "cpu") -> list[torch.Tensor]:
    """Each style's target statistics: the mean over its images in ``dataset`` of
    :func:`style_statistics`. Returns [(n_styles, 2 C_layer) per layer] on the CPU; a
    style without images gets NaN rows (and is never drawn as a target)."""
    from . import evaluate

    n_styles = len(dataset.classes)
    sums: list[torch.Tensor] | None = None
    counts = torch.zeros(n_styles, dtype=torch.float64)
    for _inputs, labels, statistics in evaluate.forward_batches(
            network, dataset, batch_size=batch_size, device=device,
            function=lambda x: style_statistics(network, x, layers)):
        if sums is None:
            sums = [torch.zeros(n_styles, s.shape[1], dtype=torch.float64) for s in statistics]
        for total, values in zip(sums, statistics):
            total.index_add_(0, labels.long().cpu(), values.double().cpu())
        counts.index_add_(0, labels.long().cpu(), torch.ones(len(labels), dtype=torch.float64))
    if sums is None:
        raise ValueError("style_targets needs at least one image")
    return [(total / counts[:, None]).float() for total in sums]


def available_styles(targets: Sequence[torch.Tensor]) -> torch.Tensor:
    """(K,) indices of the styles whose targets are defined (they had training images)."""
    return torch.nonzero(~torch.isnan(targets[0]).any(dim=1)).flatten()


def mismatched_styles(labels: torch.Tensor, available: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A target style for each image, drawn uniformly from ``available`` but never its own.

    labels: (B,) int64; available: (K,) style indices (K >= 2); generator: a CPU
    torch.Generator (same seed, same pairs). Returns (B,) int64 on the labels' device."""
    available = available.cpu()
    if len(available) < 2:
        raise ValueError("mismatched styles need at least two styles with training images")
    labels_cpu = labels.cpu()
    # Position of each label in `available` (a label outside it counts as position 0):
    # step 1..K-1 places along the list, which can never land back on the label.
    position = (labels_cpu[:, None] == available[None, :]).long().argmax(dim=1)
    step = torch.randint(1, len(available), (len(labels_cpu),), generator=generator)
    chosen = available[(position + step) % len(available)]
    own = labels_cpu == chosen  # only possible for labels outside `available`
    chosen[own] = available[(position[own] + 1) % len(available)]
    return chosen.to(labels.device)


# --------------------------------------------------------------------------- the task


@dataclass(eq=False)
class StyleTransfer(Task):
    """The Part 3 generator as a task of the shared engine (see the module docstring).

    loss_network: a trained StyleCNN, frozen here (never updated, eval mode).
    targets: :func:`style_targets` of the training split, [(n_styles, 2C) per layer].
    style_weight / content_weight: weights of the style and content terms.
    Validation (fixed mismatched pairs, seed ``validation_seed``): reconstruction MSE and
    PSNR under the own style, the style loss and content loss under the other style, and
    their weighted sum ``objective``, which decides best.pt (lower is better).
    """

    loss_network: nn.Module
    targets: list[torch.Tensor]
    style_weight: float = 1.0
    content_weight: float = 0.0
    style_layers: tuple[int, ...] = DEFAULT_STYLE_LAYERS
    content_layer: int = DEFAULT_CONTENT_LAYER
    augment_preset: str = "flip"
    validation_seed: int = 0
    name: str = field(default="style", init=False)
    best_metric: str = field(default="objective", init=False)
    higher_is_better: bool = field(default=False, init=False)

    def __post_init__(self):
        augmentation.check_preset(self.augment_preset)
        if len(self.targets) != len(self.style_layers):
            raise ValueError(f"{len(self.targets)} target tensors for {len(self.style_layers)} style layers")
        self.loss_network.eval()
        for parameter in self.loss_network.parameters():
            parameter.requires_grad_(False)
        self.available = available_styles(self.targets)
        self._targets_on: dict[torch.device, list[torch.Tensor]] = {}

    def _targets(self, device: torch.device) -> list[torch.Tensor]:
        if device not in self._targets_on:
            self._targets_on[device] = [t.to(device) for t in self.targets]
            self.loss_network.to(device)
        return self._targets_on[device]

    def augment(self, images, generator):
        return augmentation.apply_preset(self.augment_preset, images, generator)

    def terms(self, model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
              other: torch.Tensor) -> dict[str, torch.Tensor]:
        """{"reconstruction", "style", "content"} losses for one batch and its target styles ``other``."""
        targets = self._targets(images.device)
        content = model.encode(images)
        reconstruction = nn.functional.mse_loss(model.decode(content, labels).float(), images.float())
        painted = model.decode(content, other)
        layers = tuple(sorted(set(self.style_layers) | ({self.content_layer} if self.content_weight else set())))
        maps = feature_maps(self.loss_network, painted, layers)
        statistics = [channel_statistics(maps[layer]) for layer in self.style_layers]
        style = style_loss(statistics, [t[other] for t in targets])
        terms = {"reconstruction": reconstruction, "style": style}
        if self.content_weight:
            with torch.no_grad():
                reference = feature_maps(self.loss_network, images, (self.content_layer,))[self.content_layer]
            terms["content"] = nn.functional.mse_loss(maps[self.content_layer].float(), reference.float())
        return terms

    def total(self, terms: dict[str, torch.Tensor]) -> torch.Tensor:
        total = terms["reconstruction"] + self.style_weight * terms["style"]
        if "content" in terms:
            total = total + self.content_weight * terms["content"]
        return total

    def loss(self, model, images, labels, rng: EpochRandom):
        other = mismatched_styles(labels, self.available, rng.generator)
        terms = self.terms(model, images, labels, other)
        return self.total(terms), {name: value.detach() for name, value in terms.items()}

    def validate(self, model, val_data, batch_size, device):
        from . import evaluate

        generator = torch.Generator().manual_seed(self.validation_seed)
        sums: dict[str, float] = {}
        count = 0
        was_training = model.training
        model.eval()
        try:
            for images, labels, _ in evaluate.forward_batches(lambda x: x, val_data, batch_size=batch_size,
                                                              device=device):
                labels = labels.to(images.device)
                other = mismatched_styles(labels, self.available, generator)
                terms = self.terms(model, images, labels, other)
                terms["objective"] = self.total(terms)
                for name, value in terms.items():
                    sums[name] = sums.get(name, 0.0) + float(value) * len(labels)
                count += len(labels)
        finally:
            model.train(was_training)
        metrics = {name: value / max(count, 1) for name, value in sums.items()}
        metrics["psnr"] = float(10 * np.log10(1.0 / max(metrics["reconstruction"], 1e-10)))
        return metrics

    def describe(self):
        return {"task": self.name, "style_weight": self.style_weight, "content_weight": self.content_weight,
                "style_layers": list(self.style_layers), "content_layer": self.content_layer,
                "augment": self.augment_preset}


# --------------------------------------------------------------------------- judging


def check_independent_judge(judge: nn.Module, loss_network: nn.Module) -> None:
    """Raise :class:`JudgeError` when ``judge`` is the loss network or carries its
    weights: a generator scored by its own critic is rewarded for fooling it."""
    if judge is loss_network:
        raise JudgeError("the judge is the loss network itself. Fix: judge with a classifier trained separately "
                         "(another seed and width), e.g. part3_generator.train_judge.")
    judge_state, loss_state = judge.state_dict(), loss_network.state_dict()
    if judge_state.keys() == loss_state.keys() and all(
            judge_state[key].shape == loss_state[key].shape and torch.equal(judge_state[key].cpu(),
                                                                            loss_state[key].cpu())
            for key in judge_state):
        raise JudgeError("the judge has exactly the loss network's weights. Fix: judge with a classifier trained "
                         "separately (another seed and width).")


def low_pass_luminance(images: torch.Tensor, sigma_fraction: float = 1 / 32) -> torch.Tensor:
    """(B, 3, S, S) RGB in [0, 1] -> (B, 1, S, S) blurred luminance: the structure of a
    picture without its colours or fine texture (Gaussian blur, sigma = S * sigma_fraction px).
    Content is compared on this, so that a change of palette or brushwork is not counted
    as lost content."""
    from torchvision.transforms.v2 import functional as TF

    weights = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device)
    luminance = torch.einsum("c,bchw->bhw", weights, images)[:, None]
    sigma = max(0.5, images.shape[-1] * sigma_fraction)
    kernel = int(2 * round(3 * sigma) + 1)
    return TF.gaussian_blur(luminance, [kernel, kernel], [sigma, sigma])


def content_scores(outputs: torch.Tensor, inputs: torch.Tensor) -> dict[str, np.ndarray]:
    """Per-image structure kept: {"ssim", "psnr"} on :func:`low_pass_luminance` of both,
    each (B,) (SSIM in [-1, 1], PSNR in dB). outputs, inputs: (B, 3, S, S) in [0, 1]."""
    from .models import ssim

    a, b = low_pass_luminance(outputs.float()), low_pass_luminance(inputs.float())
    mse = ((a - b) ** 2).flatten(1).mean(dim=1).clamp_min(1e-10)
    return {"ssim": ssim(a, b, per_image=True).numpy(), "psnr": (10 * torch.log10(1.0 / mse)).numpy()}
