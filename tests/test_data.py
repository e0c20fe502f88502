"""WikiArtDataset: label mapping, decoding of every image mode, refused files, the cache."""
import io
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wikiart_core.data import DataError, SkippedFilesWarning, WikiArtDataset, decode_image, to_float

SIZE = 16


def save(path: Path, image: Image.Image, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kwargs)
    return path


def solid(color=(200, 30, 30), size=(40, 30), mode="RGB") -> Image.Image:
    return Image.new(mode, size, color)


def make_split(root: Path, styles: dict[str, int], color=(10, 120, 200)) -> Path:
    for style, count in styles.items():
        for index in range(count):
            save(root / style / f"{index}.jpg", solid(color))
    return root


# --------------------------------------------------------------------------- mapping


def test_classes_are_sorted_and_test_split_uses_train_mapping(tmp_path):
    train = WikiArtDataset(make_split(tmp_path / "train", {"Rococo": 2, "Baroque": 3, "Cubism": 1}), SIZE,
                           progress=False)
    assert train.classes == ["Baroque", "Cubism", "Rococo"]
    assert train.class_to_idx == {"Baroque": 0, "Cubism": 1, "Rococo": 2}
    assert train.class_counts() == {"Baroque": 3, "Cubism": 1, "Rococo": 2}
    # The test split lacks Cubism: fine, and the mapping is still the train split's.
    test = WikiArtDataset(make_split(tmp_path / "test", {"Rococo": 1, "Baroque": 1}), SIZE,
                          classes=train.classes, progress=False)
    assert test.classes == train.classes
    assert sorted(test.targets) == [0, 2]
    assert test.class_counts()["Cubism"] == 0


def test_test_split_with_unknown_style_is_an_error_or_dropped(tmp_path):
    make_split(tmp_path / "test", {"Baroque": 1, "Vaporwave": 2})
    with pytest.raises(DataError, match=r"\['Vaporwave'\] are not in the class list"):
        WikiArtDataset(tmp_path / "test", SIZE, classes=["Baroque", "Rococo"], progress=False)
    with pytest.warns(UserWarning, match="dropping style folder.*Vaporwave"):
        test = WikiArtDataset(tmp_path / "test", SIZE, classes=["Baroque", "Rococo"], unknown_styles="drop",
                              progress=False)
    assert len(test) == 1 and test.targets == [0]


def test_missing_and_empty_roots_are_errors_naming_them(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nowhere")):
        WikiArtDataset(tmp_path / "nowhere", SIZE)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no style folders"):
        WikiArtDataset(tmp_path / "empty", SIZE)


def test_style_folder_without_usable_images_is_an_error_naming_it(tmp_path):
    make_split(tmp_path / "train", {"Baroque": 1})
    (tmp_path / "train" / "Rococo").mkdir()
    with pytest.raises(DataError, match=r"Rococo: style folder has no image files"):
        WikiArtDataset(tmp_path / "train", SIZE, progress=False)
    (tmp_path / "train" / "Rococo" / "bad.jpg").write_bytes(b"not a jpeg at all")
    with pytest.raises(DataError, match=r"(?s)Rococo: no usable image.*bad.jpg"):
        WikiArtDataset(tmp_path / "train", SIZE, progress=False)


# --------------------------------------------------------------------------- decoding


def test_every_mode_becomes_rgb_of_the_requested_size(tmp_path):
    cases = {
        "grey.jpg": (solid(128, mode="L"), {}),
        "cmyk.jpg": (solid((0, 255, 255, 0), mode="CMYK"), {}),  # pure red in CMYK
        "rgba.png": (solid((0, 0, 255, 255), mode="RGBA"), {}),
        "transparent.png": (solid((0, 0, 255, 0), mode="RGBA"), {}),
        "palette.png": (solid((0, 200, 0)).convert("P", palette=Image.Palette.ADAPTIVE), {}),
        "la.png": (solid((50, 255), mode="LA"), {}),
        "deep.png": (Image.fromarray(np.full((30, 40), 65535, dtype=np.uint16)), {}),
        "photo.webp": (solid((200, 30, 30)), {}),
    }
    for name, (image, kwargs) in cases.items():
        decoded = decode_image(save(tmp_path / name, image, **kwargs), SIZE)
        assert decoded.shape == (3, SIZE, SIZE) and decoded.dtype == np.uint8, name
    pixel = lambda name: decode_image(tmp_path / name, SIZE)[:, SIZE // 2, SIZE // 2].tolist()
    assert pixel("grey.jpg") == pytest.approx([128, 128, 128], abs=2)
    assert pixel("cmyk.jpg")[0] > 200 and pixel("cmyk.jpg")[1] < 60
    assert pixel("rgba.png") == [0, 0, 255]
    assert pixel("transparent.png") == [255, 255, 255]  # composited on white
    assert pixel("palette.png") == pytest.approx([0, 200, 0], abs=3)
    assert pixel("la.png") == [50, 50, 50]
    assert pixel("deep.png") == [255, 255, 255]  # 16-bit white stays white, not clipped noise


def test_exif_orientation_is_applied(tmp_path):
    # A 40x20 image, left half red, right half blue, stored with orientation 6
    # ("rotate 90 degrees clockwise to display"): it must come out portrait with red on top.
    array = np.zeros((20, 40, 3), dtype=np.uint8)
    array[:, :20] = (255, 0, 0)
    array[:, 20:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = save(tmp_path / "rotated.jpg", Image.fromarray(array), exif=exif, quality=95)
    decoded = decode_image(path, 20)
    top, bottom = decoded[:, 2, 10], decoded[:, 17, 10]
    assert top[0] > 200 and top[2] < 60, "red must be on top after applying EXIF orientation"
    assert bottom[2] > 200 and bottom[0] < 60


def test_jpeg_draft_mode_gives_the_same_picture(tmp_path):
    rng = np.random.default_rng(0)
    smooth = np.kron(rng.integers(0, 255, (8, 8, 3)), np.ones((52, 52, 1))).astype(np.uint8)  # 416 px
    path = save(tmp_path / "big.jpg", Image.fromarray(smooth), quality=95)
    decoded = decode_image(path, 64).astype(int)
    reference = np.asarray(Image.fromarray(smooth).resize((64, 64), Image.Resampling.BICUBIC)).transpose(2, 0, 1)
    assert np.abs(decoded - reference).mean() < 6


# --------------------------------------------------------------------------- refused files


@pytest.fixture
def odd_folder(tmp_path):
    root = tmp_path / "train"
    good = save(root / "Baroque" / "good one.jpg", solid())
    save(root / "Baroque" / "Ölgemälde é.jpg", solid())
    save(root / "Baroque" / "nested" / "inner.png", solid())
    full = io.BytesIO()
    solid(size=(64, 64)).save(full, format="JPEG")
    (root / "Baroque" / "truncated.jpg").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    (root / "Baroque" / "zero.jpg").write_bytes(b"")
    (root / "Baroque" / "notes.jpg").write_text("this is a text file")
    (root / "Baroque" / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (root / "Baroque" / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0")
    (root / "Baroque" / "readme.txt").write_text("hello")
    # A PNG whose header claims 40000 x 40000 pixels: Pillow's bomb check must refuse it.
    Image.MAX_IMAGE_PIXELS  # default limit, about 89 million pixels
    save(root / "Baroque" / "bomb.png", solid(size=(4, 4)))
    bomb = (root / "Baroque" / "bomb.png").read_bytes()
    import struct
    import zlib
    ihdr = struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    patched = bomb[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + bomb[33:]
    (root / "Baroque" / "bomb.png").write_bytes(patched)
    os.symlink(good, root / "Baroque" / "link.jpg")
    os.symlink(root / "Baroque" / "loop_b.jpg", root / "Baroque" / "loop_a.jpg")
    os.symlink(root / "Baroque" / "loop_a.jpg", root / "Baroque" / "loop_b.jpg")
    save(root / "Rococo" / "r.jpg", solid((250, 200, 220)))
    return root


def test_odd_files_are_refused_listed_and_warned_once(odd_folder):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = WikiArtDataset(odd_folder, SIZE, progress=False)
    ours = [w for w in caught if issubclass(w.category, SkippedFilesWarning)]
    assert len(ours) == 1 and "skipped 6 file(s)" in str(ours[0].message)
    reasons = {Path(path).name: reason for path, reason in dataset.skipped}
    assert set(reasons) == {"truncated.jpg", "zero.jpg", "notes.jpg", "bomb.png", "loop_a.jpg", "loop_b.jpg"}
    assert reasons["truncated.jpg"] == "truncated image file"
    assert reasons["zero.jpg"] == "empty file (0 bytes)"
    assert reasons["notes.jpg"] == "not an image Pillow can identify"
    assert reasons["bomb.png"].startswith("decompression bomb")
    assert reasons["loop_a.jpg"].startswith("cannot be read")
    names = sorted(Path(p).name for p in dataset.paths)
    assert names == ["good one.jpg", "inner.png", "link.jpg", "r.jpg", "Ölgemälde é.jpg"]
    assert dataset.classes == ["Baroque", "Rococo"]  # bad files never change the mapping
    image, label = dataset[0]
    assert image.shape == (3, SIZE, SIZE) and image.dtype == torch.uint8 and isinstance(label, int)


# --------------------------------------------------------------------------- cache


def test_cache_is_reused_then_invalidated_when_a_file_changes(tmp_path):
    root = make_split(tmp_path / "train", {"Baroque": 2, "Rococo": 2})
    cache = tmp_path / "cache"
    first = WikiArtDataset(root, SIZE, cache_dir=cache, progress=False)
    files = sorted(p.name for p in cache.iterdir())
    assert len(files) == 2 and {Path(f).suffix for f in files} == {".npy", ".json"}
    assert isinstance(first._images, np.memmap)

    # Second load: read from the cache, without decoding anything.
    import wikiart_core.data as data_module
    original = data_module.decode_image
    data_module.decode_image = lambda *a, **k: pytest.fail("decoded although the cache is valid")
    try:
        second = WikiArtDataset(root, SIZE, cache_dir=cache, progress=False)
    finally:
        data_module.decode_image = original
    assert torch.equal(second.get_batch([0, 1, 2, 3])[0], first.get_batch([0, 1, 2, 3])[0])

    # Change one file (new content, new mtime): the cache is rebuilt with the new pixels.
    target = root / "Rococo" / "0.jpg"
    save(target, solid((0, 255, 0)))
    os.utime(target, ns=(target.stat().st_atime_ns, target.stat().st_mtime_ns + 10**9))
    third = WikiArtDataset(root, SIZE, cache_dir=cache, progress=False)
    index = third.paths.index(str(target))
    assert third[index][0][1, 8, 8] > 200
    assert len(list(cache.iterdir())) == 2, "the stale cache is removed"
    # A different image size is a different cache entry.
    WikiArtDataset(root, SIZE * 2, cache_dir=cache, progress=False)
    assert len(list(cache.iterdir())) == 4


def test_get_batch_subset_and_limit_per_class(tmp_path):
    root = tmp_path / "train"
    for index in range(6):
        save(root / "A" / f"{index}.png", solid((index * 40, 0, 0)))
    for index in range(2):
        save(root / "B" / f"{index}.png", solid((0, 0, 100 + index)))
    dataset = WikiArtDataset(root, SIZE, progress=False)
    images, labels = dataset.get_batch([5, 0, 7])
    assert images.shape == (3, 3, SIZE, SIZE) and labels.tolist() == [0, 0, 1]
    assert images[0, 0, 0, 0] == 200 and images[1, 0, 0, 0] == 0 and images[2, 2, 0, 0] == 101
    small = dataset.limit_per_class(3, seed=0)
    assert small.class_counts() == {"A": 3, "B": 2}
    assert small.limit_per_class(3, seed=0).paths == small.paths
    x = to_float(images, mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])
    assert x.dtype == torch.float32 and x.min() >= -1 and x.max() <= 1


def test_an_interrupted_first_decode_leaves_no_cache_file(tmp_path, monkeypatch):
    root = make_split(tmp_path / "train", {"Baroque": 4, "Rococo": 4})
    cache = tmp_path / "cache"
    import wikiart_core.data as data_module

    original, calls = data_module.decode_image, []

    def interrupting(path, size):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(path, size)

    monkeypatch.setattr(data_module, "decode_image", interrupting)
    with pytest.raises(KeyboardInterrupt):
        WikiArtDataset(root, SIZE, cache_dir=cache, workers=1, progress=False)
    assert list(cache.iterdir()) == [], "neither a partial cache nor its metadata may stay behind"
    monkeypatch.setattr(data_module, "decode_image", original)
    dataset = WikiArtDataset(root, SIZE, cache_dir=cache, progress=False)
    assert isinstance(dataset._images, np.memmap) and len(dataset) == 8


def test_get_batch_labels_follow_a_replaced_target_list(tmp_path):
    dataset = WikiArtDataset(make_split(tmp_path / "train", {"A": 2, "B": 2}), SIZE, progress=False)
    assert dataset.get_batch([0, 3])[1].tolist() == [0, 1]
    relabelled = dataset.relabel({"A": 1, "B": 0})
    assert relabelled.get_batch([0, 3])[1].tolist() == [1, 0]
    assert dataset.get_batch([0, 3])[1].tolist() == [0, 1]


def test_get_batch_into_a_reused_buffer_gives_the_same_batch(tmp_path):
    root = tmp_path / "train"
    for index in range(5):
        save(root / "A" / f"{index}.png", solid((index * 40, 0, 0)))
    dataset = WikiArtDataset(root, SIZE, progress=False)
    buffer = np.zeros((8, 3, SIZE, SIZE), dtype=np.uint8)
    fresh, labels = dataset.get_batch([4, 1, 2])
    reused, reused_labels = dataset.get_batch([4, 1, 2], out=buffer)
    assert torch.equal(fresh, reused) and torch.equal(labels, reused_labels)
    assert np.shares_memory(reused.numpy(), buffer), "the batch is a view of the caller's buffer"
    with pytest.raises(ValueError, match="uint8 array of at least"):
        dataset.get_batch([0, 1, 2], out=np.zeros((2, 3, SIZE, SIZE), dtype=np.uint8))
