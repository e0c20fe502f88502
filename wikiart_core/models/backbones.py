"""Pretrained backbones for style classification, loaded offline: four torchvision
architectures here, any timm architecture in ``timm_backbones``.

This is *beyond* the assignment's from-scratch Bonus A (pretrained networks are not
allowed there): a separate comparison of what transfer learning buys. Everything here
reads weights from local files; the only code that touches the network is
:func:`fetch_weights`, run explicitly by a person on a machine with internet:

    python -m wikiart_core fetch-weights resnet50 --out models/backbones

Where the weights come from, in order: an explicit file (``model_args={"weights": PATH}``,
``train --pretrained PATH``), else the folder named by ``pretrained: backbones:`` in
``data_paths.yaml``, holding ``<model>.pth`` or ``<model>.safetensors`` (or torchvision's
cache name, such as ``resnet50-11ad3fa6.pth``, or a sub-folder ``<model>/`` as the
Hugging Face hub saves it). Missing weights raise :class:`MissingWeightsError` naming
the key and the command above; nothing is ever downloaded at run time.

The classifiers follow ``models``' conventions (plain constructor arguments kept in
``init_args``, float images in [0, 1] prepared inside the model, (B, n_classes) logits)
with these differences:

- Inputs are prepared as the weights were trained: the central ``crop_fraction`` of the
  image, resized to ``input_side`` px with the weights' interpolation, standardised with
  the weights' mean and std (:class:`Preprocess`, fixed at construction). These models
  have no ``set_input_stats``, so ``tasks.Classification.prepare`` leaves them alone.
- ``finetune="linear"`` freezes the backbone (and keeps it in eval mode, so batch-norm
  statistics do not move either): only the new head is fitted, by ``probe`` (a
  scikit-learn logistic regression on cached embeddings). ``finetune="full"`` trains
  everything on the engine; :meth:`PretrainedClassifier.parameter_groups` gives the
  backbone ``backbone_lr_scale`` times the head's learning rate.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
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
WEIGHT_SUFFIXES = (".safetensors", ".pth", ".pt", ".bin")
# The file names of a model folder saved the Hugging Face hub's way (timm, transformers).
HUB_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin", "open_clip_pytorch_model.bin")


class WeightsError(ValueError):
    """A pretrained-weights file that cannot be used; the message names it and the fix."""


class MissingWeightsError(WeightsError, FileNotFoundError):
    """No local weights for a backbone; the message names the key and the fetch command."""


@dataclass(frozen=True)
class Preprocess:
    """How the weights expect their input, the model's own (never ImageNet defaults when
    the weights say otherwise): the central ``crop_fraction`` of a square image, resized
    to ``side`` px with ``interpolation`` ("bilinear", "bicubic", "nearest"), then
    standardised per channel with ``mean`` and ``std`` (fractions of 1). ``source`` says
    where these values were read ("timm pretrained_cfg of tf_efficientnet_lite0.in1k",
    "the weights file's metadata", ...)."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    side: int
    crop_fraction: float = 1.0
    interpolation: str = "bilinear"
    source: str = ""

    def __post_init__(self):
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise WeightsError(f"input statistics must be three means and three positive stds, got {self}")
        if not 0 < self.crop_fraction <= 1:
            raise WeightsError(f"crop fraction must be in (0, 1], got {self.crop_fraction}")

    def to_dict(self) -> dict:
        return {**asdict(self), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, values: dict) -> "Preprocess":
        values = dict(values)
        return cls(**{**values, "mean": tuple(values["mean"]), "std": tuple(values["std"])})


PREFIX = "timm/"  # forces timm for a name torchvision also has (timm/convnext_tiny)


def split_name(name: str) -> tuple[str, str]:
    """("timm/vit_base_patch14_dinov2.lvd142m") -> ("vit_base_patch14_dinov2", "lvd142m");
    the tag is "" when the name has none."""
    name = name[len(PREFIX):] if name.startswith(PREFIX) else name
    architecture, _, tag = name.partition(".")
    return architecture, tag


def preprocess_from_cfg(cfg: dict, source: str) -> Preprocess:
    side = cfg.get("test_input_size") or cfg.get("input_size") or (3, 224, 224)
    return Preprocess(mean=tuple(float(v) for v in cfg.get("mean", (0.485, 0.456, 0.406))),
                      std=tuple(float(v) for v in cfg.get("std", (0.229, 0.224, 0.225))),
                      side=int(side[-1]), crop_fraction=float(cfg.get("test_crop_pct") or cfg.get("crop_pct") or 1.0),
                      interpolation=str(cfg.get("interpolation") or "bicubic"), source=source)


def prepare_input(x: torch.Tensor, crop_fraction: float, side: int, interpolation: str) -> torch.Tensor:
    """(B, 3, S, S) floats in [0, 1] -> (B, 3, side, side): the central ``crop_fraction``
    of each image resized to ``side`` px (antialiased when shrinking, clamped to [0, 1]
    as a resized 8-bit picture would be). What timm's and torchvision's evaluation
    transforms do (resize to side / crop_fraction, then crop) on an already square image."""
    size = x.shape[-1]
    crop = max(1, int(round(size * crop_fraction)))
    if crop < size:
        start = (size - crop) // 2
        x = x[..., start:start + crop, start:start + crop]
    if x.shape[-1] != side:
        mode = interpolation if interpolation in ("bilinear", "bicubic", "nearest") else "bilinear"
        x = F.interpolate(x, size=(side, side), mode=mode, antialias=mode != "nearest" and side < x.shape[-1],
                          align_corners=None if mode == "nearest" else False).clamp_(0.0, 1.0)
    return x


def fetch_command(name: str, out: str | os.PathLike = DEFAULT_FOLDER) -> str:
    """The shell command that downloads ``name``'s ImageNet weights into ``out``."""
    return f"python -m wikiart_core fetch-weights {name} --out {out}"


def _missing(name: str, problem: str, source: Path | None, how_to_get: str | None = None) -> MissingWeightsError:
    where = f"data_paths.yaml ({source})" if source is not None else "data_paths.yaml"
    how_to_get = how_to_get or (f"on a machine with internet, run `{fetch_command(name)}` (copy the folder here if "
                                f"that machine is another one)")
    return MissingWeightsError(
        f"no pretrained weights for {name}: {problem}. Nothing is downloaded at run time. Fix: {how_to_get}, "
        f"then either add `{CONFIG_KEY}: {DEFAULT_FOLDER}` under `pretrained:` in {where} (key "
        f"pretrained.{CONFIG_KEY}: a folder holding {name}.pth or {name}.safetensors) or give the file with "
        f"--pretrained PATH (the \"weights\" entry of model_args).")


def weights_in_folder(name: str, folder: str | os.PathLike) -> Path | None:
    """The weights of ``name`` in ``folder``: ``<name>.safetensors`` / ``.pth`` / ``.pt`` /
    ``.bin``, else the first ``<name>-*`` / ``<name>_*`` file (torchvision's cache names,
    e.g. ``resnet50-11ad3fa6.pth``), else a hub-style sub-folder ``<name>/`` (or the folder
    itself) holding ``model.safetensors`` or ``pytorch_model.bin``; None when there is none."""
    folder = Path(folder)
    for suffix in WEIGHT_SUFFIXES:
        if (folder / f"{name}{suffix}").is_file():
            return folder / f"{name}{suffix}"
    candidates = sorted(p for pattern in (f"{name}-*", f"{name}_*") for p in folder.glob(pattern)
                        if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if candidates:
        return candidates[0]
    for model_folder in (folder / name, folder):
        for file_name in HUB_WEIGHT_FILES:
            if (model_folder / file_name).is_file():
                return model_folder / file_name
    return None


def find_weights(name: str, explicit: str | os.PathLike | None = None, paths=None, how_to_get: str | None = None,
                 names: tuple[str, ...] = ()) -> Path:
    """The local weights file of backbone ``name``.

    explicit: a file (or a folder holding it, see :func:`weights_in_folder`); else
    ``paths.pretrained["backbones"]`` (``paths``: a ``config.Paths``; None:
    ``config.load_paths()``). ``names``: other file names to accept in the folder (a timm
    name without its tag). Raises :class:`MissingWeightsError` naming the key, the
    expected file and how to get it (``how_to_get``; default the fetch command)."""
    file_names = (name, *names)

    def look(folder):
        return next((found for found in (weights_in_folder(n, folder) for n in file_names) if found), None)

    if explicit is not None:
        path = Path(explicit).expanduser()
        found = look(path) if path.is_dir() else (path if path.is_file() else None)
        if found is None:
            raise _missing(name, f"{path} (given as --pretrained / weights) "
                                 f"{'holds no ' + name + ' weights' if path.is_dir() else 'does not exist'}", None,
                           how_to_get)
        return found
    if paths is None:
        from .. import config

        paths = config.load_paths()
    source = getattr(paths, "source", None)
    folder = paths.pretrained.get(CONFIG_KEY)
    if folder is None:
        raise _missing(name, f"data_paths.yaml has no pretrained.{CONFIG_KEY} entry and no --pretrained was given",
                       source, how_to_get)
    if not Path(folder).is_dir():
        raise _missing(name, f"the folder {folder} (pretrained.{CONFIG_KEY}) does not exist", source, how_to_get)
    found = look(folder)
    if found is None:
        raise _missing(name, f"the folder {folder} (pretrained.{CONFIG_KEY}) holds no {name}.pth", source, how_to_get)
    return found


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a saved state dict: a ``.safetensors`` file, or a torch file
    (``torch.save(model.state_dict())``, the hub cache file) read with ``weights_only=True``
    so opening it never runs code. Common wrappers ({"state_dict": ...}) are unwrapped."""
    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip, safetensors and torch errors all mean the same here
        raise WeightsError(f"{path} cannot be read as a state dict ({type(exc).__name__}: {exc}). "
                           f"Fix: fetch or convert it again.") from None
    for key in ("state_dict", "model"):  # common wrappers around the weights
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path} is not a state dict of tensors. Fix: save it with "
                           f"torch.save(model.state_dict(), path) or safetensors.torch.save_file.")
    return state


def file_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The string metadata of a ``.safetensors`` file (``convert`` records the architecture
    and the preprocessing there); {} for other files."""
    path = Path(path)
    if path.suffix != ".safetensors":
        return {}
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            return dict(handle.metadata() or {})
    except Exception as exc:
        raise WeightsError(f"{path} cannot be read as safetensors ({type(exc).__name__}: {exc})") from None


_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a weights file (hex), remembered per path, size and modification time
    (a 1 GB file takes seconds to hash). Embedding caches and linear-probe checkpoints
    record it, so features of other weights are never mixed in."""
    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _HASHES:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        _HASHES[key] = digest.hexdigest()
    return _HASHES[key]


def _split_path(module: nn.Module, dotted: str) -> tuple[nn.Module, str]:
    *parents, last = dotted.split(".")
    for part in parents:
        module = getattr(module, part)
    return module, last


# --------------------------------------------------------------------------- the classifiers


class PretrainedClassifier(nn.Module):
    """A pretrained network whose ImageNet head is replaced by a new ``head`` for the styles.

    Args:
        n_classes: number of styles.
        weights: a local weights file; ``"config"`` (the default): the
            ``pretrained.backbones`` folder of data_paths.yaml; None: random initial
            weights (tests, and rebuilding from a checkpoint that holds every weight).
        finetune: "linear" (backbone frozen and in eval mode, only the head is fitted:
            ``probe``) or "full" (everything trains, the backbone at ``backbone_lr_scale``
            x the lr).
        backbone_lr_scale: the backbone's share of the learning rate in "full" mode.
        input_side: the side in px images are resized to before the backbone; None: the
            side the weights were trained at (224 for ImageNet models).
        weights_sha256: the SHA-256 the weights file must have (a linear probe's
            checkpoint records it: its head fits those weights only); None: any.

    Input (B, 3, S, S) floats in [0, 1]; output (B, n_classes) logits. Subclasses build
    the network in :meth:`build_backbone`.
    """

    architecture = ""

    def __init__(self, n_classes: int = 27, weights: str | os.PathLike | None = FROM_CONFIG,
                 finetune: str = "linear", backbone_lr_scale: float = DEFAULT_BACKBONE_LR_SCALE,
                 input_side: int | None = None, weights_sha256: str | None = None):
        super().__init__()
        if finetune not in FINETUNE_MODES:
            raise ValueError(f"finetune must be one of {FINETUNE_MODES}, got {finetune!r}")
        if not backbone_lr_scale > 0:
            raise ValueError(f"backbone_lr_scale must be positive, got {backbone_lr_scale}")
        if input_side is not None and not 8 <= int(input_side) <= 2048:
            raise ValueError(f"input_side must be 8 to 2048 px, got {input_side}")
        weights_file = None
        if weights is not None:
            weights_file = self.locate_weights(None if weights == FROM_CONFIG else weights)
            found_hash = file_sha256(weights_file)
            if weights_sha256 is not None and found_hash != weights_sha256:
                raise WeightsError(f"{weights_file} is not the weights file this model was trained with (its "
                                   f"SHA-256 is {found_hash[:12]}..., the checkpoint recorded {weights_sha256[:12]}...). "
                                   f"Fix: put the original file back, or train the probe again on these weights.")
            weights_sha256 = found_hash
        network, embedding_dim, preprocess = self.build_backbone(weights_file)
        self.preprocess = preprocess
        self.input_side = int(input_side or preprocess.side)
        self.register_buffer("input_mean", torch.tensor(preprocess.mean, dtype=torch.float32).reshape(1, 3, 1, 1))
        self.register_buffer("input_std", torch.tensor(preprocess.std, dtype=torch.float32).reshape(1, 3, 1, 1))
        self.finetune = finetune
        self.backbone_lr_scale = float(backbone_lr_scale)
        self.backbone = network
        self.embedding_dim = int(embedding_dim)
        self.head = nn.Linear(self.embedding_dim, n_classes)
        if finetune == "linear":
            self.backbone.requires_grad_(False)
        self.init_args = {**self.extra_init_args(), "n_classes": n_classes,
                          "weights": None if weights_file is None else str(weights_file),
                          "finetune": finetune, "backbone_lr_scale": self.backbone_lr_scale,
                          "input_side": None if input_side is None else int(input_side),
                          "weights_sha256": weights_sha256}

    # ---- what a subclass provides

    def locate_weights(self, explicit: str | os.PathLike | None) -> Path:
        """The weights file (see :func:`find_weights`)."""
        return find_weights(self.architecture, explicit)

    def build_backbone(self, weights_file: Path | None) -> tuple[nn.Module, int, Preprocess]:
        """(network mapping prepared (B, 3, side, side) inputs to (B, D) features, D, the
        weights' :class:`Preprocess`), the weights loaded from ``weights_file`` (None: random)."""
        raise NotImplementedError

    def extra_init_args(self) -> dict:
        """Constructor arguments a subclass adds to ``init_args`` (timm: the architecture)."""
        return {}

    # ---- shared behaviour

    @property
    def linear_probe(self) -> bool:
        """True when only the head learns: ``experiment.run`` fits it with ``probe.fit``
        (a logistic regression on cached embeddings) instead of epochs of SGD."""
        return self.finetune == "linear"

    @classmethod
    def rebuild_args(cls, init_args: dict, partial_state: bool) -> dict:
        """Constructor arguments to rebuild from a checkpoint (``checkpoint.load_checkpoint``):
        a full checkpoint holds every weight, so the weights file is not needed (None);
        a linear probe's holds only the head and buffers, so the frozen backbone comes
        from the file again (and must be the same file: ``weights_sha256``)."""
        if partial_state and init_args.get("weights") is None:
            raise WeightsError(f"this {cls.__name__} checkpoint holds only the head of a linear probe on a randomly "
                               f"initialised backbone, which cannot be rebuilt. Fix: train with a weights file.")
        if partial_state:
            return dict(init_args)
        return {**init_args, "weights": None, "weights_sha256": None}

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

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, S, S) floats in [0, 1] -> the standardised (B, 3, input_side, input_side)
        the backbone expects (:func:`prepare_input`, then the weights' mean and std)."""
        x = prepare_input(x, self.preprocess.crop_fraction, self.input_side, self.preprocess.interpolation)
        return (x - self.input_mean) / self.input_std

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features, (B, 3, S, S) in [0, 1] -> (B, embedding_dim)."""
        if self.finetune == "linear":
            with torch.no_grad():  # nothing to learn there: no activations kept for backward
                return self.backbone(self.prepare(x))
        return self.backbone(self.prepare(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    @property
    def decode_side(self) -> int:
        """The side to decode images at for this model: its input side over its crop
        fraction (256 px for 224 px at crop 0.875), so that its own central crop and resize
        see what its evaluation transform would."""
        return int(round(self.input_side / self.preprocess.crop_fraction))

    def describe(self) -> str:
        """One line: architecture, weights file, mode and input preparation."""
        p = self.preprocess
        mean = ", ".join(f"{v:.3f}" for v in p.mean)
        std = ", ".join(f"{v:.3f}" for v in p.std)
        source = Path(self.init_args["weights"]).name if self.init_args["weights"] else "random init"
        rate = "" if self.finetune == "linear" else f", backbone lr x{self.backbone_lr_scale:g}"
        return (f"{self.architecture} ({source}), {self.finetune} fine-tuning{rate}; input: central "
                f"{p.crop_fraction:.3g} resized to {self.input_side} px ({p.interpolation}), mean [{mean}], "
                f"std [{std}] ({p.source})")


class TorchvisionClassifier(PretrainedClassifier):
    """A torchvision architecture (``architecture``, its last Linear layer at ``head_path``)
    with torchvision's published preprocessing for its default ImageNet weights."""

    head_path = ""

    def build_backbone(self, weights_file):
        from torchvision.models import get_model, get_model_weights

        # The metadata of the weights torchvision publishes (no download: the enum is code).
        meta = get_model_weights(self.architecture).DEFAULT
        preset = meta.transforms()
        preprocess = Preprocess(mean=tuple(preset.mean), std=tuple(preset.std), side=int(preset.crop_size[0]),
                                crop_fraction=preset.crop_size[0] / preset.resize_size[0],
                                interpolation=preset.interpolation.value, source=f"torchvision {meta}")
        network = get_model(self.architecture)  # random initial weights: without a weights argument nothing is fetched
        parent, last = _split_path(network, self.head_path)
        embedding_dim = getattr(parent, last).in_features
        setattr(parent, last, nn.Identity())
        if weights_file is not None:
            self._load_backbone(network, weights_file)
        return network, embedding_dim, preprocess

    def _load_backbone(self, network: nn.Module, path: Path) -> None:
        # The file's ImageNet head (1000 classes) is not used: the styles get a new one.
        state = {key: value for key, value in read_state_dict(path).items()
                 if not key.startswith(self.head_path + ".")}
        try:
            network.load_state_dict(state)
        except RuntimeError as exc:
            first_lines = "; ".join(str(exc).splitlines()[:3])
            raise WeightsError(f"{path} does not hold {self.architecture} weights ({first_lines}). Fix: fetch "
                               f"them with `{fetch_command(self.architecture)}`, or, for timm weights, use "
                               f"--model timm/{self.architecture}.") from None


@register_model(aliases=("resnet18",))
class ResNet18Classifier(TorchvisionClassifier):
    """ResNet-18 (He et al. 2016), 11.7 M parameters; small enough for CPU tests."""
    architecture, head_path = "resnet18", "fc"


@register_model(aliases=("resnet50",))
class ResNet50Classifier(TorchvisionClassifier):
    """ResNet-50 (He et al. 2016), 25.6 M parameters, torchvision's IMAGENET1K_V2 weights."""
    architecture, head_path = "resnet50", "fc"


@register_model(aliases=("convnext_tiny",))
class ConvNeXtTinyClassifier(TorchvisionClassifier):
    """ConvNeXt-Tiny (Liu et al. 2022), 28.6 M parameters; needs images of 32 px or more."""
    architecture, head_path = "convnext_tiny", "classifier.2"


@register_model(aliases=("efficientnet_b0",))
class EfficientNetB0Classifier(TorchvisionClassifier):
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
