"""Pretrained torchvision backbones, loaded offline: random backbones saved to a temporary
file stand in for ImageNet weights and go through the real loading path (an explicit
file and data_paths.yaml's pretrained.backbones folder); linear probe and full
fine-tuning for one step; checkpoints; the missing-weights message. No network:
``fetch-weights`` is not exercised."""
import dataclasses
import functools

import pytest
import torch

from wikiart_core import checkpoint, cli, config, data, engine, experiment, models
from wikiart_core.models import backbones

pytestmark = [pytest.mark.usefixtures("single_torch_thread"),
              pytest.mark.filterwarnings("ignore:The number of unique classes is greater than 50%")]

IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def save_random_backbone(name, path, seed=0):
    """A randomly initialised torchvision ``name`` (ImageNet head included), saved as a state dict."""
    from torchvision.models import get_model

    torch.manual_seed(seed)
    network = get_model(name, weights=None)
    torch.save(network.state_dict(), path)
    return network.state_dict()


def write_paths_file(tmp_path, backbones_folder=None):
    lines = ["dataset: tiny", "datasets:", "  tiny:", "    train: data/train", "    test: data/test",
             "    synth: {scale: 0.003, size: 32, seed: 0}",
             "cache_dir: cache", "outputs_dir: outputs"]
    if backbones_folder is not None:
        lines += ["pretrained:", f"  backbones: {backbones_folder}"]
    path = tmp_path / "data_paths.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def resnet18_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("backbones")
    state = save_random_backbone("resnet18", folder / "resnet18.pth")
    return folder / "resnet18.pth", state


@pytest.fixture
def splits(tiny_splits):
    return data.make_splits(*tiny_splits)


def backbone_state(model):
    return {key: value.clone() for key, value in model.state_dict().items() if key.startswith("backbone.")}


def test_resnet50_loads_a_saved_backbone_from_a_file_and_from_data_paths_yaml(tmp_path, monkeypatch):
    folder = tmp_path / "models" / "backbones"
    folder.mkdir(parents=True)
    saved = save_random_backbone("resnet50", folder / "resnet50-11ad3fa6.pth")  # torchvision's cache name
    explicit = models.build("resnet50", n_classes=5, weights=str(folder / "resnet50-11ad3fa6.pth"))
    monkeypatch.setenv("WIKIART_PATHS", str(write_paths_file(tmp_path, "models/backbones")))
    from_config = models.build("resnet50", n_classes=5)  # weights="config": data_paths.yaml's folder
    assert from_config.init_args["weights"] == str(folder / "resnet50-11ad3fa6.pth")
    for model in (explicit, from_config):
        assert type(model) is backbones.ResNet50Classifier
        state = model.state_dict()
        for key, value in saved.items():
            if not key.startswith("fc."):
                assert torch.equal(state[f"backbone.{key}"], value), key
        assert model.head.out_features == 5 and not any(key.startswith("backbone.fc.") for key in state)
        # ImageNet normalisation from the weights' metadata
        assert torch.allclose(model.input_mean.flatten(), torch.tensor(IMAGENET_MEAN))
        assert torch.allclose(model.input_std.flatten(), torch.tensor(IMAGENET_STD))


def test_missing_weights_name_the_key_and_the_fetch_command(tmp_path):
    paths = config.load_paths(write_paths_file(tmp_path))
    with pytest.raises(backbones.MissingWeightsError) as error:
        backbones.find_weights("resnet50", paths=paths)
    message = str(error.value)
    for words in ("pretrained.backbones", "--pretrained", "data_paths.yaml",
                  "python -m wikiart_core fetch-weights resnet50 --out models/backbones", "Nothing is downloaded"):
        assert words in message, words
    paths = config.load_paths(write_paths_file(tmp_path, "models/backbones"))
    with pytest.raises(FileNotFoundError, match="pretrained.backbones.*does not exist.*fetch-weights convnext_tiny"):
        backbones.find_weights("convnext_tiny", paths=paths)
    (tmp_path / "models" / "backbones").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="holds no efficientnet_b0.pth"):
        backbones.find_weights("efficientnet_b0", paths=paths)
    with pytest.raises(FileNotFoundError, match="nowhere.pth.*does not exist.*fetch-weights resnet50"):
        models.build("resnet50", weights=str(tmp_path / "nowhere.pth"))


def test_a_file_of_another_architecture_is_refused_with_its_name(tmp_path, resnet18_file):
    path, _ = resnet18_file
    with pytest.raises(backbones.WeightsError, match="resnet18.pth does not hold efficientnet_b0 weights"):
        models.build("efficientnet_b0", weights=str(path))


def test_a_linear_probe_trains_only_the_head_for_one_step(splits, resnet18_file, tmp_path):
    path, _ = resnet18_file
    spec = experiment.RunSpec(name="probe", model="resnet18", model_args={"weights": str(path), "finetune": "linear"},
                              epochs=1, batch_size=len(splits.train), lr=1e-2, warmup_epochs=0, device="cpu")
    before = experiment.build_model(spec, splits)
    result = experiment.run(spec, splits, checkpoint_dir=tmp_path / "run", score_test_split=False)
    model = result.model
    assert len(result.history.records) == 1
    after = backbone_state(model)
    # Bit-identical backbone (weights and batch-norm statistics), a changed head, ImageNet stats kept.
    assert all(torch.equal(after[key], value) for key, value in backbone_state(before).items())
    assert not torch.equal(model.head.weight, before.head.weight)
    assert torch.allclose(model.input_mean.flatten(), torch.tensor(IMAGENET_MEAN))
    assert not any(p.requires_grad for p in model.backbone.parameters())
    model.train()
    assert model.head.training and not model.backbone.training
    # The checkpoint holds the head and buffers only; loading rebuilds the backbone from its file.
    saved = checkpoint.read_checkpoint(tmp_path / "run" / "last.pt")
    assert saved["partial_state"] is True and "backbone.conv1.weight" not in saved["state_dict"]
    rebuilt, meta = checkpoint.load_checkpoint(tmp_path / "run" / "last.pt")
    x = torch.rand(4, 3, 16, 16)
    model.eval()
    assert torch.equal(rebuilt(x), model(x))


def test_full_fine_tuning_gives_the_backbone_a_scaled_learning_rate(splits, resnet18_file, tmp_path):
    path, _ = resnet18_file
    spec = experiment.RunSpec(name="full", model="resnet18",
                              model_args={"weights": str(path), "finetune": "full", "backbone_lr_scale": 0.1},
                              epochs=1, batch_size=len(splits.train), lr=1e-2, warmup_epochs=0, device="cpu")
    model = experiment.build_model(spec, splits)
    optimizer = engine._optimizer(model, spec.lr, spec.weight_decay)
    rate = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    assert all(rate[id(p)] == pytest.approx(1e-3) for p in model.backbone.parameters())
    assert all(rate[id(p)] == pytest.approx(1e-2) for p in model.head.parameters())
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-2)  # the head first: the logged lr is the peak
    before = backbone_state(model)
    result = experiment.run(spec, splits, checkpoint_dir=tmp_path / "run", score_test_split=False)
    after = backbone_state(result.model)
    assert not torch.equal(after["backbone.conv1.weight"], before["backbone.conv1.weight"])
    assert torch.allclose(result.model.input_std.flatten(), torch.tensor(IMAGENET_STD))
    # A full checkpoint holds every weight: it loads without the weights file.
    saved = checkpoint.read_checkpoint(tmp_path / "run" / "best.pt")
    assert saved["partial_state"] is False and saved["init_args"]["weights"] == str(path)
    moved = path.with_name("moved.pth")
    path.rename(moved)
    try:
        rebuilt, _ = checkpoint.load_checkpoint(tmp_path / "run" / "last.pt")
    finally:
        moved.rename(path)
    x = torch.rand(4, 3, 16, 16)
    result.model.eval()
    assert torch.equal(rebuilt(x), result.model(x))


def test_other_models_keep_their_optimiser_groups():
    model = models.build("stylecnn", n_classes=4, width=8, depth=2)
    optimizer = engine._optimizer(model, 3e-3, 0.05)
    assert [group["weight_decay"] for group in optimizer.param_groups] == [0.05, 0.0]
    assert all(group["lr"] == 3e-3 for group in optimizer.param_groups)


def test_cli_train_with_pretrained_and_its_errors(tmp_path, resnet18_file, capsys):
    from wikiart_core import synth

    path, _ = resnet18_file
    root = tmp_path / "synth"
    synth.generate(root, scale=0.003, size=32, seed=0, workers=1, progress=False)
    common = ["train", "--image-size", "32", "--batch-size", "64", "--epochs", "1", "--profile", "smoke",
              "--device", "cpu", "--quiet", "--train", str(root / "train"), "--test", str(root / "test")]
    out = tmp_path / "out"
    assert cli.main(common + ["--model", "resnet18", "--pretrained", str(path), "--finetune", "full",
                              "--backbone-lr-scale", "0.5", "--out", str(out)]) == 0
    _, meta = checkpoint.load_checkpoint(out / "best.pt")
    assert meta["init_args"]["finetune"] == "full" and meta["init_args"]["backbone_lr_scale"] == 0.5
    assert meta["spec"]["lr"] == backbones.DEFAULT_LR
    capsys.readouterr()
    paths_file = write_paths_file(tmp_path)
    assert cli.main(common + ["--model", "resnet50", "--paths", str(paths_file), "--out", str(tmp_path / "x")]) == 2
    assert "fetch-weights resnet50 --out models/backbones" in capsys.readouterr().err
    assert cli.main(common + ["--model", "stylecnn", "--pretrained", str(path), "--out", str(tmp_path / "y")]) == 2
    assert "trains from scratch" in capsys.readouterr().err


def test_beyond_from_scratch_says_what_it_would_run_without_weights(splits, tmp_path):
    profile = config.get_profile("smoke")
    paths = config.load_paths(write_paths_file(tmp_path))
    scratch = experiment.RunResult(spec=experiment.RunSpec(name="StyleCNN"), history=engine.History(), validation={})
    from wikiart_core.parts import transfer

    beyond = transfer.beyond_from_scratch(splits, profile, paths, scratch, candidates=("resnet50", "convnext_tiny"))
    assert not beyond["ran"] and beyond["results"] == {}
    text = beyond["text"]
    assert "data_paths.yaml has no `pretrained.backbones` entry" in text
    assert "python -m wikiart_core fetch-weights resnet50 --out models/backbones" in text
    assert "a logistic regression on its embeddings" in text
    assert str(tmp_path) not in text  # the same words on every machine


def test_beyond_from_scratch_runs_when_weights_are_configured(splits, tmp_path, resnet18_file):
    path, _ = resnet18_file
    profile = config.get_profile("smoke").replace(
        batch_size=64, probe={"backbones": ("resnet18",), "input_side": 32, "finetune_epochs": 1})
    paths = dataclasses.replace(config.load_paths(write_paths_file(tmp_path)), pretrained={"backbones": path.parent})
    from wikiart_core.parts import transfer

    scratch = experiment.run(experiment.RunSpec(name="StyleCNN", model_args={"width": 4, "depth": 2},
                                                batch_size=64, device="cpu"), splits)
    run = functools.partial(transfer.beyond_from_scratch, splits, profile, paths, scratch, device="cpu",
                            candidates=("resnet18",))
    beyond = run()
    assert beyond["ran"] and len(beyond["results"]) == 2
    assert all(result.test is not None for result in beyond["results"].values())
    assert "resnet18 linear probe" in beyond["text"] and "StyleCNN" in beyond["text"]
    assert beyond["decode_side"] == round(32 / (224 / 256))  # torchvision's crop 224 of 256
    differences = beyond["intervals"]["differences"]
    assert set(differences) == {f"{label} vs {other}" for label in beyond["results"]
                                for other in ("StyleCNN", "colour statistics")}
