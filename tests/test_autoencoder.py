"""ConvAutoencoder: shapes and compression ratio, the SSIM loss, a short training run,
checkpoints, and the `autoencode` command end to end."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from wikiart_core import checkpoint, cli, data, engine, experiment, models, synth, tasks
from wikiart_core.data import WikiArtDataset

pytestmark = pytest.mark.usefixtures("single_torch_thread")



@pytest.mark.parametrize("image_size, base_channels, depth, latent_channels, latent_side, ratio", [
    (32, 8, 2, 3, 8, 16.0),
    (64, 8, 3, 4, 8, 48.0),
    (48, 4, 1, 6, 24, 2.0),
    (64, 4, 4, 16, 4, 48.0),
])
def test_shapes_and_compression_ratio(image_size, base_channels, depth, latent_channels, latent_side, ratio):
    torch.manual_seed(0)
    model = models.ConvAutoencoder(image_size=image_size, base_channels=base_channels, depth=depth,
                                   latent_channels=latent_channels).eval()
    x = torch.rand(2, 3, image_size, image_size)
    z = model.encode(x)
    assert z.shape == (2, latent_channels, latent_side, latent_side)
    assert model.compression_ratio == pytest.approx(ratio)
    assert model.compression_ratio == pytest.approx(x[0].numel() / z[0].numel())
    y = model(x)
    assert y.shape == x.shape and 0.0 <= y.min() and y.max() <= 1.0
    torch.testing.assert_close(model.decode(z), y)


def test_constructor_checks_and_rebuilds_from_init_args():
    with pytest.raises(ValueError, match="divisible"):
        models.ConvAutoencoder(image_size=36, depth=3)
    model = models.ConvAutoencoder(image_size=32, base_channels=4, depth=2, latent_channels=2)
    assert model.init_args == {"image_size": 32, "base_channels": 4, "depth": 2, "latent_channels": 2}
    assert "ConvAutoencoder" in models.MODELS
    rebuilt = models.build("convautoencoder", **model.init_args)
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]
    # No transposed convolutions: they are what paints checkerboards.
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.modules())


def test_ssim_and_reconstruction_loss():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 24, 24)
    assert models.ssim(x, x).item() == pytest.approx(1.0, abs=1e-5)
    noisy = (x + 0.2 * torch.randn_like(x)).clamp(0, 1)
    assert models.ssim(x, noisy).item() < models.ssim(x, (x + 0.05 * torch.randn_like(x)).clamp(0, 1)).item() < 1
    # Tiny images: the window shrinks instead of failing.
    assert models.ssim(x[..., :5, :5], x[..., :5, :5]).item() == pytest.approx(1.0, abs=1e-5)
    mse_only = models.reconstruction_loss(0.0)
    assert mse_only(noisy, x).item() == pytest.approx(torch.nn.functional.mse_loss(noisy, x).item())
    mixed = models.reconstruction_loss(0.5)
    recon = noisy.clone().requires_grad_(True)
    value = mixed(recon, x)
    expected = 0.5 * torch.nn.functional.mse_loss(noisy, x) + 0.5 * (1 - models.ssim(noisy, x))
    assert value.item() == pytest.approx(expected.item(), rel=1e-5)
    value.backward()
    assert recon.grad is not None and torch.isfinite(recon.grad).all()
    with pytest.raises(ValueError):
        models.reconstruction_loss(1.5)


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    synth.generate(root, scale=0.003, size=32, seed=0, workers=1, progress=False)
    return root


def test_short_training_lowers_the_loss_and_survives_a_checkpoint(tiny_root, tmp_path):
    train_set = WikiArtDataset(tiny_root / "train", image_size=16, progress=False)
    test_set = WikiArtDataset(tiny_root / "test", image_size=16, classes=train_set.classes, progress=False)
    torch.manual_seed(0)
    model = models.ConvAutoencoder(image_size=16, base_channels=8, depth=2, latent_channels=4)
    history = engine.fit(model, tasks.Reconstruction(models.reconstruction_loss(0.2)), train_set, test_set,
                         engine.TrainConfig(epochs=4, lr=3e-3, batch_size=16, seed=0, device="cpu", warmup_epochs=0),
                         progress=False, log=lambda *_: None)
    losses = history.column("train_loss")
    assert losses[-1] < losses[0]
    assert set(history.records[-1].val) >= {"mse", "psnr"}
    path = checkpoint.save_checkpoint(tmp_path / "ae.pt", model, task="reconstruct")
    loaded, meta = checkpoint.load_checkpoint(path)
    assert isinstance(loaded, models.ConvAutoencoder) and meta["task"] == "reconstruct"
    x = torch.rand(2, 3, 16, 16)
    model.eval()
    torch.testing.assert_close(loaded(x), model(x))


def smooth_colour_fields(root, per_class, size=16, seed=0):
    """Random 3x3 colour grids blown up to size x size (bicubic): images on a low-
    dimensional family of smooth fields, which an autoencoder can learn to encode
    better than a plain shrink-and-enlarge can."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", per_class), ("test", per_class // 2)):
        for style in ("A", "B"):
            folder = root / split / style
            folder.mkdir(parents=True)
            for index in range(count):
                grid = (rng.random((3, 3, 3)) * 255).astype(np.uint8)
                Image.fromarray(grid).resize((size, size), Image.Resampling.BICUBIC).save(folder / f"{index}.png")
    return root


def test_a_short_run_beats_the_resize_baseline_at_the_same_compression(tmp_path):
    root = smooth_colour_fields(tmp_path / "fields", per_class=128)
    train_folder = WikiArtDataset(root / "train", image_size=16, progress=False)
    splits = data.make_splits(train_folder, WikiArtDataset(root / "test", image_size=16,
                                                           classes=train_folder.classes, progress=False),
                              validation_fraction=0.2)
    spec = experiment.RunSpec(name="autoencoder", task="reconstruct", model="ConvAutoencoder",
                              model_args=dict(base_channels=8, depth=2, latent_channels=3), epochs=20, lr=1e-2,
                              batch_size=16, weight_decay=0.0, warmup_epochs=0.5, seed=0, device="cpu")
    result = experiment.run(spec, splits)
    assert result.model.compression_ratio == 16.0  # 3 x 16 x 16 numbers in, 3 x 4 x 4 in the latent
    for split in ("validation", "test"):
        baseline = result.baselines[split]["resize"]
        # the baseline is measured at the same compression: a 4 x 4 image holds as many numbers
        assert baseline["side"] == 4 and baseline["compression_ratio"] == 16.0
        scores = result.validation if split == "validation" else result.test
        assert scores["psnr"] > baseline["psnr"] + 1.0, (split, scores["psnr"], baseline["psnr"])
        assert scores["mse"] < baseline["mse"]
    # best.pt's choice and the curve are on validation PSNR, which rose during the run
    psnr = result.history.column("psnr")
    assert psnr[-1] > psnr[0] + 5


def test_autoencode_command_writes_checkpoint_figures_and_metrics(tiny_root, tmp_path):
    paths = tmp_path / "paths.yaml"
    paths.write_text(f"dataset: tiny\ndatasets:\n  tiny:\n    train: {tiny_root / 'train'}\n"
                     f"    test: {tiny_root / 'test'}\ncache_dir: {tmp_path / 'cache'}\n"
                     f"outputs_dir: {tmp_path / 'outputs'}\n")
    out = tmp_path / "ae"
    code = cli.main(["autoencode", "--paths", str(paths), "--profile", "smoke", "--epochs", "1", "--base-channels",
                     "4", "--depth", "2", "--latent-channels", "3", "--device", "cpu", "--out", str(out), "--quiet"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["compression_ratio"] == 16.0 and metrics["baseline"]["side"] == 8
    assert metrics["psnr"] > 0 and metrics["baseline"]["psnr"] > 0
    # The verdict agrees with the numbers it summarises, and those are the run's test scores.
    assert metrics["beats_baseline"] is (metrics["psnr"] > metrics["baseline"]["psnr"])
    assert metrics["psnr"] == metrics["test"]["psnr"] and metrics["mse"] == metrics["test"]["mse"]
    assert metrics["psnr"] == pytest.approx(10 * np.log10(1 / metrics["mse"]))
    assert metrics["baseline"] == metrics["baselines"]["test"]["resize"]
    assert metrics["baselines"]["validation"]["resize"]["side"] == 8 and metrics["validation"]["psnr"] > 0
    assert metrics["spec"]["task"] == "reconstruct" and metrics["spec"]["epochs"] == 1
    assert len(metrics["history"]["records"]) == 1 and metrics["split"]["validation_files"]
    for name in ("autoencoder.pt", "curves.png", "reconstructions.png", "latent.png", "run/last.pt", "run/best.pt"):
        assert (out / name).is_file(), name
    model, meta = checkpoint.load_checkpoint(out / "autoencoder.pt")
    assert isinstance(model, models.ConvAutoencoder) and meta["image_size"] == 32
    best, best_meta = checkpoint.load_checkpoint(out / "run" / "best.pt")
    assert best_meta["task"] == "reconstruct" and best_meta["validation_files"] == metrics["split"]["validation_files"]
    # The checkpoint feeds the cluster command.
    code = cli.main(["cluster", "--paths", str(paths), "--profile", "smoke", "--representation", "autoencoder",
                     "--checkpoint", str(out / "autoencoder.pt"), "--out", str(out / "cluster"), "--no-tsne",
                     "--quiet"])
    assert code == 0
    assert json.loads((out / "cluster" / "metrics.json").read_text())["feature_dims"] == 3 * 8 * 8


def test_notebook_01s_stylecnn_is_found_for_its_profile_or_the_notebook_says_to_run_01(tiny_root, tmp_path,
                                                                                      monkeypatch):
    from wikiart_core import config
    from wikiart_core.parts import PrerequisiteError, bonus_a, part2_autoencoder

    monkeypatch.delenv("WIKIART_OUTPUTS_DIR", raising=False)
    paths_file = tmp_path / "paths.yaml"
    paths_file.write_text(f"dataset: tiny\ndatasets:\n  tiny:\n    train: {tiny_root / 'train'}\n"
                          f"    test: {tiny_root / 'test'}\ncache_dir: {tmp_path / 'cache'}\n"
                          f"outputs_dir: {tmp_path / 'outputs'}\n")
    paths, smoke, demo = config.load_paths(paths_file), config.get_profile("smoke"), config.get_profile("demo")
    splits = data.load_splits(paths, image_size=16, progress=False)
    with pytest.raises(PrerequisiteError, match="is missing.*run notebook 01_bonusA first with PROFILE = 'smoke'"):
        part2_autoencoder.load_style_cnn(splits, smoke, paths)

    model = models.build("StyleCNN", n_classes=len(splits.classes), width=4, depth=2)
    checkpoint.save_checkpoint(bonus_a.style_cnn_path(paths, demo), model, profile="demo", dataset="tiny",
                               image_size=16, classes=splits.classes)
    # demo's checkpoint is in demo's folder: smoke does not see it, and nothing is retrained
    with pytest.raises(PrerequisiteError, match="is missing"):
        part2_autoencoder.load_style_cnn(splits, smoke, paths)
    loaded, where = part2_autoencoder.load_style_cnn(splits, demo, paths)
    assert isinstance(loaded, models.StyleCNN) and where.startswith("loaded from outputs/tiny/demo/01_bonusA/")
    # a checkpoint made at another image size is refused, with what differs
    checkpoint.save_checkpoint(bonus_a.style_cnn_path(paths, demo), model, profile="demo", dataset="tiny",
                               image_size=32, classes=splits.classes)
    with pytest.raises(PrerequisiteError, match="image_size 32"):
        part2_autoencoder.load_style_cnn(splits, demo, paths)


# --------------------------------------------------------------------------- had training levelled off?


def test_convergence_still_improving_when_the_last_epochs_still_gain():
    from wikiart_core.parts import part2_autoencoder

    # The demo run's curve: best at the last epoch, the last 2 of 5 epochs add 1.41 of 2.57 dB.
    result = part2_autoencoder.training_convergence([21.40, 22.48, 22.56, 23.62, 23.97])
    assert result["state"] == "still improving"
    assert (result["epochs"], result["best_epoch"], result["tail_epochs"]) == (5, 5, 2)
    assert result["first"] == 21.40 and result["best"] == result["last"] == 23.97
    assert result["tail_gain"] == pytest.approx(1.41) and result["total_gain"] == pytest.approx(2.57)
    assert result["tail_share"] == pytest.approx(1.41 / 2.57)
    words = part2_autoencoder.convergence_words(result)
    assert words.startswith("validation PSNR went 21.40 dB (epoch 1) → 23.97 dB (best and last, epoch 5)")
    assert "the last 2 of 5 epochs added +1.41 dB, 55% of the +2.57 dB" in words
    assert words.endswith("was still improving when training stopped; more epochs would likely raise it")


def test_convergence_levelled_off_when_the_tail_adds_little_or_the_best_came_earlier():
    from wikiart_core.parts import part2_autoencoder

    # A saturating curve: the last 2 of 8 epochs add 0.05 of 4.05 dB.
    flat = part2_autoencoder.training_convergence([20.0, 22.0, 23.0, 23.5, 23.8, 24.0, 24.03, 24.05])
    assert flat["state"] == "levelled off" and flat["tail_epochs"] == 2
    assert flat["tail_share"] == pytest.approx(0.05 / 4.05)
    assert part2_autoencoder.convergence_words(flat).endswith("the autoencoder had levelled off")
    # The best epoch before the tail: levelled off (or worse), whatever the tail did.
    peaked = part2_autoencoder.training_convergence([20.0, 25.0, 21.0, 22.0, 23.0])
    assert peaked["state"] == "levelled off" and peaked["best_epoch"] == 2
    assert "→ 25.00 dB (best, epoch 2) → 23.00 dB (last, epoch 5)" in part2_autoencoder.convergence_words(peaked)
    # No gain since the first epoch.
    worse = part2_autoencoder.training_convergence([22.0, 21.0, 21.5])
    assert worse["state"] == "levelled off" and worse["tail_share"] is None
    assert "no better than the first" in part2_autoencoder.convergence_words(worse)
    # A stricter share turns the demo curve into "levelled off".
    strict = part2_autoencoder.training_convergence([21.40, 22.48, 22.56, 23.62, 23.97], levelled_share=0.6)
    assert strict["state"] == "levelled off"


def test_convergence_of_one_epoch_and_bad_input():
    from wikiart_core.parts import part2_autoencoder

    one = part2_autoencoder.training_convergence([19.5])
    assert one["state"] == "one epoch" and one["tail_share"] is None
    assert "cannot tell" in part2_autoencoder.convergence_words(one)
    with pytest.raises(ValueError, match="finite"):
        part2_autoencoder.training_convergence([])
    with pytest.raises(ValueError, match="finite"):
        part2_autoencoder.training_convergence([20.0, float("nan")])
    with pytest.raises(ValueError, match="tail_fraction"):
        part2_autoencoder.training_convergence([20.0, 21.0], tail_fraction=1.0)
