"""Checkpoints: complete, atomic, safe to load (weights_only), and never silently mislabelled."""
import numpy as np
import pytest
import torch

from wikiart_core import models, train


class Stripes:
    """Tiny in-memory dataset with the WikiArtDataset batch interface (3 classes)."""

    classes = ["Baroque", "Cubism", "Ukiyo_e"]
    image_size = 12

    def __init__(self, per_class=6, seed=0):
        generator = torch.Generator().manual_seed(seed)
        self.images = (torch.rand(3 * per_class, 3, 12, 12, generator=generator) * 255).to(torch.uint8)
        for label in range(3):  # a brighter band per class, so there is something to learn
            self.images[label * per_class:(label + 1) * per_class, label, 4 * label:4 * label + 4] = 250
        self.targets = [label for label in range(3) for _ in range(per_class)]

    def __len__(self):
        return len(self.targets)

    def get_batch(self, indices):
        indices = torch.as_tensor(np.asarray(indices), dtype=torch.long)
        return self.images[indices].clone(), torch.as_tensor(self.targets)[indices]


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def trained(single_torch_thread, tmp_path_factory):
    """A 2-epoch run with checkpoints: (folder, model, history)."""
    folder = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    model = models.build("StyleCNN", n_classes=3, width=4, depth=2)
    history = train.fit(model, Stripes(), Stripes(per_class=3, seed=1), epochs=2, batch_size=6, lr=3e-3, seed=11,
                        device="cpu", progress=False, log=lambda line: None, checkpoint_dir=folder, profile="smoke")
    return folder, model, history


REQUIRED_FIELDS = {
    "format", "format_version", "model_class", "init_args", "state_dict", "classes", "image_size",
    "normalisation", "optimizer", "scheduler", "epoch", "epochs", "history", "seed", "profile", "task",
    "versions", "rng", "hyperparameters", "best",
}


def test_checkpoint_loads_weights_only_and_carries_every_field(trained):
    folder, model, history = trained
    state = torch.load(folder / "last.pt", weights_only=True)  # no arbitrary code runs
    assert REQUIRED_FIELDS <= set(state)
    assert state["model_class"] == "StyleCNN" and state["init_args"] == model.init_args
    assert state["classes"] == Stripes.classes and state["image_size"] == 12
    assert state["epoch"] == 2 and state["epochs"] == 2 and state["seed"] == 11 and state["profile"] == "smoke"
    assert state["task"] == "classify"
    assert state["normalisation"]["mean"] == pytest.approx(model.input_mean.flatten().tolist())
    assert set(state["versions"]) >= {"torch", "torchvision", "python", "wikiart_core"}
    assert isinstance(state["rng"]["torch"], torch.Tensor)
    assert {"numpy", "python", "cuda"} <= set(state["rng"])
    assert len(state["history"]["records"]) == 2 and state["history"] == history.to_dict() | {
        "checkpoint": state["history"]["checkpoint"]}
    assert state["optimizer"]["state"] and state["scheduler"]["last_epoch"] == 2 * 3
    assert (folder / "best.pt").is_file()


def test_load_checkpoint_rebuilds_the_same_model(trained):
    folder, model, _ = trained
    loaded, meta = train.load_checkpoint(folder / "last.pt")
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
    path = train.save_checkpoint(tmp_path / "last.pt", model, epoch=1, classes=Stripes.classes)
    before = path.read_bytes()
    real_save = torch.save

    def save_then_fail(obj, handle, *args, **kwargs):
        real_save(obj, handle, *args, **kwargs)
        handle.write(b"half")  # some bytes already on disk when the interrupt lands
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", save_then_fail)
    with pytest.raises(KeyboardInterrupt):
        train.save_checkpoint(path, model, epoch=2, classes=Stripes.classes)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert train.load_checkpoint(path)[1]["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary file left


def test_meta_that_would_need_pickle_is_refused(tmp_path):
    model = models.build("StyleCNN", n_classes=3, width=4, depth=1)
    with pytest.raises(TypeError, match=r"meta\['callback'\].*weights_only"):
        train.save_checkpoint(tmp_path / "x.pt", model, callback=object())
    assert not list(tmp_path.iterdir())


def test_missing_corrupt_and_foreign_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        train.load_checkpoint(tmp_path / "nothere.pt")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"\x00not a zip at all")
    with pytest.raises(train.CheckpointError, match="corrupt.pt.*cannot be read"):
        train.load_checkpoint(corrupt)
    truncated = tmp_path / "truncated.pt"
    model = models.build("StyleCNN", n_classes=3, width=4, depth=1)
    good = train.save_checkpoint(tmp_path / "good.pt", model).read_bytes()
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(train.CheckpointError, match="truncated.pt"):
        train.load_checkpoint(truncated)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(train.CheckpointError, match="foreign.pt.*not a wikiart_core checkpoint"):
        train.load_checkpoint(foreign)


def test_resume_refuses_a_different_model(trained):
    folder, _, _ = trained
    other = models.build("StyleCNN", n_classes=3, width=8, depth=2)
    with pytest.raises(train.CheckpointError, match=r"different setup.*init_args"):
        train.fit(other, Stripes(), epochs=3, device="cpu", progress=False, log=lambda line: None,
                  resume=folder / "last.pt")


def test_check_classes_names_the_differing_styles():
    styles = ["Baroque", "Cubism", "Ukiyo_e"]
    train.check_classes(styles, list(styles))
    with pytest.raises(ValueError, match=r"not in the data: \['Ukiyo_e'\].*not in the checkpoint: \['Pop_Art'\]"):
        train.check_classes(styles, ["Baroque", "Cubism", "Pop_Art"])
    with pytest.raises(ValueError, match=r"different order.*Baroque \(0 -> 1\).*Cubism \(1 -> 0\)"):
        train.check_classes(styles, ["Cubism", "Baroque", "Ukiyo_e"])
    train.check_classes(styles, ["Cubism", "Baroque", "Ukiyo_e"], order_matters=False)
    with pytest.raises(ValueError, match=r"not in the data: \['Cubism'\]"):
        train.check_classes(styles, ["Baroque", "Ukiyo_e"], order_matters=False)
