"""benchmarks/digits_folder.py: the digits written as an ImageFolder dataset the workbook reads."""
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from digits_folder import DIGIT_NAMES, write_digits_folder  # noqa: E402

from wikiart_core.data import WikiArtDataset  # noqa: E402


def test_digits_folder_is_a_stratified_ten_class_image_folder(tmp_path):
    counts = write_digits_folder(tmp_path, size=16, seed=0)
    assert counts == {"train": 1437, "test": 360}  # load_digits' 1,797 scans, 80/20
    train = WikiArtDataset(tmp_path / "train", image_size=16, progress=False)
    test = WikiArtDataset(tmp_path / "test", image_size=16, classes=train.classes, progress=False)
    assert sorted(train.classes) == sorted(DIGIT_NAMES) and len(train) == 1437 and len(test) == 360
    train_share = np.bincount(train.targets, minlength=10) / len(train)
    test_share = np.bincount(test.targets, minlength=10) / len(test)
    assert np.abs(train_share - test_share).max() < 0.01  # stratified
    images, _ = train.get_batch(np.arange(64))
    # colours differ from image to image: the paper colour (brightest pixel) is not one value
    paper = images.reshape(64, 3, -1).float().max(dim=2).values
    assert paper.std(dim=0).min() > 10


def test_digits_folder_is_deterministic_for_a_seed(tmp_path):
    write_digits_folder(tmp_path / "a", size=8, seed=3)
    write_digits_folder(tmp_path / "b", size=8, seed=3)
    first = sorted((tmp_path / "a").rglob("*.png"))
    second = sorted((tmp_path / "b").rglob("*.png"))
    assert [p.relative_to(tmp_path / "a") for p in first] == [p.relative_to(tmp_path / "b") for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first[:50], second[:50]))
