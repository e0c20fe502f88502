"""ImageNet-pretrained torchvision backbones for style classification, loaded offline.

This is *beyond* the assignment's from-scratch Bonus A (pretrained networks are not
allowed there): a separate comparison of what transfer learning buys. Everything here
reads weights from local files; the only code that touches the network is
:func:`fetch_weights`, run explicitly by a person on a machine with internet:

    python -m wikiart_core fetch-weights resnet50 --out models/backbones

Where the weights come from, in order: an explicit file (``model_args={"weights": PATH}``,
``train --pretrained PATH``), else the folder named by ``pretrained: backbones:`` in
``data_paths.yaml``, holding ``<model>.pth`` (or torchvision's cache name, such as
``resnet50-11ad3fa6.pth``). Missing weights raise :class:`MissingWeightsError` naming
the key and the command above; nothing is ever downloaded at run time.

The classifiers follow ``models``' conventions (plain constructor arguments kept in
``init_args``, float images in [0, 1] standardised inside the model, (B, n_classes)
logits) with two differences:

- The input statistics are the ImageNet mean and std of the weights' torchvision
  metadata, fixed at construction. These models have no ``set_input_stats``, so
  ``tasks.Classification.prepare`` leaves them alone: pretrained filters expect
  exactly the normalisation they were trained with.
- ``finetune="linear"`` freezes the backbone (and keeps it in eval mode, so batch-norm
  statistics do not move either): only the new head trains, a linear probe.
  ``finetune="full"`` trains everything; :meth:`PretrainedClassifier.parameter_groups`
  gives the backbone ``backbone_lr_scale`` times the head's learning rate, which
  ``engine`` turns into AdamW parameter groups.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from .. import files
from ._registry import register_model

FROM_CONFIG = "config"            # the default weights source: data_paths.yaml's pretrained.backbones folder
CONFIG_KEY = "backbones"          # the key under `pretrained:` in data_paths.yaml
DEFAULT_FOLDER = "models/backbones"
FINETUNE_MODES = ("linear", "full")
DEFAULT_BACKBONE_LR_SCALE = 0.1
# The head's peak learning rate when none is given (AdamW): the from-scratch default
# (profile.lr, 1e-2) would shake pretrained filters more than a fine-tune should.
DEFAULT_LR = 1e-3


class WeightsError(ValueError):
    """A pretrained-weights file that cannot be used; the message names it and the fix."""


class MissingWeightsError(WeightsError, FileNotFoundError):
    """No local weights for a backbone; the message names the key and the fetch command."""


def fetch_command(name: str, out: str | os.PathLike = DEFAULT_FOLDER) -> str:
    """The shell command that downloads ``name``'s ImageNet weights into ``out``."""
    return f"python -m wikiart_core fetch-weights {name} --out {out}"


def _missing(name: str, problem: str, source: Path | None) -> MissingWeightsError:
    where = f"data_paths.yaml ({source})" if source is not None else "data_paths.yaml"
    return MissingWeightsError(
        f"no pretrained weights for {name}: {problem}. Nothing is downloaded at run time. Fix: on a machine "
        f"with internet, run `{fetch_command(name)}` (copy the folder here if that machine is another one), "
        f"then either add `{CONFIG_KEY}: {DEFAULT_FOLDER}` under `pretrained:` in {where} (key "
        f"pretrained.{CONFIG_KEY}: a folder holding {name}.pth) or give the file with --pretrained PATH "
        f"(the \"weights\" entry of model_args).")


def weights_in_folder(name: str, folder: str | os.PathLike) -> Path | None:
    """``folder/<name>.pth`` if it exists, else the first ``<name>-*.pth`` / ``<name>_*.pth``
    (torchvision's cache names, e.g. ``resnet50-11ad3fa6.pth``), else None."""
    folder = Path(folder)
    exact = folder / f"{name}.pth"
    if exact.is_file():
        return exact
    candidates = sorted(p for pattern in (f"{name}-*.pth", f"{name}_*.pth") for p in folder.glob(pattern)
                        if p.is_file())
    return candidates[0] if candidates else None


def find_weights(name: str, explicit: str | os.PathLike | None = None, paths=None) -> Path:
    """The local weights file of backbone ``name``.

    explicit: a file (or a folder holding ``<name>.pth``); else ``paths.pretrained["backbones"]``
    (``paths``: a ``config.Paths``; None: ``config.load_paths()``).
    Raises :class:`MissingWeightsError` naming the key, the expected file and the fetch command."""
    if explicit is not None:
        path = Path(explicit).expanduser()
        found = weights_in_folder(name, path) if path.is_dir() else (path if path.is_file() else None)
        if found is None:
            raise _missing(name, f"{path} (given as --pretrained / weights) "
                                 f"{'holds no ' + name + '.pth' if path.is_dir() else 'does not exist'}", None)
        return found
    if paths is None:
        from .. import config

        paths = config.load_paths()
    source = getattr(paths, "source", None)
    folder = paths.pretrained.get(CONFIG_KEY)
    if folder is None:
        raise _missing(name, f"data_paths.yaml has no pretrained.{CONFIG_KEY} entry and no --pretrained was given",
                       source)
    if not Path(folder).is_dir():
        raise _missing(name, f"the folder {folder} (pretrained.{CONFIG_KEY}) does not exist", source)
    found = weights_in_folder(name, folder)
    if found is None:
        raise _missing(name, f"the folder {folder} (pretrained.{CONFIG_KEY}) holds no {name}.pth", source)
    return found


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a saved torchvision state dict (``torch.save(model.state_dict())`` or
    the hub cache file), read with ``weights_only=True`` so opening it never runs code."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean the same here
        raise WeightsError(f"{path} cannot be read as a state dict ({type(exc).__name__}: {exc}). "
                           f"Fix: fetch it again with `python -m wikiart_core fetch-weights`.") from None
    for key in ("state_dict", "model"):  # common wrappers around the weights
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} is not a state dict of tensors. Fix: save it with "
                           f"torch.save(model.state_dict(), path) or use `python -m wikiart_core fetch-weights`.")
    return state


def _split_path(module: nn.Module, dotted: str) -> tuple[nn.Module, str]:
    *parents, last = dotted.split(".")
    for part in parents:
        module = getattr(module, part)
    return module, last


# --------------------------------------------------------------------------- the classifiers


class PretrainedClassifier(nn.Module):
    """A torchvision network whose ImageNet head is replaced by a new ``head`` for the styles.

    Args:
        n_classes: number of styles.
        weights: a local state-dict file; ``"config"`` (the default): the
            ``pretrained.backbones`` folder of data_paths.yaml; None: random initial
            weights (tests, and rebuilding from a checkpoint that holds every weight).
        finetune: "linear" (backbone frozen and in eval mode, only the head trains) or
            "full" (everything trains, the backbone at ``backbone_lr_scale`` x the lr).
        backbone_lr_scale: the backbone's share of the learning rate in "full" mode.

    Input (B, 3, S, S) floats in [0, 1] (S at least the weights' ``min_size``);
    output (B, n_classes) logits. Subclasses set ``architecture`` (a torchvision model
    name) and ``head_path`` (its last Linear layer).
    """

    architecture = ""
    head_path = ""

    def __init__(self, n_classes: int = 27, weights: str | os.PathLike | None = FROM_CONFIG,
                 finetune: str = "linear", backbone_lr_scale: float = DEFAULT_BACKBONE_LR_SCALE):
        super().__init__()
        if finetune not in FINETUNE_MODES:
            raise ValueError(f"finetune must be one of {FINETUNE_MODES}, got {finetune!r}")
        if not backbone_lr_scale > 0:
            raise ValueError(f"backbone_lr_scale must be positive, got {backbone_lr_scale}")
        from torchvision.models import get_model, get_model_weights

        # The metadata of the weights torchvision publishes (no download: the enum is code).
        self.weights_meta = get_model_weights(self.architecture).DEFAULT
        preset = self.weights_meta.transforms()
        self.register_buffer("input_mean", torch.tensor(preset.mean, dtype=torch.float32).reshape(1, 3, 1, 1))
        self.register_buffer("input_std", torch.tensor(preset.std, dtype=torch.float32).reshape(1, 3, 1, 1))
        self.finetune = finetune
        self.backbone_lr_scale = float(backbone_lr_scale)

        network = get_model(self.architecture)  # random initial weights: without a weights argument nothing is fetched
        parent, last = _split_path(network, self.head_path)
        old_head = getattr(parent, last)
        setattr(parent, last, nn.Identity())
        weights_file = None
        if weights is not None:
            weights_file = find_weights(self.architecture, None if weights == FROM_CONFIG else weights)
            self._load_backbone(network, weights_file)
        self.backbone = network
        self.embedding_dim = old_head.in_features
        self.head = nn.Linear(old_head.in_features, n_classes)
        if finetune == "linear":
            self.backbone.requires_grad_(False)
        self.init_args = {"n_classes": n_classes, "weights": None if weights_file is None else str(weights_file),
                          "finetune": finetune, "backbone_lr_scale": self.backbone_lr_scale}

    def _load_backbone(self, network: nn.Module, path: Path) -> None:
        # The file's ImageNet head (1000 classes) is not used: the styles get a new one.
        state = {key: value for key, value in read_state_dict(path).items()
                 if not key.startswith(self.head_path + ".")}
        try:
            network.load_state_dict(state)
        except RuntimeError as exc:
            first_lines = "; ".join(str(exc).splitlines()[:3])
            raise WeightsError(f"{path} does not hold {self.architecture} weights ({first_lines}). Fix: fetch "
                               f"them with `{fetch_command(self.architecture)}`.") from None

    @classmethod
    def rebuild_args(cls, init_args: dict, partial_state: bool) -> dict:
        """Constructor arguments to rebuild from a checkpoint (``checkpoint.load_checkpoint``):
        a full checkpoint holds every weight, so the weights file is not needed (None);
        a linear probe's holds only the head and buffers, so the frozen backbone comes
        from the file again."""
        if partial_state and init_args.get("weights") is None:
            raise WeightsError(f"this {cls.__name__} checkpoint holds only the head of a linear probe on a randomly "
                               f"initialised backbone, which cannot be rebuilt. Fix: train with a weights file.")
        return {**init_args, "weights": init_args.get("weights") if partial_state else None}

    def train(self, mode: bool = True) -> "PretrainedClassifier":
        super().train(mode)
        if self.finetune == "linear":
            self.backbone.eval()  # a frozen backbone keeps its batch-norm statistics too
        return self

    def parameter_groups(self) -> list[tuple[list[nn.Parameter], float]]:
        """[(parameters, learning-rate scale)]: the head at the full rate, then (``full``
        mode) the backbone at ``backbone_lr_scale``; ``engine`` builds its AdamW groups
        from these. Frozen parameters are left out."""
        backbone = [p for p in self.backbone.parameters() if p.requires_grad]
        groups = [(list(self.head.parameters()), 1.0)]
        return groups + [(backbone, self.backbone_lr_scale)] if backbone else groups

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features, (B, 3, S, S) in [0, 1] -> (B, embedding_dim)."""
        x = (x - self.input_mean) / self.input_std
        if self.finetune == "linear":
            with torch.no_grad():  # nothing to learn there: no activations kept for backward
                return self.backbone(x)
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    def describe(self) -> str:
        """One line: architecture, weights file, mode and normalisation."""
        mean = ", ".join(f"{v:.3f}" for v in self.input_mean.flatten().tolist())
        std = ", ".join(f"{v:.3f}" for v in self.input_std.flatten().tolist())
        source = Path(self.init_args["weights"]).name if self.init_args["weights"] else "random init"
        rate = "" if self.finetune == "linear" else f", backbone lr x{self.backbone_lr_scale:g}"
        return (f"{self.architecture} ({source}, {self.weights_meta}), {self.finetune} fine-tuning{rate}; "
                f"input mean [{mean}], std [{std}]")


@register_model(aliases=("resnet18",))
class ResNet18Classifier(PretrainedClassifier):
    """ResNet-18 (He et al. 2016), 11.7 M parameters; small enough for CPU tests."""
    architecture, head_path = "resnet18", "fc"


@register_model(aliases=("resnet50",))
class ResNet50Classifier(PretrainedClassifier):
    """ResNet-50 (He et al. 2016), 25.6 M parameters, torchvision's IMAGENET1K_V2 weights."""
    architecture, head_path = "resnet50", "fc"


@register_model(aliases=("convnext_tiny",))
class ConvNeXtTinyClassifier(PretrainedClassifier):
    """ConvNeXt-Tiny (Liu et al. 2022), 28.6 M parameters; needs images of 32 px or more."""
    architecture, head_path = "convnext_tiny", "classifier.2"


@register_model(aliases=("efficientnet_b0",))
class EfficientNetB0Classifier(PretrainedClassifier):
    """EfficientNet-B0 (Tan and Le 2019), 5.3 M parameters."""
    architecture, head_path = "efficientnet_b0", "classifier.1"


BACKBONES: dict[str, type[PretrainedClassifier]] = {
    cls.architecture: cls
    for cls in (ResNet18Classifier, ResNet50Classifier, ConvNeXtTinyClassifier, EfficientNetB0Classifier)
}


# --------------------------------------------------------------------------- the one network access


def fetch_weights(name: str, out: str | os.PathLike = DEFAULT_FOLDER, progress: bool = True) -> Path:
    """Download ``name``'s default ImageNet weights with torchvision's weights API and save
    them as ``out/<name>.pth``. The only function in the package that uses the network;
    run it once, by hand (``python -m wikiart_core fetch-weights``)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known: {sorted(BACKBONES)}")
    from torchvision.models import get_model_weights

    weights = get_model_weights(name).DEFAULT
    state = weights.get_state_dict(progress=progress, check_hash=True)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return files.write_torch(out / f"{name}.pth", state)
