"""The train and evaluate sub-commands, end to end on a tiny synthetic dataset (in-process)."""
import json
import shutil

import pytest

from wikiart_core import cli, synth, train


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    synth.generate(root, scale=0.003, size=32, seed=0, workers=1, progress=False)
    return root


pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def trained_run(single_torch_thread, tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = cli.main(["train", "--model", "stylecnn", "--imbalance", "none", "--epochs", "1", "--image-size", "32",
                     "--batch-size", "16", "--lr", "0.002", "--seed", "3", "--out", str(out), "--profile", "smoke",
                     "--train", str(tiny_data / "train"), "--test", str(tiny_data / "test"),
                     "--device", "cpu", "--quiet"])
    return code, out


def test_train_writes_checkpoint_and_metrics(trained_run, capsys):
    code, out = trained_run
    assert code == 0
    assert (out / "last.pt").is_file() and (out / "best.pt").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "majority_baseline", "per_class_recall", "seed",
                "profile", "dataset", "image_size", "epochs", "history"):
        assert key in metrics, key
    assert metrics["seed"] == 3 and metrics["profile"] == "smoke" and metrics["epochs"] == 1
    assert metrics["image_size"] == 32 and len(metrics["history"]) == 1
    assert set(metrics["per_class_recall"]) == set(synth.STYLES)
    assert metrics["majority_baseline"]["style"] == "Impressionism"
    model, meta = train.load_checkpoint(out / "last.pt")
    assert meta["classes"] == sorted(synth.STYLES) and meta["image_size"] == 32 and meta["epoch"] == 1


def test_evaluate_reproduces_the_training_metrics(trained_run, tiny_data, capsys):
    _, out = trained_run
    code = cli.main(["evaluate", "--checkpoint", str(out / "last.pt"), "--test", str(tiny_data / "test"),
                     "--device", "cpu", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "balanced acc." in printed and "baseline: always Impressionism" in printed
    again = json.loads((out / "last.metrics.json").read_text())
    first = json.loads((out / "metrics.json").read_text())
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "per_class_recall", "majority_baseline"):
        assert again[key] == first[key], key


def test_evaluate_refuses_a_test_split_with_other_styles(trained_run, tiny_data, tmp_path, capsys):
    _, out = trained_run
    test = tmp_path / "test"
    shutil.copytree(tiny_data / "test", test)
    shutil.move(test / "Pop_Art", test / "Vaporwave")
    code = cli.main(["evaluate", "--checkpoint", str(out / "last.pt"), "--test", str(test), "--device", "cpu",
                     "--quiet", "--out", str(tmp_path / "m.json")])
    assert code == 2
    error = capsys.readouterr().err
    assert "['Pop_Art']" in error and "['Vaporwave']" in error
    assert not (tmp_path / "m.json").exists()


def test_evaluate_names_a_missing_checkpoint(tmp_path, capsys):
    code = cli.main(["evaluate", "--checkpoint", str(tmp_path / "none.pt"), "--device", "cpu"])
    assert code == 2 and "none.pt" in capsys.readouterr().err


def test_train_resumes_with_resume_flag(trained_run, tiny_data, tmp_path, capsys):
    _, out = trained_run
    resumed = tmp_path / "resumed"
    code = cli.main(["train", "--model", "stylecnn", "--epochs", "2", "--image-size", "32", "--batch-size", "16",
                     "--seed", "3", "--out", str(resumed), "--profile", "smoke", "--resume", str(out / "last.pt"),
                     "--train", str(tiny_data / "train"), "--test", str(tiny_data / "test"), "--device", "cpu",
                     "--quiet"])
    assert code == 0
    assert "resumed from" in capsys.readouterr().out
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert [record["epoch"] for record in metrics["history"]] == [1, 2]


def test_train_needs_both_roots(tmp_path, capsys):
    code = cli.main(["train", "--out", str(tmp_path), "--train", str(tmp_path)])
    assert code == 2 and "--train and --test" in capsys.readouterr().err
