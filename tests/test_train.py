"""The training loop: learning, determinism, interrupt/resume, failures with messages."""
import math

import numpy as np
import pytest
import torch
from torch import nn

from wikiart_core import models, train
from wikiart_core.device import DeviceError


class ColourSquares:
    """In-memory stand-in for a WikiArtDataset (same batch interface): four classes
    told apart by their mean colour, with per-pixel noise."""

    COLOURS = [[220, 40, 40], [40, 200, 40], [40, 40, 220], [200, 200, 40]]

    def __init__(self, per_class=8, size=16, seed=0):
        generator = torch.Generator().manual_seed(seed)
        images, labels = [], []
        for label, colour in enumerate(self.COLOURS):
            noise = torch.randn(per_class, 3, size, size, generator=generator) * 40
            images.append((torch.tensor(colour, dtype=torch.float32).view(1, 3, 1, 1) + noise).clamp(0, 255))
            labels += [label] * per_class
        self.images = torch.cat(images).to(torch.uint8)
        self.targets = labels
        self.classes = ["Amber", "Bamboo", "Cobalt", "Dandelion"]
        self.image_size = size

    def __len__(self):
        return len(self.targets)

    def get_batch(self, indices):
        indices = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        return self.images[indices].clone(), torch.as_tensor(self.targets)[indices]

    def class_counts(self):
        return {style: self.targets.count(i) for i, style in enumerate(self.classes)}


class TinyAutoencoder(nn.Module):
    """Just enough of an autoencoder for the reconstruct task: [0,1] in, [0,1] out."""

    def __init__(self, channels=8):
        super().__init__()
        self.init_args = dict(channels=channels)
        self.encoder = nn.Sequential(nn.Conv2d(3, channels, 3, stride=2, padding=1), nn.ReLU())
        self.decoder = nn.Sequential(nn.ConvTranspose2d(channels, 3, 4, stride=2, padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


pytestmark = pytest.mark.usefixtures("single_torch_thread")


def quiet(_line):
    pass


def new_model(init_seed=0):
    torch.manual_seed(init_seed)
    return models.build("StyleCNN", n_classes=4, width=4, depth=2, dropout=0.2)


def run(model, epochs=3, **kwargs):
    kwargs = {"lr": 3e-3, "batch_size": 8, "progress": False, "log": quiet, "device": "cpu", **kwargs}
    return train.fit(model, ColourSquares(), ColourSquares(per_class=4, seed=1), epochs=epochs, **kwargs)


def weights_equal(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_loss_goes_down_and_history_is_complete():
    history = run(new_model(), epochs=4, lr=5e-3)
    losses = history.column("train_loss")
    assert len(history) == 4 and [r.epoch for r in history.records] == [1, 2, 3, 4]
    assert losses[-1] < losses[0]
    assert set(history.records[-1].val) == {"accuracy", "balanced_accuracy", "macro_f1"}
    assert all(r.seconds > 0 and r.images_per_s > 0 for r in history.records)
    assert history.records[-1].lr == pytest.approx(0.0, abs=1e-9)  # cosine ends at 0
    assert not history.interrupted and history.checkpoint is None and history.device == "cpu"
    assert "balanced_accuracy" in history.table()
    assert train.History.from_dict(history.to_dict()).to_dict() == history.to_dict()


def test_same_seed_same_weights_and_different_seed_differs():
    a, b, c = new_model(), new_model(), new_model()
    history_a = run(a, seed=3, mixup=0.4, label_smoothing=0.1)
    history_b = run(b, seed=3, mixup=0.4, label_smoothing=0.1)
    run(c, seed=4, mixup=0.4, label_smoothing=0.1)
    assert weights_equal(a, b)
    assert history_a.column("train_loss") == history_b.column("train_loss")
    assert [r.val for r in history_a.records] == [r.val for r in history_b.records]
    assert not weights_equal(a, c)


def test_fit_logs_device_once_and_one_line_per_epoch():
    lines = []
    run(new_model(), epochs=2, log=lines.append)
    assert lines[0].startswith("device: cpu")
    assert len(lines) == 3 and lines[1].startswith("epoch 1/2  loss ") and "bal_acc" in lines[1]
    assert lines[2].rstrip().endswith("img/s")


def test_sets_input_stats_from_training_data():
    model = new_model()
    run(model, epochs=1)
    expected_mean = ColourSquares().images.float().div(255).mean(dim=(0, 2, 3))
    assert torch.allclose(model.input_mean.flatten(), expected_mean, atol=1e-5)


class InterruptingLoss(nn.Module):
    """Cross-entropy that raises KeyboardInterrupt at the given call (a stop button mid-epoch)."""

    def __init__(self, at_call):
        super().__init__()
        self.calls, self.at_call = 0, at_call

    def forward(self, outputs, targets):
        self.calls += 1
        if self.calls == self.at_call:
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(outputs, targets)


def test_interrupt_mid_epoch_discards_it_saves_and_returns_history(tmp_path):
    lines = []
    model = new_model()
    # 32 images / batch 8 = 4 steps per epoch: call 6 is batch 2 of epoch 2.
    history = run(model, epochs=3, loss=InterruptingLoss(at_call=6), checkpoint_dir=tmp_path, log=lines.append)
    assert history.interrupted is True
    assert [r.epoch for r in history.records] == [1]
    assert history.checkpoint == tmp_path / "last.pt"
    saved, meta = train.load_checkpoint(tmp_path / "last.pt")
    assert meta["epoch"] == 1 and len(meta["history"]["records"]) == 1
    assert weights_equal(model, saved)  # the partial epoch's updates were undone
    assert any("interrupted" in line and "resume" in line and str(tmp_path / "last.pt") in line for line in lines)


def test_interrupt_without_checkpoint_dir_restores_in_memory():
    model = new_model()
    # Same run, stopped in epoch 2: the weights must be those after epoch 1 of an epochs=3 run.
    history = run(model, epochs=3, loss=InterruptingLoss(at_call=6))
    assert history.interrupted and len(history) == 1 and history.checkpoint is None
    assert all(torch.isfinite(p).all() for p in model.parameters())
    after_one = new_model()
    one_epoch_only = run(after_one, epochs=3, loss=InterruptingLoss(at_call=5))  # stops at epoch 2's first batch
    assert len(one_epoch_only) == 1 and weights_equal(model, after_one)


class StopAfterEpoch:
    def __init__(self, epoch):
        self.epoch = epoch

    def __call__(self, record):
        if record.epoch == self.epoch:
            raise KeyboardInterrupt


class InterruptingSampler:
    """A seeded shuffle that raises KeyboardInterrupt at a given batch of a given epoch."""

    def __init__(self, n, batch_size, stop_epoch=None, stop_batch=2):
        self.n, self.batch_size, self.stop_epoch, self.stop_batch = n, batch_size, stop_epoch, stop_batch
        self.generator = torch.Generator().manual_seed(5)
        self.epoch = 0

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return self.n

    def __iter__(self):
        order = torch.randperm(self.n, generator=self.generator).tolist()
        for position, index in enumerate(order):
            if self.epoch == self.stop_epoch and position == (self.stop_batch - 1) * self.batch_size:
                raise KeyboardInterrupt
            yield index


@pytest.mark.parametrize("how", ["on_epoch_end", "sampler"])
def test_resume_after_interrupt_equals_uninterrupted_run(tmp_path, how):
    epochs, n = 4, len(ColourSquares())
    uninterrupted = new_model()
    reference = run(uninterrupted, epochs=epochs, seed=7, sampler=InterruptingSampler(n, 8))

    interrupted = new_model()
    if how == "on_epoch_end":
        first = run(interrupted, epochs=epochs, seed=7, sampler=InterruptingSampler(n, 8),
                    checkpoint_dir=tmp_path, on_epoch_end=StopAfterEpoch(2))
    else:  # stopped at batch 2 of epoch 3
        first = run(interrupted, epochs=epochs, seed=7, sampler=InterruptingSampler(n, 8, stop_epoch=3),
                    checkpoint_dir=tmp_path)
    assert first.interrupted and len(first) == 2

    resumed_model = new_model(init_seed=123)  # any weights: resume replaces them
    resumed = run(resumed_model, epochs=epochs, seed=7, sampler=InterruptingSampler(n, 8),
                  checkpoint_dir=tmp_path, resume=tmp_path / "last.pt")
    assert not resumed.interrupted and [r.epoch for r in resumed.records] == [1, 2, 3, 4]
    assert weights_equal(resumed_model, uninterrupted)
    assert resumed.column("train_loss") == reference.column("train_loss")
    assert [r.val for r in resumed.records] == [r.val for r in reference.records]


def test_resume_with_balanced_sampler_from_imbalance(tmp_path):
    imbalance = pytest.importorskip("wikiart_core.imbalance")
    data = ColourSquares()

    def sampler():
        return imbalance.configure("balanced_sampler", data.class_counts(), data.targets, seed=2)[1]

    reference_model = new_model()
    run(reference_model, epochs=3, sampler=sampler())
    model = new_model()
    run(model, epochs=3, sampler=sampler(), checkpoint_dir=tmp_path, loss=InterruptingLoss(at_call=10))
    resumed_model = new_model()
    run(resumed_model, epochs=3, sampler=sampler(), resume=tmp_path / "last.pt")
    assert weights_equal(resumed_model, reference_model)


def test_nan_loss_names_epoch_and_batch_and_suggests_lower_lr():
    calls = {"n": 0}

    def exploding(outputs, targets):
        calls["n"] += 1
        value = nn.functional.cross_entropy(outputs, targets)
        return value * float("nan") if calls["n"] == 7 else value  # epoch 2, batch 3

    model = new_model()
    with pytest.raises(train.TrainingError, match=r"epoch 2, batch 3.*lower the learning rate"):
        run(model, epochs=3, loss=exploding)
    assert all(torch.isfinite(p).all() for p in model.parameters())  # put back to epoch 1


def test_out_of_memory_names_batch_and_image_size(monkeypatch):
    model = new_model()

    def no_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(model, "forward", no_memory)
    with pytest.raises(train.TrainingError, match=r"batch_size=8 and image_size=16px.*batch_size=4"):
        run(model, epochs=1)


def test_named_device_that_is_absent_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="device='auto'"):
        run(new_model(), epochs=1, device="cuda")


def test_reconstruct_task_lowers_mse(monkeypatch):
    monkeypatch.setitem(models.MODELS, "TinyAutoencoder", TinyAutoencoder)
    torch.manual_seed(0)
    model = TinyAutoencoder()
    before = train._validate(model, ColourSquares(per_class=4, seed=1), "reconstruct", 64, torch.device("cpu"))
    history = run(model, epochs=3, task="reconstruct", lr=1e-2)
    assert set(history.records[-1].val) == {"mse", "psnr"}
    assert history.records[-1].val["mse"] < before["mse"]
    assert history.column("train_loss")[-1] < history.column("train_loss")[0]


def test_augment_batch_is_seeded_and_keeps_range():
    images = torch.rand(6, 3, 16, 16)
    first = train.augment_batch(images, torch.Generator().manual_seed(1))
    again = train.augment_batch(images, torch.Generator().manual_seed(1))
    other = train.augment_batch(images, torch.Generator().manual_seed(2))
    assert first.shape == images.shape and torch.equal(first, again) and not torch.equal(first, other)
    assert first.min() >= 0 and first.max() <= 1
    flips_only = train.augment_batch(images, torch.Generator().manual_seed(1), crop=False, jitter=0.0)
    for original, out in zip(images, flips_only):  # each image is itself or its mirror, exactly
        assert torch.equal(out, original) or torch.equal(out, original.flip(-1))


def test_warmup_cosine_schedule():
    multiplier = train.warmup_cosine(warmup_steps=4, total_steps=12)
    assert [multiplier(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert multiplier(8) == pytest.approx(0.5) and multiplier(12) == pytest.approx(0.0)
    assert math.isclose(train.warmup_cosine(0, 10)(0), 1.0)


def test_prefetching_batches_match_plain_reading(monkeypatch):
    # The CUDA path reads the next batch in a thread into pinned memory; pinning needs a
    # GPU, so it is replaced by the identity here: the batches must be the same, in order.
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: self)
    data = ColourSquares()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0)).tolist()
    plain = list(train._batches(data, order, 5, train._steps_per_epoch(len(data), 5), prefetch=False))
    fetched = list(train._batches(data, order, 5, train._steps_per_epoch(len(data), 5), prefetch=True))
    assert len(plain) == len(fetched) == 7  # 32 = 6 * 5 + 2: the last batch of 2 is kept
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(plain, fetched))
    assert train._steps_per_epoch(31, 5) == 6  # a last batch of 1 is dropped (batch norm)
