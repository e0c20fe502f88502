"""Checkpoints: atomic writes, plain contents, ``weights_only`` reads.

A checkpoint is a dict of tensors, numbers, strings, lists and dicts: the model's
class name and ``init_args``, its weights, the input normalisation, and whatever
metadata the caller adds (classes, image size, epoch, history, optimiser state, the
validation file list, seed, profile, library versions). It is written to a temporary
file, flushed and renamed, so an interrupt or a full disk never leaves a half-written
file; it is read with ``torch.load(..., weights_only=True)``, so opening one never runs
code from the file.

Models with frozen parts (a pretrained backbone, a diffusion UNet under LoRA) are saved
with their *trainable* parameters and buffers only (``trainable_state``): the frozen
weights are already on disk elsewhere, and copying them every epoch would cost gigabytes.
``load_checkpoint`` rebuilds such a model only when its class can reload the frozen part
itself (``rebuild_args``: a linear probe reads its backbone's weights file again).
"""
from __future__ import annotations

import os
import pickle
import platform
import re
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from . import files
from .data import DataError
from .device import pick_device

CHECKPOINT_FORMAT = "wikiart_core.checkpoint"
CHECKPOINT_VERSION = 2


class CheckpointError(ValueError):
    """A file that is not a usable wikiart_core checkpoint; the message names it."""


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that train (``requires_grad``) and every buffer (batch-norm
    statistics, input normalisation), as CPU copies. For a model without frozen
    parameters this is its whole ``state_dict``."""
    trainable = {name for name, parameter in model.named_parameters() if parameter.requires_grad}
    buffers = {name for name, _ in model.named_buffers()}
    return {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()
            if name in trainable or name in buffers}


def is_partial(model: nn.Module) -> bool:
    """True when some parameters are frozen (then checkpoints hold only the trained part)."""
    return any(not parameter.requires_grad for parameter in model.parameters())




def plain(value: Any, where: str = "meta") -> Any:
    """``value`` as something ``torch.load(weights_only=True)`` accepts (tensors on the
    CPU, numbers, strings, None, lists, dicts with string keys)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.array(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (Path, torch.device, torch.dtype)):
        return str(value)
    if isinstance(value, dict):
        return {(k if isinstance(k, (str, int)) else str(k)): plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "to_dict"):
        return plain(value.to_dict(), where)
    if hasattr(value, "__dataclass_fields__"):
        return plain(asdict(value), where)
    raise TypeError(f"{where}: a {type(value).__name__} cannot go into a checkpoint (only tensors, numbers, "
                    f"strings, lists and dicts load with weights_only=True). Fix: store a plain version of it.")


def _versions() -> dict:
    import torchvision

    from . import __version__
    return {"torch": str(torch.__version__), "torchvision": str(torchvision.__version__),
            "python": platform.python_version(), "numpy": str(np.__version__), "wikiart_core": __version__}


def _normalisation(model: nn.Module) -> dict | None:
    mean, std = getattr(model, "input_mean", None), getattr(model, "input_std", None)
    if isinstance(mean, torch.Tensor) and isinstance(std, torch.Tensor):
        return {"mean": mean.flatten().tolist(), "std": std.flatten().tolist()}
    return None


def save_checkpoint(path: str | os.PathLike, model: nn.Module, **meta: Any) -> Path:
    """Write ``model`` (class name, ``init_args``, state dict, input normalisation) and
    ``meta`` (classes, image_size, epoch, history, optimizer, ...) to ``path``.

    The write is atomic: the bytes go to a temporary file in the same folder, are
    flushed to disk, then renamed over ``path``; an interrupt or a full disk leaves the
    previous file untouched and no temporary file behind. Every value must be plain
    (see ``_plain``) so that the file loads with ``weights_only=True``. Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = plain(meta)
    payload.update({
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "model_class": type(model).__name__,
        "init_args": plain(getattr(model, "init_args", {}), "model.init_args"),
        "state_dict": trainable_state(model),
        "partial_state": is_partial(model),
        "normalisation": _normalisation(model),
        "versions": _versions(),
    })
    files.write_torch(path, payload)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The raw checkpoint dict (tensors on the CPU), checked to be one of ours."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist. Fix: check the path; fit(checkpoint_dir=...) "
                                f"and `python -m wikiart_core train --out DIR` write DIR/last.pt and DIR/best.pt.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's message advises weights_only=False; for a file of unknown origin that is
        # the one thing not to do, so only its reason is kept.
        unsafe = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if unsafe:
            raise CheckpointError(f"{path} holds a Python object ({unsafe.group(1)}) besides tensors and plain "
                                  f"values; loading it could run code from the file, so it was not loaded. Fix: "
                                  f"do not load it with weights_only=False unless you made it yourself; use a "
                                  f"checkpoint written by wikiart_core.checkpoint.save_checkpoint.") from None
        reason = re.search(r"WeightsUnpickler error:\s*(.+?)\s*(?:\n\n|$)", str(exc), re.S)
        raise CheckpointError(f"checkpoint {path} cannot be read ({reason.group(1) if reason else 'UnpicklingError'}"
                              f"). It is damaged, truncated, or not a file saved by "
                              f"wikiart_core.checkpoint.save_checkpoint.") from None
    except Exception as exc:  # zip and torch errors all mean the same thing here
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}). It is damaged, "
                              f"truncated, or not a file saved by wikiart_core.checkpoint.save_checkpoint.") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is a torch file but not a wikiart_core checkpoint (no "
                              f"format={CHECKPOINT_FORMAT!r} entry). Fix: save with checkpoint.save_checkpoint.")
    return state


def _model_class_key(class_name: str) -> str:
    from . import models

    for key, cls in models.MODELS.items():
        if cls.__name__ == class_name or key == class_name:
            return key
    raise CheckpointError(f"the checkpoint holds a {class_name}, which is not in models.MODELS "
                          f"({sorted(models.MODELS)}). Fix: import/register the module that defines it.")


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the saved model (``models.build(class name, **init_args)``, weights
    loaded, eval mode, on ``device``) and return ``(model, meta)``; ``meta`` is the
    checkpoint without its state dict: classes, image_size, normalisation, epoch,
    history, seed, profile, task, versions, ...

    Raises FileNotFoundError or :class:`CheckpointError` naming the file."""
    from . import models

    state = read_checkpoint(path)
    partial = bool(state.get("partial_state"))
    # A class with ``rebuild_args(init_args, partial_state)`` (``backbones``) can rebuild its
    # frozen part from where it came from (a weights file); any other partial checkpoint cannot.
    known = [cls for cls in models.MODELS.values() if cls.__name__ == state["model_class"]]
    rebuild_args = getattr(known[0], "rebuild_args", None) if known else None
    if partial and rebuild_args is None:
        raise CheckpointError(f"{path} holds only the trained part of a model with frozen weights; it cannot "
                              f"rebuild the model alone. Fix: build the base model, then "
                              f"model.load_state_dict(read_checkpoint(path)['state_dict'], strict=False).")
    key = _model_class_key(state["model_class"])
    init_args = state["init_args"] if rebuild_args is None else rebuild_args(state["init_args"], partial)
    try:
        model = models.build(key, **init_args)
        missing, unexpected = model.load_state_dict(state["state_dict"], strict=not partial)
        frozen = {name for name, parameter in model.named_parameters() if not parameter.requires_grad}
        if unexpected or set(missing) - frozen:
            raise RuntimeError(f"missing trained weights {sorted(set(missing) - frozen)[:5]}, "
                               f"unexpected {sorted(unexpected)[:5]}")
    except (TypeError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {path}: cannot rebuild {state['model_class']}({state['init_args']}) "
                              f"from it ({exc}). Was it saved by another version of the code? "
                              f"(versions: {state.get('versions')})") from None
    model.to(pick_device(device)).eval()
    meta = {k: v for k, v in state.items() if k != "state_dict"}
    return model, meta


def check_classes(meta_classes: Sequence[str], dataset_classes: Sequence[str], *, order_matters: bool = True) -> None:
    """Raise ``data.DataError`` (a ValueError) unless a model trained on ``meta_classes`` (its output order)
    can be scored on data labelled with ``dataset_classes``: the same styles, and in
    the same order when ``order_matters`` (label i must mean the same style in both).
    The message names the missing, extra and reordered styles."""
    meta_classes, dataset_classes = list(meta_classes), list(dataset_classes)
    if meta_classes == dataset_classes:
        return
    missing = [style for style in meta_classes if style not in dataset_classes]
    extra = [style for style in dataset_classes if style not in meta_classes]
    problems = []
    if missing:
        problems.append(f"in the checkpoint but not in the data: {missing}")
    if extra:
        problems.append(f"in the data but not in the checkpoint: {extra}")
    if order_matters and not missing and not extra:
        moved = [f"{style} ({i} -> {dataset_classes.index(style)})" for i, style in enumerate(meta_classes)
                 if dataset_classes[i] != style]
        problems.append(f"same styles in a different order (checkpoint label -> data label): {moved}")
    if problems:
        raise DataError("the class list of the data differs from the checkpoint's: " + "; ".join(problems)
                         + ". The model's outputs would be read with the wrong style names. Fix: build the "
                           "dataset with classes=meta['classes'] from a folder with exactly those styles.")
