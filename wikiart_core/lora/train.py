"""LoRA fine-tuning of a text-to-image UNet: the diffusers recipe, as one readable loop.

The UNet, the VAE and the text encoder stay frozen. Low-rank adapters (peft LoRA, rank
4 by default) go on the UNet's attention projections ``to_q``, ``to_k``, ``to_v`` and
``to_out.0``; only they train. One step:

1. draw a class-balanced batch of training images (a style uniformly, then an image);
2. their latents: a sample of each image's VAE distribution (encoded once, cached);
3. noise them at uniformly random timesteps with the pipeline's noise schedule;
4. the UNet, conditioned on the caption of each image's style, predicts the noise
   (or the velocity, for v-prediction models); the loss is the mean squared error.

``accelerate`` carries the same code from one CPU to one GPU (bf16 or fp16 autocast) to
several GPUs (data parallel: ``accelerate launch -m wikiart_core lora ...``) or several
CPU processes (``torchrun --nproc_per_node 2``, gloo). Every draw (images, noise,
timesteps) is seeded by (seed, process, micro-step), so a resumed run draws exactly
what the uninterrupted run would have drawn.

The LoRA is saved every ``checkpoint_every`` steps and at the end as
``pytorch_lora_weights.safetensors`` (what ``pipeline.load_lora_weights(folder)``
reads) plus ``training_state.pt`` (step, losses, optimiser state, and what the run
trained with) for resuming. Both go through ``wikiart_core.files`` (atomic, readable
by the group); a full disk ends in a :class:`~wikiart_core.lora.LoraError` that says
which step the folder still holds. Ctrl-C is honoured between optimiser steps, so the
saved step, LoRA weights and optimiser state always describe the same step; a resume
with other training settings, or on other images, is refused.
"""
from __future__ import annotations

import dataclasses
import io
import math
import os
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import files
from . import ADAPTER_NAME, LORA_FILE_NAME, LoraError

STATE_FILE_NAME = "training_state.pt"
TARGET_MODULES = ("to_q", "to_k", "to_v", "to_out.0")  # the UNet's attention projections
# Settings a resume may change: neither alters what the steps compute (``steps`` may grow:
# a finished run resumed with more steps trains on). Every other LoraSettings field, and
# any added later, changes the trajectory, so a resume must keep it.
RESUMABLE_CHANGES = ("steps", "checkpoint_every")


@dataclass
class LoraSettings:
    """One LoRA run. ``from_profile`` reads ``profile.lora``; every field can be overridden.

    steps: optimiser steps. rank: LoRA rank r (alpha = r unless ``alpha`` is given, so
    the adapter's scale is 1). batch_size: images per process per micro-step.
    gradient_accumulation: micro-steps per optimiser step (effective batch =
    batch_size x gradient_accumulation x processes). lr: AdamW learning rate (constant).
    checkpoint_every: save the LoRA every this many steps (and at the end).
    mixed_precision: "auto" (bf16 on a CUDA GPU that has it, else fp16 on CUDA, none
    on the CPU), "bf16", "fp16" or "no". cache_latents: encode every image once.
    seed: draws of images, noise and timesteps, and the LoRA's initial weights.
    """

    steps: int = 1000
    rank: int = 4
    alpha: float | None = None
    batch_size: int = 4
    gradient_accumulation: int = 1
    lr: float = 1e-4
    checkpoint_every: int = 500
    max_grad_norm: float = 1.0
    weight_decay: float = 1e-2
    mixed_precision: str = "auto"
    cache_latents: bool = True
    seed: int = 0

    @classmethod
    def from_profile(cls, profile, **overrides: Any) -> "LoraSettings":
        """The settings of ``profile.lora`` (keys that are not fields, such as
        ``resolution`` or ``inference_steps``, are for the data and generation), with
        ``overrides`` (None values ignored) on top."""
        names = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in profile.lora.items() if key in names}
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls(**values)

    def __post_init__(self):
        for name in ("steps", "rank", "batch_size", "gradient_accumulation", "checkpoint_every"):
            if int(getattr(self, name)) < 1:
                raise LoraError(f"LoRA setting {name} must be at least 1, got {getattr(self, name)}")
        if self.mixed_precision not in ("auto", "bf16", "fp16", "no"):
            raise LoraError(f"mixed_precision must be auto, bf16, fp16 or no, got {self.mixed_precision!r}")


@dataclass
class LoraRun:
    """What a LoRA run did. ``losses``: the mean loss of every optimiser step so far
    (resumed runs include the earlier steps); ``peak_memory_bytes`` is None on the CPU."""

    out_dir: Path
    steps: int
    start_step: int
    losses: list[float]
    seconds: float
    trainable_parameters: int
    unet_parameters: int
    lora_file: Path | None
    lora_bytes: int
    device: str
    mixed_precision: str
    processes: int
    effective_batch: int
    peak_memory_bytes: int | None = None
    interrupted: bool = False
    settings: dict = field(default_factory=dict)
    saved_step: int | None = None  # the step that out_dir's files hold (None: nothing saved there)

    @property
    def trainable_share(self) -> float:
        """LoRA parameters / all UNet parameters (the UNet's own weights plus LoRA)."""
        return self.trainable_parameters / max(1, self.unet_parameters)

    def to_dict(self) -> dict:
        values = dataclasses.asdict(self)
        values.update(out_dir=str(self.out_dir), lora_file=str(self.lora_file) if self.lora_file else None,
                      trainable_share=self.trainable_share)
        return values


# --------------------------------------------------------------------------- the pieces


def make_accelerator(settings: LoraSettings, device: str = "auto"):
    """An ``accelerate.Accelerator`` for the run: ``device`` "cpu" (or no CUDA GPU)
    forces CPU processes (gloo when launched with several); mixed precision only on CUDA."""
    from accelerate import Accelerator

    use_cpu = str(device).startswith("cpu") or not torch.cuda.is_available()
    precision = settings.mixed_precision
    if use_cpu:
        precision = "no"  # bf16 autocast on CPUs is slow and not what the GPU recipe checks
    elif precision == "auto":
        precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return Accelerator(cpu=use_cpu, mixed_precision=precision,
                       gradient_accumulation_steps=settings.gradient_accumulation)


def add_lora(unet, rank: int, alpha: float | None = None, seed: int = 0) -> list[torch.nn.Parameter]:
    """Freeze ``unet`` and add LoRA adapters (``ADAPTER_NAME``) of ``rank`` on its
    attention projections. A starts Gaussian, B at zero, so the adapted UNet starts
    exactly as the base one. Returns the trainable (LoRA) parameters."""
    from peft import LoraConfig

    unet.requires_grad_(False)
    config = LoraConfig(r=rank, lora_alpha=alpha or rank, init_lora_weights="gaussian",
                        target_modules=list(TARGET_MODULES))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet.add_adapter(config, adapter_name=ADAPTER_NAME)
    trainable = [p for name, p in unet.named_parameters() if p.requires_grad]
    if not trainable or any("lora_" not in name for name, p in unet.named_parameters() if p.requires_grad):
        raise LoraError("adding LoRA left non-LoRA parameters trainable (or none): check the peft version")
    return trainable


def lora_state(unet) -> dict[str, torch.Tensor]:
    """The LoRA weights of ``unet`` (peft key names, CPU float32 copies)."""
    from peft.utils import get_peft_model_state_dict

    return {key: value.detach().to("cpu", torch.float32, copy=True)
            for key, value in get_peft_model_state_dict(unet, adapter_name=ADAPTER_NAME).items()}


def remove_lora(unet) -> None:
    """Take the training adapter off ``unet``: the pipeline is the base model again,
    down to its module structure when no other adapter is left (peft's wrappers go too)."""
    adapters = getattr(unet, "peft_config", None) or {}
    if ADAPTER_NAME not in adapters:
        return
    if set(adapters) == {ADAPTER_NAME}:
        unet.unload_lora()
    else:
        unet.delete_adapters(ADAPTER_NAME)


def save_lora(out_dir: Path, unet, *, step: int, losses: list[float], optimizer, settings: LoraSettings,
              extra: dict | None = None) -> Path:
    """Write ``out_dir/pytorch_lora_weights.safetensors`` (diffusers' format, with the
    LoRA config in its metadata) and ``out_dir/training_state.pt`` (the resume state:
    step, losses, LoRA weights, optimiser state, settings, and ``extra``).

    Both are serialised in memory, then written with ``files.atomic_write``: the state to
    a staged name beside its own, the LoRA file in place, and the staged state renamed
    over the old one last. A full disk (or an interrupt) while writing therefore leaves
    *both* previous files as they were, and the final rename needs no space. (A crash
    between the last two renames leaves a LoRA file one save ahead of the state; a
    resume recomputes those steps exactly, so nothing is lost.)

    Raises:
        files.DiskFullError: the disk (or quota) filled; both previous files are intact.
    Returns the safetensors file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = lora_file_bytes(unet)
    state = {"step": int(step), "losses": [float(x) for x in losses], "lora": lora_state(unet),
             "optimizer": optimizer.state_dict(), "settings": dataclasses.asdict(settings), **(extra or {})}
    # In memory first: torch.save into a file handle turns the handle's "no space left"
    # into a RuntimeError ("unexpected pos"); a plain write keeps the OSError.
    buffer = io.BytesIO()
    torch.save(state, buffer)
    staged = out_dir / f".{STATE_FILE_NAME}.staged"
    files.atomic_write(staged, lambda handle: handle.write(buffer.getbuffer()))
    try:
        files.atomic_write(out_dir / LORA_FILE_NAME, lambda handle: handle.write(weights))
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    # Not fsynced folder-wise: if a power cut loses this rename, the folder holds the
    # previous state beside the newer LoRA file, the crash case above (nothing lost).
    os.replace(staged, out_dir / STATE_FILE_NAME)
    return out_dir / LORA_FILE_NAME


def lora_file_bytes(unet) -> bytes:
    """The adapter of ``unet`` as a safetensors file's bytes, holding what diffusers'
    ``save_lora_weights`` writes (``unet.``-prefixed diffusers key names; metadata
    ``format: pt`` and the adapter's LoRA config, which ``load_lora_weights`` reads back
    for rank and alpha). Built here rather than by ``save_lora_weights`` because that
    writes the file itself, neither atomically nor with a named full-disk error."""
    import json

    from diffusers.loaders.lora_base import LORA_ADAPTER_METADATA_KEY
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save

    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet, adapter_name=ADAPTER_NAME))
    tensors = {f"unet.{key}": value.detach().to("cpu").contiguous() for key, value in layers.items()}
    config = {f"unet.{key}": list(value) if isinstance(value, set) else value
              for key, value in unet.peft_config[ADAPTER_NAME].to_dict().items()}
    metadata = {"format": "pt", LORA_ADAPTER_METADATA_KEY: json.dumps(config, indent=2, sort_keys=True)}
    return save(tensors, metadata=metadata)


def read_training_state(out_dir: Path) -> dict | None:
    """The resume state in ``out_dir`` (None when there is none)."""
    path = Path(out_dir) / STATE_FILE_NAME
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a truncated or foreign file: say which, and what to do
        raise LoraError(f"{path} cannot be read as a LoRA training state ({exc}). Fix: delete it to start "
                        f"afresh, or choose another --out folder.") from exc


def run_record(captions, processes: int, mixed_precision: str) -> dict:
    """What a run trains with besides its :class:`LoraSettings`, saved in the resume state
    and compared on resume: the number of processes (each draws its own images), the
    autocast actually used ("no", "bf16", "fp16"), the styles, their captions and the
    training images (``CaptionedImages.record``)."""
    return {"processes": int(processes), "mixed_precision_used": str(mixed_precision),
            "classes": list(captions.classes), "captions": list(captions.captions), "data": captions.record()}


def _shown(value) -> str:
    """A saved or asked-for value in a refusal: lists by their length and first items."""
    if isinstance(value, (list, tuple)) and len(value) > 3:
        return f"[{', '.join(repr(item) for item in value[:2])}, ... ({len(value)} in all)]"
    return repr(value)


def resume_differences(state: dict, settings: LoraSettings, record: dict) -> list[tuple[str, Any, Any]]:
    """(name, saved value, this run's value) for everything that differs between a saved
    run and this one and would change its trajectory.

    A settings field missing from an older state counts as its default (a field is added
    with the default that reproduces the earlier behaviour). Entries of ``record`` missing
    from an older state are not compared here (see :func:`_check_resumable`)."""
    saved_settings = state.get("settings", {})
    differences = []
    for spec in dataclasses.fields(LoraSettings):
        if spec.name in RESUMABLE_CHANGES:
            continue
        saved = saved_settings.get(spec.name, spec.default)
        asked = getattr(settings, spec.name)
        if saved != asked:
            differences.append((spec.name, saved, asked))
    saved_data, data = state.get("data") or {}, record["data"]
    entries = [(name, state[name], record[name]) for name in record if name != "data" and name in state]
    entries += [(name, saved_data[name], data[name]) for name in data if name in saved_data]
    differences += [(name, saved, asked) for name, saved, asked in entries if saved != asked]
    return differences


def _check_resumable(state: dict, settings: LoraSettings, record: dict, path: Path) -> None:
    """Refuse to continue a saved run with anything that changes its trajectory.

    Resuming with another lr, batch, seed or training set would silently mix two runs,
    and the run record would claim settings that were never used. ``steps`` may grow and
    ``checkpoint_every`` change (:data:`RESUMABLE_CHANGES`).

    A state saved before the training images were recorded (no ``data`` entry) cannot be
    checked for them: it is accepted only when nothing is left to train (a finished run
    reused as it is, e.g. a notebook re-run with resume), and refused otherwise.

    Raises:
        LoraError: naming each differing setting with its saved and asked-for value, and the fix.
    """
    state_file = path / STATE_FILE_NAME
    fix = ("Fix: run with the saved settings to continue that run, or use another --out folder "
           "(or --restart / resume=False to start afresh there).")
    differences = resume_differences(state, settings, record)
    if differences:
        listed = "; ".join(f"{name}={_shown(saved)} there, {name}={_shown(asked)} now"
                           for name, saved, asked in differences)
        raise LoraError(f"{state_file} was trained with other settings than this run asks for: {listed}. "
                        f"Resuming would mix two runs. {fix}")
    if "data" not in state and int(state.get("step", 0)) < settings.steps:
        raise LoraError(f"{state_file} was saved by an earlier version that did not record its training images "
                        f"(images per style, their selection, the files), so continuing it to {settings.steps} "
                        f"steps cannot be checked to train on the same images. Fix: --restart / resume=False to "
                        f"start afresh there, or another --out folder.")


def _disk_full_while_saving(error: OSError, out_dir: Path, step: int, saved_step: int | None) -> LoraError:
    """The one-line message of a full disk while saving the LoRA of ``step``: the folder,
    the space left, what the folder still holds, and that the same command resumes."""
    try:
        free = f"{shutil.disk_usage(out_dir).free / 2**20:.1f} MB free there"
    except OSError:
        free = "free space unknown"
    held = (f"the last saved step ({saved_step}) is intact there" if saved_step is not None
            else "nothing had been saved there yet")
    resumes = f"it resumes from step {saved_step}" if saved_step is not None else "it starts from step 0"
    return LoraError(f"the disk is full: saving the LoRA of step {step} into {out_dir} failed ({free}); {held}. "
                     f"Fix: free space on that disk and re-run the same command: {resumes}.")


class _InterruptLatch:
    """Holds Ctrl-C (SIGINT) until the running optimiser step has finished.

    Why defer rather than catch the KeyboardInterrupt and repair the bookkeeping: the
    interrupt can land anywhere, also *inside* ``optimizer.step()`` (AdamW updates the
    parameters one after another on the CPU; with fp16 the grad scaler steps, then
    updates), where some adapters hold the next step and others do not. No ``except``
    branch can save a state that a step count describes then. Deferred, the update, the
    loss and the counter of a step always move together: the step finishes, then the
    loop stops and saves it. The wait is at most one step.

    A second Ctrl-C raises KeyboardInterrupt at once: the way out of a step that hangs
    (e.g. a collective waiting for a dead process). ``train_lora`` then saves only if it
    did not land inside an update.

    Installed only in the main thread (Python runs signal handlers there, and
    ``signal.signal`` refuses elsewhere) and only over a handler set from Python (the
    default one, ipykernel's, SIG_DFL), which it restores; a SIGINT that is ignored stays
    ignored. Elsewhere ``requested`` stays False and a KeyboardInterrupt arrives as usual.
    """

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "_InterruptLatch":
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if previous is not None and previous is not signal.SIG_IGN:
                self._previous = previous
                signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None


def _reduce_step(accelerator, step_loss: torch.Tensor, stop_requested: bool) -> tuple[float, bool]:
    """(the step's loss averaged over the processes, whether any process was asked to
    stop). One collective for both, so that every process stops after the same step: one
    that left the loop alone would leave the others waiting in the next gradient reduce."""
    flag = torch.full((), float(stop_requested), device=step_loss.device)
    loss, stop = accelerator.reduce(torch.stack([step_loss.float(), flag]), reduction="mean").tolist()
    return loss, stop > 0


def _micro_step_draws(seed: int, process: int, micro_step: int, count: int, targets: np.ndarray,
                      num_timesteps: int):
    """The batch of one micro-step: (image indices, torch generator for noise, timesteps).
    Seeded by (seed, process, micro_step), so it does not depend on what ran before."""
    from .captions import balanced_indices

    rng = np.random.default_rng([int(seed), int(process), int(micro_step)])
    indices = balanced_indices(targets, count, rng)
    timesteps = torch.from_numpy(rng.integers(0, num_timesteps, size=count)).long()
    generator = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
    return indices, generator, timesteps


@torch.no_grad()
def caption_embeddings(text_encoder, input_ids: torch.Tensor, device, dtype) -> torch.Tensor:
    """(C, L, D) text-encoder states of the C style captions, computed once: the text
    encoder is frozen and there are only C distinct captions."""
    return text_encoder(input_ids.to(device))[0].to(dtype)


# --------------------------------------------------------------------------- the loop


def train_lora(pipeline, captions, settings: LoraSettings, out_dir: str | os.PathLike, *, resume: bool = True,
               device: str = "auto", accelerator=None, latent_cache: str | os.PathLike | None = None,
               progress: bool | None = None, log: Callable[[str], None] = print,
               keep_adapter: bool = False) -> LoraRun:
    """Fine-tune ``pipeline.unet`` with LoRA on ``captions``; save to ``out_dir``.

    Args:
        pipeline: a Stable-Diffusion-style pipeline (:func:`~wikiart_core.lora.pipeline.load_text_to_image`).
            Its UNet, VAE and text encoder are frozen and moved to the run's device.
        captions: :class:`~wikiart_core.lora.captions.CaptionedImages` at the pipeline's resolution.
        settings: :class:`LoraSettings`.
        out_dir: where the LoRA and the resume state are saved.
        resume: continue from ``out_dir/training_state.pt`` when it exists. Only with the
            same settings and training images (:func:`_check_resumable`; ``steps`` may grow:
            a finished run resumed with more ``steps`` trains on).
        device: "auto" or "cpu" (ignored when ``accelerator`` is given).
        accelerator: an ``accelerate.Accelerator``; default :func:`make_accelerator`.
        latent_cache: file for the latents (see ``captions.latent_cache_file``); None
            keeps them in memory only.
        progress: a tqdm.auto bar with the loss (None: shown unless ``$TQDM_DISABLE``
            is set, as ``make test`` and ``make report`` do); only the main process shows one.
        log: where the few summary lines go (main process only).
        keep_adapter: leave the trained adapter on ``pipeline.unet`` (default: take it
            off, so the pipeline is the base model again and the saved file is the LoRA).

    Returns:
        :class:`LoraRun`. Ctrl-C lets the running step finish, saves it and comes back with
        ``interrupted=True`` (a second Ctrl-C stops at once; see :class:`_InterruptLatch`).

    Raises:
        LoraError: a resume with other settings or images; a non-finite loss; a full disk
            while saving (the message says which step the folder still holds).
    """
    from diffusers import DDPMScheduler
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    accelerator = accelerator or make_accelerator(settings, device)
    main = accelerator.is_main_process
    say = log if main else (lambda _message: None)
    processes = accelerator.num_processes
    record = run_record(captions, processes, accelerator.mixed_precision)
    state = read_training_state(out_dir) if resume else None
    if state is not None:  # before any work: a refused resume should not first encode every image
        _check_resumable(state, settings, record, out_dir)
    weight_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(str(accelerator.mixed_precision),
                                                                         torch.float32)
    unet, vae, text_encoder = pipeline.unet, pipeline.vae, pipeline.text_encoder
    remove_lora(unet)  # a pipeline trained before starts from its base weights
    for frozen in (unet, vae, text_encoder):
        frozen.requires_grad_(False)
        frozen.to(accelerator.device, dtype=weight_dtype)
    trainable = add_lora(unet, settings.rank, settings.alpha, settings.seed)
    for parameter in trainable:  # the adapters train in float32 even when the frozen weights are bf16/fp16
        parameter.data = parameter.data.float()
    n_trainable = sum(p.numel() for p in trainable)
    n_unet = sum(p.numel() for p in unet.parameters())

    embeddings = caption_embeddings(text_encoder, captions.input_ids, accelerator.device, weight_dtype)
    latents = None
    if settings.cache_latents:
        with accelerator.main_process_first():  # one process encodes and caches, the others read the cache
            latents = encode_latents_for(captions, vae, accelerator.device, weight_dtype, latent_cache)
    scaling = float(vae.config.scaling_factor)
    noise_scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)
    num_timesteps = int(noise_scheduler.config.num_train_timesteps)
    targets = captions.targets

    optimizer = torch.optim.AdamW(trainable, lr=settings.lr, weight_decay=settings.weight_decay)
    start_step, losses, saved_step = 0, [], None
    if state is not None:
        from peft.utils import set_peft_model_state_dict

        set_peft_model_state_dict(unet, state["lora"], adapter_name=ADAPTER_NAME)
        optimizer.load_state_dict(state["optimizer"])
        start_step, losses = int(state["step"]), list(state["losses"])
        saved_step = start_step
        say(f"resumed from {out_dir / STATE_FILE_NAME} at step {start_step}")
    unet_trained, optimizer = accelerator.prepare(unet, optimizer)
    effective_batch = settings.batch_size * settings.gradient_accumulation * processes
    say(f"LoRA rank {settings.rank} on {', '.join(TARGET_MODULES)}: {n_trainable:,} trainable parameters of "
        f"{n_unet:,} in the UNet ({100 * n_trainable / n_unet:.3f}%); {len(captions)} images, "
        f"{len(set(targets.tolist()))} styles; {processes} process(es) on {accelerator.device.type}, "
        f"mixed precision {accelerator.mixed_precision}, effective batch {effective_batch}")

    on_cuda = accelerator.device.type == "cuda"
    if on_cuda:
        torch.cuda.reset_peak_memory_stats(accelerator.device)
    if progress is None:
        # tqdm.auto's notebook bar ignores $TQDM_DISABLE (only the console bar reads it): ask here.
        progress = os.environ.get("TQDM_DISABLE", "").strip().lower() not in ("1", "true", "yes", "on")
    bar = tqdm(total=settings.steps, initial=start_step, desc="LoRA", unit="step", leave=False,
               disable=not (progress and main))

    def save(step: int, wait: bool = True) -> int:
        """Save ``step`` (LoRA file and resume state); returns it as the new saved step."""
        try:
            _save_on_main(accelerator, out_dir, unet_trained, step, losses, optimizer, settings, record, wait=wait)
        except files.DiskFullError as error:
            raise _disk_full_while_saving(error, out_dir, step, saved_step) from error
        return step

    step, interrupted, updating, started = start_step, False, False, time.perf_counter()
    unet_trained.train()
    with _InterruptLatch() as latch:
        try:
            while step < settings.steps:
                step_loss = torch.zeros((), device=accelerator.device)
                for micro in range(settings.gradient_accumulation):
                    micro_step = step * settings.gradient_accumulation + micro
                    indices, generator, timesteps = _micro_step_draws(
                        settings.seed, accelerator.process_index, micro_step, settings.batch_size, targets,
                        num_timesteps)
                    with accelerator.accumulate(unet_trained):
                        loss = _diffusion_loss(unet_trained, captions, indices, generator, timesteps, latents, vae,
                                               embeddings, noise_scheduler, scaling, accelerator.device, weight_dtype)
                        accelerator.backward(loss)
                        if accelerator.sync_gradients:
                            accelerator.clip_grad_norm_(trainable, settings.max_grad_norm)
                            updating = True  # from here the weights run ahead of `step` until it counts this one
                        optimizer.step()
                        optimizer.zero_grad(set_to_none=True)
                    step_loss += loss.detach() / settings.gradient_accumulation
                mean_loss, stop = _reduce_step(accelerator, step_loss, latch.requested)
                if not math.isfinite(mean_loss):
                    raise LoraError(f"the loss became {mean_loss} at step {step + 1}. Fix: lower the learning rate "
                                    f"(now {settings.lr:g}) or use mixed_precision='bf16' instead of fp16.")
                losses.append(mean_loss)
                step += 1
                updating = False
                bar.update(1)
                bar.set_postfix(loss=f"{mean_loss:.4f}")
                if step % settings.checkpoint_every == 0 or step == settings.steps:
                    saved_step = save(step)
                if stop:  # a Ctrl-C during this step, on any process: every process stops here
                    interrupted = True
                    break
        except KeyboardInterrupt:  # a second Ctrl-C, or one where the latch is not installed
            interrupted = True
            if updating:
                say(f"interrupted inside the optimiser update of step {step + 1}: nothing saved now, "
                    f"{_holding(out_dir, saved_step)}")
            elif saved_step != step:
                # Each process may stand elsewhere in its step: no barrier, the main process saves alone.
                saved_step = save(step, wait=False)
        finally:
            bar.close()
        if interrupted and not updating:
            if saved_step != step:
                saved_step = save(step)
            say(f"interrupted at step {step} of {settings.steps}; {_holding(out_dir, saved_step)}")
    lora_file = out_dir / LORA_FILE_NAME if (out_dir / LORA_FILE_NAME).is_file() else None
    seconds = time.perf_counter() - started
    peak = int(torch.cuda.max_memory_allocated(accelerator.device)) if on_cuda else None
    accelerator.unwrap_model(unet_trained, keep_fp32_wrapper=False)  # takes accelerate's autocast off unet.forward
    unet.eval()
    if not keep_adapter:
        remove_lora(unet)
    accelerator.free_memory()
    run = LoraRun(out_dir=out_dir, steps=step, start_step=start_step, losses=losses, seconds=seconds,
                  trainable_parameters=n_trainable, unet_parameters=n_unet, lora_file=lora_file,
                  lora_bytes=lora_file.stat().st_size if lora_file and lora_file.is_file() else 0,
                  device=str(accelerator.device), mixed_precision=str(accelerator.mixed_precision),
                  processes=processes, effective_batch=effective_batch, peak_memory_bytes=peak,
                  interrupted=interrupted, settings=dataclasses.asdict(settings), saved_step=saved_step)
    if not interrupted and step > start_step:
        say(f"{step - start_step} steps in {seconds:.1f} s, last loss {losses[-1]:.4f}; "
            f"saved {lora_file.parent.name}/{lora_file.name}")
    return run


def _holding(out_dir: Path, saved_step: int | None) -> str:
    """What ``out_dir`` holds after an interrupt, and how to go on."""
    if saved_step is None:
        return f"nothing saved in {out_dir} yet; run again to start afresh"
    return f"{out_dir} holds step {saved_step}; run again with resume to continue from there"


def encode_latents_for(captions, vae, device, dtype, cache_file) -> torch.Tensor:
    """``captions.encode_latents`` with the VAE on the run's device (VAE in eval mode)."""
    from .captions import encode_latents

    vae.eval()
    return encode_latents(captions, vae, device=device, dtype=dtype, cache_file=cache_file)


def _diffusion_loss(unet, captions, indices, generator, timesteps, latents, vae, embeddings, noise_scheduler,
                    scaling: float, device, weight_dtype) -> torch.Tensor:
    """The noise-prediction MSE of one micro-batch (float32 scalar)."""
    from .captions import sample_latents

    labels = torch.from_numpy(captions.targets[indices])
    if latents is not None:
        clean = sample_latents(latents[torch.from_numpy(indices)], generator)
    else:
        pixels, _ = captions.pixels(indices)
        with torch.no_grad():
            clean = vae.encode(pixels.to(device, weight_dtype)).latent_dist.sample(generator=None).float().cpu()
    clean = (clean * scaling).to(device)
    noise = torch.randn(clean.shape, generator=generator).to(device)
    timesteps = timesteps.to(device)
    noisy = noise_scheduler.add_noise(clean, noise, timesteps)
    if noise_scheduler.config.prediction_type == "v_prediction":
        target = noise_scheduler.get_velocity(clean, noise, timesteps)
    else:
        target = noise
    prediction = unet(noisy.to(weight_dtype), timesteps, encoder_hidden_states=embeddings[labels.to(device)]).sample
    return torch.nn.functional.mse_loss(prediction.float(), target.float())


def _save_on_main(accelerator, out_dir, unet_trained, step, losses, optimizer, settings, extra,
                  wait: bool = True) -> Path:
    """:func:`save_lora` on the main process only: every process holds the same LoRA
    (gradients are averaged), so one writes it. ``wait``: barriers around the save (off
    when the processes may not all arrive, after an uncoordinated interrupt)."""
    if wait:
        accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        save_lora(out_dir, accelerator.unwrap_model(unet_trained), step=step, losses=losses, optimizer=optimizer,
                  settings=settings, extra=extra)
    if wait:
        accelerator.wait_for_everyone()
    return out_dir / LORA_FILE_NAME


def lora_hash(unet) -> str:
    """A SHA-256 over the LoRA weights of ``unet`` (names and bytes): equal hashes,
    equal adapters (how the multi-process test compares the processes)."""
    import hashlib

    digest = hashlib.sha256()
    for key, value in sorted(lora_state(unet).items()):
        digest.update(key.encode())
        digest.update(value.numpy().tobytes())
    return digest.hexdigest()
