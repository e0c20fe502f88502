"""One training loop for every model in the workbook, and safe checkpoints.

``fit`` trains a classifier (``task="classify"``: images -> style logits) or an
autoencoder (``task="reconstruct"``: images -> images) with the same code:

    for each epoch:
        for each batch (seeded shuffle, or the sampler you give):
            uint8 images -> float [0, 1] on the device -> batched augmentation
            forward (bf16 autocast on CUDA) -> loss -> backward -> AdamW step -> LR step
        validate (accuracy / balanced accuracy / macro-F1, or MSE / PSNR)
        one log line, a checkpoint (last.pt, and best.pt when validation improved)

Every random choice of an epoch (order, crops, flips, jitter, mixup, dropout) comes
from generators seeded with (seed, epoch), so on the CPU the same seed gives the same
weights, and a run that is interrupted and resumed gives the same weights as one that
was not.

An interrupt (Ctrl-C, the notebook's stop button) never leaves anything half-done:
the partial epoch is thrown away, the model is put back to the end of the last
complete epoch, that state is saved (when ``checkpoint_dir`` is given) and ``fit``
returns the history so far with ``history.interrupted = True``.

Checkpoints are plain dicts of tensors, numbers, strings, lists and dicts, written
atomically and read with ``torch.load(..., weights_only=True)``: loading one never runs
code from the file.
"""
from __future__ import annotations

import itertools
import math
import os
import platform
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import data
from .device import pick_device

TASKS = ("classify", "reconstruct")
# Which validation number decides best.pt (higher is better for both).
BEST_METRIC = {"classify": "balanced_accuracy", "reconstruct": "psnr"}
CHECKPOINT_FORMAT = "wikiart_core.checkpoint"
CHECKPOINT_VERSION = 1


class TrainingError(RuntimeError):
    """Training cannot go on; the message says where it stopped and what to change."""


class CheckpointError(ValueError):
    """A file that is not a usable wikiart_core checkpoint; the message names it."""


# --------------------------------------------------------------------------- history


@dataclass
class EpochRecord:
    """One finished epoch. ``train_loss``: mean training loss per image; ``val``:
    validation metrics (fractions, or MSE and PSNR in dB); ``seconds``: the whole
    epoch including validation; ``images_per_s``: training throughput only;
    ``lr``: the learning rate after the epoch's last step."""

    epoch: int
    train_loss: float
    val: dict = field(default_factory=dict)
    seconds: float = 0.0
    images_per_s: float = 0.0
    lr: float = 0.0


@dataclass
class History:
    """What ``fit`` did: one :class:`EpochRecord` per complete epoch.

    ``interrupted``: True when training stopped on a KeyboardInterrupt;
    ``checkpoint``: the last.pt written (None without ``checkpoint_dir``);
    ``device``: where it ran."""

    records: list[EpochRecord] = field(default_factory=list)
    interrupted: bool = False
    checkpoint: Path | None = None
    device: str | None = None

    def __len__(self) -> int:
        return len(self.records)

    def column(self, name: str) -> list[float]:
        """One value per epoch: ``"train_loss"``, ``"seconds"``, ... or a validation
        metric such as ``"balanced_accuracy"`` (NaN where an epoch lacks it)."""
        if name in ("epoch", "train_loss", "seconds", "images_per_s", "lr"):
            return [getattr(record, name) for record in self.records]
        return [record.val.get(name, float("nan")) for record in self.records]

    def table(self) -> str:
        """A fixed-width text table, one line per epoch."""
        metrics = list(dict.fromkeys(key for record in self.records for key in record.val))
        header = ["epoch", "train loss"] + metrics + ["lr", "s", "img/s"]
        rows = []
        for r in self.records:
            rows.append([str(r.epoch), f"{r.train_loss:.4f}"]
                        + [_format_metric(key, r.val[key]) if key in r.val else "-" for key in metrics]
                        + [f"{r.lr:.2e}", f"{r.seconds:.1f}", f"{r.images_per_s:.0f}"])
        widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(header)]
        lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
        lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
        if self.interrupted:
            lines.append(f"(interrupted; checkpoint: {self.checkpoint or 'none written'})")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """Plain values only (JSON- and checkpoint-safe)."""
        return {"records": [asdict(record) for record in self.records], "interrupted": self.interrupted,
                "checkpoint": None if self.checkpoint is None else str(self.checkpoint), "device": self.device}

    @classmethod
    def from_dict(cls, values: dict) -> "History":
        checkpoint = values.get("checkpoint")
        return cls(records=[EpochRecord(**record) for record in values.get("records", [])],
                   interrupted=bool(values.get("interrupted", False)),
                   checkpoint=None if checkpoint is None else Path(checkpoint), device=values.get("device"))


_SHORT_NAMES = {"accuracy": "acc", "balanced_accuracy": "bal_acc", "macro_f1": "f1", "mse": "mse", "psnr": "psnr"}


def _format_metric(name: str, value: float) -> str:
    if name == "psnr":
        return f"{value:.2f}"
    if name == "mse":
        return f"{value:.5f}"
    return f"{value:.3f}"


def _epoch_line(record: EpochRecord, epochs: int) -> str:
    metrics = "  ".join(f"{_SHORT_NAMES.get(k, k)} {_format_metric(k, v)}" for k, v in record.val.items())
    return (f"epoch {record.epoch:>{len(str(epochs))}}/{epochs}  loss {record.train_loss:.4f}"
            f"{'  ' + metrics if metrics else ''}  {record.seconds:.1f}s  {record.images_per_s:.0f} img/s")


# --------------------------------------------------------------------------- augmentation


def augment_batch(images: torch.Tensor, generator: torch.Generator, *, crop: bool = True, flip: bool = True,
                  jitter: float = 0.1, crop_scale: tuple[float, float] = (0.6, 1.0),
                  crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> torch.Tensor:
    """Random resized crop, horizontal flip and colour jitter on a whole batch at once.

    ``images``: (B, 3, S, S) floats in [0, 1] on any device; returns the same shape.
    Each image gets its own crop (a fraction ``crop_scale`` of the area, aspect ratio in
    ``crop_ratio``, resized back to S x S by bilinear sampling), a flip with probability
    1/2, and brightness, contrast and saturation factors in [1 - jitter, 1 + jitter].
    The random numbers are drawn on the CPU from ``generator`` (a few per image), so the
    result depends only on the generator's seed, whatever the device."""
    batch = images.shape[0]

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(batch, generator=generator) * (high - low) + low

    if crop:
        area = uniform(*crop_scale)
        ratio = uniform(math.log(crop_ratio[0]), math.log(crop_ratio[1])).exp()
        width = (area * ratio).sqrt().clamp(max=1.0)   # as a fraction of the image side
        height = (area / ratio).sqrt().clamp(max=1.0)
        # affine_grid works in [-1, 1] coordinates: the crop's centre may move by 1 - its size.
        centre_x = uniform(-1.0, 1.0) * (1 - width)
        centre_y = uniform(-1.0, 1.0) * (1 - height)
        theta = torch.zeros(batch, 2, 3)
        theta[:, 0, 0], theta[:, 0, 2] = width, centre_x
        theta[:, 1, 1], theta[:, 1, 2] = height, centre_y
        grid = F.affine_grid(theta.to(images.device, images.dtype), list(images.shape), align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if flip:
        flipped = (torch.rand(batch, generator=generator) < 0.5).to(images.device).view(-1, 1, 1, 1)
        images = torch.where(flipped, images.flip(-1), images)
    if jitter > 0:
        def factor() -> torch.Tensor:
            return uniform(1 - jitter, 1 + jitter).to(images.device, images.dtype).view(-1, 1, 1, 1)

        brightness, contrast, saturation = factor(), factor(), factor()
        images = images * brightness
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        images = (images - mean) * contrast + mean
        grey = (images * torch.tensor([0.299, 0.587, 0.114], device=images.device,
                                      dtype=images.dtype).view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
        images = ((images - grey) * saturation + grey).clamp(0.0, 1.0)
    return images


# --------------------------------------------------------------------------- batches and schedule


def _get_batch(dataset, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 (B, 3, S, S), int64 (B,)) from a dataset with ``get_batch`` (WikiArtDataset)
    or any dataset of (uint8 image, label) items."""
    if hasattr(dataset, "get_batch"):
        return dataset.get_batch(indices)
    items = [dataset[int(i)] for i in indices]
    return torch.stack([image for image, _ in items]), torch.as_tensor([label for _, label in items])


def _steps_per_epoch(n_items: int, batch_size: int) -> int:
    # A last batch of one image is dropped: batch norm cannot train on it.
    return n_items // batch_size + (1 if n_items % batch_size >= 2 else 0)


def _batches(dataset, order: Iterable[int], batch_size: int, steps: int, prefetch: bool):
    """Yield ``steps`` batches (uint8 images, labels) read in ``order``. With
    ``prefetch`` (CUDA) the next batch is read into pinned memory by a thread while
    the GPU works on this one."""
    order = iter(order)

    def chunks():
        for _ in range(steps):
            chunk = list(itertools.islice(order, batch_size))
            if len(chunk) < 2:
                return
            yield chunk

    def load(chunk):
        images, labels = _get_batch(dataset, chunk)
        return (images.pin_memory(), labels.pin_memory()) if prefetch else (images, labels)

    if not prefetch:
        for chunk in chunks():
            yield load(chunk)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        upcoming = chunks()
        chunk = next(upcoming, None)
        pending = pool.submit(load, chunk) if chunk is not None else None
        while pending is not None:
            batch = pending.result()
            chunk = next(upcoming, None)
            pending = pool.submit(load, chunk) if chunk is not None else None
            yield batch


def warmup_cosine(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """LR multiplier for LambdaLR: linear warm-up from 1/warmup_steps to 1 over
    ``warmup_steps`` steps, then a cosine decay to 0 at ``total_steps``."""
    def multiplier(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))
    return multiplier


def _optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.AdamW:
    # Weight decay on weight matrices and kernels only; biases and norm scales are not
    # decayed (decaying them only fights batch norm).
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)


def _epoch_seeds(seed: int, epoch: int) -> tuple[int, int, int]:
    # Well-mixed seeds per (seed, epoch): seed 0 epoch 1 must not repeat seed 1 epoch 0.
    state = np.random.SeedSequence([int(seed), int(epoch)]).generate_state(3)
    return int(state[0]), int(state[1]), int(state[2])


# --------------------------------------------------------------------------- RNG state


def _rng_state() -> dict:
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_available() and torch.cuda.is_initialized() else [],
        "numpy": {"algorithm": str(numpy_state[0]), "keys": torch.from_numpy(numpy_state[1].astype(np.int64)),
                  "pos": int(numpy_state[2]), "has_gauss": int(numpy_state[3]),
                  "cached_gaussian": float(numpy_state[4])},
        "python": {"version": int(python_state[0]), "state": [int(v) for v in python_state[1]],
                   "gauss_next": python_state[2]},
    }


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy_state = state["numpy"]
    np.random.set_state((numpy_state["algorithm"], numpy_state["keys"].numpy().astype(np.uint32),
                         numpy_state["pos"], numpy_state["has_gauss"], numpy_state["cached_gaussian"]))
    python_state = state["python"]
    random.setstate((python_state["version"], tuple(python_state["state"]), python_state["gauss_next"]))


# --------------------------------------------------------------------------- checkpoints


def _plain(value: Any, where: str = "meta") -> Any:
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
        return {(k if isinstance(k, (str, int)) else str(k)): _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "to_dict"):
        return _plain(value.to_dict(), where)
    if hasattr(value, "__dataclass_fields__"):
        return _plain(asdict(value), where)
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
    payload = _plain(meta)
    payload.update({
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "model_class": type(model).__name__,
        "init_args": _plain(getattr(model, "init_args", {}), "model.init_args"),
        "state_dict": {name: tensor.detach().to("cpu", copy=True) for name, tensor in model.state_dict().items()},
        "normalisation": _normalisation(model),
        "versions": _versions(),
    })
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable (POSIX); harmless to skip elsewhere
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError:
        pass
    return path


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The raw checkpoint dict (tensors on the CPU), checked to be one of ours."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist. Fix: check the path; fit(checkpoint_dir=...) "
                                f"and `python -m wikiart_core train --out DIR` write DIR/last.pt and DIR/best.pt.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors all mean the same thing here
        raise CheckpointError(f"checkpoint {path} cannot be read ({type(exc).__name__}: {exc}). It is damaged, "
                              f"truncated, or not a file saved by wikiart_core.train.save_checkpoint.") from None
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is a torch file but not a wikiart_core checkpoint (no "
                              f"format={CHECKPOINT_FORMAT!r} entry). Fix: save with train.save_checkpoint.")
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
    key = _model_class_key(state["model_class"])
    try:
        model = models.build(key, **state["init_args"])
        model.load_state_dict(state["state_dict"])
    except (TypeError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {path}: cannot rebuild {state['model_class']}({state['init_args']}) "
                              f"from it ({exc}). Was it saved by another version of the code? "
                              f"(versions: {state.get('versions')})") from None
    model.to(pick_device(device)).eval()
    meta = {k: v for k, v in state.items() if k != "state_dict"}
    return model, meta


def check_classes(meta_classes: Sequence[str], dataset_classes: Sequence[str], *, order_matters: bool = True) -> None:
    """Raise ValueError unless a model trained on ``meta_classes`` (its output order)
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
        raise ValueError("the class list of the data differs from the checkpoint's: " + "; ".join(problems)
                         + ". The model's outputs would be read with the wrong style names. Fix: build the "
                           "dataset with classes=meta['classes'] from a folder with exactly those styles.")


# --------------------------------------------------------------------------- the loop


def _validate(model: nn.Module, val_data, task: str, batch_size: int, device: torch.device) -> dict:
    from . import evaluate

    if task == "reconstruct":
        return evaluate.reconstruction_metrics(model, val_data, batch_size=batch_size, device=device)
    predictions = evaluate.predict(model, val_data, batch_size=batch_size, device=device)
    metrics = evaluate.classification_metrics(predictions.y_true, predictions.y_pred, val_data.classes)
    return {key: metrics[key] for key in ("accuracy", "balanced_accuracy", "macro_f1")}


def _clone_state(state: Any) -> Any:
    """A CPU copy of a (nested) state dict, so later steps cannot change it."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: _clone_state(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return type(state)(_clone_state(v) for v in state)
    return state


def _describe_device(device: torch.device, amp: bool) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return (f"device: {device} ({name}); {'bf16 autocast, channels_last' if amp else 'fp32 (amp=False)'}, "
                f"pinned memory, cudnn.benchmark")
    return f"device: {device} (fp32)"


def fit(model: nn.Module, train_data, val_data=None, *, task: str = "classify", epochs: int, lr: float = 1e-3,
        batch_size: int = 64, weight_decay: float = 0.05, loss: Callable | None = None, sampler=None,
        augment: bool = True, label_smoothing: float = 0.0, mixup: float = 0.0, warmup_epochs: float = 1,
        seed: int = 0, device: str | torch.device = "auto", amp: bool = True,
        checkpoint_dir: str | os.PathLike | None = None, resume: str | os.PathLike | None = None,
        progress: bool = True, profile=None, on_epoch_end: Callable[[EpochRecord], Any] | None = None,
        log: Callable[[str], Any] = print) -> History:
    """Train ``model`` for ``epochs`` epochs (in total, counting resumed ones) and return its History.

    Args:
        train_data, val_data: datasets with ``get_batch(indices) -> (uint8 (B,3,S,S), int64 (B,))``
            (a WikiArtDataset); ``val_data`` also needs ``.classes`` for ``task="classify"``.
        task: ``"classify"`` (targets: labels; validation: accuracy, balanced_accuracy,
            macro_f1) or ``"reconstruct"`` (targets: the input images in [0, 1];
            validation: mse, psnr in dB).
        lr, weight_decay: AdamW's peak learning rate and decoupled weight decay.
            The LR rises linearly over ``warmup_epochs`` and follows a cosine to 0, per step.
        batch_size: images per step.
        loss: None (CrossEntropyLoss with ``label_smoothing`` / MSELoss) or any
            ``loss(outputs, targets) -> scalar tensor``.
        sampler: None (a seeded shuffle each epoch) or an object with ``__iter__``
            (indices into train_data) and ``__len__``, e.g. a WeightedRandomSampler.
        augment: classify: random resized crop (area 0.6-1), flip, colour jitter;
            reconstruct: flips only.
        mixup: Beta(mixup, mixup) mixing of image pairs (classify only; 0 = off).
        seed: every random choice of the run (order, augmentation, dropout) follows it.
        device: ``"auto"`` (CUDA, MPS, CPU, said in the log) or a named device.
        amp: on CUDA, bf16 autocast with channels_last tensors; amp=False is plain fp32
            (ignored elsewhere: CPU runs stay fp32 and exact).
        checkpoint_dir: writes last.pt after every epoch and best.pt when the
            validation metric (balanced accuracy / PSNR) improves.
        resume: a checkpoint written by fit: continues at the epoch after it.
        profile: the profile (or its name) recorded in the checkpoint.
        on_epoch_end: called with each EpochRecord (live plots).
        log: where the condensed log lines go (one per epoch).

    Raises:
        TrainingError: non-finite loss (names epoch and batch) or CUDA out of memory.
        DeviceError: a named device that is not there.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError(f"need epochs >= 1, batch_size >= 1 and lr > 0 (got {epochs}, {batch_size}, {lr})")
    n_items = len(sampler) if sampler is not None else len(train_data)
    steps_per_epoch = _steps_per_epoch(n_items, batch_size)
    if steps_per_epoch == 0:
        raise ValueError(f"the training data has {n_items} image(s); at least 2 are needed for a batch")

    device = pick_device(device)
    cuda = device.type == "cuda"
    use_amp = amp and cuda
    log(_describe_device(device, use_amp))
    if cuda:
        torch.backends.cudnn.benchmark = True
    model.to(device)
    if use_amp:
        # channels_last pays off with tensor-core (bf16) convolutions; amp=False keeps the plain fp32 path.
        model.to(memory_format=torch.channels_last)
    if task == "classify" and hasattr(model, "set_input_stats") and resume is None:
        model.set_input_stats(*data.channel_stats(train_data, seed=seed))

    if loss is None:
        loss = nn.CrossEntropyLoss(label_smoothing=label_smoothing) if task == "classify" else nn.MSELoss()
    optimizer = _optimizer(model, lr, weight_decay)
    total_steps = epochs * steps_per_epoch
    # Warm-up never takes more than half the run, so short runs still anneal.
    warmup_steps = max(1, min(round(warmup_epochs * steps_per_epoch), total_steps // 2)) if warmup_epochs > 0 else 0
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup_steps, total_steps))

    history = History(device=str(device))
    first_epoch, best = 1, None
    if resume is not None:
        first_epoch, best, history = _resume(resume, model, optimizer, scheduler, sampler, task, device, log)
    fixed_meta = {
        "task": task, "seed": seed, "epochs": epochs,
        "profile": getattr(profile, "name", profile),
        "classes": list(getattr(train_data, "classes", None) or getattr(val_data, "classes", None) or []),
        "image_size": getattr(train_data, "image_size", None),
        # Kept so that a checkpoint alone can compute the majority/stratified baselines.
        "train_counts": train_data.class_counts() if hasattr(train_data, "class_counts") else None,
        "hyperparameters": {"lr": lr, "batch_size": batch_size, "weight_decay": weight_decay, "augment": augment,
                            "label_smoothing": label_smoothing, "mixup": mixup, "warmup_epochs": warmup_epochs,
                            "amp": use_amp, "loss": type(loss).__name__,
                            "sampler": None if sampler is None else type(sampler).__name__},
    }
    checkpoint_dir = None if checkpoint_dir is None else Path(checkpoint_dir)

    def snapshot(epoch: int) -> dict:
        """Everything a resume needs, as of the end of ``epoch`` (CPU copies)."""
        generator = getattr(sampler, "generator", None)
        return {"epoch": epoch, "state_dict": _clone_state(model.state_dict()),
                "optimizer": _clone_state(optimizer.state_dict()), "scheduler": _clone_state(scheduler.state_dict()),
                "rng": _clone_state(_rng_state()), "best": best, "history": history.to_dict(),
                "sampler_generator": generator.get_state().clone() if isinstance(generator, torch.Generator) else None}

    def save(saved: dict, name: str) -> Path:
        meta = {key: value for key, value in saved.items() if key != "state_dict"}
        return save_checkpoint(checkpoint_dir / name, model, **fixed_meta, **meta)

    last_complete = snapshot(first_epoch - 1)
    try:
        for epoch in range(first_epoch, epochs + 1):
            started = time.perf_counter()
            train_loss, images_seen, train_seconds = _train_one_epoch(
                model, train_data, task=task, epoch=epoch, epochs=epochs, seed=seed, batch_size=batch_size,
                steps=steps_per_epoch, loss=loss, optimizer=optimizer, scheduler=scheduler, sampler=sampler,
                augment=augment, mixup=mixup, device=device, use_amp=use_amp, progress=progress)
            try:
                val = _validate(model, val_data, task, batch_size, device) if val_data is not None else {}
            except torch.cuda.OutOfMemoryError as exc:
                raise TrainingError(
                    f"out of GPU memory while validating after epoch {epoch} with batch_size={batch_size} and "
                    f"image_size={getattr(val_data, 'image_size', '?')}px. Fix: a smaller batch_size or smaller "
                    f"images, or check that nobody else is using the GPU (nvidia-smi).") from exc
            record = EpochRecord(epoch=epoch, train_loss=train_loss, val=val,
                                 seconds=time.perf_counter() - started,
                                 images_per_s=images_seen / max(train_seconds, 1e-9),
                                 lr=float(scheduler.get_last_lr()[0]))
            history.records.append(record)
            score = val.get(BEST_METRIC[task])
            improved = score is not None and (best is None or score > best)
            if improved:
                best = score
            last_complete = snapshot(epoch)
            if checkpoint_dir is not None:
                history.checkpoint = save(last_complete, "last.pt")
                if improved:
                    save(last_complete, "best.pt")
            log(_epoch_line(record, epochs))
            if on_epoch_end is not None:
                on_epoch_end(record)
    except KeyboardInterrupt:
        _restore(last_complete, model, optimizer, scheduler, sampler)
        history.records = history.records[:_records_until(history, last_complete["epoch"])]
        history.interrupted = True
        done = last_complete["epoch"]
        if checkpoint_dir is not None:
            history.checkpoint = save(last_complete, "last.pt")
            log(f"interrupted: any partial epoch was discarded; the model is back at the end of epoch "
                f"{done}/{epochs}, saved in {history.checkpoint}. Resume with fit(..., resume={str(history.checkpoint)!r}) "
                f"or `python -m wikiart_core train ... --resume {history.checkpoint}`.")
        else:
            log(f"interrupted: any partial epoch was discarded; the model is back at the end of epoch "
                f"{done}/{epochs} (in memory only: pass checkpoint_dir=... to be able to resume later).")
    except TrainingError:
        # Leave a usable model behind (not NaN weights), then say what went wrong.
        _restore(last_complete, model, optimizer, scheduler, sampler)
        raise
    return history


def _records_until(history: History, epoch: int) -> int:
    """How many records belong to epochs <= ``epoch``."""
    return sum(1 for record in history.records if record.epoch <= epoch)


def _restore(saved: dict, model: nn.Module, optimizer, scheduler, sampler) -> None:
    """Put model, optimiser, scheduler and RNGs back to ``saved``: an in-memory snapshot
    of the last complete epoch, or a checkpoint read from disk (same keys)."""
    model.load_state_dict(saved["state_dict"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    _set_rng_state(saved["rng"])
    generator = getattr(sampler, "generator", None)
    if isinstance(generator, torch.Generator) and saved.get("sampler_generator") is not None:
        generator.set_state(saved["sampler_generator"])


def _resume(path, model, optimizer, scheduler, sampler, task, device, log) -> tuple[int, float | None, History]:
    state = read_checkpoint(path)
    if state.get("optimizer") is None or state.get("epoch") is None:
        raise CheckpointError(f"{path} holds weights but no training state (optimizer, epoch); it cannot be "
                              f"resumed. Fix: resume from a last.pt written by fit(checkpoint_dir=...).")
    mismatch = []
    if state["model_class"] != type(model).__name__:
        mismatch.append(f"model {state['model_class']} vs {type(model).__name__}")
    if _plain(getattr(model, "init_args", {})) != state["init_args"]:
        mismatch.append(f"init_args {state['init_args']} vs {getattr(model, 'init_args', {})}")
    if state.get("task") != task:
        mismatch.append(f"task {state.get('task')!r} vs {task!r}")
    if mismatch:
        raise CheckpointError(f"cannot resume from {path}: it was trained with a different setup ("
                              + "; ".join(mismatch) + "). Fix: build the model with "
                              "models.build(meta['model_class'], **meta['init_args']) and the same task.")
    _restore(state, model, optimizer, scheduler, sampler)
    model.to(device)
    history = History.from_dict(state["history"])
    history.device, history.interrupted, history.checkpoint = str(device), False, None
    log(f"resumed from {path}: {state['epoch']} epoch(s) done")
    return int(state["epoch"]) + 1, state.get("best"), history


def _train_one_epoch(model, train_data, *, task, epoch, epochs, seed, batch_size, steps, loss, optimizer, scheduler,
                     sampler, augment, mixup, device, use_amp, progress) -> tuple[float, int, float]:
    """One pass over the training data; returns (mean loss per image, images, seconds)."""
    from tqdm.auto import tqdm

    cuda = device.type == "cuda"
    order_seed, torch_seed, mixup_seed = _epoch_seeds(seed, epoch)
    generator = torch.Generator().manual_seed(order_seed)   # order, crops, flips, jitter
    torch.manual_seed(torch_seed)                              # dropout (and a sampler without a generator)
    mixup_rng = np.random.default_rng(mixup_seed)
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    order = sampler if sampler is not None else torch.randperm(len(train_data), generator=generator).tolist()

    model.train()
    started = time.perf_counter()
    # Losses stay on the device and are checked every few steps: a .item() per step
    # would make the CPU wait for the GPU at every batch.
    check_every = 25 if cuda else 1
    unchecked: list[tuple[int, torch.Tensor]] = []
    loss_sum, images_seen = 0.0, 0
    bar = tqdm(total=steps, desc=f"epoch {epoch}/{epochs}", leave=False, disable=not progress, unit="batch")
    try:
        for step, (images, labels) in enumerate(_batches(train_data, order, batch_size, steps, prefetch=cuda), 1):
            x = data.to_float(images, device)
            y = labels.to(device, non_blocking=cuda)
            if augment and task == "classify":
                x = augment_batch(x, generator)
            elif augment:
                x = augment_batch(x, generator, crop=False, jitter=0.0)
            if use_amp:
                x = x.contiguous(memory_format=torch.channels_last)
            try:
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                    if task == "classify" and mixup > 0:
                        weight = float(mixup_rng.beta(mixup, mixup))
                        partner = torch.randperm(x.shape[0], generator=generator).to(device)
                        outputs = model(weight * x + (1 - weight) * x[partner]).float()
                        batch_loss = weight * loss(outputs, y) + (1 - weight) * loss(outputs, y[partner])
                    else:
                        outputs = model(x).float()
                        batch_loss = loss(outputs, y if task == "classify" else x)
                optimizer.zero_grad(set_to_none=True)
                batch_loss.backward()
                optimizer.step()
                scheduler.step()
            except torch.cuda.OutOfMemoryError as exc:
                raise TrainingError(
                    f"out of GPU memory at epoch {epoch}, batch {step}, with batch_size={batch_size} and "
                    f"image_size={x.shape[-1]}px. Fix: halve the batch size (batch_size={max(1, batch_size // 2)}) "
                    f"or use smaller images, or check that nobody else is using the GPU (nvidia-smi).") from exc
            unchecked.append((step, batch_loss.detach() * x.shape[0]))
            images_seen += x.shape[0]
            if len(unchecked) >= check_every or step == steps:
                loss_sum += _check_finite(unchecked, epoch, lr=optimizer.param_groups[0]["initial_lr"])
                unchecked = []
                bar.set_postfix(loss=f"{loss_sum / images_seen:.4f}", refresh=False)
            bar.update()
        if unchecked:
            loss_sum += _check_finite(unchecked, epoch, lr=optimizer.param_groups[0]["initial_lr"])
    finally:
        bar.close()
    if cuda:
        torch.cuda.synchronize(device)
    return loss_sum / max(images_seen, 1), images_seen, time.perf_counter() - started


def _check_finite(unchecked: list[tuple[int, torch.Tensor]], epoch: int, lr: float) -> float:
    """Sum of the batch losses (each already times its batch size); a NaN or inf stops training."""
    values = torch.stack([value.float() for _, value in unchecked]).tolist()
    for (step, _), value in zip(unchecked, values):
        if not math.isfinite(value):
            raise TrainingError(
                f"the loss became {value} at epoch {epoch}, batch {step}: training diverged. Fix: lower the "
                f"learning rate (lr={lr:g}; try lr={lr / 3:.2g}), or check the inputs and the loss function. "
                f"The model was put back to the end of the last complete epoch.")
    return float(sum(values))
