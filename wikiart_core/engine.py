"""The training loop every model of the workbook shares, in the shape of torchvision's
``train_one_epoch`` / ``evaluate``:

    fit(model, task, train_data, val_data, TrainConfig(epochs=..., lr=...))
        for each epoch:
            train_one_epoch: seeded order (or the sampler given) -> uint8 batch -> floats on
                the device -> task.augment -> task.loss (bf16 autocast on CUDA) -> backward
                -> AdamW step -> LR step (warm-up, then cosine)
            task.validate on the validation split
            one log line; last.pt, and best.pt when the task's validation metric improved

What is trained (classification, reconstruction, the Part 3 generator) is a
:class:`~wikiart_core.tasks.Task`; the loop never asks which one. The test split never
comes here: ``val_data`` is the validation split (see ``data.load_splits``).

Every random choice of an epoch comes from generators seeded with (seed, epoch), so on
the CPU the same seed gives the same weights, and a run that is interrupted and
resumed gives the weights of one that was not.

An interrupt (Ctrl-C, the notebook's stop button) with a ``checkpoint_dir`` puts the
model back to the end of the last complete epoch (read from ``last.pt``, written after
every epoch and before the first) and returns the history so far with
``history.interrupted = True``; resume with ``resume=DIR/last.pt``. Without a
``checkpoint_dir`` nothing is copied (a copy of a large model every epoch costs memory
and time): the model keeps the weights it had when stopped, and the log says so.
"""
from __future__ import annotations

import itertools
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from . import checkpoint as checkpoints
from . import data, files
from .device import pick_device
from .tasks import EpochRandom, Task


class TrainingError(RuntimeError):
    """Training cannot go on; the message says where it stopped and what to change."""


class RunInterrupted(KeyboardInterrupt):
    """A job of several training runs (Part 3's, a search's retrain) stopped because one
    of its runs was interrupted: raised after that run went back to its last finished
    epoch, so that nothing after it trains or reports on an unfinished model. The
    message names the run and its last.pt; the command line exits 130 with it."""


def raise_if_interrupted(history: "History", what: str) -> None:
    """Raise :class:`RunInterrupted` when ``history`` (of the run called ``what``) was interrupted."""
    if history.interrupted:
        done = history.records[-1].epoch if history.records else 0
        saved = f"; its last finished epoch ({done}) is in {history.checkpoint}" if history.checkpoint else ""
        raise RunInterrupted(f"{what} was interrupted{saved}")


# An epoch whose mean training loss is this many times its first batch's has diverged,
# even when every value is finite: its weights are never kept as best.pt.
DIVERGENCE_FACTOR = 10.0


def lower_lr_advice(lr: float) -> str:
    """What to try after a divergence at peak learning rate ``lr``."""
    advice = f"lower the learning rate (lr={lr:g}; try lr={lr / 10:.2g}, ten times lower)"
    if lr > 0.1:
        # An lr far outside the usual range is more likely a typo than a tuning question.
        advice += "; AdamW is usually run with lr between 1e-4 and 1e-2"
    return advice


@dataclass
class TrainConfig:
    """How long and how fast to train: the one place these defaults live
    (``experiment.RunSpec`` extends this class, the CLI and the panel start from a RunSpec).

    epochs: in total, counting resumed ones. lr: AdamW's peak learning rate, reached
    after a linear warm-up of ``warmup_epochs`` and followed by a cosine decay to 0
    (per step). batch_size: images per step. weight_decay: AdamW's decoupled decay
    (weights and kernels only). seed: every random choice of the run. device: "auto"
    (CUDA, MPS, CPU) or a named device. amp: bf16 autocast and channels_last on CUDA
    (CPU runs stay fp32 and exact)."""

    epochs: int = 1
    lr: float = 1e-3
    batch_size: int = 64
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0
    seed: int = 0
    device: str = "auto"
    amp: bool = True

    def problems(self) -> list[str]:
        """What is wrong with these settings, one phrase each with a fix (empty: nothing)."""
        found = []
        if not (isinstance(self.epochs, int) and self.epochs >= 1):
            found.append(f"epochs must be at least 1 (got {self.epochs!r})")
        if not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            found.append(f"batch size must be at least 1 (got {self.batch_size!r})")
        if not (math.isfinite(self.lr) and self.lr > 0):
            found.append(f"learning rate must be > 0 (got {self.lr:g}); AdamW is usually run with 1e-4 to 1e-2")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            found.append(f"weight decay must be >= 0 (got {self.weight_decay:g})")
        if not (math.isfinite(self.warmup_epochs) and self.warmup_epochs >= 0):
            found.append(f"warm-up epochs must be >= 0 (got {self.warmup_epochs:g})")
        if not (isinstance(self.seed, int) and self.seed >= 0):
            found.append(f"seed must be >= 0 (got {self.seed!r})")
        return found

    def check(self) -> None:
        """ValueError listing :meth:`problems`, if any."""
        found = self.problems()
        if found:
            raise ValueError("; ".join(found))

    def train_settings(self) -> dict:
        """This class's fields only (what checkpoints record as hyperparameters), also
        when called on a subclass such as ``RunSpec``."""
        return {name.name: getattr(self, name.name) for name in fields(TrainConfig)}


# --------------------------------------------------------------------------- history


@dataclass
class EpochRecord:
    """One finished epoch. ``train_loss``: mean training loss per image; ``val``:
    validation metrics (fractions, or MSE and PSNR in dB); ``seconds``: the whole
    epoch including validation; ``images_per_s``: training throughput only;
    ``lr``: the learning rate after the epoch's last step; ``parts``: the task's
    logged loss parts, mean per image."""

    epoch: int
    train_loss: float
    val: dict = field(default_factory=dict)
    parts: dict = field(default_factory=dict)
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


# --------------------------------------------------------------------------- batches and schedule


def _get_batch(dataset, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """(uint8 (B, 3, S, S), int64 (B,)) from a dataset with ``get_batch`` (WikiArtDataset)
    or any dataset of (uint8 image, label) items."""
    if hasattr(dataset, "get_batch"):
        return dataset.get_batch(indices)
    items = [dataset[int(i)] for i in indices]
    return torch.stack([image for image, _ in items]), torch.as_tensor([label for _, label in items])


def _reusable_buffers(dataset, batch_size: int, count: int) -> list[np.ndarray] | None:
    """``count`` uint8 batch buffers for a dataset whose ``get_batch`` takes ``out``
    (WikiArtDataset); None for other datasets."""
    import inspect

    get_batch = getattr(dataset, "get_batch", None)
    size = getattr(dataset, "image_size", None)
    if get_batch is None or size is None or "out" not in inspect.signature(get_batch).parameters:
        return None
    return [np.empty((batch_size, 3, size, size), dtype=np.uint8) for _ in range(count)]


def steps_per_epoch(n_items: int, batch_size: int) -> int:
    # A last batch of one image is dropped: batch norm cannot train on it.
    return n_items // batch_size + (1 if n_items % batch_size >= 2 else 0)


def read_batches(dataset, order: Iterable[int], batch_size: int, steps: int, prefetch: bool):
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
        # Two buffers used in turn: a batch is converted to floats (a copy) before the
        # next one is read, so its buffer can be refilled two batches later. Fresh memory
        # for every batch would cost a page fault per 4 KB (see benchmarks/RESULTS.md).
        buffers = _reusable_buffers(dataset, batch_size, count=2)
        for step, chunk in enumerate(chunks()):
            if buffers is None:
                yield load(chunk)
            else:
                yield dataset.get_batch(chunk, out=buffers[step % 2])
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
    # decayed (decaying them only fights batch norm). A model with parts that learn at
    # different rates says so with ``parameter_groups()`` -> [(parameters, lr scale)]
    # (a pretrained backbone below its new head, ``backbones``); the scheduler then scales
    # each group's own lr.
    parts = model.parameter_groups() if hasattr(model, "parameter_groups") else [(model.parameters(), 1.0)]
    groups = []
    for parameters, lr_scale in parts:
        parameters = [p for p in parameters if p.requires_grad]
        groups += [{"params": [p for p in parameters if p.ndim >= 2], "weight_decay": weight_decay,
                    "lr": lr * lr_scale},
                   {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0, "lr": lr * lr_scale}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)


def _epoch_seeds(seed: int, epoch: int) -> tuple[int, int, int]:
    # Well-mixed seeds per (seed, epoch): seed 0 epoch 1 must not repeat seed 1 epoch 0.
    state = np.random.SeedSequence([int(seed), int(epoch)]).generate_state(3)
    return int(state[0]), int(state[1]), int(state[2])




# --------------------------------------------------------------------------- checkpoints of a run


@dataclass
class _RunCheckpoints:
    """last.pt after every epoch (and before the first), best.pt when validation improved.
    Holds the trainable state, optimiser, scheduler and sampler generator: all a resume needs."""

    folder: Path
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    sampler: Any
    fixed_meta: dict

    def save(self, epoch: int, best: float | None, history: "History", improved: bool) -> Path:
        generator = getattr(self.sampler, "generator", None)
        meta = {**self.fixed_meta, "epoch": epoch, "best": best, "history": history.to_dict(),
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "sampler_generator": generator.get_state() if isinstance(generator, torch.Generator) else None}
        try:
            last = checkpoints.save_checkpoint(self.folder / "last.pt", self.model, **meta)
            if improved:
                checkpoints.save_checkpoint(self.folder / "best.pt", self.model, **meta)
        except files.DiskFullError as error:
            raise files.DiskFullError(
                f"{error}. Training stopped after epoch {epoch}, which could not be saved; {self.folder / 'last.pt'} "
                f"still holds the last epoch that was. Continue from it with --resume (fit(resume=...)) once "
                f"there is space.") from None
        return last

    def restore_last(self) -> int:
        """Put the model, optimiser, scheduler and sampler back to last.pt; its epoch."""
        return _restore(checkpoints.read_checkpoint(self.folder / "last.pt"), self.model, self.optimizer,
                        self.scheduler, self.sampler)


def _restore(state: dict, model: nn.Module, optimizer, scheduler, sampler) -> int:
    model.load_state_dict(state["state_dict"], strict=not state.get("partial_state", False))
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    generator = getattr(sampler, "generator", None)
    if isinstance(generator, torch.Generator) and state.get("sampler_generator") is not None:
        generator.set_state(state["sampler_generator"])
    return int(state["epoch"])


def _resume(path, model, task: Task, optimizer, scheduler, sampler, device, log) -> tuple[int, float | None, "History"]:
    state = checkpoints.read_checkpoint(path)
    if state.get("optimizer") is None or state.get("epoch") is None:
        raise checkpoints.CheckpointError(
            f"{path} holds weights but no training state (optimizer, epoch); it cannot be resumed. "
            f"Fix: resume from a last.pt written by fit(checkpoint_dir=...).")
    saved_and_now = {"model": (state["model_class"], type(model).__name__),
                     "init_args": (state["init_args"], checkpoints.plain(getattr(model, "init_args", {}))),
                     "task": (state.get("task"), task.name)}
    mismatch = [f"{what} {saved!r} vs {now!r}" for what, (saved, now) in saved_and_now.items() if saved != now]
    if mismatch:
        raise checkpoints.CheckpointError(
            f"cannot resume from {path}: it was trained with a different setup (" + "; ".join(mismatch)
            + "). Fix: build the model with models.build(meta['model_class'], **meta['init_args']) and the "
              "same task.")
    epoch = _restore(state, model, optimizer, scheduler, sampler)
    model.to(device)
    history = History.from_dict(state["history"])
    history.device, history.interrupted, history.checkpoint = str(device), False, None
    log(f"resumed from {path}: {epoch} epoch(s) done")
    return epoch + 1, state.get("best"), history


AUTO_RESUME = "auto"
CONTINUE_RESUME = "continue"


def _last_state(checkpoint_dir) -> tuple[Path | None, dict | None, str | None]:
    """(``checkpoint_dir/last.pt``, its contents, why it could not be read): (None, None,
    None) when there is no such file."""
    if checkpoint_dir is None or not (Path(checkpoint_dir) / "last.pt").is_file():
        return None, None, None
    last = Path(checkpoint_dir) / "last.pt"
    try:
        return last, checkpoints.read_checkpoint(last), None
    except checkpoints.CheckpointError as error:
        return last, None, str(error)


def _differences(saved: dict, wanted: dict) -> list[str]:
    """'key: saved -> now' for every key of ``wanted`` whose value differs (one level into dicts)."""
    differences = []
    for key, value in wanted.items():
        before = saved.get(key)
        if before == value:
            continue
        if isinstance(value, dict) and isinstance(before, dict):
            differences += [f"{key}.{inner}: {before.get(inner)!r} -> {value.get(inner)!r}"
                            for inner in sorted(set(value) | set(before)) if before.get(inner) != value.get(inner)]
        else:
            shown = [repr(v) if len(repr(v)) <= 60 else f"{type(v).__name__} of {len(v) if hasattr(v, '__len__') else '?'}"
                     for v in (before, value)]
            differences.append(f"{key}: {shown[0]} -> {shown[1]}")
    return differences


def same_run_checkpoint(last: Path | None, state: dict | None, model: nn.Module, fixed_meta: dict | None,
                        log=print, strict: bool = False) -> Path | None:
    """``last`` (a run's last.pt, read into ``state``) when it is a resumable state of
    exactly this run (the same model class and constructor arguments, task,
    hyperparameters, data and every other recorded value), else None.

    This is what ``fit(resume="auto")`` continues from: re-running an interrupted cell,
    notebook or ``make report`` goes on from the last finished epoch (a finished run
    trains no further and gives back the same model and history), while a run whose
    settings changed starts afresh rather than mixing two setups."""
    if state is None or fixed_meta is None:
        return None
    wanted = {**checkpoints.plain(fixed_meta), "model_class": type(model).__name__,
              "init_args": checkpoints.plain(getattr(model, "init_args", {}))}
    differs = sorted(key for key, value in wanted.items() if state.get(key) != value)
    if state.get("optimizer") is None or state.get("epoch") is None:
        differs.append("training state")
    if differs and strict:
        details = _differences(state, wanted) or ["no training state (optimizer, epoch) saved"]
        raise checkpoints.CheckpointError(
            f"cannot resume {last}: it was trained with other settings ({'; '.join(details)}; saved -> now). "
            f"Fix: resume with the settings it was started with, or write this run to another folder (--out).")
    if differs:
        log(f"{last} is from another setup ({', '.join(differs)} differ): starting afresh")
        return None
    return last


def refuse_other_profile_or_dataset(last: Path | None, state: dict | None, fixed_meta: dict | None) -> None:
    """Raise before a fresh run overwrites ``last`` (a run's last.pt, read into ``state``)
    made in another profile or on another dataset (a 32 px ``smoke`` run over hours of a
    ``full`` one). An unreadable file is not protected: it is replaced.

    Raises:
        CheckpointError: naming both setups and the way out (another folder)."""
    if state is None or not fixed_meta:
        return
    for key in ("profile", "dataset"):
        if key in fixed_meta and key in state and state[key] != fixed_meta[key]:
            raise checkpoints.CheckpointError(
                f"{last} holds a run of {key} {state[key]!r}; this run is {key} {fixed_meta[key]!r} and would "
                f"overwrite it. Fix: write this run to another folder (--out), or delete {last} if it is "
                f"not needed.")


def _describe_device(device: torch.device, amp: bool) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return (f"device: {device} ({name}); {'bf16 autocast, channels_last' if amp else 'fp32 (amp=False)'}, "
                f"pinned memory, cudnn.benchmark")
    return f"device: {device} (fp32)"


# --------------------------------------------------------------------------- the loop


def checkpoint_meta(meta: dict | None, task: Task, config: TrainConfig, train_data, *, sampler=None,
                    amp: bool = False) -> dict:
    """The plain values every checkpoint of a run records besides the weights: ``meta``,
    the task's description, seed, epochs, classes, image size, the training counts (so a
    checkpoint alone can compute the majority and stratified baselines) and the
    hyperparameters. ``fit`` and ``probe.fit`` write the same."""
    return {**(meta or {}), **task.describe(), "seed": config.seed, "epochs": config.epochs,
            "classes": list(getattr(train_data, "classes", None) or []),
            "image_size": getattr(train_data, "image_size", None),
            "train_counts": train_data.class_counts() if hasattr(train_data, "class_counts") else None,
            "hyperparameters": {**config.train_settings(), "amp": amp,
                                "sampler": None if sampler is None else type(sampler).__name__}}


def fit(model: nn.Module, task: Task, train_data, val_data=None, config: TrainConfig | None = None, *,
        sampler=None, checkpoint_dir: str | os.PathLike | None = None, resume: str | os.PathLike | None = None,
        meta: dict | None = None, on_epoch_end: Callable[[EpochRecord], Any] | None = None,
        progress: bool = True, log: Callable[[str], Any] = print) -> History:
    """Train ``model`` on ``task`` and return its :class:`History`.

    Args:
        task: a :class:`~wikiart_core.tasks.Task` (``tasks.Classification(...)``,
            ``tasks.Reconstruction(...)``).
        train_data, val_data: datasets with ``get_batch(indices) -> (uint8 (B,3,S,S), int64 (B,))``
            (WikiArtDataset); ``val_data`` is the *validation* split, never the test split.
        config: a :class:`TrainConfig` (epochs, lr, batch size, seed, device, ...).
        sampler: None (a seeded shuffle each epoch) or an object with ``__iter__``
            (indices into train_data) and ``__len__``, e.g. the balanced sampler.
        checkpoint_dir: writes last.pt (before the first epoch and after every epoch) and
            best.pt (when the task's validation metric improves); makes interrupts safe.
        resume: a last.pt written by fit: continues at the epoch after it. ``"auto"``:
            ``checkpoint_dir/last.pt`` when it holds this very run (:func:`same_run_checkpoint`),
            else a fresh start (also without a checkpoint_dir). ``"continue"`` (a command's
            ``--resume``): the same, but a last.pt of other settings, or one that cannot be
            read, is refused (CheckpointError naming what differs) instead of replaced.
        meta: plain values stored in every checkpoint (profile, validation file list, ...).
        on_epoch_end: called with each EpochRecord (live plots).
        log: where the condensed log lines go (one per epoch).

    Raises:
        TrainingError: non-finite loss (names epoch and batch), a diverged epoch, or CUDA out of memory.
        files.DiskFullError: a checkpoint could not be written; the previous one is intact.
        DeviceError: a named device that is not there.
    """
    if config is None:
        raise ValueError("fit needs a TrainConfig(epochs=...)")
    config.check()
    n_items = len(sampler) if sampler is not None else len(train_data)
    epoch_steps = steps_per_epoch(n_items, config.batch_size)
    if epoch_steps == 0:
        raise ValueError(f"the training data has {n_items} image(s); at least 2 are needed for a batch")

    device = pick_device(config.device)
    use_amp = config.amp and device.type == "cuda"
    log(_describe_device(device, use_amp))
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model.to(device)
    if use_amp:
        # channels_last pays off with tensor-core (bf16) convolutions; amp=False keeps the plain fp32 path.
        model.to(memory_format=torch.channels_last)
    fixed_meta = None
    if checkpoint_dir is not None:
        fixed_meta = checkpoint_meta(meta, task, config, train_data, sampler=sampler, amp=use_amp)
    automatic = resume in (AUTO_RESUME, CONTINUE_RESUME)
    last, last_state, unreadable = _last_state(checkpoint_dir) if resume is None or automatic else (None,) * 3
    if automatic:
        if unreadable and resume == CONTINUE_RESUME:
            raise checkpoints.CheckpointError(f"cannot resume: {unreadable}")
        if unreadable:
            log(f"not resuming from {last} ({unreadable}); starting afresh")
        resume = same_run_checkpoint(last, last_state, model, fixed_meta, log, strict=resume == CONTINUE_RESUME)
    if resume is None:
        refuse_other_profile_or_dataset(last, last_state, fixed_meta)
        task.prepare(model, train_data, config.seed)

    optimizer = _optimizer(model, config.lr, config.weight_decay)
    total_steps = config.epochs * epoch_steps
    # Warm-up never takes more than half the run, so short runs still anneal.
    warmup_steps = (max(1, min(round(config.warmup_epochs * epoch_steps), total_steps // 2))
                    if config.warmup_epochs > 0 else 0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(warmup_steps, total_steps))

    history = History(device=str(device))
    first_epoch, best = 1, None
    if resume is not None:
        first_epoch, best, history = _resume(resume, model, task, optimizer, scheduler, sampler, device, log)
    run_checkpoints = None
    if checkpoint_dir is not None:
        run_checkpoints = _RunCheckpoints(Path(checkpoint_dir), model, optimizer, scheduler, sampler, fixed_meta)
        # The starting state (fresh, or just resumed) is what an interrupt in the first epoch goes back to.
        history.checkpoint = run_checkpoints.save(first_epoch - 1, best, history, improved=False)

    try:
        for epoch in range(first_epoch, config.epochs + 1):
            started = time.perf_counter()
            train_loss, parts, images_seen, train_seconds = train_one_epoch(
                model, task, train_data, optimizer, scheduler, epoch=epoch, config=config, steps=epoch_steps,
                sampler=sampler, device=device, use_amp=use_amp, progress=progress)
            val = validate(model, task, val_data, config.batch_size, device, epoch) if val_data is not None else {}
            record = EpochRecord(epoch=epoch, train_loss=train_loss, val=val, parts=parts,
                                 seconds=time.perf_counter() - started,
                                 images_per_s=images_seen / max(train_seconds, 1e-9),
                                 lr=float(scheduler.get_last_lr()[0]))
            history.records.append(record)
            improved = task.improved(val.get(task.best_metric), best)
            if improved:
                best = val[task.best_metric]
            if run_checkpoints is not None:
                history.checkpoint = run_checkpoints.save(epoch, best, history, improved)
            log(_epoch_line(record, config.epochs))
            if on_epoch_end is not None:
                on_epoch_end(record)
    except KeyboardInterrupt:
        history.interrupted = True
        if run_checkpoints is not None:
            done = run_checkpoints.restore_last()
            history.records = [record for record in history.records if record.epoch <= done]
            log(f"interrupted: any partial epoch was discarded; the model is back at the end of epoch "
                f"{done}/{config.epochs}, saved in {history.checkpoint}. Resume with "
                f"fit(..., resume={str(history.checkpoint)!r}), or run the same command again with --resume.")
        else:
            log(f"interrupted after {len(history.records)} complete epoch(s) of {config.epochs}; the model keeps "
                f"the weights it had when stopped (no checkpoint_dir, so nothing to go back to or resume from).")
    except TrainingError:
        # Leave a usable model behind (not NaN weights) when there is a checkpoint to go back to.
        if run_checkpoints is not None:
            run_checkpoints.restore_last()
        raise
    return history


def validate(model: nn.Module, task: Task, val_data, batch_size: int, device: torch.device, epoch: int) -> dict:
    """The task's validation metrics; an out-of-memory error names the fix."""
    try:
        return task.validate(model, val_data, batch_size, device)
    except torch.cuda.OutOfMemoryError as exc:
        raise TrainingError(
            f"out of GPU memory while validating after epoch {epoch} with batch_size={batch_size} and "
            f"image_size={getattr(val_data, 'image_size', '?')}px. Fix: a smaller batch_size or smaller "
            f"images, or check that nobody else is using the GPU (nvidia-smi).") from exc


def train_one_epoch(model: nn.Module, task: Task, train_data, optimizer, scheduler, *, epoch: int,
                    config: TrainConfig, steps: int, sampler, device: torch.device, use_amp: bool,
                    progress: bool) -> tuple[float, dict[str, float], int, float]:
    """One pass over the training data.

    Returns (mean loss per image, {part: mean per image}, images seen, seconds)."""
    from tqdm.auto import tqdm

    cuda = device.type == "cuda"
    order_seed, torch_seed, numpy_seed = _epoch_seeds(config.seed, epoch)
    rng = EpochRandom(generator=torch.Generator().manual_seed(order_seed),   # order, crops, flips, partners
                      numpy=np.random.default_rng(numpy_seed))
    torch.manual_seed(torch_seed)                                             # dropout
    if hasattr(sampler, "set_epoch"):
        sampler.set_epoch(epoch)
    order = sampler if sampler is not None else torch.randperm(len(train_data), generator=rng.generator).tolist()

    model.train()
    started = time.perf_counter()
    # Losses stay on the device and are checked every few steps: a .item() per step
    # would make the CPU wait for the GPU at every batch.
    check_every = 25 if cuda else 1
    unchecked: list[tuple[int, torch.Tensor, dict[str, torch.Tensor]]] = []
    loss_sum, part_sums, images_seen = 0.0, {}, 0
    first_batch = None  # (loss sum, images) of the epoch's first batch: the divergence reference
    bar = tqdm(total=steps, desc=f"epoch {epoch}/{config.epochs}", leave=False, disable=not progress, unit="batch")
    try:
        for step, (images, labels) in enumerate(read_batches(train_data, order, config.batch_size, steps,
                                                         prefetch=cuda), 1):
            x = task.augment(data.to_float(images, device), rng.generator)
            y = labels.to(device, non_blocking=cuda)
            if use_amp:
                x = x.contiguous(memory_format=torch.channels_last)
            try:
                with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_amp):
                    batch_loss, parts = task.loss(model, x, y, rng)
                optimizer.zero_grad(set_to_none=True)
                batch_loss.backward()
                optimizer.step()
                scheduler.step()
            except torch.cuda.OutOfMemoryError as exc:
                raise TrainingError(
                    f"out of GPU memory at epoch {epoch}, batch {step}, with batch_size={config.batch_size} and "
                    f"image_size={x.shape[-1]}px. Fix: halve the batch size (batch_size="
                    f"{max(1, config.batch_size // 2)}) or use smaller images, or check that nobody else is "
                    f"using the GPU (nvidia-smi).") from exc
            size = x.shape[0]
            unchecked.append((step, batch_loss.detach() * size, {k: v.detach() * size for k, v in parts.items()}))
            if first_batch is None:
                first_batch = (unchecked[0][1], size)
            images_seen += size
            if len(unchecked) >= check_every or step == steps:
                loss_sum += _check_finite(unchecked, epoch, lr=config.lr, part_sums=part_sums)
                unchecked = []
                bar.set_postfix(loss=f"{loss_sum / images_seen:.4f}", refresh=False)
            bar.update()
        if unchecked:
            loss_sum += _check_finite(unchecked, epoch, lr=config.lr, part_sums=part_sums)
    finally:
        bar.close()
    if cuda:
        torch.cuda.synchronize(device)
    seen = max(images_seen, 1)
    if first_batch is not None:
        _check_not_diverged(loss_sum / seen, float(first_batch[0]) / first_batch[1], epoch, config.lr)
    return (loss_sum / seen, {name: value / seen for name, value in part_sums.items()}, images_seen,
            time.perf_counter() - started)


def _check_not_diverged(epoch_loss: float, first_loss: float, epoch: int, lr: float) -> None:
    """Raise TrainingError when the epoch's mean loss per image is more than
    :data:`DIVERGENCE_FACTOR` times its first batch's: the weights blew up although every
    loss was finite (an lr of 1e3), and must not be validated, saved or kept as best.pt."""
    if first_loss > 1e-6 and epoch_loss > DIVERGENCE_FACTOR * first_loss:
        raise TrainingError(
            f"training diverged in epoch {epoch}: its mean loss ({epoch_loss:.4g}) is more than "
            f"{DIVERGENCE_FACTOR:g} times its first batch's ({first_loss:.4g}). Fix: {lower_lr_advice(lr)}. "
            f"Nothing of this epoch was saved; with a checkpoint_dir the model was put back to the end of the "
            f"last complete epoch.")


def _check_finite(unchecked, epoch: int, lr: float, part_sums: dict[str, float]) -> float:
    """Sum of the batch losses (each already times its batch size), adding the logged
    parts to ``part_sums``; a NaN or inf stops training with the batch that caused it."""
    values = torch.stack([value.float() for _, value, _ in unchecked]).tolist()
    for (step, _, _), value in zip(unchecked, values):
        if not math.isfinite(value):
            raise TrainingError(
                f"the loss became {value} at epoch {epoch}, batch {step}: training diverged. Fix: "
                f"{lower_lr_advice(lr)}, or check the inputs and the loss function. "
                f"With a checkpoint_dir the model was put back to the end of the last complete epoch.")
    for _, _, parts in unchecked:
        for name, value in parts.items():
            part_sums[name] = part_sums.get(name, 0.0) + float(value)
    return float(sum(values))
