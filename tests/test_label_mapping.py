"""Regression test for the course code's bug: a label mapping built with list(set(...))
changes between Python processes, so a model trained in one run is scored against
shuffled labels in the next. Ours must be the same in every process."""
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from wikiart_core import synth
from wikiart_core.parts.bonus_a import label_mapping_in_subprocess

HASH_SEEDS = [0, 1, 2, 3, 4, 5]


@pytest.fixture(scope="module")
def style_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("styles")
    for style in synth.STYLES:  # the 27 real folder names
        (root / style).mkdir()
        Image.new("RGB", (8, 8), (120, 60, 30)).save(root / style / "a.jpg")
    return root


def assert_same_in_every_process(root, method):
    # One fresh Python process per hash seed (two at a time: each spends its time importing).
    with ThreadPoolExecutor(max_workers=2) as pool:
        mappings = list(pool.map(lambda seed: label_mapping_in_subprocess(root, seed, method), HASH_SEEDS))
    for seed, mapping in zip(HASH_SEEDS[1:], mappings[1:]):
        assert mapping == mappings[0], f"the {method} mapping changed with PYTHONHASHSEED={seed}"
    return mappings[0]


def test_our_mapping_is_the_sorted_styles_in_every_process(style_root):
    mapping = assert_same_in_every_process(style_root, "fixed")
    assert mapping == {style: index for index, style in enumerate(sorted(synth.STYLES))}


def test_the_original_mapping_fails_this_check(style_root):
    # The same check, run on the course code's mapping, must fail: that is the bug.
    with pytest.raises(AssertionError, match="original mapping changed"):
        assert_same_in_every_process(style_root, "original")


def test_relabel_gives_the_images_another_processes_labels(tmp_path):
    # What the notebook does with a mapping from another process: same images, its labels.
    from wikiart_core.data import WikiArtDataset
    from wikiart_core.parts.bonus_a import original_label_mapping

    for style in ("Baroque", "Cubism", "Rococo"):
        (tmp_path / style).mkdir()
        Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / style / "a.jpg")
    dataset = WikiArtDataset(tmp_path, image_size=8, progress=False)
    shuffled = {"Baroque": 2, "Cubism": 0, "Rococo": 1}
    view = dataset.relabel(shuffled)
    assert view.paths == dataset.paths and len(view) == len(dataset)
    assert view.targets == [shuffled[dataset.classes[label]] for label in dataset.targets] == [2, 0, 1]
    assert view.classes == ["Cubism", "Rococo", "Baroque"] and view.class_to_idx == shuffled
    assert dataset.targets == [0, 1, 2] and dataset.classes == ["Baroque", "Cubism", "Rococo"]  # a view, no change
    assert view.get_batch([0])[1].tolist() == [2]
    with pytest.raises(ValueError, match="Rococo"):
        dataset.relabel({"Baroque": 0, "Cubism": 1})
    assert set(original_label_mapping(tmp_path)) == {"Baroque", "Cubism", "Rococo"}
    assert sorted(original_label_mapping(tmp_path).values()) == [0, 1, 2]
