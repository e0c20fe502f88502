"""Input pipeline throughput and memory: the original course loop against WikiArtDataset.

    .venv/bin/python benchmarks/bench_pipeline.py                        # ~2,000 images at 416 px, CPU
    .venv/bin/python benchmarks/bench_pipeline.py --images 13350 --device cuda --repeats 5

Generates (once, then reuses) about --images synthetic 416 px JPEGs under
benchmarks/_work/, then times, each pass in its own fresh Python process so that
its peak resident memory (ru_maxrss) is its own, and each pass --repeats times:

  original   the course loop as it behaved: a Dataset whose __getitem__ decodes one
             file with torchvision.io.read_image, converts it to float32, resizes it
             to --image-size, keeps it in a dict keyed by index and moves it to the
             device item by item; a plain DataLoader (num_workers=0, default collate,
             shuffled batches). Epoch 1 (cold: decode + fill the dict) and epoch 2
             (warm: from the dict) are timed in the same process, since the dict only
             lives there.
  ours cold  WikiArtDataset(train, image_size=S, cache_dir=<empty>) (parallel decode,
             cache write) + one epoch of shuffled get_batch batches, each moved to the
             device once, as uint8.
  ours warm  a new WikiArtDataset on the same cache (a new process: nothing but the
             OS page cache is shared) + one epoch.
  no cache   WikiArtDataset(..., cache_dir=None): decode (in parallel) + one epoch.

Before every cold pass (original, ours cold, no cache) the JPEGs are evicted from the
OS page cache with posix_fadvise(DONTNEED) after a sync; mincore() reports how much of
them was still resident, so the output says whether the eviction worked.
Then one more process reads a full epoch through the memory-mapped cache and reports
how its resident memory grew, split into anonymous and file-backed pages.

Ours delivers uint8 batches (training converts them to float on the device); the
original delivers float32 (4x the bytes). Results are appended to
benchmarks/RESULTS.md unless --no-record.
"""
from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import hashlib
import json
import mmap
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torchvision.transforms.functional as TF
from torchvision.io import read_image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from wikiart_core import engine, synth  # noqa: E402
from wikiart_core.data import WikiArtDataset  # noqa: E402
from wikiart_core.device import pick_device  # noqa: E402
from wikiart_core.synth.writer import split_counts  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
RESULT_MARK = "@@bench_pipeline@@ "
MIB = 1024 * 1024


# --------------------------------------------------------------------------- memory and page cache


def peak_rss_kib() -> int:
    """This process's peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_split_kib() -> dict[str, int]:
    """Current RssAnon / RssFile / RssShmem of this process, KiB (empty where /proc is missing)."""
    values = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("RssAnon", "RssFile", "RssShmem", "VmRSS"):
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


def evict(paths: list[str]) -> bool:
    """Ask the OS to drop ``paths`` from the page cache; False where posix_fadvise is missing."""
    if not hasattr(os, "posix_fadvise"):
        return False
    os.sync()  # dirty pages cannot be dropped
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return True


_LIBC = None


def _libc():
    global _LIBC
    if _LIBC is None:
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        libc.mmap.restype = ctypes.c_void_p
        libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                              ctypes.c_long]
        libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_ubyte)]
        _LIBC = libc
    return _LIBC


def resident_fraction(paths: list[str]) -> float | None:
    """Share of the pages of ``paths`` that are in the page cache (mincore on a mapping
    that is never touched, so measuring does not load anything); None if not available."""
    try:
        libc = _libc()
    except (OSError, AttributeError):
        return None
    page = mmap.PAGESIZE
    resident = total = 0
    for path in paths:
        size = os.path.getsize(path)
        if size == 0:
            continue
        pages = (size + page - 1) // page
        fd = os.open(path, os.O_RDONLY)
        try:
            address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
            if address is None or address == ctypes.c_void_p(-1).value:
                return None
            try:
                vector = (ctypes.c_ubyte * pages)()
                if libc.mincore(address, size, vector) != 0:
                    return None
                resident += sum(byte & 1 for byte in vector)
                total += pages
            finally:
                libc.munmap(address, size)
        finally:
            os.close(fd)
    return resident / total if total else None


# --------------------------------------------------------------------------- the original course loop


class OriginalDataset(torch.utils.data.Dataset):
    """The course code's Dataset, re-implemented as it behaved: one read_image per
    item, float32, resized, kept in a dict keyed by index (epoch 2 reads the dict),
    the label looked up by its index in a label list, and the item moved to the
    device inside __getitem__."""

    def __init__(self, root: Path, image_size: int, device: torch.device):
        self.image_size = image_size
        self.device = device
        self.styles = sorted(entry.name for entry in os.scandir(root) if entry.is_dir())
        self.files: list[str] = []
        self.file_styles: list[str] = []
        for style in self.styles:
            for name in sorted(os.listdir(root / style)):
                self.files.append(str(root / style / name))
                self.file_styles.append(style)
        self.cache: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int):
        if index in self.cache:
            image = self.cache[index]
        else:
            with warnings.catch_warnings():  # read_image is deprecated since torchvision 0.29
                warnings.simplefilter("ignore")
                raw = read_image(self.files[index])
            image = TF.resize(raw.float(), [self.image_size, self.image_size])
            self.cache[index] = image
        label = self.styles.index(self.file_styles[index])
        return image.to(self.device), label


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def original_pass(args, device: torch.device) -> dict:
    train = data_root(args.images) / "train"
    start = time.perf_counter()
    dataset = OriginalDataset(train, args.image_size, device)
    loader = torch.utils.data.DataLoader(dataset, batch_size=args.batch_size, shuffle=True, num_workers=0,
                                         generator=torch.Generator().manual_seed(args.seed))
    epochs = {}
    for epoch in ("cold", "warm"):
        seen = 0
        for images, labels in loader:
            assert images.dtype == torch.float32 and images.shape[0] == labels.shape[0]
            seen += images.shape[0]
        sync(device)
        epochs[epoch] = {"seconds": time.perf_counter() - start, "images": seen, "peak_kib": peak_rss_kib(),
                         "rss_split_kib": rss_split_kib()}
        start = time.perf_counter()
    return epochs


# --------------------------------------------------------------------------- ours


def our_epoch(dataset: WikiArtDataset, batch_size: int, seed: int, device: torch.device) -> int:
    """One shuffled epoch through the engine's own batch reader (what training sees: reused
    buffers on the CPU, a prefetch thread into pinned memory on CUDA), each batch moved to
    the device once."""
    order = np.random.default_rng(seed).permutation(len(dataset))
    seen = 0
    steps = engine.steps_per_epoch(len(dataset), batch_size)
    for images, labels in engine.read_batches(dataset, order, batch_size, steps, prefetch=device.type == "cuda"):
        images, labels = images.to(device), labels.to(device)
        assert images.dtype == torch.uint8 and labels.shape[0] == images.shape[0]
        seen += images.shape[0]
    sync(device)
    return seen


def ours_pass(args, device: torch.device, cache_dir: str | None) -> dict:
    train = data_root(args.images) / "train"
    start = time.perf_counter()
    dataset = WikiArtDataset(train, image_size=args.image_size, cache_dir=cache_dir, progress=False)
    seen = our_epoch(dataset, args.batch_size, args.seed, device)
    return {"seconds": time.perf_counter() - start, "images": seen, "peak_kib": peak_rss_kib(),
            "rss_split_kib": rss_split_kib()}


def memmap_pass(args, device: torch.device) -> dict:
    train = data_root(args.images) / "train"
    cache_files = sorted(Path(args.cache_dir).glob("*.npy"))
    before, peak_before = rss_split_kib(), peak_rss_kib()
    dataset = WikiArtDataset(train, image_size=args.image_size, cache_dir=args.cache_dir, progress=False)
    opened = rss_split_kib()
    seen = our_epoch(dataset, args.batch_size, args.seed, device)
    return {"images": seen, "cache_bytes": sum(p.stat().st_size for p in cache_files),
            "before_kib": before, "opened_kib": opened, "after_kib": rss_split_kib(),
            "peak_before_kib": peak_before, "peak_after_kib": peak_rss_kib()}


def child(args) -> None:
    """One pass in this (fresh) process; prints one JSON line for the parent."""
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.zeros(1, device=device)  # the CUDA context belongs to the baseline, not to the pass
    baseline = peak_rss_kib()
    if args.pass_name == "original":
        result = original_pass(args, device)
    elif args.pass_name == "memmap":
        result = memmap_pass(args, device)
    else:
        result = ours_pass(args, device, None if args.pass_name == "nocache" else args.cache_dir)
    result = {"baseline_kib": baseline, "result": result}
    print(RESULT_MARK + json.dumps(result), flush=True)


# --------------------------------------------------------------------------- the parent


def data_root(images: int) -> Path:
    return HERE / "_work" / f"synth416-{images}"


def scale_for(images: int) -> float:
    """The smallest scale (from images / 13,350 up) whose train split holds >= ``images``."""
    total = sum(synth.REAL_TRAIN_COUNTS.values())
    scale = images / total
    while sum(split_counts(scale)[0].values()) < images:
        scale *= 1.002
    return scale


def run_child(args, name: str, cache_dir: str, seed: int) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--pass", name, "--images", str(args.images),
               "--image-size", str(args.image_size), "--batch-size", str(args.batch_size),
               "--device", args.device, "--cache-dir", cache_dir, "--seed", str(seed)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    for line in done.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK):])
    raise RuntimeError(f"pass {name!r} failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def machine_line(device: torch.device) -> str:
    cpu = platform.processor() or platform.machine()
    ram = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram += f", {int(line.split()[1]) / MIB:.0f} GiB RAM"
            elif line.startswith("SwapTotal"):
                swap = int(line.split()[1]) / MIB
                ram += f", swap {swap:.0f} GiB" if swap else ", no swap"
    except OSError:
        pass
    where = f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else device.type
    return f"{cpu}, {os.cpu_count()} cores{ram}, torch {torch.__version__}, device {where}"


def data_py_state() -> str:
    """Which data.py was measured: the commit, and a hash when it has uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "wikiart_core/data.py"], cwd=REPO,
                               check=False).returncode != 0
    except (OSError, subprocess.CalledProcessError):
        return "git not available"
    if not dirty:
        return f"data.py as committed at {head}"
    digest = hashlib.sha256((REPO / "wikiart_core" / "data.py").read_bytes()).hexdigest()[:12]
    return f"data.py with uncommitted changes on {head} (sha256 {digest})"


def spread(values: list[float], fmt: str) -> str:
    middle = statistics.median(values)
    if len(values) == 1:
        return format(middle, fmt)
    return f"{format(middle, fmt)} [{format(min(values), fmt)}, {format(max(values), fmt)}]"


def read_all(paths: list[str]) -> float:
    """Seconds to read every byte of ``paths`` (a direct check of what eviction costs)."""
    start = time.perf_counter()
    for path in paths:
        with open(path, "rb") as handle:
            handle.read()
    return time.perf_counter() - start


def fmt_fraction(value: float | None) -> str:
    return "not measurable here (no mincore)" if value is None else f"{value:.0%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000, help="train images to generate (at least)")
    parser.add_argument("--image-size", type=int, default=416, help="training side in pixels (the original's: 416)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per pass (median and range reported)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto (CUDA if available)")
    parser.add_argument("--no-record", action="store_true", help="do not append to RESULTS.md")
    parser.add_argument("--pass", dest="pass_name", help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pass_name:
        child(args)
        return

    wall_start = time.perf_counter()
    device = pick_device(args.device)
    args.device = str(device)
    root = data_root(args.images)
    start = time.perf_counter()
    synth.ensure(root, scale=scale_for(args.images), size=416, seed=0, progress=False)
    generate_s = time.perf_counter() - start
    train = root / "train"
    jpegs = sorted(str(p) for p in train.rglob("*") if p.is_file() and p.suffix.lower() in (".jpg", ".jpeg"))
    n = len(jpegs)
    jpeg_mib = sum(os.path.getsize(p) for p in jpegs) / MIB
    uint8_mib = n * 3 * args.image_size ** 2 / MIB
    float_mib = 4 * uint8_mib
    print(f"{n} JPEGs ({jpeg_mib:.0f} MiB) in {train} (ready in {generate_s:.0f} s); at {args.image_size} px: "
          f"uint8 {uint8_mib:.0f} MiB, float32 {float_mib:.0f} MiB; {machine_line(device)}", flush=True)

    resident_before = resident_fraction(jpegs)
    eviction_supported = evict(jpegs)
    resident_after = resident_fraction(jpegs) if eviction_supported else None
    read_evicted_s = read_all(jpegs)
    read_cached_s = read_all(jpegs)
    print(f"page cache: JPEGs resident before eviction {fmt_fraction(resident_before)}, after "
          f"{fmt_fraction(resident_after) if eviction_supported else '(posix_fadvise missing: not evicted)'}; "
          f"reading all their bytes took {read_evicted_s:.2f} s after eviction, {read_cached_s:.2f} s again "
          f"(page cache)", flush=True)

    work = HERE / "_work"
    cache_dir = tempfile.mkdtemp(prefix="pipeline-cache-", dir=work)
    runs: dict[str, list[dict]] = {k: [] for k in ("original cold", "original warm", "ours cold", "ours warm",
                                                   "no cache")}
    resident_at_cold: list[float] = []

    def cold_start() -> None:
        if eviction_supported:
            evict(jpegs)
            fraction = resident_fraction(jpegs)
            if fraction is not None:
                resident_at_cold.append(fraction)

    def add(key: str, baseline: int, result: dict) -> None:
        runs[key].append({**result, "baseline_kib": baseline, "rate": result["images"] / result["seconds"]})
        print(f"  {key:14s} {result['images']} images in {result['seconds']:6.2f} s = "
              f"{result['images'] / result['seconds']:7.0f} images/s, peak RSS {result['peak_kib'] / 1024:6.0f} MiB "
              f"({(result['peak_kib'] - baseline) / 1024:+.0f} over the {baseline / 1024:.0f} MiB baseline)",
              flush=True)

    try:
        for repeat in range(args.repeats):
            print(f"repeat {repeat + 1}/{args.repeats}", flush=True)
            cold_start()
            out = run_child(args, "original", cache_dir, repeat)
            add("original cold", out["baseline_kib"], out["result"]["cold"])
            add("original warm", out["baseline_kib"], out["result"]["warm"])

            for old in Path(cache_dir).iterdir():
                old.unlink()
            cold_start()
            out = run_child(args, "cold", cache_dir, repeat)
            add("ours cold", out["baseline_kib"], out["result"])
            out = run_child(args, "warm", cache_dir, repeat)
            add("ours warm", out["baseline_kib"], out["result"])
            cold_start()
            out = run_child(args, "nocache", cache_dir, repeat)
            add("no cache", out["baseline_kib"], out["result"])
        memmap = run_child(args, "memmap", cache_dir, 0)
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
    wall_s = time.perf_counter() - wall_start

    # ---- the table
    def med(key: str, field: str) -> float:
        return statistics.median(r[field] for r in runs[key])

    labels = {
        "original cold": "original, epoch 1 (read_image + float32 resize, fill the dict)",
        "original warm": "original, epoch 2 (from the dict, same process)",
        "ours cold": "ours, cold (new dataset, empty cache: decode + write cache, + 1 epoch)",
        "ours warm": "ours, warm (new dataset object on the cache, new process, + 1 epoch)",
        "no cache": "ours, no cache (cache_dir=None: decode + 1 epoch)",
    }
    rows, splits = [], []
    for key, label in labels.items():
        last = runs[key][-1]["rss_split_kib"]
        splits.append(f"{key} {last.get('RssAnon', 0) / 1024:,.0f} / {last.get('RssFile', 0) / 1024:,.0f}")
        rates = [r["rate"] for r in runs[key]]
        peaks = [r["peak_kib"] / 1024 for r in runs[key]]
        above = [(r["peak_kib"] - r["baseline_kib"]) / 1024 for r in runs[key]]
        rows.append(f"| {label} | {spread(rates, ',.0f')} | {spread(peaks, ',.0f')} | {spread(above, ',.0f')} | "
                    f"{uint8_mib:,.0f} |")
    rate = {key: med(key, "rate") for key in runs}
    warm_above = statistics.median((r["peak_kib"] - r["baseline_kib"]) / 1024 for r in runs["ours warm"])

    mr = memmap["result"]
    grow = {k: round((mr["after_kib"].get(k, 0) - mr["before_kib"].get(k, 0)) / 1024) + 0
            for k in ("RssAnon", "RssFile")}
    peak_growth = (mr["peak_after_kib"] - mr["peak_before_kib"]) / 1024
    cache_mib = mr["cache_bytes"] / MIB

    cold_note = ("JPEGs evicted from the page cache (posix_fadvise DONTNEED after sync) before every cold pass; "
                 "resident afterwards (mincore): "
                 + (f"{min(resident_at_cold):.0%}-{max(resident_at_cold):.0%}" if resident_at_cold else "not measured")
                 + f"; before the first eviction {fmt_fraction(resident_before)}. Reading all the JPEG bytes "
                 f"once took {read_evicted_s:.2f} s after eviction and {read_cached_s:.2f} s from the page cache."
                 if eviction_supported else "posix_fadvise is not available here: cold passes may read the page cache.")
    lines = [
        f"### input pipeline (bench_pipeline), {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Machine: {machine_line(device)}. Measured against {data_py_state()}.",
        "",
        f"{n} synthetic 416x416 JPEGs ({jpeg_mib:.0f} MiB on disk) at {args.image_size} px, batch {args.batch_size}, "
        f"one shuffled epoch per pass; every pass in a fresh process, {args.repeats} repeats, median [min, max]. "
        f"Peak RSS = ru_maxrss at the end of the pass; baseline = ru_maxrss right after the imports"
        + (" and CUDA initialisation" if device.type == "cuda" else "")
        + f" (median {statistics.median(r['baseline_kib'] for r in runs['ours warm']) / 1024:.0f} MiB). {cold_note} "
        "The original's epoch 2 runs in the process of its epoch 1, so its peak RSS includes epoch 1; ours warm "
        "includes opening a new dataset (folder scan, cache key, mapping the cache), the original's epoch 2 opens "
        "nothing. "
        "Ours delivers uint8 batches (training converts them on the device); the original float32 (4x the bytes). "
        "The uint8 column is the dataset's decoded size, for reference.",
        "",
        "| pass | images/s | peak RSS MiB | RSS above baseline MiB | uint8 dataset MiB |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
        "Ratios (medians of this run):",
        "",
        f"- ours warm / original warm: **{rate['ours warm'] / rate['original warm']:.1f}x** images/s",
        f"- ours cold / original cold: **{rate['ours cold'] / rate['original cold']:.1f}x**",
        f"- ours no cache / original cold: **{rate['no cache'] / rate['original cold']:.1f}x**",
        f"- ours warm peak RSS above baseline / uint8 dataset size: **{warm_above / uint8_mib:.2f}** "
        "(which part is file-backed pages of the memory-mapped cache: the next line and the check below)",
        f"- resident memory at the end of each pass (last repeat; current, not peak), anonymous / file-backed "
        f"MiB: {'; '.join(splits)}",
        "",
        f"Memory-mapped cache check (one more fresh process, one full epoch through get_batch): cache file "
        f"{cache_mib:.0f} MiB; ru_maxrss grew {peak_growth:.0f} MiB; resident memory grew "
        f"{grow['RssFile']:.0f} MiB file-backed and {grow['RssAnon']:.0f} MiB anonymous. "
        "File-backed pages of a read-only memmap are clean page-cache pages: under memory pressure the kernel can "
        "drop them and read them again from the file, so RSS counts them but they do not have to fit in RAM at once "
        "(anonymous memory, such as the original's dict, can only be swapped out, where there is swap). "
        "A cache larger than RAM was not tried here; this run only shows which kind of memory the epoch used.",
        "",
        f"Total wall time {wall_s:.0f} s (data generation included: {generate_s:.0f} s).",
        "",
    ]
    print("\n" + "\n".join(lines))
    if not args.no_record:
        results = HERE / "RESULTS.md"
        if not results.exists():
            results.write_text("# Benchmark results\n\nAppended by the scripts in this folder; newest last.\n\n")
        with results.open("a") as handle:
            handle.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
