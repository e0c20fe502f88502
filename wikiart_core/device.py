"""Which device to compute on, said out loud."""
from __future__ import annotations

import torch


class DeviceError(RuntimeError):
    """A device was asked for by name and is not there."""


def pick_device(device: str | torch.device = "auto", verbose: bool = False) -> torch.device:
    """``"auto"``: CUDA, then Apple MPS, then the CPU (falls back silently only here).
    A named device (``"cuda"``, ``"cuda:1"``, ``"mps"``, ``"cpu"``) must exist, else
    :class:`DeviceError` says what is there and what to pass instead."""
    if isinstance(device, torch.device):
        device = str(device)
    if device == "auto":
        if torch.cuda.is_available():
            chosen = torch.device("cuda")
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            chosen = torch.device("mps")
        else:
            chosen = torch.device("cpu")
        if verbose:
            name = torch.cuda.get_device_name(chosen) if chosen.type == "cuda" else chosen.type
            print(f"device: {chosen} ({name})")
        return chosen
    chosen = torch.device(device)
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device={device!r} was requested but no CUDA GPU is visible "
                              f"(CUDA_VISIBLE_DEVICES={__import__('os').environ.get('CUDA_VISIBLE_DEVICES')!r}). "
                              f"Fix: pass device='auto' to fall back to the CPU, or device='cpu'.")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise DeviceError(f"device={device!r} was requested but only {torch.cuda.device_count()} GPU(s) exist. "
                              f"Fix: use cuda:0 ... cuda:{torch.cuda.device_count() - 1}, or device='auto'.")
    if chosen.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise DeviceError(f"device={device!r} was requested but Apple MPS is not available. "
                          f"Fix: pass device='auto' or device='cpu'.")
    return chosen
