"""Part 3: the style-conditioned generator, its losses, the colour-transfer baseline, the
independent judge and the command line."""
import copy

import numpy as np
import pytest
import torch
from PIL import Image

from wikiart_core import checkpoint, cli, colour_transfer, data, engine, models, stats, style
from wikiart_core.parts import part3_generator

# The tiny set has one or two training images per style: scikit-learn warns that this
# many classes for so few samples looks like regression (the colour baseline). Expected here.
pytestmark = [pytest.mark.usefixtures("single_torch_thread"),
              pytest.mark.filterwarnings("ignore:The number of unique classes is greater than 50%")]


def loss_network(n_styles=27, width=4, seed=0):
    torch.manual_seed(seed)
    return models.StyleCNN(n_classes=n_styles, width=width, depth=2, stem_stride=1).eval()


def randomise_style_maps(generator):
    """CIN's scale/shift maps start at zero (a plain instance norm); give them weights as
    training would, so the style can matter."""
    for module in generator.modules():
        if isinstance(module, models.ConditionalInstanceNorm):
            torch.nn.init.normal_(module.to_scale_shift.weight, std=0.3)


@pytest.fixture(scope="module")
def splits(tiny_splits):
    train, test = tiny_splits
    return data.make_splits(train, test, validation_fraction=0.5, split_seed=0)


@pytest.mark.parametrize("conditioning", ["cin", "concat"])
def test_the_style_changes_the_output_and_the_same_style_does_not(conditioning):
    torch.manual_seed(0)
    generator = models.StyleConditionedAutoencoder(n_styles=5, image_size=16, base_channels=4, depth=2,
                                                   embedding_dim=4, conditioning=conditioning).eval()
    randomise_style_maps(generator)
    images = torch.rand(3, 3, 16, 16)
    same_a = generator(images, torch.tensor([1, 1, 1]))
    same_b = generator(images, torch.tensor([1, 1, 1]))
    other = generator(images, torch.tensor([2, 2, 2]))
    assert torch.equal(same_a, same_b)
    assert (same_a - other).abs().mean() > 1e-3
    assert same_a.shape == images.shape and same_a.min() >= 0 and same_a.max() <= 1


def test_a_style_vector_mix_moves_between_the_two_styles():
    torch.manual_seed(0)
    generator = models.StyleConditionedAutoencoder(n_styles=3, image_size=16, base_channels=4, depth=1,
                                                   embedding_dim=4).eval()
    randomise_style_maps(generator)
    image = torch.rand(3, 16, 16)
    start = part3_generator.paint_image(generator, image, 0, 2, mix=0.0)
    end = part3_generator.paint_image(generator, image, 0, 2, mix=1.0)
    assert torch.allclose(start, part3_generator.paint_image(generator, image, 0), atol=1e-6)
    assert torch.allclose(end, part3_generator.paint_image(generator, image, 2), atol=1e-6)


def test_style_statistics_loss_is_zero_for_identical_inputs_and_positive_otherwise():
    network = loss_network()
    images = torch.rand(4, 3, 16, 16)
    same = style.style_loss(style.style_statistics(network, images, (0, 1)),
                            style.style_statistics(network, images.clone(), (0, 1)))
    assert float(same.detach()) == 0.0
    other = style.style_loss(style.style_statistics(network, images, (0, 1)),
                             style.style_statistics(network, images.flip(1) * 0.5, (0, 1)))
    assert float(other.detach()) > 0.0


def test_feature_maps_name_layers_that_do_not_exist():
    with pytest.raises(ValueError, match="do not exist"):
        style.feature_maps(loss_network(), torch.rand(1, 3, 16, 16), (0, 7))


def test_mismatched_styles_are_never_the_own_style_and_are_seeded():
    labels = torch.arange(10).repeat(20)
    available = torch.arange(10)
    first = style.mismatched_styles(labels, available, torch.Generator().manual_seed(1))
    again = style.mismatched_styles(labels, available, torch.Generator().manual_seed(1))
    assert torch.equal(first, again)
    assert not (first == labels).any()
    assert set(first.tolist()) == set(range(10))  # every other style gets drawn
    # A style without training images is never a target.
    assert 3 not in style.mismatched_styles(labels, torch.tensor([0, 1, 2, 4]), torch.Generator()).tolist()


def test_style_targets_average_each_styles_statistics(splits):
    network = loss_network()
    targets = style.style_targets(network, splits.train, (0, 1))
    images, labels = splits.train.get_batch(range(len(splits.train)))
    statistics = style.style_statistics(network, images.float() / 255, (0, 1))
    label = int(labels[0])
    expected = statistics[1][labels == label].mean(dim=0)
    assert torch.allclose(targets[1][label], expected, atol=1e-5)
    assert targets[0].shape == (27, 2 * 4)


def test_a_short_training_run_lowers_both_losses(splits):
    network = loss_network()
    targets = style.style_targets(network, splits.train)
    task = style.StyleTransfer(network, targets, style_weight=1.0)
    torch.manual_seed(0)
    generator = models.StyleConditionedAutoencoder(n_styles=27, image_size=16, base_channels=8, depth=2,
                                                   embedding_dim=8)
    before = task.validate(generator, splits.train, 64, torch.device("cpu"))
    history = engine.fit(generator, task, splits.train, None, engine.TrainConfig(epochs=30, lr=1e-2, batch_size=16,
                                                                                 weight_decay=0.0, seed=0),
                         progress=False, log=lambda *_: None)
    after = task.validate(generator, splits.train, 64, torch.device("cpu"))
    assert after["reconstruction"] < 0.9 * before["reconstruction"]
    assert after["style"] < 0.5 * before["style"]
    assert set(history.records[-1].parts) == {"reconstruction", "style"}
    # The loss network is frozen: training never changes it.
    assert all(not p.requires_grad for p in network.parameters())


def test_the_loss_network_stays_untouched_by_training(splits):
    network = loss_network()
    frozen = copy.deepcopy(network.state_dict())
    task = style.StyleTransfer(network, style.style_targets(network, splits.train))
    generator = models.StyleConditionedAutoencoder(n_styles=27, image_size=16, base_channels=4, depth=1,
                                                   embedding_dim=4)
    engine.fit(generator, task, splits.train, splits.validation, engine.TrainConfig(epochs=1, lr=1e-2,
                                                                                    batch_size=16, seed=0),
               progress=False, log=lambda *_: None)
    for key, value in network.state_dict().items():
        assert torch.equal(value, frozen[key]), key


def test_colour_transfer_matches_the_target_statistics():
    torch.manual_seed(0)
    images = 0.2 + 0.6 * torch.rand(2, 3, 24, 24)
    target_mean = torch.tensor([[-0.25, 0.01, 0.02], [-0.4, -0.02, 0.0]])
    target_std = torch.tensor([[0.05, 0.01, 0.02], [0.08, 0.02, 0.01]])
    result = colour_transfer.transfer(images, target_mean, target_std, clip=False)
    mean, std = colour_transfer.lab_statistics(result)
    assert torch.allclose(mean, target_mean, atol=1e-4)
    assert torch.allclose(std, target_std, atol=1e-4)
    # Round trip through lαβ, and the clipped version stays a picture.
    assert torch.allclose(colour_transfer.lab_to_rgb(colour_transfer.rgb_to_lab(images)), images, atol=1e-4)
    clipped = colour_transfer.transfer(images, target_mean, target_std)
    assert clipped.min() >= 0 and clipped.max() <= 1


def test_colour_style_statistics_average_per_style():
    images = torch.rand(4, 3, 8, 8)
    labels = torch.tensor([0, 0, 2, 2])
    means, stds = colour_transfer.style_statistics([(images, labels)], n_styles=3)
    per_image_mean, per_image_std = colour_transfer.lab_statistics(images)
    assert torch.allclose(means[0], per_image_mean[:2].mean(dim=0), atol=1e-5)
    assert torch.allclose(stds[2], per_image_std[2:].mean(dim=0), atol=1e-5)
    assert torch.isnan(means[1]).all()  # a style without images


def test_the_judge_is_never_the_loss_network(splits):
    network = loss_network()
    with pytest.raises(style.JudgeError, match="loss network itself"):
        style.check_independent_judge(network, network)
    with pytest.raises(style.JudgeError, match="exactly the loss network's weights"):
        style.check_independent_judge(copy.deepcopy(network), network)
    style.check_independent_judge(loss_network(seed=1), network)  # another seed: fine
    generator = models.StyleConditionedAutoencoder(n_styles=27, image_size=16, base_channels=4, depth=1,
                                                   embedding_dim=4)
    methods = part3_generator.painters({"cin": generator}, models.ConvAutoencoder(16, 4, 1, 3),
                                       part3_generator.colour_targets(splits.train), device="cpu")
    with pytest.raises(style.JudgeError):
        part3_generator.judge_methods(methods, splits, network, network, generator.encode, device="cpu")


@pytest.mark.parametrize("judge_width", [12, 8])
def test_the_judge_spec_differs_from_the_loss_network_in_seed_and_width(judge_width):
    from wikiart_core import config

    profile = config.get_profile("smoke")
    profile = profile.replace(generator={**profile.generator, "judge_width": judge_width,
                                         "loss_network": dict(width=8, depth=2, stem_stride=1)})
    loss_spec = part3_generator.classifier_spec(profile, "loss network", seed=4)
    judge_spec = part3_generator.classifier_spec(profile, "judge", seed=4)
    assert judge_spec.model_args["width"] != loss_spec.model_args["width"]
    assert judge_spec.seed != loss_spec.seed


def test_judging_scores_every_method_on_every_test_image(splits):
    network = loss_network()
    judge = loss_network(seed=5)
    torch.manual_seed(0)
    generators = {name: models.StyleConditionedAutoencoder(n_styles=27, image_size=16, base_channels=4, depth=1,
                                                           embedding_dim=4, conditioning=name)
                  for name in ("cin", "concat")}
    methods = part3_generator.painters(generators, models.ConvAutoencoder(16, 4, 1, 3),
                                       part3_generator.colour_targets(splits.train), device="cpu")
    judgement = part3_generator.judge_methods(methods, splits, judge, network, generators["cin"].encode,
                                              device="cpu", batch_size=7)
    n = len(splits.test)
    assert set(judgement.predictions) == set(part3_generator.METHODS)
    assert all(len(p) == n for p in judgement.predictions.values())
    assert not (judgement.targets == judgement.labels).any()
    assert set(judgement.matched_predictions) == {"input", "cin", "concat"}
    summary = part3_generator.summarise(judgement, n_resamples=200)
    assert summary["chance"] == pytest.approx(1 / 27)
    hit = summary["hit_rate"]["cin"]
    assert hit["mean"] == pytest.approx(float(np.mean(judgement.predictions["cin"] == judgement.targets)))
    assert set(summary["cin_vs"]) == {"plain autoencoder", "colour transfer", "concat"}
    table = part3_generator.results_table(summary)
    assert "unrelated image" in table and "colour transfer" in table


def test_output_distances_by_hand():
    """Two images, three target styles of constant grey: the RGB distances are the grey steps."""
    greys = torch.tensor([0.2, 0.4, 0.8])
    outputs = greys.view(1, 3, 1, 1, 1).expand(2, 3, 3, 8, 8).clone()
    own = torch.full((2, 3, 8, 8), 0.4)
    own_target = torch.tensor([[False, True, False], [False, False, False]])  # image 0's own style is target 1
    distances = part3_generator.output_distances(outputs, own, inputs=torch.rand(2, 3, 8, 8), own_target=own_target)
    pairs = np.mean([0.2, 0.6, 0.4])  # |0.2-0.4|, |0.2-0.8|, |0.4-0.8|
    assert np.allclose(distances["between_targets"]["rgb"], pairs)
    assert np.allclose(distances["between_targets"]["luminance"], pairs, atol=1e-5)  # grey: luminance = value
    assert np.allclose(distances["between_targets"]["detail"], 0, atol=1e-6)  # flat pictures have no detail
    # Image 0 leaves out its own style (distance 0): mean of 0.2 and 0.4; image 1 averages all three.
    assert np.allclose(distances["from_own"]["rgb"], [0.3, 0.2])
    assert np.allclose(distances["detail_kept"], 0, atol=1e-5)  # flat outputs of textured inputs
    assert set(part3_generator.output_distances(outputs)) == {"between_targets"}
    with pytest.raises(ValueError, match="two target styles"):
        part3_generator.output_distances(outputs[:, :1])


def test_fine_detail_is_zero_on_flat_pictures_and_keeps_texture():
    flat = torch.full((1, 3, 16, 16), 0.5)
    assert torch.allclose(part3_generator.fine_detail(flat), torch.zeros(1, 1, 16, 16), atol=1e-6)
    stripes = torch.zeros(1, 3, 16, 16)
    stripes[..., ::2] = 1.0
    assert part3_generator.fine_detail(stripes).abs().mean() > 0.2
    kept = part3_generator.output_distances(torch.stack([stripes, stripes], 1), inputs=stripes)["detail_kept"]
    assert np.allclose(kept, 1.0)


def test_style_spread_measures_each_method_on_the_same_images(splits):
    torch.manual_seed(0)
    generator = models.StyleConditionedAutoencoder(n_styles=27, image_size=16, base_channels=4, depth=1,
                                                   embedding_dim=4, conditioning="cin")
    randomise_style_maps(generator)
    colours = part3_generator.colour_targets(splits.train)
    methods = part3_generator.painters({"cin": generator}, models.ConvAutoencoder(16, 4, 1, 3), colours,
                                       device="cpu")
    methods = {name: methods[name] for name in ("cin", "colour transfer", "plain autoencoder")}
    styles = sorted({int(t) for t in splits.train.targets})[:3]
    indices = list(range(min(5, len(splits.test))))
    spread = part3_generator.style_spread(methods, splits.test, indices, styles, batch_size=2)
    assert spread["indices"] == indices and spread["target_styles"] == styles
    for name in methods:
        for measure in ("between_targets", "from_own"):
            assert all(values.shape == (len(indices),) for values in spread["methods"][name][measure].values())
    # The plain autoencoder ignores the style: its outputs do not move; the others' do.
    assert np.allclose(spread["methods"]["plain autoencoder"]["between_targets"]["rgb"], 0, atol=1e-6)
    assert (spread["methods"]["cin"]["between_targets"]["rgb"] > 0).all()
    assert (spread["between_images"]["rgb"] > 0).all()
    summary = part3_generator.summarise_spread(spread, n_resamples=100)
    difference = summary["cin_minus_colour_transfer"]["rgb"]
    cin, colour = (summary["methods"][name]["between_targets"]["rgb"]["mean"] for name in ("cin", "colour transfer"))
    assert difference["mean"] == pytest.approx(cin - colour)
    assert summary["n_images"] == len(indices) and summary["target_styles"] == styles
    table = part3_generator.spread_table(summary)
    assert table.count("\n") == 2 + len(methods) and "two different test images" in table
    with pytest.raises(ValueError, match="two images"):
        part3_generator.style_spread(methods, splits.test, indices[:1], styles)


def test_content_scores_are_perfect_for_the_input_itself():
    images = torch.rand(3, 3, 32, 32)
    scores = style.content_scores(images, images)
    assert np.allclose(scores["ssim"], 1.0, atol=1e-5)
    other = style.content_scores(torch.rand(3, 3, 32, 32), images)
    assert (other["ssim"] < 0.9).all() and (other["psnr"] < scores["psnr"]).all()


def test_mean_interval_brackets_the_mean():
    values = np.random.default_rng(0).normal(2.0, 1.0, size=400)
    interval = stats.mean_interval(values, n_resamples=500)
    assert interval["low"] < interval["mean"] < interval["high"]
    assert interval["mean"] == pytest.approx(values.mean())
    assert 0.1 < interval["high"] - interval["low"] < 0.4  # about 4 standard errors (1/sqrt(400) each)


def test_a_saved_generator_reloads_to_identical_outputs_and_paints(tmp_path, splits):
    torch.manual_seed(0)
    generator = models.StyleConditionedAutoencoder(n_styles=27, image_size=16, base_channels=4, depth=2,
                                                   embedding_dim=4).eval()
    randomise_style_maps(generator)
    path = checkpoint.save_checkpoint(tmp_path / "generator.pt", generator, task="style", classes=splits.classes,
                                      image_size=16)
    reloaded, meta = checkpoint.load_checkpoint(path)
    images = torch.rand(2, 3, 16, 16)
    styles = torch.tensor([3, 8])
    assert torch.equal(generator(images, styles), reloaded(images, styles))

    picture = tmp_path / "photo.jpg"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(picture)
    out = tmp_path / "painted" / "cubist.png"
    style_name = splits.classes[3]
    code = cli.main(["paint", "--checkpoint", str(path), "--image", str(picture), "--style",
                     style_name.replace("_", " "), "--out", str(out)])
    assert code == 0
    painted = np.asarray(Image.open(out))
    assert painted.shape == (16, 16, 3)
    expected = part3_generator.paint_image(reloaded, part3_generator.load_picture(picture, 16), 3)
    assert np.abs(painted / 255.0 - expected.permute(1, 2, 0).numpy()).max() <= 1 / 255 + 1e-6


def test_paint_names_an_unknown_style(tmp_path, capsys):
    generator = models.StyleConditionedAutoencoder(n_styles=2, image_size=16, base_channels=4, depth=1,
                                                   embedding_dim=4)
    path = checkpoint.save_checkpoint(tmp_path / "g.pt", generator, classes=["Baroque", "Cubism"], image_size=16)
    picture = tmp_path / "p.png"
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(picture)
    code = cli.main(["paint", "--checkpoint", str(path), "--image", str(picture), "--style", "Vaporwave",
                     "--out", str(tmp_path / "x.png")])
    assert code == 2
    assert "unknown style 'Vaporwave'" in capsys.readouterr().err


def test_the_style_command_trains_judges_and_writes_everything(tmp_path, tiny_splits):
    import json

    train, _ = tiny_splits
    root = train.root.parent
    out = tmp_path / "style"
    code = cli.main(["style", "--train", str(root / "train"), "--test", str(root / "test"), "--profile", "smoke",
                     "--validation-fraction", "0.5", "--device", "cpu", "--quiet", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["summary"]["hit_rate"]) == set(part3_generator.METHODS)
    assert metrics["summary"]["n_images"] == metrics["split"]["n_test"]
    for name in ("generator.pt", "generator_concat.pt", "grid.png", "curves.png"):
        assert (out / name).is_file(), name
    assert (out / "runs" / "cin" / "best.pt").is_file()
    generator, meta = checkpoint.load_checkpoint(out / "generator.pt")
    assert generator.conditioning == "cin" and meta["classes"] == train.classes
