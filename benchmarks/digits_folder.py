"""Write scikit-learn's handwritten digits as a 10-folder image dataset nobody here tuned on.

    .venv/bin/python benchmarks/digits_folder.py --out benchmarks/_work/digits
    .venv/bin/python -m wikiart_core train --train benchmarks/_work/digits/train \
        --test benchmarks/_work/digits/test --image-size 32 --epochs 10 --augment none --out outputs/digits

The 1,797 8x8 scans of ``sklearn.datasets.load_digits`` (16 grey levels) are drawn in a
random ink colour on a random paper colour per image (so colour says nothing about the
class), upscaled bilinearly to ``--size`` px and split 80/20, stratified and seeded, into
``train/<digit>/`` and ``test/<digit>/`` PNGs: the ImageFolder layout of WikiArt. A
classifier's defaults should do well here too (a CNN reaches ~99%; a logistic regression
on the raw grey values about 96%), which is what ``benchmarks/ablate_classifier.py``
checks.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

DIGIT_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def write_digits_folder(out: Path, *, size: int = 32, seed: int = 0, test_fraction: float = 0.2) -> dict[str, int]:
    """Write ``out/train`` and ``out/test`` (one folder per digit name) of RGB PNGs,
    ``size`` x ``size`` px. Returns {"train": n, "test": n}. Deterministic for a seed."""
    digits = load_digits()
    ink_amount = digits.images / 16.0                          # (N, 8, 8) in [0, 1]
    rng = np.random.default_rng(seed)
    paper = rng.uniform(0.55, 1.0, size=(len(ink_amount), 3))  # light paper, dark-ish ink, any hue
    ink = rng.uniform(0.0, 0.45, size=(len(ink_amount), 3))
    indices = np.arange(len(ink_amount))
    train_idx, test_idx = train_test_split(indices, test_size=test_fraction, stratify=digits.target,
                                           random_state=seed)
    counts = {}
    for split, chosen in (("train", train_idx), ("test", test_idx)):
        for index in chosen:
            amount = ink_amount[index][..., None]               # (8, 8, 1)
            rgb = (1 - amount) * paper[index] + amount * ink[index]
            picture = Image.fromarray((rgb * 255).round().astype(np.uint8), "RGB")
            picture = picture.resize((size, size), Image.BILINEAR)
            folder = out / split / DIGIT_NAMES[digits.target[index]]
            folder.mkdir(parents=True, exist_ok=True)
            picture.save(folder / f"digit_{index:04d}.png")
        counts[split] = len(chosen)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "_work" / "digits")
    parser.add_argument("--size", type=int, default=32, help="image side, pixels")
    parser.add_argument("--seed", type=int, default=0, help="colours and the train/test split")
    args = parser.parse_args()
    counts = write_digits_folder(args.out, size=args.size, seed=args.seed)
    print(f"wrote {counts['train']} train and {counts['test']} test images under {args.out}")


if __name__ == "__main__":
    main()
