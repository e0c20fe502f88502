"""The command line end to end on a tiny synthetic dataset (in-process): train, evaluate,
resume, the shared options, and which errors become a message."""
import functools
import json
import shutil

import pytest

from wikiart_core import checkpoint, cli, engine, experiment, synth


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    synth.generate(root, scale=0.003, size=32, seed=0, workers=1, progress=False)
    return root


# The tiny set has 2 training images per style: scikit-learn warns that this many
# classes for so few samples looks like regression (the colour baseline). Expected here.
pytestmark = [pytest.mark.usefixtures("single_torch_thread"),
              pytest.mark.filterwarnings("ignore:The number of unique classes is greater than 50%")]



def folders(tiny_data):
    return ["--train", str(tiny_data / "train"), "--test", str(tiny_data / "test")]


TRAIN = ["train", "--model", "stylecnn", "--imbalance", "none", "--image-size", "32", "--batch-size", "16",
         "--lr", "0.002", "--seed", "3", "--profile", "smoke", "--device", "cpu", "--quiet"]


@pytest.fixture(scope="module")
def trained_run(single_torch_thread, tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    code = cli.main(TRAIN + ["--epochs", "1", "--out", str(out)] + folders(tiny_data))
    return code, out


def test_train_writes_checkpoints_and_metrics(trained_run):
    code, out = trained_run
    assert code == 0
    assert (out / "last.pt").is_file() and (out / "best.pt").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "per_class_recall", "majority_baseline",
                "stratified_baseline", "colour_statistics_baseline", "validation_metrics", "seed", "profile",
                "dataset", "spec", "split", "history", "validation", "test", "baselines"):
        assert key in metrics, key
    # The test scores are at the top, the validation scores beside them.
    assert metrics["accuracy"] == metrics["test"]["accuracy"]
    assert metrics["balanced_accuracy"] == metrics["test"]["balanced_accuracy"]
    assert metrics["per_class_recall"] == metrics["test"]["per_class_recall"]
    assert metrics["validation_metrics"] == metrics["validation"]
    assert metrics["majority_baseline"] == metrics["baselines"]["test"]["majority"]
    assert metrics["colour_statistics_baseline"] == metrics["baselines"]["test"]["colour_statistics"]
    assert metrics["seed"] == 3 and metrics["profile"] == "smoke" and metrics["spec"]["epochs"] == 1
    assert metrics["spec"]["lr"] == 0.002 and metrics["spec"]["batch_size"] == 16
    assert metrics["split"]["image_size"] == 32 and len(metrics["history"]["records"]) == 1
    assert set(metrics["per_class_recall"]) == set(synth.STYLES)
    assert metrics["majority_baseline"]["style"] == "Impressionism"
    # train, validation and test sizes add up to the folders (smoke caps: 8 train, 4 test per style)
    train_counts, test_counts = synth.split_counts(0.003, 0.15)
    split = metrics["split"]
    assert split["n_train"] + split["n_validation"] == sum(min(8, n) for n in train_counts.values())
    assert split["n_test"] == sum(min(4, n) for n in test_counts.values())
    assert len(split["validation_files"]) == split["n_validation"]
    model, meta = checkpoint.load_checkpoint(out / "last.pt")
    assert meta["classes"] == sorted(synth.STYLES) and meta["image_size"] == 32 and meta["epoch"] == 1
    assert meta["validation_files"] == split["validation_files"] and meta["split_seed"] == 0
    assert meta["profile"] == "smoke" and meta["spec"] == metrics["spec"]


def test_evaluate_reproduces_the_training_metrics(trained_run, tiny_data, capsys):
    _, out = trained_run
    code = cli.main(["evaluate", "--checkpoint", str(out / "last.pt"), "--test", str(tiny_data / "test"),
                     "--device", "cpu", "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "bal. acc." in printed and "baseline: always Impressionism" in printed
    again = json.loads((out / "last.metrics.json").read_text())
    first = json.loads((out / "metrics.json").read_text())
    for key in ("accuracy", "balanced_accuracy", "macro_f1", "per_class_recall", "majority_baseline"):
        assert again[key] == first[key], key
    assert again["stratified_baseline"] == first["stratified_baseline"]
    assert again["epoch"] == 1 and again["seed"] == 3 and again["image_size"] == 32


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


def test_evaluate_refuses_a_reconstruction_checkpoint(tmp_path, tiny_data, capsys):
    from wikiart_core import models

    saved = checkpoint.save_checkpoint(tmp_path / "ae.pt", models.ConvAutoencoder(image_size=32, depth=2),
                                       task="reconstruct", classes=sorted(synth.STYLES), image_size=32)
    code = cli.main(["evaluate", "--checkpoint", str(saved), "--test", str(tiny_data / "test"), "--device", "cpu",
                     "--quiet"])
    assert code == 2 and "reconstruct" in capsys.readouterr().err


def test_train_resumes_with_resume_flag(trained_run, tiny_data, tmp_path, capsys):
    _, out = trained_run
    resumed = tmp_path / "resumed"
    code = cli.main(TRAIN + ["--epochs", "2", "--out", str(resumed), "--resume", str(out / "last.pt")]
                    + folders(tiny_data))
    assert code == 0
    assert "resumed from" in capsys.readouterr().out
    metrics = json.loads((resumed / "metrics.json").read_text())
    assert [record["epoch"] for record in metrics["history"]["records"]] == [1, 2]
    first = json.loads((out / "metrics.json").read_text())
    assert metrics["history"]["records"][0] == first["history"]["records"][0]


def test_validation_options_set_the_split_and_are_recorded(tiny_data, tmp_path, monkeypatch):
    seen = []

    def no_training(model, task, train_data, val_data, config, **kwargs):
        seen.append((train_data, val_data))
        return engine.History(device="cpu")

    monkeypatch.setattr(experiment, "run", functools.partial(experiment.run, fit_fn=no_training))
    runs = {}
    for seed in (5, 5, 6):
        out = tmp_path / f"seed{seed}-{len(runs)}"
        code = cli.main(TRAIN + ["--epochs", "1", "--out", str(out), "--validation-fraction", "0.5",
                                 "--split-seed", str(seed)] + folders(tiny_data))
        assert code == 0
        runs[len(runs)] = json.loads((out / "metrics.json").read_text())["split"]
    first, again, other = runs[0], runs[1], runs[2]
    assert first["validation_fraction"] == 0.5 and first["split_seed"] == 5 and other["split_seed"] == 6
    # round(0.5 n), at least 1 and at most n - 1, per style of the capped training folder
    train_counts, _ = synth.split_counts(0.003, 0.15)
    expected = sum(min(n - 1, max(1, round(0.5 * n))) for n in (min(8, n) for n in train_counts.values()))
    assert first["n_validation"] == expected
    assert first["validation_files"] == again["validation_files"]  # the split seed decides, nothing else
    assert first["validation_files"] != other["validation_files"]
    train_data, val_data = seen[0]
    assert not set(train_data.paths) & set(val_data.paths)


def test_an_interrupted_train_writes_no_metrics_and_says_how_to_resume(tiny_data, tmp_path, monkeypatch, capsys):
    def interrupt_after_first_epoch(*args, **kwargs):
        def stop(record):
            raise KeyboardInterrupt
        return engine.fit(*args, **{**kwargs, "on_epoch_end": stop})

    monkeypatch.setattr(experiment, "run", functools.partial(experiment.run, fit_fn=interrupt_after_first_epoch))
    out = tmp_path / "run"
    code = cli.main(TRAIN + ["--epochs", "2", "--out", str(out)] + folders(tiny_data))
    assert code == 130
    assert not (out / "metrics.json").exists() and (out / "last.pt").is_file()
    assert f"--resume {out / 'last.pt'}" in capsys.readouterr().err
    assert checkpoint.read_checkpoint(out / "last.pt")["epoch"] == 1


def test_train_needs_both_roots(tmp_path, capsys):
    code = cli.main(["train", "--out", str(tmp_path), "--train", str(tmp_path)])
    assert code == 2 and "--train and --test" in capsys.readouterr().err


def test_only_the_projects_own_errors_become_a_message(tiny_data, tmp_path, monkeypatch, capsys):
    # A bug (any other exception) keeps its traceback: main() does not swallow it.
    def buggy(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(experiment, "run", buggy)
    with pytest.raises(ZeroDivisionError, match="a bug"):
        cli.main(TRAIN + ["--epochs", "1", "--out", str(tmp_path / "a")] + folders(tiny_data))

    def refused(*args, **kwargs):
        raise engine.TrainingError("the loss became nan at epoch 1, batch 1")

    monkeypatch.setattr(experiment, "run", refused)
    assert cli.main(TRAIN + ["--epochs", "1", "--out", str(tmp_path / "b")] + folders(tiny_data)) == 2
    assert "error: the loss became nan" in capsys.readouterr().err
    # A folder that does not exist is named, without a traceback.
    assert cli.main(TRAIN + ["--epochs", "1", "--out", str(tmp_path / "c"), "--train", str(tmp_path / "nowhere"),
                             "--test", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["info", "prepare", "train", "evaluate", "autoencode", "cluster"])
def test_every_data_command_takes_the_shared_data_options(command):
    required = {"train": ["--out", "o"], "evaluate": ["--checkpoint", "c.pt"], "autoencode": ["--out", "o"],
                "cluster": ["--out", "o"]}.get(command, [])
    args = cli.build_parser().parse_args([command, *required, "--train", "tr", "--test", "te", "--profile", "smoke",
                                          "--validation-fraction", "0.2", "--split-seed", "4", "--cache-dir", "c",
                                          "--paths", "p.yaml", "--dataset", "d"])
    assert (str(args.train), str(args.test), args.profile, args.validation_fraction, args.split_seed) == (
        "tr", "te", "smoke", 0.2, 4)
    if command in ("train", "evaluate", "autoencode", "cluster"):
        run = cli.build_parser().parse_args([command, *required, "--seed", "7", "--device", "cpu", "--quiet"])
        assert (run.seed, run.device, run.quiet) == (7, "cpu", True)


def test_train_with_a_cache_margin_decodes_larger_and_feeds_the_model_its_size(tiny_data, tmp_path):
    out = tmp_path / "margin"
    code = cli.main(TRAIN + ["--epochs", "1", "--cache-margin", "1.25", "--out", str(out)] + folders(tiny_data))
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["spec"]["input_size"] == 32 and metrics["split"]["image_size"] == 40
