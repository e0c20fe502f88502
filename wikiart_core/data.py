"""Style folders → uint8 image tensors, with a stable label mapping and a decode cache.

``WikiArtDataset(root)`` reads an ImageFolder layout (``root/<Style>/<file>.jpg``).
Its label mapping is the *sorted* list of style folders, or exactly the ``classes``
it is given, so the test split always uses the train split's mapping. (The course
code built the mapping with ``list(set(...))``, whose order changes with Python's
hash seed: see ``wikiart_core.parts.bonus_a``.)

Images are decoded once with Pillow (JPEG draft mode, EXIF orientation, any mode →
RGB, resized to ``image_size``) in parallel threads, and kept as uint8 in a
memory-mapped ``.npy`` under ``cache_dir``. The cache key covers the file list, file
sizes, modification times, ``image_size`` and the class list, so a changed file or
a new size re-decodes and everything else reads straight from the cache.

Files that cannot be images are refused, not fatal: they are listed in
``.skipped`` as ``(path, reason)`` and reported in one warning.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
CACHE_FORMAT_VERSION = 1


class DataError(ValueError):
    """A dataset folder that cannot be used as it is; the message names it and the fix."""


class SkippedFilesWarning(UserWarning):
    """Some files in a dataset folder were refused (see ``dataset.skipped``)."""


# --------------------------------------------------------------------------- decoding


class ImageRefused(Exception):
    """A file that is not a usable image; the message is the reason shown to the user
    (the caller adds the path)."""


# The largest image side the workbook decodes or builds a model for: far above WikiArt's
# 416 px, and a bound on what a number read from a file can make it allocate.
MAX_IMAGE_SIDE = 2048


def check_image_size(size, where: str) -> int:
    """``size`` as an int when it is a whole number of pixels in [8, MAX_IMAGE_SIDE], else
    DataError naming ``where`` it came from (a checkpoint, a flag)."""
    if isinstance(size, bool) or not isinstance(size, (int, float)) or size != int(size) \
            or not 8 <= int(size) <= MAX_IMAGE_SIDE:
        raise DataError(f"{where}: image size {size!r} is not a whole number of pixels between 8 and "
                        f"{MAX_IMAGE_SIDE}. Fix: use a file written by this workbook, or a size in that range.")
    return int(size)


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode → RGB; transparency is composited on white, 16/32-bit grey scaled to 8 bits."""
    if image.mode == "RGB":
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        high = 65535.0 if image.mode.startswith("I;16") or values.max() > 255 else 255.0
        grey = np.clip(values / high * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    # L, 1, CMYK, YCbCr, LAB, HSV ...: Pillow's own conversions are right for these.
    return image.convert("RGB")


def decode_image(path: str | os.PathLike, image_size: int) -> np.ndarray:
    """Decode one file to a (3, image_size, image_size) uint8 array.

    JPEG draft mode decodes at a reduced scale close to the target (much faster on
    416 px files), EXIF orientation is applied, then the shorter side is resized to
    ``image_size`` and the centre cropped square.

    Raises:
        ImageRefused: with a one-line reason, for anything that is not a usable image.
    """
    path = Path(path)
    try:
        size_bytes = path.stat().st_size
    except OSError as exc:  # broken symlink, symlink loop, vanished file
        raise ImageRefused(f"cannot be read ({exc.strerror or exc})") from None
    if size_bytes == 0:
        raise ImageRefused("empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            # A DecompressionBombWarning (between 1x and 2x Pillow's limit) is a refusal here too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                width, height = image.size
                if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
                    raise ImageRefused(f"decompression bomb: header claims {width}x{height} pixels, "
                                   f"above Pillow's limit of {Image.MAX_IMAGE_PIXELS}")
                if image.format == "JPEG":
                    # draft() picks the largest 1/2, 1/4, 1/8 scale that stays >= the request.
                    scale = image_size / min(width, height)
                    image.draft("RGB", (max(1, round(width * scale)), max(1, round(height * scale))))
                image.load()
                # EXIF parsing and mode conversion can still meet corrupt data: same handler.
                image = _to_rgb(ImageOps.exif_transpose(image))
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRefused(f"decompression bomb ({exc})") from None
    except Image.UnidentifiedImageError:
        raise ImageRefused("not an image Pillow can identify") from None
    except OSError as exc:
        message = str(exc)
        if "truncated" in message.lower():
            raise ImageRefused("truncated image file") from None
        raise ImageRefused(f"cannot be decoded ({message})") from None
    except (ValueError, SyntaxError, struct.error) as exc:  # corrupt headers and chunks
        raise ImageRefused(f"corrupt image ({type(exc).__name__}: {exc})") from None
    # From here on the pixels are valid: errors are bugs and must surface, not be "refused".
    image = ImageOps.fit(image, (image_size, image_size), Image.Resampling.BICUBIC)
    array = np.asarray(image, dtype=np.uint8)
    return np.ascontiguousarray(array.transpose(2, 0, 1))


# --------------------------------------------------------------------------- scanning


@dataclass(frozen=True)
class _ScannedFile:
    path: str
    label: int
    size: int
    mtime_ns: int


def _is_candidate(name: str) -> bool:
    return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_EXTENSIONS


def list_style_folders(root: Path) -> list[str]:
    """Names of the visible sub-folders of ``root``, sorted (the label order)."""
    return sorted(entry.name for entry in os.scandir(root)
                  if entry.is_dir() and not entry.name.startswith("."))


def _scan(root: Path, classes: Sequence[str], unknown_styles: str) -> tuple[list[_ScannedFile], list[tuple[str, str]], set[int]]:
    """Every image-like file under each style folder, the files that cannot even be
    stat'ed, and the labels whose folder exists (for the empty-folder check)."""
    present = list_style_folders(root)
    unknown = [style for style in present if style not in classes]
    if unknown:
        if unknown_styles == "error":
            raise DataError(
                f"{root}: style folder(s) {unknown} are not in the class list ({len(classes)} styles, "
                f"taken from the train split). Fix: remove or rename them, or pass unknown_styles='drop'.")
        warnings.warn(f"{root}: dropping style folder(s) {unknown}, which the train split lacks.",
                      stacklevel=3)
    files: list[_ScannedFile] = []
    refused: list[tuple[str, str]] = []
    folders_present: set[int] = set()
    for label, style in enumerate(classes):
        folder = root / style
        if not folder.is_dir():
            continue  # a style with no images in this split (e.g. a small test split) is fine
        folders_present.add(label)
        for dirpath, dirnames, filenames in os.walk(folder):  # does not follow symlinked folders: no loops
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for filename in sorted(filenames):
                if not _is_candidate(filename):
                    continue  # hidden files, Thumbs.db, notes.txt: not images, not reported
                path = os.path.join(dirpath, filename)
                try:
                    stat = os.stat(path)
                except OSError as exc:
                    refused.append((path, f"cannot be read ({exc.strerror or exc})"))
                    continue
                files.append(_ScannedFile(path, label, stat.st_size, stat.st_mtime_ns))
    return files, refused, folders_present


def folder_counts(root: str | os.PathLike, classes: Sequence[str]) -> dict[str, int]:
    """Image-like files per style folder of ``root`` (no decoding: refused files count
    too), in ``classes`` order; a missing folder counts 0. For tables that describe the
    whole folder whatever the profile's caps."""
    root = Path(root)
    counts = {}
    for style in classes:
        folder = root / style
        counts[style] = sum(1 for dirpath, _dirs, names in os.walk(folder) for name in names
                            if _is_candidate(name)) if folder.is_dir() else 0
    return counts


# --------------------------------------------------------------------------- the dataset


class WikiArtDataset(torch.utils.data.Dataset):
    """Paintings in ``root/<Style>/<file>`` as uint8 tensors with stable labels.

    Args:
        root: split folder with one sub-folder per style.
        image_size: side of the square images, pixels.
        classes: the label order to use (pass the train split's ``.classes`` when
            building the test split); default: the sorted style folders of ``root``.
        cache_dir: where the decoded uint8 cache lives; None keeps it in memory only.
        unknown_styles: ``"error"`` (default) or ``"drop"`` for style folders not in
            ``classes``.
        workers: decoding threads for the first pass (default: all cores).
        progress: show a progress bar while decoding.

    Items are ``(image, label)``: a (3, image_size, image_size) uint8 tensor and an int.
    Use :meth:`get_batch` to read many at once (what the training loops do).

    Attributes:
        classes, class_to_idx, targets (list[int]), skipped (list of (path, reason)).
    """

    def __init__(self, root: str | os.PathLike, image_size: int = 64, classes: Sequence[str] | None = None,
                 cache_dir: str | os.PathLike | None = None, *, unknown_styles: str = "error",
                 workers: int | None = None, progress: bool = True):
        self.root = Path(root).expanduser()
        if not self.root.is_dir():
            raise FileNotFoundError(f"Dataset folder {self.root} does not exist. Fix: check the path "
                                    f"(data_paths.yaml), or generate the embedded data: python -m wikiart_core synth")
        if unknown_styles not in ("error", "drop"):
            raise ValueError("unknown_styles must be 'error' or 'drop'")
        self.image_size = int(image_size)
        if classes is None:
            classes = list_style_folders(self.root)
            if not classes:
                raise DataError(f"{self.root}: no style folders inside. Fix: point at a folder laid out "
                                f"as <root>/<Style>/<image files>.")
        self.classes: list[str] = list(classes)
        self.class_to_idx = {style: index for index, style in enumerate(self.classes)}
        files, refused, folders_present = _scan(self.root, self.classes, unknown_styles)
        self._images, kept, decode_refused = self._load(files, cache_dir, workers, progress)
        self.skipped: list[tuple[str, str]] = refused + decode_refused
        self.paths: list[str] = [f.path for f in kept]
        self.targets: list[int] = [f.label for f in kept]
        self._rows = np.arange(len(kept))
        self._check_each_style_kept(folders_present)
        if self.skipped:
            reasons: dict[str, int] = {}
            for _path, reason in self.skipped:
                kind = reason.split(" (")[0]  # "cannot be decoded (details)" -> "cannot be decoded"
                reasons[kind] = reasons.get(kind, 0) + 1
            summary = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
            warnings.warn(f"{self.root}: skipped {len(self.skipped)} file(s) that are not usable images "
                          f"({summary}); see .skipped for the list.", SkippedFilesWarning, stacklevel=2)

    # ---- loading

    def _cache_key(self, files: list[_ScannedFile]) -> str:
        digest = hashlib.sha256()
        digest.update(json.dumps([CACHE_FORMAT_VERSION, self.image_size, self.classes]).encode())
        for f in files:
            digest.update(f"{f.path}\0{f.label}\0{f.size}\0{f.mtime_ns}\n".encode())
        return digest.hexdigest()[:20]

    def _load(self, files, cache_dir, workers, progress):
        cache_base = None
        if cache_dir is not None:
            cache_dir = Path(cache_dir)
            cache_dir.mkdir(parents=True, exist_ok=True)
            root_tag = hashlib.sha256(str(self.root.resolve()).encode()).hexdigest()[:8]
            stem = f"{self.root.name}-{root_tag}-{self.image_size}px"
            cache_base = cache_dir / f"{stem}-{self._cache_key(files)}"
            cached = self._read_cache(cache_base, files)
            if cached is not None:
                return cached
        shape = (len(files), 3, self.image_size, self.image_size)
        partial = None
        if cache_base is not None:
            # Decode straight into the memory-mapped cache file: no second full copy of the
            # dataset in memory, and the OS can write pages back while decoding goes on.
            self._remove_stale_caches(cache_base)
            partial = cache_base.with_name(cache_base.name + ".tmp.npy")
            images = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=shape)
        else:
            images = np.zeros(shape, dtype=np.uint8)
        ok = np.zeros(len(files), dtype=bool)
        reasons: dict[int, str] = {}

        def work(index: int) -> None:
            try:
                images[index] = decode_image(files[index].path, self.image_size)
                ok[index] = True
            except ImageRefused as exc:
                reasons[index] = str(exc)

        workers = workers or os.cpu_count() or 1
        try:
            with ThreadPoolExecutor(max_workers=workers) as pool:  # Pillow releases the GIL while decoding
                jobs = pool.map(work, range(len(files)))
                if progress and len(files) > 0:
                    from tqdm.auto import tqdm

                    jobs = tqdm(jobs, total=len(files), desc=f"decoding {self.root.name} at {self.image_size}px",
                                leave=False)
                for _ in jobs:
                    pass
        except BaseException:
            if partial is not None:
                images = None  # close the mapping before removing its file
                partial.unlink(missing_ok=True)  # an interrupted decode leaves no half-written cache
            raise
        kept = [f for f, good in zip(files, ok) if good]
        refused = [(files[i].path, reasons[i]) for i in sorted(reasons)]
        if partial is None:
            return (images[ok] if not ok.all() else images), kept, refused
        if ok.all():
            images.flush()
            images = None  # close the mapping before renaming its file
            os.replace(partial, cache_base.with_suffix(".npy"))
            self._write_cache_meta(cache_base, kept, refused)
            return np.load(cache_base.with_suffix(".npy"), mmap_mode="r"), kept, refused
        # Some files were refused (rare): compact the rows that decoded into a new cache file.
        usable = np.array(images[ok])
        images = None
        partial.unlink(missing_ok=True)
        return self._write_cache(cache_base, usable, kept, refused), kept, refused

    @staticmethod
    def _read_cache(base: Path, files):
        meta_path = base.with_suffix(".json")
        array_path = base.with_suffix(".npy")
        if not (meta_path.is_file() and array_path.is_file()):
            return None
        try:
            meta = json.loads(meta_path.read_text())
            images = np.load(array_path, mmap_mode="r")
        except (OSError, ValueError):
            return None  # a damaged cache is rebuilt, never trusted
        by_path = {f.path: f for f in files}
        kept = [by_path[p] for p in meta["kept"] if p in by_path]
        if len(kept) != len(meta["kept"]) or images.shape[0] != len(kept):
            return None
        return images, kept, [tuple(item) for item in meta["refused"]]

    @staticmethod
    def _remove_stale_caches(base: Path) -> None:
        """Old caches of the same folder and size are stale once this one is written."""
        prefix = base.name.rsplit("-", 1)[0]
        for old in base.parent.glob(f"{prefix}-*"):
            if old.suffix in (".npy", ".json"):
                old.unlink(missing_ok=True)

    @staticmethod
    def _write_cache_meta(base: Path, kept, refused) -> None:
        # The metadata is written last: a cache without it is ignored.
        meta_tmp = base.with_name(base.name + ".tmp.json")
        meta_tmp.write_text(json.dumps({"kept": [f.path for f in kept], "refused": refused}))
        os.replace(meta_tmp, base.with_suffix(".json"))

    @classmethod
    def _write_cache(cls, base: Path, images: np.ndarray, kept, refused) -> np.ndarray:
        cls._remove_stale_caches(base)
        tmp = base.with_name(base.name + ".tmp.npy")
        np.save(tmp, images)
        os.replace(tmp, base.with_suffix(".npy"))
        cls._write_cache_meta(base, kept, refused)
        return np.load(base.with_suffix(".npy"), mmap_mode="r")

    def _check_each_style_kept(self, folders_present: set[int]) -> None:
        """A style folder that exists but yields no usable image is an error naming it."""
        has_images = set(self.targets)
        for label in sorted(folders_present - has_images):
            folder = self.root / self.classes[label]
            prefix = str(folder) + os.sep
            refused_here = [f"  {p}: {r}" for p, r in self.skipped if p.startswith(prefix)]
            if refused_here:
                problem = "no usable image in this style folder; every file was refused:\n" + "\n".join(refused_here)
            else:
                problem = "style folder has no image files"
            raise DataError(f"{folder}: {problem}\nFix: add images to it or remove the folder.")

    # ---- access

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        row = self._rows[index]
        return torch.from_numpy(np.array(self._images[row])), self.targets[index]

    def get_batch(self, indices: Sequence[int] | np.ndarray,
                  out: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Many items at once: ((B, 3, S, S) uint8 tensor, (B,) int64 labels).

        One gather from the (memory-mapped) cache straight into the batch's memory, in
        the requested order, and labels from an array kept beside ``targets``: no second
        copy of the images and no conversion of the label list per batch. ``out``: a
        uint8 array of at least (B, 3, S, S) to gather into (a buffer the caller reuses:
        fresh memory for every batch costs page faults); the returned tensor is then a
        view of it, overwritten when the caller reuses the buffer."""
        indices = np.asarray(indices, dtype=np.int64)
        shape = (len(indices), 3, self.image_size, self.image_size)
        if out is None:
            block = np.empty(shape, dtype=np.uint8)
        else:
            if out.dtype != np.uint8 or out.shape[0] < len(indices) or tuple(out.shape[1:]) != shape[1:]:
                raise ValueError(f"out must be a uint8 array of at least {shape}, got {out.dtype} {out.shape}")
            block = out[:len(indices)]
        np.take(self._images, self._rows[indices], axis=0, out=block)
        return torch.from_numpy(block), torch.from_numpy(self._label_array()[indices])

    def _label_array(self) -> np.ndarray:
        """``targets`` as an int64 array, rebuilt only when ``targets`` was replaced."""
        cached = self.__dict__.get("_labels_cache")
        if cached is None or cached[0] is not self.targets:
            cached = (self.targets, np.asarray(self.targets, dtype=np.int64))
            self._labels_cache = cached
        return cached[1]

    def class_counts(self) -> dict[str, int]:
        """Images per style, in label order (styles with no images count 0)."""
        counts = np.bincount(np.asarray(self.targets, dtype=np.int64), minlength=len(self.classes))
        return {style: int(count) for style, count in zip(self.classes, counts)}

    def subset(self, indices: Iterable[int]) -> "WikiArtDataset":
        """A view on some items, sharing the decoded images (no copy)."""
        indices = np.asarray(list(indices), dtype=np.int64)
        view = object.__new__(WikiArtDataset)
        view.__dict__.update(self.__dict__)
        view._rows = self._rows[indices]
        view.targets = [self.targets[i] for i in indices]
        view.paths = [self.paths[i] for i in indices]
        return view

    def relabel(self, mapping: dict[str, int]) -> "WikiArtDataset":
        """The same images labelled by another style -> label ``mapping`` (a view, no
        copy): what a process that built ``mapping`` would have called each image."""
        missing = [style for style in self.classes if style not in mapping]
        if missing:
            raise ValueError(f"the mapping has no label for style(s) {missing}")
        view = self.subset(range(len(self)))
        view.targets = [mapping[self.classes[label]] for label in self.targets]
        view.classes = sorted(mapping, key=mapping.get)
        view.class_to_idx = dict(mapping)
        return view

    def limit_per_class(self, max_per_class: int | None, seed: int = 0) -> "WikiArtDataset":
        """At most ``max_per_class`` items of each style, picked at random with ``seed``
        (the smoke profile's way of making a tiny but complete dataset)."""
        if max_per_class is None:
            return self
        rng = np.random.default_rng(seed)
        targets = np.asarray(self.targets)
        chosen = []
        for label in range(len(self.classes)):
            members = np.flatnonzero(targets == label)
            chosen.extend(rng.permutation(members)[:max_per_class].tolist())
        return self.subset(sorted(chosen))

    def __repr__(self) -> str:
        return (f"WikiArtDataset({str(self.root)!r}, image_size={self.image_size}, {len(self)} images, "
                f"{len(self.classes)} styles, {len(self.skipped)} skipped)")


# --------------------------------------------------------------------------- batches on the device


def to_float(images: torch.Tensor, device: torch.device | str = "cpu", mean: Sequence[float] | None = None,
             std: Sequence[float] | None = None, channels_last: bool = False) -> torch.Tensor:
    """uint8 (B, 3, H, W) → float32 on ``device`` in [0, 1], then standardised with
    ``mean``/``std`` (per channel, in [0, 1] units) when given. The copy to the device
    happens while the batch is still uint8 (4x less to move)."""
    device = torch.device(device)
    images = images.to(device, non_blocking=device.type == "cuda")
    images = images.float().div_(255.0)
    if mean is not None and std is not None:
        mean_t = torch.as_tensor(mean, device=device, dtype=images.dtype).view(1, -1, 1, 1)
        std_t = torch.as_tensor(std, device=device, dtype=images.dtype).view(1, -1, 1, 1)
        images = (images - mean_t) / std_t
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    return images


def channel_stats(dataset: WikiArtDataset, max_images: int = 2000, seed: int = 0) -> tuple[list[float], list[float]]:
    """Per-channel mean and standard deviation in [0, 1] units, from up to
    ``max_images`` images picked at random with ``seed``."""
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.permutation(len(dataset))[:max_images])
    images, _ = dataset.get_batch(picks)
    values = images.float().div_(255.0)
    return values.mean(dim=(0, 2, 3)).tolist(), values.std(dim=(0, 2, 3)).tolist()


# --------------------------------------------------------------------------- datasets from data_paths.yaml


def ensure_dataset(paths, progress: bool = True) -> None:
    """Generate the embedded synthetic dataset if ``paths`` (from
    :func:`wikiart_core.config.load_paths`) names one and it is missing or stale."""
    if paths.synth is None:
        return
    from . import synth

    root = Path(paths.train).parent
    if Path(paths.test).parent != root:
        raise DataError(f"{paths.source}: a synthetic dataset's train and test folders must be siblings "
                        f"(got {paths.train} and {paths.test}).")
    synth.ensure(root, progress=progress, **paths.synth)


@dataclass(frozen=True)
class Splits:
    """The three splits of a run. ``validation`` is a seeded, stratified share of the
    training folder (see :func:`stratified_validation`); it makes every choice (early
    stopping, best.pt, learning rates, "the best method", the panel's live scores).
    ``test`` is the test folder, scored once per finished run and never used to choose.
    Unpacks as ``train, validation, test = splits``."""

    train: WikiArtDataset
    validation: WikiArtDataset
    test: WikiArtDataset
    validation_fraction: float
    split_seed: int

    def __iter__(self):
        return iter((self.train, self.validation, self.test))

    @property
    def classes(self) -> list[str]:
        return list(self.train.classes)

    @property
    def image_size(self) -> int:
        return self.train.image_size

    def validation_files(self, relative_to: str | os.PathLike | None = None) -> list[str]:
        """The validation file list (recorded in checkpoints and results so the split
        can be rebuilt), relative to the training folder by default."""
        base = Path(relative_to or self.train.root)
        return [os.path.relpath(path, base) for path in self.validation.paths]

    def summary(self) -> str:
        """One line for a notebook: how many images each split has, and their size."""
        return (f"{len(self.train)} train, {len(self.validation)} validation (a stratified "
                f"{self.validation_fraction:.0%} of the training folder), {len(self.test)} test images at "
                f"{self.image_size} px")

    def describe(self) -> dict:
        """Plain sizes and settings, for results files."""
        return {"n_train": len(self.train), "n_validation": len(self.validation), "n_test": len(self.test),
                "validation_fraction": self.validation_fraction, "split_seed": self.split_seed,
                "image_size": self.image_size}

    def at_size(self, image_size: int, cache_dir: str | os.PathLike | None = None,
                progress: bool = False) -> "Splits":
        """The same files (same styles, same subsets) decoded at ``image_size``."""
        if image_size == self.image_size:
            return self
        resized = []
        for dataset in self:
            full = WikiArtDataset(dataset.root, image_size=image_size, classes=self.classes, cache_dir=cache_dir,
                                  unknown_styles="drop", progress=progress)
            row_of = {path: row for row, path in enumerate(full.paths)}
            missing = [path for path in dataset.paths if path not in row_of]
            if missing:
                raise DataError(f"{len(missing)} image(s) could not be re-read at {image_size} px, e.g. {missing[0]}")
            resized.append(full.subset([row_of[path] for path in dataset.paths]))
        return Splits(*resized, validation_fraction=self.validation_fraction, split_seed=self.split_seed)


def cache_side(input_size: int, margin: float = 8 / 7) -> int:
    """The side to decode and cache at so that training crops of an ``input_size`` model
    are shrunk, never stretched: ``round(input_size * margin)`` (256 for 224, as the
    torchvision references resize before cropping; 73 for 64). The cache grows by
    ``margin ** 2`` (1.31x for 8/7)."""
    if margin < 1:
        raise ValueError(f"the cache margin must be >= 1, got {margin}")
    return int(round(input_size * margin))


def stratified_validation(targets: Sequence[int], fraction: float = 0.1,
                          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split item indices into (train, validation), style by style.

    Each style with n >= 2 images gives round(fraction * n) of them to validation, at
    least one and at most n - 1 (so it keeps one in train and one in validation); a
    style with one image keeps it in train. The choice within a style is a permutation
    seeded by ``seed`` and the style's label, so adding a style does not reshuffle the
    others. Returns two sorted int64 arrays that together hold every index once."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"the validation fraction must be between 0 and 1, got {fraction}")
    targets = np.asarray(targets, dtype=np.int64)
    train_rows, validation_rows = [], []
    for label in np.unique(targets):
        members = np.flatnonzero(targets == label)
        n = len(members)
        n_validation = 0 if n < 2 else min(n - 1, max(1, round(fraction * n)))
        shuffled = np.random.default_rng([int(seed), int(label)]).permutation(members)
        validation_rows.append(shuffled[:n_validation])
        train_rows.append(shuffled[n_validation:])
    return (np.sort(np.concatenate(train_rows)) if train_rows else np.zeros(0, np.int64),
            np.sort(np.concatenate(validation_rows)) if validation_rows else np.zeros(0, np.int64))


def make_splits(train_folder: WikiArtDataset, test_folder: WikiArtDataset, *, validation_fraction: float = 0.1,
                split_seed: int = 0, max_train_per_class: int | None = None,
                max_test_per_class: int | None = None) -> Splits:
    """:class:`Splits` from a decoded train folder and test folder: the profile's caps
    first (seeded), then the stratified validation share of what is left of train."""
    train_pool = train_folder.limit_per_class(max_train_per_class, split_seed)
    train_rows, validation_rows = stratified_validation(train_pool.targets, validation_fraction, split_seed)
    return Splits(train=train_pool.subset(train_rows), validation=train_pool.subset(validation_rows),
                  test=test_folder.limit_per_class(max_test_per_class, split_seed),
                  validation_fraction=validation_fraction, split_seed=split_seed)


def load_splits(paths, image_size: int, *, validation_fraction: float = 0.1, split_seed: int = 0,
                max_train_per_class: int | None = None, max_test_per_class: int | None = None,
                progress: bool = True) -> Splits:
    """Train, validation and test of ``paths`` (from :func:`wikiart_core.config.load_paths`)
    at ``image_size`` px, the test split built with the train split's class list;
    generates the embedded data first if needed. See :func:`make_splits`.
    Unpack with ``train, validation, test = load_splits(...)``."""
    ensure_dataset(paths, progress=progress)
    train = WikiArtDataset(paths.train, image_size=image_size, cache_dir=paths.cache_dir, progress=progress)
    test = WikiArtDataset(paths.test, image_size=image_size, classes=train.classes, cache_dir=paths.cache_dir,
                          progress=progress)
    return make_splits(train, test, validation_fraction=validation_fraction, split_seed=split_seed,
                       max_train_per_class=max_train_per_class, max_test_per_class=max_test_per_class)


def load_profile_splits(paths, profile, image_size: int | None = None, *, progress: bool = False) -> Splits:
    """:func:`load_splits` with a profile's validation share and per-style caps (what
    every notebook uses), at ``image_size`` px (default: ``profile.image_size``)."""
    return load_splits(paths, image_size or profile.image_size, validation_fraction=profile.validation_fraction,
                       max_train_per_class=profile.max_train_per_class,
                       max_test_per_class=profile.max_test_per_class, progress=progress)
