"""Shapes and contracts of wikiart_core.models (tiny inputs: seconds on a CPU)."""
from pathlib import Path

import pytest
import torch

from wikiart_core import models

pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.mark.parametrize("image_size, side", [(416, 105), (32, 9), (64, 17), (224, 57)])
def test_seed_cnn_feature_size_follows_the_image_size(image_size, side):
    assert models.seed_cnn_feature_side(image_size) == side
    model = models.SeedCNN(n_classes=27, image_size=image_size)
    assert model.n_features == side * side
    assert model.hidden.in_features == side * side


def test_seed_cnn_416_gives_the_original_105x105_features():
    model = models.SeedCNN(image_size=416).eval()
    with torch.no_grad():
        pooled = model.pool(model.conv(torch.rand(1, 3, 416, 416)))
    assert pooled.shape == (1, 1, 105, 105)


@pytest.mark.parametrize("variant", ["original", "avgpool_sigmoid"])
@pytest.mark.parametrize("image_size", [32, 48])
def test_seed_cnn_returns_log_probabilities(variant, image_size):
    model = models.SeedCNN(n_classes=5, image_size=image_size, variant=variant)
    out = model(torch.rand(4, 3, image_size, image_size))
    assert out.shape == (4, 5)
    assert torch.allclose(out.exp().sum(dim=1), torch.ones(4), atol=1e-5)


def test_seed_cnn_variant_avgpool_sigmoid_has_50x50_features():
    model = models.SeedCNN(image_size=64, variant="avgpool_sigmoid")
    assert model.n_features == 2500
    assert isinstance(model.pool, torch.nn.AdaptiveAvgPool2d)
    assert isinstance(model.activation, torch.nn.Sigmoid)
    with pytest.raises(ValueError):
        models.SeedCNN(variant="nope")


@pytest.mark.parametrize("image_size", [32, 64])
@pytest.mark.parametrize("stem_stride", [2, 4])
def test_style_cnn_logits_and_embedding_shapes(image_size, stem_stride):
    model = models.StyleCNN(n_classes=7, width=8, depth=3, dropout=0.1, stem_stride=stem_stride)
    x = torch.rand(2, 3, image_size, image_size)
    assert model(x).shape == (2, 7)
    assert model.embed(x).shape == (2, 8 * 2 ** 2)
    assert model.embedding_dim == 32


def _forbidden(*args, **kwargs):
    raise AssertionError("a model tried to load weights from a file or the internet")


def test_models_are_built_without_loading_any_weights(monkeypatch):
    # Everything that could fetch or read pretrained weights raises while the models are
    # built: they must come out of their constructors with fresh random weights only.
    import torchvision.models._api as torchvision_weights

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", _forbidden)
    monkeypatch.setattr(torch.hub, "load", _forbidden)
    monkeypatch.setattr(torch, "load", _forbidden)
    monkeypatch.setattr(torchvision_weights, "load_state_dict_from_url", _forbidden)
    built = [models.StyleCNN(n_classes=5, width=8, depth=2), models.SeedCNN(n_classes=5, image_size=32),
             models.build("stylecnn", n_classes=5, width=4, depth=2), models.build("SeedCNN", image_size=32),
             models.ConvAutoencoder(image_size=16, base_channels=4, depth=2)]
    for model in built:
        assert sum(p.numel() for p in model.parameters()) > 0
        x = torch.rand(2, 3, 32, 32) if not isinstance(model, models.ConvAutoencoder) else torch.rand(2, 3, 16, 16)
        assert torch.isfinite(model.eval()(x)).all()


# Patterns that would mean pretrained weights in the classification and autoencoder code.
PRETRAINED_PATTERNS = ("load_state_dict_from_url", "torch.hub", "pretrained=True", "weights=", "get_state_dict(")


def test_the_package_source_never_asks_for_pretrained_weights():
    # Part 3 (the generator) may use pretrained weights, and models/backbones.py exists to
    # load them (the "beyond from scratch" comparison, never Bonus A's models); nothing else may.
    package = Path(models.__file__).resolve().parent.parent
    sources = sorted(package.glob("*.py")) + sorted(
        p for p in (package / "models").glob("*.py") if p.name not in ("backbones.py", "timm_backbones.py", "convert.py")) + sorted(
        p for p in (package / "parts").glob("*.py") if "part3" not in p.name)
    assert package / "models" / "classifiers.py" in sources and len(sources) > 10
    found = [f"{path.relative_to(package)}:{number}: {line.strip()}"
             for path in sources
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if any(pattern in line for pattern in PRETRAINED_PATTERNS)]
    assert found == [], "pretrained weights requested:\n" + "\n".join(found)


def test_style_cnn_initial_weights_follow_the_seed():
    torch.manual_seed(0)
    a = models.StyleCNN(width=8, depth=2)
    torch.manual_seed(0)
    b = models.StyleCNN(width=8, depth=2)
    torch.manual_seed(1)
    c = models.StyleCNN(width=8, depth=2)
    for pa, pb in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(pa, pb)
    differing = [name for name, pa in a.named_parameters() if not torch.equal(pa, dict(c.named_parameters())[name])]
    # every convolution and the head are drawn anew (batch-norm scales start at 1 either way)
    assert "head.weight" in differing and "stem.0.weight" in differing
    assert all(name in differing for name, p in a.named_parameters() if p.ndim == 4)


@pytest.mark.parametrize("name", ["SeedCNN", "StyleCNN"])
def test_set_input_stats_changes_outputs_and_is_a_buffer(name):
    torch.manual_seed(0)
    model = models.build(name, n_classes=4, **({"image_size": 32} if name == "SeedCNN" else {"width": 8, "depth": 2}))
    model.eval()
    x = torch.rand(3, 3, 32, 32)
    before = model(x)
    assert torch.equal(model.input_mean, torch.full((1, 3, 1, 1), 0.5))
    assert torch.equal(model.input_std, torch.full((1, 3, 1, 1), 0.25))
    model.set_input_stats([0.1, 0.2, 0.3], [0.5, 0.6, 0.7])
    assert not torch.allclose(before, model(x))
    assert "input_mean" in model.state_dict() and "input_std" in model.state_dict()
    with pytest.raises(ValueError):
        model.set_input_stats([0.1, 0.2, 0.3], [0.5, 0.0, 0.7])


@pytest.mark.parametrize("name, args", [("SeedCNN", {"n_classes": 4, "image_size": 40, "variant": "avgpool_sigmoid"}),
                                        ("stylecnn", {"n_classes": 4, "width": 8, "depth": 2, "dropout": 0.0})])
def test_build_round_trip_from_init_args(name, args):
    model = models.build(name, **args)
    model.set_input_stats([0.4, 0.4, 0.4], [0.2, 0.2, 0.2])
    assert type(model).__name__ in models.MODELS
    clone = models.build(type(model).__name__, **model.init_args)
    clone.load_state_dict(model.state_dict())
    model.eval(), clone.eval()
    x = torch.rand(2, 3, 40, 40)
    assert torch.equal(model(x), clone(x))
    assert clone.init_args == model.init_args


@pytest.mark.parametrize("image_size, stride", [(16, 1), (32, 1), (63, 1), (64, 2), (127, 2), (128, 4), (416, 4)])
def test_auto_stem_stride_keeps_at_least_32_px_after_the_stem(image_size, stride):
    assert models.auto_stem_stride(image_size) == stride
    assert models.auto_stem_stride(416, max_stride=2) == 2
    assert models.auto_stem_stride(64, min_feature_side=16) == 4


def test_build_refuses_unknown_names():
    with pytest.raises(ValueError, match="unknown model"):
        models.build("ResNet9000")


@pytest.mark.parametrize("name, class_name", [
    ("seedcnn", "SeedCNN"), ("StyleCNN", "StyleCNN"), ("convautoencoder", "ConvAutoencoder"),
    ("styleconditionedautoencoder", "StyleConditionedAutoencoder"), ("resnet18", "ResNet18Classifier"),
    ("ResNet50", "ResNet50Classifier"), ("convnext_tiny", "ConvNeXtTinyClassifier"),
    ("efficientnet_b0", "EfficientNetB0Classifier"), ("ResNet50Classifier", "ResNet50Classifier")])
def test_model_class_finds_class_names_and_aliases_in_any_case(name, class_name):
    assert models.model_class(name).__name__ == class_name
    assert models.model_class(name) is models.MODELS[class_name]


def test_register_model_lists_a_class_and_refuses_a_taken_name(monkeypatch):
    monkeypatch.setattr(models._registry, "MODELS", {})

    @models.register_model(aliases=("tiny",))
    class TinyNet(torch.nn.Module):
        pass

    assert models._registry.MODELS == {"TinyNet": TinyNet, "tiny": TinyNet}
    assert models._registry.model_class("TINY") is TinyNet
    assert models.register_model(TinyNet) is TinyNet  # registering the same class again is harmless
    with pytest.raises(ValueError, match="'TinyNet' is already registered"):
        models.register_model(type("TinyNet", (torch.nn.Module,), {}))
