"""data_paths.yaml: resolution, selection by environment, and errors that name key, line and fix."""
import textwrap
from pathlib import Path

import pytest

from wikiart_core import config
from wikiart_core.config import ConfigError, get_profile, load_paths


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data_paths.yaml"
    path.write_text(textwrap.dedent(text))
    return path


GOOD = """\
dataset: mine
datasets:
  mine:
    train: real/train
    test: real/test
  synthetic:
    train: gen/train
    test: gen/test
    synth: {scale: 0.01, size: 32, seed: 1}
cache_dir: cache
outputs_dir: out
pretrained:
  stable_diffusion: models/sd
"""


@pytest.fixture
def good_file(tmp_path, monkeypatch):
    monkeypatch.delenv("WIKIART_DATASET", raising=False)
    monkeypatch.delenv("WIKIART_PATHS", raising=False)
    (tmp_path / "real" / "train").mkdir(parents=True)
    (tmp_path / "real" / "test").mkdir(parents=True)
    return write(tmp_path, GOOD)


def test_relative_paths_resolve_against_the_file(good_file, tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    monkeypatch.delenv("WIKIART_OUTPUTS_DIR", raising=False)
    paths = load_paths(good_file)
    assert paths.dataset == "mine"
    assert paths.train == tmp_path / "real" / "train"
    assert paths["test"] == tmp_path / "real" / "test"
    assert paths.cache_dir == tmp_path / "cache" and paths.cache_dir.is_dir()
    assert paths.outputs_dir == tmp_path / "out" and paths.outputs_dir.is_dir()
    assert paths.pretrained == {"stable_diffusion": tmp_path / "models" / "sd"}
    assert paths.synth is None


def test_environment_selects_file_and_dataset(good_file, tmp_path, monkeypatch):
    monkeypatch.chdir("/")
    monkeypatch.setenv("WIKIART_PATHS", str(good_file))
    monkeypatch.setenv("WIKIART_DATASET", "synthetic")
    paths = load_paths()
    assert paths.dataset == "synthetic"
    assert paths.synth == {"scale": 0.01, "size": 32, "seed": 1}
    # synthetic folders need not exist yet: they are generated on first use
    assert not paths.train.exists()


def test_unknown_dataset_names_the_choices(good_file):
    with pytest.raises(ConfigError) as err:
        load_paths(good_file, dataset="wikiart")
    assert "unknown dataset 'wikiart'" in str(err.value)
    assert "mine" in str(err.value) and "synthetic" in str(err.value)


def test_missing_real_folder_names_key_line_path_and_fix(good_file, tmp_path):
    (tmp_path / "real" / "test").rmdir()
    with pytest.raises(ConfigError) as err:
        load_paths(good_file)
    message = str(err.value)
    assert "datasets.mine.test" in message
    assert "(line 5)" in message
    assert str(tmp_path / "real" / "test") in message
    assert "Fix:" in message


def test_missing_key(tmp_path):
    path = write(tmp_path, "dataset: a\ndatasets:\n  a:\n    train: x\ncache_dir: c\noutputs_dir: o\n")
    with pytest.raises(ConfigError, match=r"missing key 'datasets.a.test'"):
        load_paths(path)


def test_unknown_key_names_key_and_line(tmp_path):
    path = write(tmp_path, GOOD.replace("outputs_dir: out", "output_dir: out"))
    with pytest.raises(ConfigError) as err:
        load_paths(path)
    assert "'output_dir' (line 11): unknown key" in str(err.value)


def test_wrong_type_names_key_and_line(tmp_path):
    (tmp_path / "real" / "train").mkdir(parents=True)
    path = write(tmp_path, GOOD.replace("train: real/train", "train: [real/train]"))
    with pytest.raises(ConfigError) as err:
        load_paths(path)
    assert "datasets.mine.train' (line 4): expected str, got list" in str(err.value)


def test_invalid_yaml_and_missing_file(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_paths(write(tmp_path, "dataset: [unclosed\n"))
    monkeypatch.setenv("WIKIART_PATHS", str(tmp_path / "nope.yaml"))
    with pytest.raises(ConfigError, match=r"nope.yaml: no such file.*WIKIART_PATHS"):
        load_paths()


@pytest.mark.parametrize("text, key, lines", [
    # two dataset: lines (an edit appended below the old one): the second would win silently
    (GOOD + "dataset: synthetic\n", "dataset", (1, 14)),
    # inside a dataset entry
    (GOOD.replace("    test: real/test\n", "    test: real/test\n    train: other/train\n"),
     "datasets.mine.train", (4, 6)),
    # two entries of one name, and a key of a flow mapping
    (GOOD.replace("  synthetic:\n", "  mine:\n    train: a\n    test: b\n  synthetic:\n"), "datasets.mine", (3, 6)),
    (GOOD.replace("seed: 1}", "seed: 1, size: 64}"), "datasets.synthetic.synth.size", (9, 9)),
    # the same key spelt two ways (YAML reads both as 1)
    ("dataset: a\ndatasets: {a: {train: x, test: y}}\ncache_dir: c\noutputs_dir: o\n"
     "pretrained: {1: p, 0x1: q}\n", "pretrained.0x1", (5, 5)),
])
def test_a_key_given_twice_names_the_file_the_key_and_both_lines(tmp_path, monkeypatch, text, key, lines):
    monkeypatch.delenv("WIKIART_DATASET", raising=False)
    (tmp_path / "real" / "train").mkdir(parents=True)
    (tmp_path / "real" / "test").mkdir(parents=True)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load_paths(path)
    message = str(err.value)
    assert message.startswith(f"{path}, key '{key}' is given twice, on lines {lines[0]} and {lines[1]}")
    assert "Fix:" in message


def test_a_merge_key_may_be_overridden(tmp_path, monkeypatch):
    """``<<: *anchor`` then a key of the anchor is an override on purpose, not a duplicate."""
    monkeypatch.delenv("WIKIART_DATASET", raising=False)
    path = write(tmp_path, "dataset: b\ndatasets:\n  a: &a {train: x, test: y, synth: {scale: 0.01}}\n"
                           "  b:\n    <<: *a\n    test: z\ncache_dir: c\noutputs_dir: o\n")
    assert load_paths(path).test == tmp_path / "z"


def test_shipped_file_points_at_the_embedded_data_and_the_course_server(monkeypatch):
    monkeypatch.delenv("WIKIART_PATHS", raising=False)
    monkeypatch.delenv("WIKIART_DATASET", raising=False)
    shipped = Path(__file__).resolve().parent.parent / "data_paths.yaml"
    paths = load_paths(shipped)
    assert paths.dataset == "synthart" and paths.synth is not None
    text = shipped.read_text()
    assert "/scratch/lt2326-2926-h24/wikiart/train" in text
    assert "/scratch/lt2326-2926-h24/wikiart/test" in text


def test_profiles(monkeypatch):
    monkeypatch.setenv("WIKIART_PROFILE", "smoke")
    assert config.get_profile().name == "smoke"
    assert config.get_profile("full").image_size > config.get_profile("demo").image_size
    with pytest.raises(ConfigError, match="Unknown profile 'huge'"):
        config.get_profile("huge")


def test_every_profile_sizes_every_run():
    from wikiart_core import experiment, models

    for name, profile in config.PROFILES.items():
        assert profile.name == name
        assert profile.epochs >= 1 and profile.batch_size >= 1 and profile.seeds >= 1
        assert profile.seed_list == list(range(profile.seeds))
        assert 0.0 < profile.validation_fraction < 1.0
        assert profile.lr_grid and all(lr > 0 for lr in profile.lr_grid) and len(set(profile.lr_grid)) == len(
            profile.lr_grid)
        # the settings build the models they are for
        stride = profile.style_cnn["stem_stride"]
        if stride == "auto":  # experiment.build_model resolves it from the input size
            stride = models.auto_stem_stride(profile.image_size)
        models.build("StyleCNN", n_classes=3, **{**profile.style_cnn, "stem_stride": stride})
        assert 0 < profile.lr < 1
        assert {"image_size", "width", "depth", "epochs", "lr"} <= set(profile.imbalance)
        assert {"base_channels", "depth", "latent_channels", "epochs", "lr", "batch_size", "max_points",
                "tsne_max_iter", "min_style_images"} <= set(profile.autoencoder)
        models.build("ConvAutoencoder", image_size=profile.image_size,
                     **{key: profile.autoencoder[key] for key in ("base_channels", "depth", "latent_channels")})
        experiment.RunSpec(model="stylecnn", model_args=profile.style_cnn, epochs=profile.epochs,
                           lr=profile.lr_grid[0], batch_size=profile.batch_size).check()
    smoke, demo, full = (config.PROFILES[name] for name in ("smoke", "demo", "full"))
    assert smoke.epochs <= demo.epochs <= full.epochs and smoke.image_size <= demo.image_size <= full.image_size
    assert smoke.max_train_per_class is not None and full.max_train_per_class is None
    changed = smoke.replace(epochs=smoke.epochs + 4)  # a copy: the profile itself is frozen
    assert changed.epochs == smoke.epochs + 4 and changed.lr_grid == smoke.lr_grid
    assert config.PROFILES["smoke"] is smoke and changed is not smoke


def test_outputs_override_and_one_folder_per_dataset_and_profile(good_file, tmp_path, monkeypatch):
    monkeypatch.setenv("WIKIART_OUTPUTS_DIR", str(tmp_path / "elsewhere"))
    paths = load_paths(good_file)
    assert paths.outputs_dir == tmp_path / "elsewhere" and paths.outputs_dir.is_dir()
    assert paths.run_outputs("full") == tmp_path / "elsewhere" / "mine" / "full"
    assert paths.notebook_outputs(get_profile("smoke"), "01_bonusA") == tmp_path / "elsewhere" / "mine" / "smoke" / "01_bonusA"
    assert paths.run_outputs("smoke") != paths.run_outputs("full")


def test_the_tests_never_use_the_checkouts_outputs():
    # conftest.py points every pytest run at a temporary folder.
    checkout_outputs = (Path(__file__).resolve().parent.parent / "outputs").resolve()
    assert load_paths().outputs_dir.resolve() != checkout_outputs
