"""Checkpoints: complete, atomic, safe to load (weights_only), and never silently mislabelled."""
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from fakes import InMemoryDataset
from wikiart_core import checkpoint, engine, models, tasks
from wikiart_core.checkpoint import CheckpointError
from wikiart_core.engine import TrainConfig


class Stripes(InMemoryDataset):
    """Tiny in-memory dataset with the WikiArtDataset batch interface (3 classes)."""

    classes = ["Baroque", "Cubism", "Ukiyo_e"]
    image_size = 12

    def __init__(self, per_class=6, seed=0):
        generator = torch.Generator().manual_seed(seed)
        self.images = (torch.rand(3 * per_class, 3, 12, 12, generator=generator) * 255).to(torch.uint8)
        for label in range(3):  # a brighter band per class, so there is something to learn
            self.images[label * per_class:(label + 1) * per_class, label, 4 * label:4 * label + 4] = 250
        self.targets = [label for label in range(3) for _ in range(per_class)]


def quiet(_line):
    pass


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def trained(single_torch_thread, tmp_path_factory):
    """A 2-epoch run with checkpoints: (folder, model, history)."""
    folder = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    model = models.build("StyleCNN", n_classes=3, width=4, depth=2)
    history = engine.fit(model, tasks.Classification(), Stripes(), Stripes(per_class=3, seed=1),
                         TrainConfig(epochs=2, batch_size=6, lr=3e-3, seed=11, device="cpu"), progress=False,
                         log=quiet, checkpoint_dir=folder, meta={"profile": "smoke"})
    return folder, model, history


# Everything a resume, a re-evaluation and a reader of the file need. The random state
# of an epoch is derived from (seed, epoch), so the seed is all of it; a sampler with its
# own generator (the balanced sampler) has that generator's state saved.
REQUIRED_FIELDS = {
    "format", "format_version", "model_class", "init_args", "state_dict", "partial_state", "classes",
    "image_size", "train_counts", "normalisation", "optimizer", "scheduler", "sampler_generator", "epoch",
    "epochs", "history", "seed", "profile", "task", "loss", "augment", "versions", "hyperparameters", "best",
}


def test_checkpoint_loads_weights_only_and_carries_every_field(trained):
    folder, model, history = trained
    state = torch.load(folder / "last.pt", weights_only=True)  # no arbitrary code runs
    assert REQUIRED_FIELDS <= set(state)
    assert state["model_class"] == "StyleCNN" and state["init_args"] == model.init_args
    assert state["classes"] == Stripes.classes and state["image_size"] == 12
    assert state["epoch"] == 2 and state["epochs"] == 2 and state["seed"] == 11 and state["profile"] == "smoke"
    assert state["task"] == "classify" and state["loss"] == "CrossEntropyLoss" and state["augment"] == "art"
    assert state["train_counts"] == {"Baroque": 6, "Cubism": 6, "Ukiyo_e": 6}
    assert state["partial_state"] is False and state["sampler_generator"] is None  # the seeded shuffle
    assert state["hyperparameters"]["lr"] == 3e-3 and state["hyperparameters"]["batch_size"] == 6
    assert state["hyperparameters"]["amp"] is False  # CPU runs stay fp32
    assert state["normalisation"]["mean"] == pytest.approx(model.input_mean.flatten().tolist())
    assert set(state["versions"]) >= {"torch", "torchvision", "python", "wikiart_core"}
    assert len(state["history"]["records"]) == 2 and state["history"] == history.to_dict() | {
        "checkpoint": state["history"]["checkpoint"]}
    assert state["optimizer"]["state"] and state["scheduler"]["last_epoch"] == 2 * 3
    assert (folder / "best.pt").is_file()


def test_load_checkpoint_rebuilds_the_same_model(trained):
    folder, model, _ = trained
    loaded, meta = checkpoint.load_checkpoint(folder / "last.pt")
    assert type(loaded) is type(model) and not loaded.training
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))
    assert "state_dict" not in meta and meta["classes"] == Stripes.classes
    images = torch.rand(2, 3, 12, 12)
    model.eval()
    with torch.inference_mode():
        assert torch.equal(loaded(images), model(images))


def test_best_checkpoint_follows_balanced_accuracy(trained):
    folder, _, history = trained
    best = torch.load(folder / "best.pt", weights_only=True)
    scores = history.column("balanced_accuracy")
    assert best["best"] == max(scores)
    assert best["epoch"] == scores.index(max(scores)) + 1


def test_save_is_atomic_when_interrupted_mid_write(tmp_path, monkeypatch):
    model = models.build("StyleCNN", n_classes=3, width=4, depth=1)
    path = checkpoint.save_checkpoint(tmp_path / "last.pt", model, epoch=1, classes=Stripes.classes)
    before = path.read_bytes()
    real_save = torch.save

    def save_then_fail(obj, handle, *args, **kwargs):
        real_save(obj, handle, *args, **kwargs)
        handle.write(b"half")  # some bytes already on disk when the interrupt lands
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", save_then_fail)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save_checkpoint(path, model, epoch=2, classes=Stripes.classes)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert checkpoint.load_checkpoint(path)[1]["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary file left


def test_meta_that_would_need_pickle_is_refused(tmp_path):
    model = models.build("StyleCNN", n_classes=3, width=4, depth=1)
    with pytest.raises(TypeError, match=r"meta\['callback'\].*weights_only"):
        checkpoint.save_checkpoint(tmp_path / "x.pt", model, callback=object())
    assert not list(tmp_path.iterdir())


def test_missing_corrupt_and_foreign_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        checkpoint.load_checkpoint(tmp_path / "nothere.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00not a zip at all")
    with pytest.raises(CheckpointError, match="corrupt.pt.*cannot be read"):
        checkpoint.load_checkpoint(corrupt)
    truncated = tmp_path / "truncated.pt"
    model = models.build("StyleCNN", n_classes=3, width=4, depth=1)
    good = checkpoint.save_checkpoint(tmp_path / "good.pt", model).read_bytes()
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(CheckpointError, match="truncated.pt"):
        checkpoint.load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(CheckpointError, match="foreign.pt.*not a wikiart_core checkpoint"):
        checkpoint.load_checkpoint(foreign)


def test_resume_refuses_a_different_model_or_task(trained):
    folder, _, _ = trained
    other = models.build("StyleCNN", n_classes=3, width=8, depth=2)
    with pytest.raises(CheckpointError, match=r"different setup.*init_args"):
        engine.fit(other, tasks.Classification(), Stripes(), None, TrainConfig(epochs=3, device="cpu"),
                   progress=False, log=quiet, resume=folder / "last.pt")
    same = models.build("StyleCNN", n_classes=3, width=4, depth=2)
    with pytest.raises(CheckpointError, match=r"different setup.*task 'classify' vs 'reconstruct'"):
        engine.fit(same, tasks.Reconstruction(), Stripes(), None, TrainConfig(epochs=3, device="cpu"),
                   progress=False, log=quiet, resume=folder / "last.pt")


def test_check_classes_names_the_differing_styles():
    styles = ["Baroque", "Cubism", "Ukiyo_e"]
    checkpoint.check_classes(styles, list(styles))
    with pytest.raises(ValueError, match=r"not in the data: \['Ukiyo_e'\].*not in the checkpoint: \['Pop_Art'\]"):
        checkpoint.check_classes(styles, ["Baroque", "Cubism", "Pop_Art"])
    with pytest.raises(ValueError, match=r"different order.*Baroque \(0 -> 1\).*Cubism \(1 -> 0\)"):
        checkpoint.check_classes(styles, ["Cubism", "Baroque", "Ukiyo_e"])
    checkpoint.check_classes(styles, ["Cubism", "Baroque", "Ukiyo_e"], order_matters=False)
    with pytest.raises(ValueError, match=r"not in the data: \['Cubism'\]"):
        checkpoint.check_classes(styles, ["Baroque", "Ukiyo_e"], order_matters=False)


class _RunsCode:
    """An object whose unpickling would call a function: touch a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def test_a_file_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.CHECKPOINT_FORMAT, "payload": _RunsCode(marker)}, path)
    with pytest.raises(CheckpointError, match="evil.pt.*could run code.*not loaded") as refused:
        checkpoint.read_checkpoint(path)
    # torch's hint that weights_only=False "will likely succeed" is the advice not to give.
    assert "likely succeed" not in str(refused.value) and "do not load it with weights_only=False" in str(
        refused.value)
    with pytest.raises(CheckpointError, match="evil.pt"):
        checkpoint.load_checkpoint(path)
    assert not marker.exists()  # weights_only=True: the function was never called


class _HalfFrozen(nn.Module):
    def __init__(self):
        super().__init__()
        self.init_args = {}
        self.backbone = nn.Linear(4, 4)
        self.head = nn.Linear(4, 2)
        self.norm = nn.BatchNorm1d(2)
        self.backbone.requires_grad_(False)


def test_models_with_frozen_parts_save_only_the_trained_part(tmp_path):
    model = _HalfFrozen()
    assert checkpoint.is_partial(model)
    state = checkpoint.trainable_state(model)
    assert set(state) == {"head.weight", "head.bias", "norm.weight", "norm.bias", "norm.running_mean",
                          "norm.running_var", "norm.num_batches_tracked"}
    assert all(tensor.device.type == "cpu" for tensor in state.values())
    path = checkpoint.save_checkpoint(tmp_path / "partial.pt", model)
    saved = checkpoint.read_checkpoint(path)
    assert saved["partial_state"] is True and set(saved["state_dict"]) == set(state)
    with pytest.raises(CheckpointError, match="frozen weights.*strict=False"):
        checkpoint.load_checkpoint(path)
    full = models.build("StyleCNN", n_classes=3, width=4, depth=1)
    assert not checkpoint.is_partial(full) and set(checkpoint.trainable_state(full)) == set(full.state_dict())


def test_plain_turns_common_values_into_weights_only_safe_ones(tmp_path):
    from dataclasses import dataclass

    @dataclass
    class Settings:
        lr: float
        folder: Path

    values = checkpoint.plain({"array": np.arange(3), "number": np.float32(0.5), "path": tmp_path,
                               "settings": Settings(1e-3, tmp_path), "nested": ({"a": (1, 2)},), 3: "int key",
                               "device": torch.device("cpu")})
    assert torch.equal(values["array"], torch.arange(3)) and values["number"] == 0.5
    assert values["path"] == str(tmp_path) and values["settings"] == {"lr": 1e-3, "folder": str(tmp_path)}
    assert values["nested"] == [{"a": [1, 2]}] and values[3] == "int key" and values["device"] == "cpu"
    model = models.build("StyleCNN", n_classes=3, width=4, depth=1)
    path = checkpoint.save_checkpoint(tmp_path / "plain.pt", model, extra=values)
    assert torch.load(path, weights_only=True)["extra"]["settings"]["lr"] == 1e-3
