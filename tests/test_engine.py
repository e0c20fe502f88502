"""The training loop (``engine.fit``): learning, determinism, interrupt/resume, failures
with messages, and the pieces it is built from (augmentation, schedule, batches)."""
import math

import pytest
import torch
from torch import nn

from fakes import InMemoryDataset
from wikiart_core import augment, checkpoint, engine, imbalance, models, tasks
from wikiart_core.device import DeviceError
from wikiart_core.engine import EpochRecord, History, TrainConfig, TrainingError


class ColourSquares(InMemoryDataset):
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


class TinyAutoencoder(nn.Module):
    """Just enough of an autoencoder for the reconstruction task: [0,1] in, [0,1] out."""

    def __init__(self, channels=8):
        super().__init__()
        self.init_args = dict(channels=channels)
        self.encoder = nn.Sequential(nn.Conv2d(3, channels, 3, stride=2, padding=1), nn.ReLU())
        self.decoder = nn.Sequential(nn.ConvTranspose2d(channels, 3, 4, stride=2, padding=1), nn.Sigmoid())

    def forward(self, x):
        return self.decoder(self.encoder(x))


pytestmark = pytest.mark.usefixtures("single_torch_thread")

# 32 training images in batches of 8: 4 steps per epoch.
STEPS_PER_EPOCH = 4


def quiet(_line):
    pass


def new_model(init_seed=0):
    torch.manual_seed(init_seed)
    return models.build("StyleCNN", n_classes=4, width=4, depth=2, dropout=0.2)


def run(model, epochs=3, *, task=None, loss=None, mixup=0.0, label_smoothing=0.0, sampler=None, checkpoint_dir=None,
        resume=None, on_epoch_end=None, log=quiet, train_data=None, val_data="default", **config):
    """engine.fit with the tests' defaults: CPU, lr 3e-3, batch 8, the colour squares."""
    task = task or tasks.Classification(loss, label_smoothing=label_smoothing, mixup=mixup)
    settings = {"lr": 3e-3, "batch_size": 8, "device": "cpu", **config}
    val_data = ColourSquares(per_class=4, seed=1) if val_data == "default" else val_data
    return engine.fit(model, task, train_data or ColourSquares(), val_data, TrainConfig(epochs=epochs, **settings),
                      sampler=sampler, checkpoint_dir=checkpoint_dir, resume=resume, on_epoch_end=on_epoch_end,
                      progress=False, log=log)


def weights_equal(a, b):
    sa = a.state_dict() if isinstance(a, nn.Module) else a
    sb = b.state_dict() if isinstance(b, nn.Module) else b
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def snapshot(model):
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


# --------------------------------------------------------------------------- learning and determinism


def test_loss_goes_down_and_history_is_complete():
    history = run(new_model(), epochs=4, lr=5e-3)
    losses = history.column("train_loss")
    assert len(history) == 4 and [r.epoch for r in history.records] == [1, 2, 3, 4]
    assert losses[-1] < losses[0]
    assert set(history.records[-1].val) == {"accuracy", "balanced_accuracy", "macro_f1"}
    assert all(r.seconds > 0 and r.images_per_s > 0 for r in history.records)
    assert history.records[-1].lr == pytest.approx(0.0, abs=1e-9)  # cosine ends at 0
    assert not history.interrupted and history.checkpoint is None and history.device == "cpu"
    assert "balanced_accuracy" in history.table().splitlines()[0]
    assert History.from_dict(history.to_dict()).to_dict() == history.to_dict()
    assert all(math.isnan(value) for value in history.column("psnr"))  # a metric this task lacks


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
    pixels = ColourSquares().images.float().div(255)
    assert torch.allclose(model.input_mean.flatten(), pixels.mean(dim=(0, 2, 3)), atol=1e-5)
    assert torch.allclose(model.input_std.flatten(), pixels.std(dim=(0, 2, 3)), atol=1e-4)


def test_config_and_data_are_checked_before_training():
    with pytest.raises(ValueError, match="TrainConfig"):
        engine.fit(new_model(), tasks.Classification(), ColourSquares(), None, None, progress=False, log=quiet)
    for bad, words in ((dict(epochs=0), "epochs must be at least 1"), (dict(lr=0.0), "learning rate must be > 0"),
                       (dict(lr=float("nan")), "learning rate must be > 0"),
                       (dict(batch_size=0), "batch size must be at least 1"), (dict(seed=-1), "seed must be >= 0"),
                       (dict(weight_decay=-0.1), "weight decay must be >= 0")):
        with pytest.raises(ValueError, match=words):
            TrainConfig(**bad).check()
    one_image = ColourSquares(per_class=1)
    one_image.images, one_image.targets = one_image.images[:1], one_image.targets[:1]
    with pytest.raises(ValueError, match="1 image.*at least 2"):
        run(new_model(), epochs=1, train_data=one_image)


# --------------------------------------------------------------------------- interrupts


class InterruptingLoss(nn.Module):
    """Cross-entropy that raises KeyboardInterrupt at the given call (a stop button
    mid-epoch); with ``model`` it first records the model's state at that moment."""

    def __init__(self, at_call, model=None):
        super().__init__()
        self.calls, self.at_call, self.model, self.state_when_stopped = 0, at_call, model, None

    def forward(self, outputs, targets):
        self.calls += 1
        if self.calls == self.at_call:
            if self.model is not None:
                self.state_when_stopped = snapshot(self.model)
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(outputs, targets)


class StopAfterEpoch:
    def __init__(self, epoch):
        self.epoch = epoch

    def __call__(self, record):
        if record.epoch == self.epoch:
            raise KeyboardInterrupt


def test_interrupt_mid_epoch_discards_it_saves_and_returns_history(tmp_path):
    lines = []
    model = new_model()
    # call 6 is batch 2 of epoch 2
    history = run(model, epochs=3, loss=InterruptingLoss(at_call=STEPS_PER_EPOCH + 2), checkpoint_dir=tmp_path,
                  log=lines.append)
    assert history.interrupted is True
    assert [r.epoch for r in history.records] == [1]
    assert history.checkpoint == tmp_path / "last.pt"
    saved, meta = checkpoint.load_checkpoint(tmp_path / "last.pt")
    assert meta["epoch"] == 1 and len(meta["history"]["records"]) == 1
    assert weights_equal(model, saved)  # the partial epoch's updates were undone
    assert any("interrupted" in line and "resume" in line and str(tmp_path / "last.pt") in line for line in lines)
    assert "interrupted" in history.table()


def test_interrupt_in_the_first_epoch_goes_back_to_the_start(tmp_path):
    # last.pt is written before epoch 1, so even a stop in the first epoch has a state
    # to go back to: the fresh model with the training data's input statistics.
    start = new_model()
    tasks.Classification().prepare(start, ColourSquares(), seed=0)
    model = new_model()
    history = run(model, epochs=3, loss=InterruptingLoss(at_call=3), checkpoint_dir=tmp_path)
    assert history.interrupted and len(history) == 0
    assert weights_equal(model, start)
    state = checkpoint.read_checkpoint(tmp_path / "last.pt")
    assert state["epoch"] == 0 and state["history"]["records"] == []
    assert not (tmp_path / "best.pt").exists()  # nothing was validated yet


def test_interrupt_without_checkpoint_dir_keeps_the_weights_it_had():
    # Without a checkpoint_dir nothing is copied: the model stays as it was when stopped
    # (one batch into epoch 2 here), and the history keeps the complete epochs only.
    lines = []
    model = new_model()
    loss = InterruptingLoss(at_call=STEPS_PER_EPOCH + 2, model=model)
    history = run(model, epochs=3, loss=loss, log=lines.append)
    assert history.interrupted and len(history) == 1 and history.checkpoint is None
    assert loss.state_when_stopped is not None
    assert weights_equal(model, loss.state_when_stopped)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert any("keeps the weights it had when stopped" in line for line in lines)

    # Stopped at the end of epoch 1 instead: the weights after epoch 1, which differ
    # from those one batch later.
    after_one = new_model()
    stopped = run(after_one, epochs=3, on_epoch_end=StopAfterEpoch(1))
    assert stopped.interrupted and [r.epoch for r in stopped.records] == [1]
    assert not weights_equal(model, after_one)


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


@pytest.mark.parametrize("how", ["on_epoch_end", "loss_mid_epoch"])
def test_resume_equals_uninterrupted_run_with_the_default_shuffle(tmp_path, how):
    # No sampler: the seeded shuffle, the augmentation and dropout of each epoch come
    # from (seed, epoch), so a resumed run replays exactly what the uninterrupted one did.
    epochs = 4
    uninterrupted = new_model()
    reference = run(uninterrupted, epochs=epochs, seed=7, mixup=0.3)

    interrupted = new_model()
    if how == "on_epoch_end":
        first = run(interrupted, epochs=epochs, seed=7, mixup=0.3, checkpoint_dir=tmp_path,
                    on_epoch_end=StopAfterEpoch(2))
    else:  # the loss raises in batch 2 of epoch 3 (mixup calls the loss twice per batch)
        first = run(interrupted, epochs=epochs, seed=7, mixup=0.3, checkpoint_dir=tmp_path,
                    loss=InterruptingLoss(at_call=2 * (2 * STEPS_PER_EPOCH + 1) + 1))
    assert first.interrupted and [r.epoch for r in first.records] == [1, 2]
    assert first.column("train_loss") == reference.column("train_loss")[:2]
    assert checkpoint.read_checkpoint(tmp_path / "last.pt")["epoch"] == 2

    resumed_model = new_model(init_seed=123)
    resumed = run(resumed_model, epochs=epochs, seed=7, mixup=0.3, checkpoint_dir=tmp_path,
                  resume=tmp_path / "last.pt")
    assert not resumed.interrupted and [r.epoch for r in resumed.records] == [1, 2, 3, 4]
    assert weights_equal(resumed_model, uninterrupted)
    assert resumed.column("train_loss") == reference.column("train_loss")
    assert [r.val for r in resumed.records] == [r.val for r in reference.records]
    assert weights_equal(checkpoint.load_checkpoint(tmp_path / "last.pt")[0], uninterrupted)


def test_resume_with_balanced_sampler_from_imbalance(tmp_path):
    data = ColourSquares()

    def sampler():
        return imbalance.configure("balanced_sampler", data.class_counts(), data.targets, seed=2)[1]

    reference_model = new_model()
    run(reference_model, epochs=3, sampler=sampler())
    model = new_model()
    first = run(model, epochs=3, sampler=sampler(), checkpoint_dir=tmp_path, loss=InterruptingLoss(at_call=10))
    assert first.interrupted and len(first) == 2
    resumed_model = new_model()
    run(resumed_model, epochs=3, sampler=sampler(), resume=tmp_path / "last.pt")
    assert weights_equal(resumed_model, reference_model)


def test_resume_refuses_a_checkpoint_without_training_state(tmp_path):
    model = new_model()
    path = checkpoint.save_checkpoint(tmp_path / "weights_only.pt", model)
    with pytest.raises(checkpoint.CheckpointError, match="no training state.*cannot be resumed"):
        run(new_model(), epochs=2, resume=path)


# --------------------------------------------------------------------------- failures with messages


@pytest.mark.parametrize("with_checkpoints", [True, False])
def test_nan_loss_names_epoch_and_batch_and_suggests_lower_lr(tmp_path, with_checkpoints):
    calls = {"n": 0}

    def exploding(outputs, targets):
        calls["n"] += 1
        value = nn.functional.cross_entropy(outputs, targets)
        return value * float("nan") if calls["n"] == 7 else value  # epoch 2, batch 3

    model = new_model()
    folder = tmp_path if with_checkpoints else None
    with pytest.raises(TrainingError, match=r"epoch 2, batch 3.*lower the learning rate.*try lr=0.0003"):
        run(model, epochs=3, loss=exploding, checkpoint_dir=folder)
    if with_checkpoints:
        # A TrainingError with a checkpoint_dir puts the model back to last.pt (epoch 1), not NaN.
        assert all(torch.isfinite(p).all() for p in model.parameters())
        saved, meta = checkpoint.load_checkpoint(tmp_path / "last.pt")
        assert meta["epoch"] == 1
        assert weights_equal(model, saved)


def test_a_diverged_epoch_with_finite_losses_is_never_kept_as_best(tmp_path):
    # lr 1e3 makes every loss after the first batch huge but finite: validation would
    # score that epoch, and as the first one it would become best.pt.
    calls = {"n": 0}

    def blowing_up(outputs, targets):
        calls["n"] += 1
        value = nn.functional.cross_entropy(outputs, targets)
        return value if calls["n"] == 1 else value * 1e4

    model = new_model()
    with pytest.raises(TrainingError, match=r"diverged in epoch 1.*ten times lower.*usually run with lr between"):
        run(model, epochs=2, loss=blowing_up, checkpoint_dir=tmp_path, lr=1e3)
    assert not (tmp_path / "best.pt").exists()
    assert checkpoint.read_checkpoint(tmp_path / "last.pt")["epoch"] == 0
    # An ordinary run is not taken for a diverged one.
    run(new_model(), epochs=2, checkpoint_dir=tmp_path / "ordinary")
    assert (tmp_path / "ordinary" / "best.pt").is_file()


def test_out_of_memory_names_batch_and_image_size(monkeypatch):
    model = new_model()

    def no_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(model, "forward", no_memory)
    with pytest.raises(TrainingError, match=r"epoch 1, batch 1.*batch_size=8 and image_size=16px.*batch_size=4"):
        run(model, epochs=1)


def test_out_of_memory_while_validating_names_the_fix(monkeypatch):
    task = tasks.Classification()

    def no_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(task, "validate", no_memory)
    with pytest.raises(TrainingError, match=r"while validating after epoch 1 with batch_size=8.*smaller"):
        run(new_model(), epochs=1, task=task)


def test_named_device_that_is_absent_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DeviceError, match="device='auto'"):
        run(new_model(), epochs=1, device="cuda")


# --------------------------------------------------------------------------- another task


def test_reconstruction_task_lowers_mse(monkeypatch):
    monkeypatch.setitem(models.MODELS, "TinyAutoencoder", TinyAutoencoder)
    torch.manual_seed(0)
    model = TinyAutoencoder()
    task = tasks.Reconstruction()
    validation = ColourSquares(per_class=4, seed=1)
    before = task.validate(model, validation, 64, torch.device("cpu"))
    history = run(model, epochs=3, task=task, lr=1e-2, val_data=validation)
    assert set(history.records[-1].val) == {"mse", "psnr"}
    assert history.records[-1].val["mse"] < before["mse"]
    assert history.column("train_loss")[-1] < history.column("train_loss")[0]
    assert task.best_metric == "psnr" and task.higher_is_better


def test_task_improved_follows_the_direction_of_its_metric():
    task = tasks.Classification()
    assert task.improved(0.5, None) and task.improved(0.6, 0.5) and not task.improved(0.5, 0.5)
    assert not task.improved(None, 0.5)
    lower = tasks.Task()
    assert lower.improved(0.4, 0.5) and not lower.improved(0.6, 0.5)
    with pytest.raises(ValueError, match="unknown augmentation"):
        tasks.Classification(augment_preset="sepia")


# --------------------------------------------------------------------------- the pieces


def test_augment_batch_is_seeded_and_keeps_range():
    images = torch.rand(6, 3, 16, 16)
    first = augment.augment_batch(images, torch.Generator().manual_seed(1))
    again = augment.augment_batch(images, torch.Generator().manual_seed(1))
    other = augment.augment_batch(images, torch.Generator().manual_seed(2))
    assert first.shape == images.shape and torch.equal(first, again) and not torch.equal(first, other)
    assert first.min() >= 0 and first.max() <= 1
    flips_only = augment.augment_batch(images, torch.Generator().manual_seed(1), crop=False, jitter=0.0)
    # Without crops and jitter the flip coin is the generator's first draw: each image is
    # mirrored exactly when its draw is below 1/2, and left exactly as it was otherwise.
    mirrored = (torch.rand(6, generator=torch.Generator().manual_seed(1)) < 0.5).tolist()
    assert 0 < sum(mirrored) < 6  # this seed flips some and keeps some
    for original, out, flipped in zip(images, flips_only, mirrored):
        assert torch.equal(out, original.flip(-1) if flipped else original)


def test_augment_presets():
    images = torch.rand(4, 3, 16, 16)
    assert set(augment.PRESETS) >= {"art", "flip", "none"}
    assert augment.apply_preset("none", images, torch.Generator().manual_seed(0)) is images
    flipped = augment.apply_preset("flip", images, torch.Generator().manual_seed(0))
    assert all(torch.equal(o, i) or torch.equal(o, i.flip(-1)) for o, i in zip(flipped, images))
    with pytest.raises(ValueError, match="unknown augmentation"):
        augment.apply_preset("sepia", images, torch.Generator())


def test_warmup_cosine_schedule():
    multiplier = engine.warmup_cosine(warmup_steps=4, total_steps=12)
    assert [multiplier(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert multiplier(8) == pytest.approx(0.5) and multiplier(12) == pytest.approx(0.0)
    assert math.isclose(engine.warmup_cosine(0, 10)(0), 1.0)


def test_prefetching_batches_match_plain_reading(monkeypatch):
    # The CUDA path reads the next batch in a thread into pinned memory; pinning needs a
    # GPU, so it is replaced by the identity here: the batches must be the same, in order.
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda self: self)
    data = ColourSquares()
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0)).tolist()
    plain = list(engine.read_batches(data, order, 5, engine.steps_per_epoch(len(data), 5), prefetch=False))
    fetched = list(engine.read_batches(data, order, 5, engine.steps_per_epoch(len(data), 5), prefetch=True))
    assert len(plain) == len(fetched) == 7  # 32 = 6 * 5 + 2: the last batch of 2 is kept
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(plain, fetched))
    assert engine.steps_per_epoch(31, 5) == 6  # a last batch of 1 is dropped (batch norm)


def test_history_table_and_columns():
    history = History(records=[EpochRecord(epoch=1, train_loss=2.0, val={"psnr": 20.5}, lr=1e-3),
                               EpochRecord(epoch=2, train_loss=1.0, val={"psnr": 21.25}, lr=0.0)])
    assert history.column("train_loss") == [2.0, 1.0] and history.column("psnr") == [20.5, 21.25]
    table = history.table().splitlines()
    assert len(table) == 3 and "psnr" in table[0] and "21.25" in table[2]
    history.interrupted = True
    assert "interrupted; checkpoint: none written" in history.table()
    assert History.from_dict(history.to_dict()).to_dict() == history.to_dict()


def test_an_interrupt_right_after_resuming_into_a_new_folder_goes_back_to_the_resumed_state(tmp_path):
    # `train --resume old/last.pt --out new`: the new folder has no last.pt yet. A stop in
    # the first resumed epoch must still put the model back to the resumed epoch (and leave
    # a last.pt to resume from), not fail while handling the interrupt.
    first, second = tmp_path / "first", tmp_path / "second"
    run(new_model(), epochs=3, checkpoint_dir=first, on_epoch_end=StopAfterEpoch(1))
    saved, _ = checkpoint.load_checkpoint(first / "last.pt")
    model = new_model(init_seed=5)
    history = run(model, epochs=3, resume=first / "last.pt", checkpoint_dir=second,
                  loss=InterruptingLoss(at_call=2))
    assert history.interrupted and [r.epoch for r in history.records] == [1]
    assert weights_equal(model, saved)
    assert checkpoint.read_checkpoint(second / "last.pt")["epoch"] == 1


def test_auto_resume_continues_an_interrupted_run_and_reuses_a_finished_one(tmp_path):
    reference_model = new_model()
    reference = run(reference_model, epochs=4, seed=7)

    interrupted = new_model()
    first = run(interrupted, epochs=4, seed=7, checkpoint_dir=tmp_path, on_epoch_end=StopAfterEpoch(2))
    assert first.interrupted
    lines = []
    again = new_model(init_seed=5)
    resumed = run(again, epochs=4, seed=7, checkpoint_dir=tmp_path, resume="auto", log=lines.append)
    assert any("resumed from" in line and "2 epoch(s) done" in line for line in lines)
    assert weights_equal(again, reference_model)
    assert resumed.column("train_loss") == reference.column("train_loss")

    # Finished: a re-run trains nothing and gives back the same model and history.
    once_more = new_model(init_seed=9)
    finished = run(once_more, epochs=4, seed=7, checkpoint_dir=tmp_path, resume="auto")
    assert weights_equal(once_more, reference_model)
    assert finished.column("train_loss") == reference.column("train_loss")


def test_auto_resume_starts_afresh_when_the_settings_changed(tmp_path):
    run(new_model(), epochs=2, seed=7, checkpoint_dir=tmp_path)
    lines = []
    fresh_model = new_model()
    history = run(fresh_model, epochs=2, seed=7, lr=1e-3, checkpoint_dir=tmp_path, resume="auto", log=lines.append)
    assert any("from another setup" in line and "hyperparameters" in line for line in lines)
    plain_model = new_model()
    assert history.column("train_loss") == run(plain_model, epochs=2, seed=7, lr=1e-3).column("train_loss")


def test_a_fresh_run_refuses_to_overwrite_another_profiles_checkpoint(tmp_path):
    def fit(profile):
        return engine.fit(new_model(), tasks.Classification(), ColourSquares(), ColourSquares(per_class=4, seed=1),
                          TrainConfig(epochs=1, lr=3e-3, batch_size=8, device="cpu"), checkpoint_dir=tmp_path,
                          meta={"profile": profile, "dataset": "synthart"}, progress=False, log=quiet)

    fit("full")
    before = (tmp_path / "last.pt").read_bytes()
    with pytest.raises(checkpoint.CheckpointError, match="profile 'full'.*another folder"):
        fit("smoke")
    assert (tmp_path / "last.pt").read_bytes() == before
    fit("full")  # the same profile may start its own run again
