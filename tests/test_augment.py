"""Augmentation at another output size: crops of a larger cache are shrunk, never
stretched, and evaluation sees the centre at the same size."""
import pytest
import torch

from wikiart_core import augment, data, experiment
from wikiart_core.experiment import RunSpec


def test_center_crop_keeps_the_middle_and_refuses_to_grow():
    images = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    cropped = augment.center_crop(images, 4)
    assert cropped.shape == (2, 3, 4, 4) and torch.equal(cropped, images[..., 1:5, 1:5])
    assert augment.center_crop(images, None) is images and augment.center_crop(images, 6) is images
    with pytest.raises(ValueError, match="at least the input size"):
        augment.center_crop(images, 8)


def test_augment_batch_resamples_crops_to_the_output_size():
    images = torch.rand(4, 3, 20, 20, generator=torch.Generator().manual_seed(0))
    out = augment.augment_batch(images, torch.Generator().manual_seed(1), output_size=16)
    assert out.shape == (4, 3, 16, 16) and out.min() >= 0 and out.max() <= 1
    again = augment.augment_batch(images, torch.Generator().manual_seed(1), output_size=16)
    assert torch.equal(out, again)
    flipped_only = augment.apply_preset("flip", images, torch.Generator().manual_seed(1), output_size=16)
    assert flipped_only.shape == (4, 3, 16, 16)
    centre = augment.apply_preset("none", images, torch.Generator(), output_size=16)
    assert torch.equal(centre, images[..., 2:18, 2:18])


def test_cache_side():
    assert data.cache_side(224) == 256 and data.cache_side(64) == 73 and data.cache_side(32, 1.0) == 32
    with pytest.raises(ValueError):
        data.cache_side(64, 0.9)


def test_a_run_with_a_larger_cache_feeds_the_model_its_input_size(tiny_splits):
    train, test = tiny_splits  # decoded at 16 px
    splits = data.make_splits(train, test)
    seen = set()
    spec = RunSpec(name="crop", model="stylecnn", model_args=dict(width=4, depth=2), epochs=1, lr=3e-3,
                   batch_size=16, device="cpu", input_size=12)
    model = experiment.build_model(spec, splits)
    model.register_forward_pre_hook(lambda module, inputs: seen.add(tuple(inputs[0].shape[-2:])))
    original_build = experiment.build_model
    try:
        experiment.build_model = lambda *_args: model
        result = experiment.run(spec, splits)
    finally:
        experiment.build_model = original_build
    assert seen == {(12, 12)}, "training, validation and test all feed the model 12 px inputs"
    assert result.test is not None and result.spec.input_size == 12
