"""The training panel, driven headlessly: set values, click, read the results."""

import pytest

from wikiart_core import widgets
from wikiart_core.train import EpochRecord, History

# A panel that trains in a second: a narrow StyleCNN on the CPU.
SMALL = {"model": "stylecnn", "epochs": 1, "lr": 3e-3, "imbalance": "none", "seed": 0,
         "model_args": {"stylecnn": {"width": 4, "depth": 2}}, "fit_kwargs": {"device": "cpu"}}


class FakeFit:
    """Stands in for train.fit: records what the panel passed and "trains" instantly."""

    def __init__(self):
        self.calls = []

    def __call__(self, model, train_data, val_data=None, **kwargs):
        self.calls.append(dict(kwargs, image_size=train_data.image_size, train_size=len(train_data)))
        history = History()
        for epoch in range(1, kwargs["epochs"] + 1):
            record = EpochRecord(epoch=epoch, train_loss=1.0 / epoch)
            history.records.append(record)
            if kwargs.get("on_epoch_end"):
                kwargs["on_epoch_end"](record)
        return history


def test_click_trains_with_the_chosen_values_and_keeps_the_results(tiny_splits):
    train, test = tiny_splits
    panel = widgets.training_panel(train, test, defaults=dict(SMALL, epochs=3, batch_size=8))
    assert panel.widget.children and panel.imbalance_method.options == tuple(widgets.imbalance.METHODS)
    panel.epochs.value = 2
    panel.batch_size.value = 16
    panel.learning_rate.value = 3e-3
    panel.imbalance_method.value = "logit_adjust"
    panel.seed.value = 1
    panel.train_button.click()
    assert panel.last_error is None, panel.last_error
    assert [record.epoch for record in panel.last_history.records] == [1, 2]
    metrics = panel.last_metrics
    assert 0.0 <= metrics["balanced_accuracy"] <= 1.0 and "majority" in metrics["baselines"]
    assert metrics["settings"] == {"model": "stylecnn", "image_size": 16, "lr": 3e-3, "batch_size": 16,
                                   "epochs": 2, "imbalance": "logit_adjust", "seed": 1}
    assert panel.message.value.startswith("Done")
    assert not panel.train_button.disabled


@pytest.mark.parametrize("control, value, words", [
    ("learning_rate", 0.0, "learning rate must be > 0"),
    ("learning_rate", -1e-3, "learning rate must be > 0"),
    ("batch_size", 10_000, "larger than the training set"),
    ("batch_size", 0, "batch size must be at least 1"),
    ("epochs", 0, "epochs must be at least 1"),
])
def test_invalid_values_are_refused_with_a_message_and_nothing_trains(tiny_splits, control, value, words):
    train, test = tiny_splits
    fake = FakeFit()
    panel = widgets.training_panel(train, test, defaults=dict(SMALL, batch_size=8), fit_fn=fake)
    getattr(panel, control).value = value
    panel.train_button.click()
    assert fake.calls == []
    assert words in panel.message.value and "Not trained" in panel.message.value
    assert panel.last_history is None and panel.last_metrics is None


def test_fit_receives_the_panel_values_and_the_imbalance_pieces(tiny_splits):
    train, test = tiny_splits
    fake = FakeFit()
    panel = widgets.training_panel(train, test, defaults=dict(SMALL, epochs=2, batch_size=8,
                                                             imbalance="balanced_sampler"), fit_fn=fake)
    panel.train_button.click()
    assert len(fake.calls) == 1, panel.last_error
    call = fake.calls[0]
    assert call["epochs"] == 2 and call["batch_size"] == 8 and call["loss"] is None
    assert call["sampler"] is not None and call["device"] == "cpu"
    assert [r.epoch for r in panel.last_history.records] == [1, 2]


def test_another_image_size_re_decodes_the_same_files(tiny_splits):
    train, test = tiny_splits
    fake = FakeFit()
    subset = train.limit_per_class(2, seed=0)
    panel = widgets.training_panel(subset, test, defaults=dict(SMALL, batch_size=4), fit_fn=fake)
    panel.image_size.value = 32
    panel.train_button.click()
    assert fake.calls and fake.calls[0]["image_size"] == 32 and fake.calls[0]["train_size"] == len(subset)
    resized, _ = panel.datasets_at(32)
    assert resized.paths == subset.paths and resized.targets == subset.targets


def test_unknown_defaults_are_refused(tiny_splits):
    train, test = tiny_splits
    with pytest.raises(ValueError, match="learning_rate"):
        widgets.training_panel(train, test, defaults={"learning_rate": 1e-3}, fit_fn=FakeFit())
