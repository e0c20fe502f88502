"""Issue 5: one dataset folder with everything a shared server's folders collect.

Each entry says what must happen to it: decoded to RGB the right way round, skipped
with a reason (listed in .skipped, one summary warning), or a clear error naming it.
The label mapping never depends on which files were bad."""
import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from wikiart_core.data import DataError, SkippedFilesWarning, WikiArtDataset

SIZE = 16
RED, BLUE = (255, 0, 0), (0, 0, 255)


def put(path: Path, image: Image.Image, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def exif_rotated_jpeg(path: Path) -> Path:
    """40x20 stored landscape, red left / blue right, EXIF orientation 6: shown
    portrait with red on top."""
    array = np.zeros((20, 40, 3), dtype=np.uint8)
    array[:, :20], array[:, 20:] = RED, BLUE
    exif = Image.Exif()
    exif[0x0112] = 6
    return put(path, Image.fromarray(array), exif=exif, quality=95)


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny valid PNG whose header is rewritten to claim width x height pixels."""
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="PNG")
    data = buffer.getvalue()
    chunk = b"IHDR" + struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(data[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:])
    return path


# name -> expected: "ok" (decoded) or the start of the skip reason
EXPECTED = {
    "grey.jpg": "ok", "cmyk.jpg": "ok", "rgba.png": "ok", "palette.png": "ok", "deep16.png": "ok",
    "photo.webp": "ok", "rotated.jpg": "ok", "inner.jpg": "ok", "linked.jpg": "ok",
    "with space.jpg": "ok", "Ölbild é.jpg": "ok",
    "truncated.jpg": "truncated image file", "zero.jpg": "empty file (0 bytes)",
    "text.jpg": "not an image Pillow can identify", "bomb.png": "decompression bomb",
    "loop_a.jpg": "cannot be read", "loop_b.jpg": "cannot be read",
}


@pytest.fixture
def hostile(tmp_path):
    train = tmp_path / "train"
    baroque = train / "Baroque"
    put(baroque / "grey.jpg", Image.new("L", (30, 30), 128))
    put(baroque / "cmyk.jpg", Image.new("CMYK", (30, 30), (0, 255, 255, 0)))
    put(baroque / "rgba.png", Image.new("RGBA", (30, 30), (0, 0, 255, 128)))
    put(baroque / "palette.png", Image.new("RGB", (30, 30), (0, 200, 0)).convert("P"))
    put(baroque / "deep16.png", Image.fromarray(np.full((30, 30), 40000, dtype=np.uint16)))
    put(baroque / "photo.webp", Image.new("RGB", (30, 30), (200, 30, 30)))
    exif_rotated_jpeg(baroque / "rotated.jpg")
    put(baroque / "nested" / "inner.jpg", Image.new("RGB", (30, 30), (9, 9, 9)))
    target = put(baroque / "with space.jpg", Image.new("RGB", (30, 30), (90, 90, 90)))
    put(baroque / "Ölbild é.jpg", Image.new("RGB", (30, 30), (50, 60, 70)))
    os.symlink(target, baroque / "linked.jpg")
    os.symlink(baroque / "loop_b.jpg", baroque / "loop_a.jpg")
    os.symlink(baroque / "loop_a.jpg", baroque / "loop_b.jpg")
    whole = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(whole, format="JPEG")
    (baroque / "truncated.jpg").write_bytes(whole.getvalue()[:300])
    (baroque / "zero.jpg").write_bytes(b"")
    (baroque / "text.jpg").write_text("I am not a JPEG")
    png_claiming(baroque / "bomb.png", 40000, 40000)
    (baroque / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (baroque / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    put(train / "Rococo" / "r.jpg", Image.new("RGB", (30, 30), (250, 200, 220)))
    put(train / "Cubism" / "c.jpg", Image.new("RGB", (30, 30), (120, 100, 80)))
    # the test split lacks Cubism and has a style the train split lacks
    put(tmp_path / "test" / "Baroque" / "t.jpg", Image.new("RGB", (30, 30), (1, 1, 1)))
    put(tmp_path / "test" / "Rococo" / "t.jpg", Image.new("RGB", (30, 30), (1, 1, 1)))
    put(tmp_path / "test" / "Vaporwave" / "t.jpg", Image.new("RGB", (30, 30), (1, 1, 1)))
    return tmp_path


def test_every_file_gets_its_expected_outcome(hostile):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = WikiArtDataset(hostile / "train", SIZE, cache_dir=hostile / "cache", progress=False)
    summaries = [w for w in caught if issubclass(w.category, SkippedFilesWarning)]
    skipped_names = sorted(name for name, outcome in EXPECTED.items() if outcome != "ok")
    assert len(summaries) == 1, "one summary warning, not one per file"
    assert f"skipped {len(skipped_names)} file(s)" in str(summaries[0].message)

    reasons = {Path(path).name: reason for path, reason in dataset.skipped}
    assert sorted(reasons) == skipped_names
    for name in skipped_names:
        assert reasons[name].startswith(EXPECTED[name]), (name, reasons[name])

    decoded = {Path(path).name: index for index, path in enumerate(dataset.paths)}
    assert sorted(decoded) == sorted([n for n, o in EXPECTED.items() if o == "ok"] + ["r.jpg", "c.jpg"])
    assert dataset.classes == ["Baroque", "Cubism", "Rococo"]
    for name, index in decoded.items():
        image, label = dataset[index]
        assert image.shape == (3, SIZE, SIZE), name
        assert label == dataset.classes.index(Path(dataset.paths[index]).relative_to(hostile / "train").parts[0])

    rotated, _ = dataset[decoded["rotated.jpg"]]
    assert rotated[0, 2, SIZE // 2] > 200 and rotated[2, 2, SIZE // 2] < 60, "red on top after EXIF rotation"
    assert rotated[2, SIZE - 3, SIZE // 2] > 200, "blue at the bottom"
    cmyk, _ = dataset[decoded["cmyk.jpg"]]
    assert cmyk[0].float().mean() > 200 and cmyk[1].float().mean() < 60
    deep, _ = dataset[decoded["deep16.png"]]
    assert abs(int(deep[0, 8, 8]) - round(40000 / 65535 * 255)) <= 1, "16-bit grey scaled, not clipped"

    # Loading again reads the cache and reports the same refusals.
    with pytest.warns(SkippedFilesWarning):
        again = WikiArtDataset(hostile / "train", SIZE, cache_dir=hostile / "cache", progress=False)
    assert again.paths == dataset.paths and sorted(again.skipped) == sorted(dataset.skipped)


def test_split_mismatches(hostile):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFilesWarning)
        train = WikiArtDataset(hostile / "train", SIZE, progress=False)
    with pytest.raises(DataError, match=r"Vaporwave"):
        WikiArtDataset(hostile / "test", SIZE, classes=train.classes, progress=False)
    with pytest.warns(UserWarning, match="Vaporwave"):
        test = WikiArtDataset(hostile / "test", SIZE, classes=train.classes, unknown_styles="drop", progress=False)
    assert test.classes == train.classes and test.class_counts()["Cubism"] == 0


def test_empty_class_folder_is_an_error_naming_it(hostile):
    (hostile / "train" / "Minimalism").mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedFilesWarning)
        with pytest.raises(DataError, match=r"Minimalism: style folder has no image files"):
            WikiArtDataset(hostile / "train", SIZE, progress=False)
