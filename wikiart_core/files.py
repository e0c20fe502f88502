"""Writing result files so that an interrupt, a full disk or a crash never leaves half of one.

Every file the workbook writes for a person to keep (checkpoints, LoRA weights, the
JSON records of a run, figures of the command line) goes through :func:`atomic_write`:
the bytes go to a temporary file in the same folder, are flushed to disk and renamed
over the target, so the target holds either the previous complete file or the new
complete one. The file is then readable by the group (``0o666`` minus the umask, as
``open`` would make it), not ``0o600`` as temporary files are, so a team on a shared
server can read each other's results.

A full disk (or quota) ends in :class:`DiskFullError`, whose message names the folder,
how much had been written and how much is free. This module imports nothing else of
the package: every writer can use it.
"""
from __future__ import annotations

import errno
import io
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import IO, Any, Callable

_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class DiskFullError(OSError):
    """The disk (or quota) filled while writing a file; the previous file is intact.
    The message names the folder, the bytes written so far and the space left."""


def _megabytes(count: int) -> str:
    return f"{count / 2**20:.1f} MB"


def _readable_mode() -> int:
    """``0o666`` minus the process's umask: the mode ``open()`` gives a new file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def _fsync_folder(folder: Path) -> None:
    """Make a rename in ``folder`` durable (POSIX); harmless to skip where unsupported."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def disk_full_message(path: Path, written: int | None = None, needed: int | None = None) -> str:
    """One sentence for a full disk while writing ``path``: folder, bytes needed (or
    written before it failed), space free."""
    folder = Path(path).parent
    try:
        free = f"{_megabytes(shutil.disk_usage(folder).free)} free there"
    except OSError:
        free = "free space unknown"
    if needed:
        size = f"; it needs {_megabytes(needed)}"
    elif written:
        size = f" after {_megabytes(written)} of it had been written"
    else:
        size = ""
    return (f"the disk is full: writing {Path(path).name} into {folder} failed{size} ({free}). "
            f"The previous {Path(path).name}, if any, is intact. Fix: free space on that disk (or write to "
            f"another folder) and run again")


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], Any], *, needed: int | None = None) -> Path:
    """Call ``write(binary file handle)`` and put what it wrote at ``path`` atomically.

    The parent folder is created. On any failure the temporary file is removed and
    ``path`` keeps its previous contents (or stays absent). ``needed``: the size in
    bytes when known beforehand (said in the full-disk message).

    Raises:
        DiskFullError: no space (or quota) left; names the folder and the sizes.
    Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    written = 0
    try:
        with handle:
            write(handle)
            written = handle.tell()
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, _readable_mode())
        os.replace(handle.name, path)
    except OSError as error:
        written = written or _size(handle.name)
        Path(handle.name).unlink(missing_ok=True)
        if error.errno in _FULL:
            raise DiskFullError(disk_full_message(path, written, needed)) from None
        raise
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _size(name: str) -> int | None:
    try:
        return os.path.getsize(name)
    except OSError:
        return None


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda handle: handle.write(data), needed=len(data))


def write_text(path: str | os.PathLike, text: str) -> Path:
    """``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    return write_bytes(path, text.encode("utf-8"))


def write_torch(path: str | os.PathLike, value: Any) -> Path:
    """``torch.save(value)`` to ``path`` so that ``path`` never holds half a file
    (:func:`atomic_write`: temporary file, flush, rename; readable by the group).

    The bytes are made in memory first: torch's writer reports a full disk as a bare
    ``RuntimeError: unexpected pos``, while a plain write of the bytes raises ENOSPC,
    which becomes a DiskFullError naming the folder and the size needed.

    Raises:
        DiskFullError: the disk filled; the previous file is intact.
    Returns ``path``."""
    import torch  # here, not at the top: the JSON and figure writers need no torch

    buffer = io.BytesIO()
    torch.save(value, buffer)
    return write_bytes(path, buffer.getbuffer())


def write_json(path: str | os.PathLike, values: Any, **dump_options: Any) -> Path:
    """``values`` as indented JSON (one trailing newline) to ``path`` atomically.
    ``dump_options`` go to ``json.dumps`` (e.g. ``default=str``)."""
    return write_text(path, json.dumps(values, indent=1, **dump_options) + "\n")


def save_figure(figure, path: str | os.PathLike, **savefig_options: Any) -> Path:
    """``figure.savefig`` to ``path`` atomically, in the format its suffix names."""
    path = Path(path)
    file_format = path.suffix.lstrip(".").lower() or "png"
    return atomic_write(path, lambda handle: figure.savefig(handle, format=file_format, **savefig_options))
