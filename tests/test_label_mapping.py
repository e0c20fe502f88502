"""Regression test for the course code's bug: a label mapping built with list(set(...))
changes between Python processes, so a model trained in one run is scored against
shuffled labels in the next. Ours must be the same in every process."""
import pytest
from PIL import Image

from wikiart_core import synth
from wikiart_core.data import label_mapping_in_subprocess

HASH_SEEDS = [0, 1, 2, 3, 4, 5]


@pytest.fixture(scope="module")
def style_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("styles")
    for style in synth.STYLES:  # the 27 real folder names
        (root / style).mkdir()
        Image.new("RGB", (8, 8), (120, 60, 30)).save(root / style / "a.jpg")
    return root


def assert_same_in_every_process(root, method):
    mappings = [label_mapping_in_subprocess(root, seed, method) for seed in HASH_SEEDS]
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
