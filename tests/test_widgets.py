"""The training panel, driven headlessly: set values, click, read the results."""

import pytest

from wikiart_core import data, experiment, imbalance, widgets
from wikiart_core.engine import EpochRecord, History

# A panel that trains in a second: a narrow StyleCNN on the CPU.
SMALL = experiment.RunSpec(model="stylecnn", epochs=1, lr=3e-3, model_args={"width": 4, "depth": 2}, device="cpu")

# The tiny set has 2 training images per style: scikit-learn warns that this many
# classes for so few samples looks like regression (the colour baseline). Expected here.
pytestmark = [pytest.mark.usefixtures("single_torch_thread"),
              pytest.mark.filterwarnings("ignore:The number of unique classes is greater than 50%")]



@pytest.fixture(scope="module")
def splits(tiny_splits):
    return data.make_splits(*tiny_splits)


class FakeFit:
    """Stands in for engine.fit inside the real runner: records what it was given and
    "trains" instantly (the model keeps its initial weights)."""

    def __init__(self):
        self.calls = []

    def __call__(self, model, task, train_data, val_data, config, **kwargs):
        self.calls.append(dict(kwargs, model=model, task=task, config=config, train_data=train_data,
                               val_data=val_data, image_size=train_data.image_size, train_size=len(train_data)))
        history = History(device="cpu")
        for epoch in range(1, config.epochs + 1):
            record = EpochRecord(epoch=epoch, train_loss=1.0 / epoch, val={"balanced_accuracy": 0.1})
            history.records.append(record)
            if kwargs.get("on_epoch_end"):
                kwargs["on_epoch_end"](record)
        return history


class FakeRun:
    """Stands in for experiment.run: records the calls, trains nothing."""

    def __init__(self):
        self.calls = []

    def __call__(self, spec, splits, **kwargs):
        self.calls.append((spec, splits, kwargs))
        raise AssertionError("should not have been called")


def runner_with(fit):
    """experiment.run with a fake fit: the panel's own runner, minus the training."""
    def run(spec, splits, **kwargs):
        return experiment.run(spec, splits, fit_fn=fit, **kwargs)
    return run


def test_click_trains_with_the_chosen_values_and_keeps_the_results(splits):
    panel = widgets.training_panel(splits, SMALL.replace(epochs=3, batch_size=8))
    assert panel.widget.children and panel.imbalance_method.options == tuple(imbalance.METHODS)
    panel.epochs.value = 2
    panel.batch_size.value = 16
    panel.learning_rate.value = 3e-3
    panel.imbalance_method.value = "logit_adjust"
    panel.seed.value = 1
    panel.train_button.click()
    assert panel.last_error is None, panel.last_error
    result = panel.last_result
    assert isinstance(result, experiment.RunResult)
    assert [record.epoch for record in result.history.records] == [1, 2]
    assert panel.settings() == {"model": "stylecnn", "image_size": 16, "lr": 3e-3, "batch_size": 16, "epochs": 2,
                                "imbalance": "logit_adjust", "seed": 1}
    spec = result.spec
    assert (spec.model, spec.lr, spec.batch_size, spec.epochs, spec.imbalance, spec.seed, spec.device) == (
        "stylecnn", 3e-3, 16, 2, "logit_adjust", 1, "cpu")
    assert spec.model_args == {"width": 4, "depth": 2}
    # Scores on the validation split next to its baselines; the panel never scores test.
    assert 0.0 <= result.validation["balanced_accuracy"] <= 1.0
    assert result.validation["n_samples"] == len(splits.validation)
    assert {"majority", "stratified", "colour_statistics"} <= set(result.baselines["validation"])
    assert result.test is None and "test" not in result.baselines
    assert panel.message.value.startswith("Done") and "validation" in panel.message.value
    assert not panel.train_button.disabled


@pytest.mark.parametrize("control, value, words", [
    ("learning_rate", 0.0, "learning rate must be > 0"),
    ("learning_rate", -1e-3, "learning rate must be > 0"),
    ("learning_rate", float("nan"), "learning rate must be > 0"),
    ("batch_size", 10_000, "larger than the training set"),
    ("batch_size", 0, "batch size must be at least 1"),
    ("epochs", 0, "epochs must be at least 1"),
    ("seed", -1, "seed must be >= 0"),
])
def test_invalid_values_are_refused_with_a_message_and_nothing_trains(splits, control, value, words):
    fake = FakeRun()
    panel = widgets.training_panel(splits, SMALL.replace(batch_size=8), run_fn=fake)
    getattr(panel, control).value = value
    panel.train_button.click()
    assert fake.calls == []
    assert words in panel.message.value and "Not trained" in panel.message.value
    assert panel.last_result is None and panel.last_error is None


def test_the_runner_gets_the_panel_values_and_the_imbalance_pieces(splits):
    fake = FakeFit()
    panel = widgets.training_panel(splits, SMALL.replace(epochs=2, batch_size=8, imbalance="balanced_sampler"),
                                   run_fn=runner_with(fake))
    panel.train_button.click()
    assert len(fake.calls) == 1, panel.last_error
    call = fake.calls[0]
    assert call["config"].epochs == 2 and call["config"].batch_size == 8 and call["config"].device == "cpu"
    assert call["config"].lr == 3e-3 and call["config"].seed == 0
    # balanced_sampler: plain cross-entropy, and a sampler over the training images
    assert type(call["task"].loss_function).__name__ == "CrossEntropyLoss"
    assert call["sampler"] is not None and len(call["sampler"]) == len(splits.train)
    assert call["train_data"] is splits.train and call["val_data"] is splits.validation
    assert callable(call["on_epoch_end"])  # the live curve
    assert [r.epoch for r in panel.last_result.history.records] == [1, 2]
    assert panel.last_result.test is None


def test_the_panel_asks_the_runner_not_to_score_the_test_split(splits):
    calls = []

    def run(spec, splits, **kwargs):
        calls.append(kwargs)
        return experiment.run(spec, splits, fit_fn=FakeFit(), **kwargs)

    panel = widgets.training_panel(splits, SMALL.replace(batch_size=8), run_fn=run)
    panel.train_button.click()
    assert calls and calls[0]["score_test_split"] is False and panel.last_result.test is None


def test_another_image_size_re_decodes_the_same_files(tiny_splits):
    fake = FakeFit()
    train, test = tiny_splits
    small = data.make_splits(train, test, max_train_per_class=2)
    panel = widgets.training_panel(small, SMALL.replace(batch_size=4), run_fn=runner_with(fake))
    panel.image_size.value = 32
    panel.train_button.click()
    assert panel.last_error is None, panel.last_error
    assert fake.calls and fake.calls[0]["image_size"] == 32 and fake.calls[0]["train_size"] == len(small.train)
    resized = panel.splits_at(32)
    assert resized.image_size == 32 and resized is panel.splits_at(32)  # decoded once per size
    for before, after in zip(small, resized):
        assert after.paths == before.paths and after.targets == before.targets
    assert panel.splits_at(16) is small


def test_a_failed_training_is_shown_in_the_panel(splits):
    def broken(spec, splits, **kwargs):
        raise RuntimeError("the GPU caught fire")

    panel = widgets.training_panel(splits, SMALL.replace(batch_size=8), run_fn=broken)
    panel.train_button.click()
    assert "Training failed" in panel.message.value and "the GPU caught fire" in panel.message.value
    assert "RuntimeError" in panel.last_error and panel.last_result is None
    assert not panel.train_button.disabled


def test_a_starting_spec_the_panel_cannot_train_is_refused(splits):
    with pytest.raises(ValueError, match="the panel trains"):
        widgets.training_panel(splits, SMALL.replace(model="ConvAutoencoder"), run_fn=FakeRun())
    with pytest.raises(ValueError, match="imbalance method must be one of"):
        widgets.training_panel(splits, SMALL.replace(imbalance="focal"), run_fn=FakeRun())


def test_the_panel_returns_its_starting_spec_with_only_the_controls_changed(splits):
    start = SMALL.replace(warmup_epochs=0.25, augment="flip", weight_decay=0.01, batch_size=8)
    panel = widgets.training_panel(splits, start, other_model_args={"seedcnn": {"variant": "fixed"}},
                                   run_fn=FakeRun())
    assert panel.spec().replace(name=start.name) == start
    panel.learning_rate.value = 1e-2
    panel.model.value = "seedcnn"
    changed = panel.spec()
    assert (changed.lr, changed.model, changed.model_args) == (1e-2, "seedcnn", {"variant": "fixed"})
    assert (changed.warmup_epochs, changed.augment, changed.weight_decay) == (0.25, "flip", 0.01)


def test_static_copy_shows_the_panels_last_curve_and_table(splits, monkeypatch, capsys):
    from matplotlib.figure import Figure

    shown = []
    monkeypatch.setattr(widgets, "display", shown.append)
    panel = widgets.training_panel(splits, SMALL.replace(batch_size=8), run_fn=runner_with(FakeFit()))
    widgets.static_copy(panel)
    assert len(shown) == 1 and "has not been used" in shown[0].data
    shown.clear()
    panel.train()
    capsys.readouterr()
    assert isinstance(panel.last_outputs[0], Figure) and "validation" in panel.last_outputs[1]
    shown.clear()
    widgets.static_copy(panel)
    assert "copied as a picture and text" in shown[0].data and shown[1] is panel.last_outputs[0]
    assert panel.last_outputs[1] in capsys.readouterr().out


def test_the_style_painter_repaints_with_the_chosen_styles(splits):
    import torch

    from wikiart_core import models

    torch.manual_seed(0)
    generator = models.StyleConditionedAutoencoder(n_styles=len(splits.classes), image_size=16, base_channels=4,
                                                   depth=1, embedding_dim=4)
    for module in generator.modules():
        if isinstance(module, models.ConditionalInstanceNorm):
            torch.nn.init.normal_(module.to_scale_shift.weight, std=0.3)
    painter = widgets.style_painter(generator, splits.test, start_style=2)
    assert painter.last_error is None, painter.last_error
    first = painter.last_painting.clone()
    painter.style.value = 5
    assert not torch.equal(first, painter.last_painting)
    painter.second_style.value = 2
    painter.mix.value = 1.0  # all of the second style: the first painting again
    assert torch.allclose(first, painter.last_painting, atol=1e-6)
    assert "Color Field" in painter.message.value or "+" in painter.message.value
    assert len(painter.last_outputs) == 1
