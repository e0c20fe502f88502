"""Each thing in one place: the training options are the same on every training command,
a flag left out keeps the default of the RunSpec it overrides, one validation
(``RunSpec.problems``) serves the command line, the panel and ``engine.fit``, progress
bars appear only on a terminal, and the runner finds tasks by name instead of branching."""
import ast
import math
from pathlib import Path

import pytest

import wikiart_core
from wikiart_core import cli, cli_options, config, engine, experiment, tasks
from wikiart_core.experiment import RunSpec

TRAINING_FLAGS = ["--epochs", "2", "--image-size", "32", "--batch-size", "8", "--lr", "0.02", "--weight-decay", "0.1"]


@pytest.mark.parametrize("command", ["train", "search", "autoencode", "style"])
def test_every_training_command_takes_the_same_training_options(command):
    args = cli.build_parser().parse_args([command, "--out", "o", *TRAINING_FLAGS, "--seed", "5", "--device", "cpu"])
    assert (args.epochs, args.image_size, args.batch_size, args.lr, args.weight_decay) == (2, 32, 8, 0.02, 0.1)
    assert cli_options.run_overrides(args) == {"epochs": 2, "lr": 0.02, "batch_size": 8, "weight_decay": 0.1,
                                               "seed": 5, "device": "cpu"}
    left_out = cli.build_parser().parse_args([command, "--out", "o"])
    assert all(getattr(left_out, name) is None for name in ("epochs", "image_size", "batch_size", "lr", "weight_decay"))
    assert cli_options.run_overrides(left_out) == {"seed": 0, "device": "auto"}


def test_train_flags_left_out_keep_the_runspec_and_profile_defaults():
    profile = config.get_profile("smoke")
    plain = cli._train_spec(cli.build_parser().parse_args(["train", "--out", "o"]), profile)
    defaults = RunSpec()
    assert (plain.weight_decay, plain.warmup_epochs, plain.label_smoothing, plain.mixup, plain.imbalance,
            plain.model, plain.augment) == (defaults.weight_decay, defaults.warmup_epochs, defaults.label_smoothing,
                                            defaults.mixup, defaults.imbalance, defaults.model, defaults.augment)
    assert (plain.epochs, plain.lr, plain.batch_size, plain.model_args) == (
        profile.epochs, profile.lr, profile.batch_size, profile.style_cnn)
    given = cli._train_spec(cli.build_parser().parse_args(
        ["train", "--out", "o", *TRAINING_FLAGS, "--mixup", "0.2", "--imbalance", "logit_adjust"]), profile)
    assert (given.epochs, given.lr, given.batch_size, given.weight_decay, given.mixup, given.imbalance) == (
        2, 0.02, 8, 0.1, 0.2, "logit_adjust")


def test_one_validation_for_the_command_line_the_panel_and_fit():
    broken = RunSpec(lr=float("nan"), epochs=0, imbalance="focal", augment="sepia")
    found = broken.problems()
    assert len(found) == 4 and any("learning rate" in text for text in found)
    assert any("imbalance method" in text for text in found) and any("augmentation" in text for text in found)
    assert RunSpec().problems() == [] and engine.TrainConfig().problems() == []
    with pytest.raises(cli_options.UsageError) as from_cli:
        cli_options.checked_spec(broken)
    with pytest.raises(ValueError) as from_fit:
        engine.fit(None, None, [], None, broken, progress=False, log=lambda *_: None)
    assert str(from_cli.value) == str(from_fit.value) == "; ".join(found)


def test_progress_bars_only_on_a_terminal(monkeypatch):
    args = cli.build_parser().parse_args(["train", "--out", "o"])
    monkeypatch.setattr(cli_options.sys.stderr, "isatty", lambda: False, raising=False)
    assert cli_options.progress_wanted(args) is False
    monkeypatch.setattr(cli_options.sys.stderr, "isatty", lambda: True, raising=False)
    assert cli_options.progress_wanted(args) is True
    assert cli_options.progress_wanted(cli.build_parser().parse_args(["train", "--out", "o", "--quiet"])) is False


def test_the_runner_finds_a_new_task_by_name_without_a_change(monkeypatch):
    """A task registered from outside reaches experiment.build_task and the search space:
    nothing in the runner lists the task names."""

    monkeypatch.setattr(tasks, "TASKS", dict(tasks.TASKS))  # the registration is undone after the test

    class Denoise(tasks.Reconstruction):
        pass

    Denoise.name = "denoise"
    tasks.register_task(Denoise)
    spec = RunSpec(task="denoise", model="ConvAutoencoder")
    assert spec.problems() == [] and spec.headline_metric == "psnr"

    class FakeSplits:
        pass

    task, sampler = experiment.build_task(spec, FakeSplits())
    assert isinstance(task, Denoise) and sampler is None
    with pytest.raises(ValueError, match="task must be one of"):
        experiment.build_task(RunSpec(task="generate"), FakeSplits())


def test_no_task_names_in_the_runner_or_the_search():
    root = Path(wikiart_core.__file__).parent
    for module in ("experiment.py", "search.py"):
        tree = ast.parse((root / module).read_text())
        for node in ast.walk(tree):
            compares_names = isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq))
                                                                   for op in node.ops)
            if compares_names and any(isinstance(side, ast.Attribute) and side.attr == "task"
                                      for side in [node.left, *node.comparators]):
                pytest.fail(f"{module}:{node.lineno} compares a task name; ask the registered task instead")


def test_training_defaults_are_declared_once():
    """RunSpec inherits TrainConfig's fields rather than re-declaring them."""
    own = set(RunSpec.__annotations__)
    assert not own & set(engine.TrainConfig.__annotations__)
    assert RunSpec().lr == engine.TrainConfig().lr and not math.isnan(RunSpec().lr)
    assert RunSpec.label_smoothing == tasks.Classification.label_smoothing
