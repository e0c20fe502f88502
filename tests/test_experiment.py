"""The experiment runner: three disjoint splits, a validation split that makes every
choice, a test split that is scored once and never reaches fit, a model that beats the
baselines where it can, and results that serialise."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wikiart_core import checkpoint, data, engine, experiment, models, tasks
from wikiart_core.engine import EpochRecord, History
from wikiart_core.experiment import RunResult, RunSpec

pytestmark = pytest.mark.usefixtures("single_torch_thread")



@pytest.fixture(scope="module")
def splits(tiny_splits):
    return data.make_splits(*tiny_splits)


# A run that takes a second: a narrow StyleCNN, one epoch, on the CPU.
TINY = dict(model="stylecnn", model_args=dict(width=4, depth=2), epochs=1, batch_size=32, device="cpu",
            augment="none")


def paths_of(dataset):
    return set(dataset.paths)


# --------------------------------------------------------------------------- (a) the three splits


def test_train_validation_and_test_share_no_file(tiny_splits, splits):
    train_folder, test_folder = tiny_splits
    train, validation, test = splits  # unpacks as three
    assert len(train) and len(validation) and len(test)
    assert not paths_of(train) & paths_of(validation)
    assert not paths_of(train) & paths_of(test)
    assert not paths_of(validation) & paths_of(test)
    # validation is carved out of the training folder; the test folder stays whole
    assert paths_of(train) | paths_of(validation) == paths_of(train_folder)
    assert len(train) + len(validation) == len(train_folder)
    assert paths_of(test) == paths_of(test_folder)
    assert splits.classes == train_folder.classes == validation.classes == test.classes
    assert splits.describe() == {"n_train": len(train), "n_validation": len(validation), "n_test": len(test),
                                 "validation_fraction": 0.1, "split_seed": 0, "image_size": 16}


def test_validation_is_stratified(tiny_splits, splits):
    train_folder, _ = tiny_splits
    folder_counts = train_folder.class_counts()
    train_counts, validation_counts = splits.train.class_counts(), splits.validation.class_counts()
    for style, n in folder_counts.items():
        assert n >= 2  # every style of the tiny set has at least 3 images
        assert train_counts[style] >= 1 and validation_counts[style] >= 1, style
        assert validation_counts[style] == min(n - 1, max(1, round(0.1 * n))), style
        assert train_counts[style] + validation_counts[style] == n


def write_images(root, counts, size=8):
    for style, n in counts.items():
        (root / style).mkdir(parents=True)
        for index in range(n):
            Image.new("RGB", (size, size), (10 * index, 50, 90)).save(root / style / f"{index}.png")
    return root


def test_a_style_with_one_image_stays_in_train(tmp_path):
    train_folder = data.WikiArtDataset(write_images(tmp_path / "train", {"Alone": 1, "Big": 9, "Pair": 2}), 8,
                                       progress=False)
    test_folder = data.WikiArtDataset(write_images(tmp_path / "test", {"Big": 1, "Pair": 1}), 8,
                                      classes=train_folder.classes, progress=False)
    splits = data.make_splits(train_folder, test_folder, validation_fraction=0.3)
    assert splits.train.class_counts() == {"Alone": 1, "Big": 6, "Pair": 1}
    assert splits.validation.class_counts() == {"Alone": 0, "Big": 3, "Pair": 1}
    # the index-level function: every index exactly once, sorted
    targets = [0] * 10 + [1] + [2] * 3
    train_rows, validation_rows = data.stratified_validation(targets, 0.2, seed=4)
    assert sorted(np.concatenate([train_rows, validation_rows]).tolist()) == list(range(len(targets)))
    assert list(train_rows) == sorted(train_rows) and 10 in train_rows  # the single image of label 1
    assert [int(np.sum(np.asarray(targets)[validation_rows] == label)) for label in range(3)] == [2, 0, 1]
    for fraction in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="between 0 and 1"):
            data.stratified_validation(targets, fraction)


def test_splits_summary_names_every_split_and_the_size(splits):
    summary = splits.summary()
    for count, name in ((len(splits.train), "train"), (len(splits.validation), "validation"),
                        (len(splits.test), "test images")):
        assert f"{count} {name}" in summary
    assert f"{round(100 * splits.validation_fraction)}% of the training folder" in summary
    assert summary.endswith(f"at {splits.image_size} px")


def test_the_split_is_deterministic_for_a_split_seed(tiny_splits):
    first = data.make_splits(*tiny_splits, split_seed=3)
    again = data.make_splits(*tiny_splits, split_seed=3)
    other = data.make_splits(*tiny_splits, split_seed=4)
    assert first.validation.paths == again.validation.paths and first.train.paths == again.train.paths
    assert first.validation.paths != other.validation.paths
    assert first.validation.class_counts() == other.validation.class_counts()  # same shares, other images
    assert first.validation_files() == again.validation_files()


def test_the_split_is_recorded_in_the_result_and_the_checkpoints(splits, tmp_path):
    result = experiment.run(RunSpec(name="recorded", **TINY), splits, checkpoint_dir=tmp_path,
                            meta={"profile": "smoke"})
    files = result.split["validation_files"]
    assert files == splits.validation_files() and len(files) == len(splits.validation)
    # relative to the training folder, and enough to rebuild the validation split
    assert all(not Path(name).is_absolute() for name in files)
    assert {str(splits.train.root / name) for name in files} == paths_of(splits.validation)
    assert result.split["n_validation"] == len(splits.validation) and result.split["split_seed"] == 0
    for name in ("last.pt", "best.pt"):
        meta = checkpoint.read_checkpoint(tmp_path / name)
        assert meta["validation_files"] == files, name
        assert meta["split_seed"] == 0 and meta["validation_fraction"] == 0.1
        assert meta["spec"] == result.spec.to_dict() and meta["profile"] == "smoke"
        assert meta["train_counts"] == splits.train.class_counts()


# --------------------------------------------------------------------------- (b) test never reaches fit


class SpyFit:
    """Stands in for engine.fit: records everything it is given, trains nothing."""

    def __init__(self, interrupted=False):
        self.calls, self.interrupted = [], interrupted

    def __call__(self, *args, **kwargs):
        self.calls.append((args, kwargs))
        history = History(records=[EpochRecord(epoch=1, train_loss=1.0)], device="cpu")
        history.interrupted = self.interrupted
        return history

    def datasets(self):
        values = [value for args, kwargs in self.calls for value in [*args, *kwargs.values()]]
        return [value for value in values if hasattr(value, "paths")]


def test_the_runner_never_passes_the_test_split_to_fit(splits):
    spy = SpyFit()
    result = experiment.run(RunSpec(name="spied", **TINY), splits, fit_fn=spy)
    assert len(spy.calls) == 1
    args, kwargs = spy.calls[0]
    model, task, train_data, val_data, config = args
    assert train_data is splits.train and val_data is splits.validation
    assert config.epochs == 1 and config.device == "cpu"
    datasets = spy.datasets()
    assert len(datasets) == 2
    for dataset in datasets:
        assert not paths_of(dataset) & paths_of(splits.test)
    # nothing else it got names a test file either (the checkpoint meta lists validation files only)
    listed = {str(splits.train.root / name) for name in kwargs["meta"]["validation_files"]}
    assert listed == paths_of(splits.validation)
    meta_text = json.dumps(kwargs["meta"])
    assert not any(path in meta_text for path in splits.test.paths)
    # the runner scored test itself, after fit, once
    assert result.test is not None and result.test["n_samples"] == len(splits.test)
    assert result.y_true["test"] == splits.test.targets and result.y_true["validation"] == splits.validation.targets


def test_a_candidate_or_an_interrupted_run_is_not_scored_on_test(splits):
    candidate = experiment.run(RunSpec(**TINY), splits, fit_fn=SpyFit(), score_test_split=False)
    assert candidate.test is None and "test" not in candidate.predictions and "test" not in candidate.baselines
    assert candidate.validation["n_samples"] == len(splits.validation)
    stopped = experiment.run(RunSpec(**TINY), splits, fit_fn=SpyFit(interrupted=True))
    assert stopped.interrupted and stopped.test is None
    with pytest.raises(ValueError, match="no test scores"):
        stopped.score("test")


class OracleFit:
    """A fake fit whose "training" makes the model answer from a lookup table of
    images -> labels, so that validation and test scores can be set at will: by
    learning rate, it memorises the validation split, the test split (read through the
    test module's own handle on it, never through fit's arguments), or nothing (then it
    answers style 0)."""

    def __init__(self, splits, memorise):
        self.splits, self.memorise, self.calls = splits, memorise, []

    def __call__(self, model, task, train_data, val_data, config, **kwargs):
        self.calls.append(config.lr)
        source = {"validation": val_data, "test": self.splits.test, None: None}[self.memorise[config.lr]]
        table = {}
        if source is not None:
            images, labels = source.get_batch(np.arange(len(source)))
            table = {image.numpy().tobytes(): int(label) for image, label in zip(images, labels)}
        n_classes = len(train_data.classes)

        def answer(x):
            logits = torch.zeros(len(x), n_classes)
            for row, image in enumerate((x * 255).round().to(torch.uint8).cpu()):
                logits[row, table.get(image.numpy().tobytes(), 0)] = 10.0
            return logits

        model.forward = answer
        return History(records=[EpochRecord(epoch=1, train_loss=1.0)], device="cpu")


MEMORISE = {1e-3: "test", 3e-3: "validation", 1e-2: None}


def test_learning_rate_search_picks_by_validation_and_scores_test_once(splits, monkeypatch):
    spec = RunSpec(name="search", **TINY)
    # On its own, the lr=1e-3 candidate is the best on test and the worst on validation.
    test_best = experiment.run(spec.replace(lr=1e-3), splits, fit_fn=OracleFit(splits, MEMORISE))
    assert test_best.test["balanced_accuracy"] == 1.0
    assert test_best.validation["balanced_accuracy"] == pytest.approx(1 / len(splits.classes))

    scored = []
    real_score_test = experiment.score_test

    def counting_score_test(result, splits):
        scored.append(result.spec.lr)
        return real_score_test(result, splits)

    monkeypatch.setattr(experiment, "score_test", counting_score_test)
    fit = OracleFit(splits, MEMORISE)
    chosen, rows = experiment.learning_rate_search(spec, splits, [1e-3, 3e-3, 1e-2], log=None, fit_fn=fit)
    assert fit.calls == [1e-3, 3e-3, 1e-2]
    assert chosen.spec.lr == 3e-3 and chosen.validation["balanced_accuracy"] == 1.0
    assert scored == [3e-3]  # the test split was read once, for the chosen run only
    assert chosen.test["balanced_accuracy"] < test_best.test["balanced_accuracy"]  # and it is not the test-best
    assert [(row["lr"], row["chosen"]) for row in rows] == [(1e-3, False), (3e-3, True), (1e-2, False)]
    assert rows[1]["balanced_accuracy"] == 1.0 and "per_class_recall" not in rows[1]


def test_a_diverging_learning_rate_is_left_out_of_the_choice(splits):
    oracle = OracleFit(splits, {1e-3: None, 3e-3: "validation"})

    def fit(model, task, train_data, val_data, config, **kwargs):
        if config.lr == 1e-2:
            raise engine.TrainingError("the loss became nan at epoch 1, batch 1: training diverged")
        return oracle(model, task, train_data, val_data, config, **kwargs)

    chosen, rows = experiment.learning_rate_search(RunSpec(name="search", **TINY), splits, [1e-3, 3e-3, 1e-2],
                                                   log=None, fit_fn=fit)
    assert chosen.spec.lr == 3e-3
    assert rows[2]["lr"] == 1e-2 and "diverged" in rows[2] and not rows[2]["chosen"]
    with pytest.raises(engine.TrainingError, match="every learning rate"):
        experiment.learning_rate_search(RunSpec(name="search", **TINY), splits, [1e-2], log=None, fit_fn=fit)


def test_choose_by_validation_ignores_test_scores(splits):
    oracle = OracleFit(splits, MEMORISE)
    validation_best = experiment.run(RunSpec(name="val-best", lr=3e-3, **TINY), splits, fit_fn=oracle,
                                     score_test_split=False)
    # A finished run that (somehow) already carries a higher test score: it must not win.
    test_best = RunResult(spec=RunSpec(name="test-best"), history=History(),
                          validation={"balanced_accuracy": 0.5}, test={"balanced_accuracy": 0.99})
    chosen = experiment.choose_by_validation([test_best, validation_best], splits)
    assert chosen is validation_best and chosen.test is not None
    assert chosen.test["balanced_accuracy"] < 0.99
    assert test_best.test == {"balanced_accuracy": 0.99}  # untouched
    # ties go to the first candidate; an empty list is an error
    twin = RunResult(spec=RunSpec(name="twin"), history=History(), validation={"balanced_accuracy": 1.0},
                     test={"balanced_accuracy": 0.0})
    assert experiment.choose_by_validation([twin, validation_best], splits) is twin
    with pytest.raises(ValueError, match="no candidate"):
        experiment.choose_by_validation([], splits)


# --------------------------------------------------------------------------- (c) a model beats the baselines


STRIPE_COLOURS = (np.array([200, 60, 40]), np.array([30, 90, 210]))
PATTERNS = ("Checkerboard", "Diagonal", "Horizontal", "Vertical")


def stripes(kind, rng, size=16):
    """Two fixed colours, half the pixels each, in a pattern with a random period and
    phase: the classes differ in orientation and shape, not in any colour statistic."""
    period = int(rng.choice([4, 8]))
    phase = int(rng.integers(period))
    y, x = np.mgrid[0:size, 0:size]
    if kind == "Horizontal":
        mask = (y + phase) % period < period // 2
    elif kind == "Vertical":
        mask = (x + phase) % period < period // 2
    elif kind == "Diagonal":
        mask = (x + y + phase) % period < period // 2
    else:
        mask = ((x + phase) // (period // 2) + (y + phase) // (period // 2)) % 2 == 0
    first, second = STRIPE_COLOURS if rng.random() < 0.5 else STRIPE_COLOURS[::-1]
    return np.where(mask[..., None], first, second).astype(np.uint8)


@pytest.fixture(scope="module")
def stripe_splits(tmp_path_factory):
    root = tmp_path_factory.mktemp("stripes")
    rng = np.random.default_rng(0)
    for split, per_class in (("train", 30), ("test", 12)):
        for kind in PATTERNS:
            (root / split / kind).mkdir(parents=True)
            for index in range(per_class):
                Image.fromarray(stripes(kind, rng)).save(root / split / kind / f"{index}.png")
    train = data.WikiArtDataset(root / "train", image_size=16, progress=False)
    test = data.WikiArtDataset(root / "test", image_size=16, classes=train.classes, progress=False)
    return data.make_splits(train, test, validation_fraction=0.2)


@pytest.fixture(scope="module")
def stripe_result(stripe_splits):
    spec = RunSpec(name="stylecnn on stripes", model="stylecnn", model_args=dict(width=8, depth=2, stem_stride=1),
                   epochs=8, lr=1e-2, batch_size=16, augment="none", seed=0, device="cpu")
    return experiment.run(spec, stripe_splits)


def test_a_small_cnn_beats_every_baseline_on_test(stripe_result):
    result = stripe_result
    baselines = result.baselines["test"]
    assert set(baselines) == {"majority", "stratified", "colour_statistics"}
    # the data is what it claims: colour statistics alone are at chance
    assert baselines["colour_statistics"]["balanced_accuracy"] <= 0.4
    assert baselines["majority"]["balanced_accuracy"] == pytest.approx(0.25)
    assert baselines["stratified"]["balanced_accuracy"] == pytest.approx(0.25)
    model_score = result.test["balanced_accuracy"]
    for name, values in baselines.items():
        assert model_score > values["balanced_accuracy"] + 0.3, (name, model_score, values)
    assert result.validation["balanced_accuracy"] > 0.55
    assert result.score("test") == model_score and result.score() == result.validation["balanced_accuracy"]
    # top-3 beside top-1 on both splits, for the model and every baseline
    for split in ("validation", "test"):
        scores = result.validation if split == "validation" else result.test
        assert scores["accuracy"] <= scores["top3_accuracy"] <= 1.0
        assert all("top3_accuracy" in values for values in result.baselines[split].values())


# --------------------------------------------------------------------------- (d), (e) results


def test_run_result_round_trips_through_json(stripe_result, tmp_path):
    result = stripe_result
    text = json.dumps(result.to_dict())  # plain values only
    back = RunResult.from_dict(json.loads(text))
    assert back.spec == result.spec
    assert back.validation == result.validation and back.test == result.test
    assert back.history.to_dict() == result.history.to_dict()
    assert back.baselines == result.baselines and back.split == result.split
    assert back.predictions == result.predictions and back.y_true == result.y_true
    assert back.model is None and back.name == "stylecnn on stripes"
    saved = result.save_json(tmp_path / "out" / "result.json")
    assert RunResult.from_dict(json.loads(saved.read_text())).to_dict() == back.to_dict()
    assert RunSpec.from_dict({**result.spec.to_dict(), "from_a_newer_version": 1}) == result.spec


def test_score_test_refuses_a_second_scoring(stripe_result, stripe_splits):
    with pytest.raises(ValueError, match="already scored on the test split"):
        experiment.score_test(stripe_result, stripe_splits)
    from_json = RunResult.from_dict(stripe_result.to_dict())
    from_json.test = None
    with pytest.raises(ValueError, match="no model in memory"):
        experiment.score_test(from_json, stripe_splits)


# --------------------------------------------------------------------------- building blocks


def test_build_model_and_task_follow_the_spec(splits):
    spec = RunSpec(model="SeedCNN", seed=5)
    first, again = experiment.build_model(spec, splits), experiment.build_model(spec, splits)
    assert first.init_args["n_classes"] == len(splits.classes) and first.init_args["image_size"] == 16
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values()))
    # "auto" stem stride: resolved from the input size, the model keeps the number
    auto = experiment.build_model(RunSpec(model="stylecnn", model_args=dict(width=4, depth=2, stem_stride="auto")),
                                  splits)
    assert auto.init_args["stem_stride"] == models.auto_stem_stride(16) == 1
    task, sampler = experiment.build_task(RunSpec(imbalance="balanced_sampler", augment="flip"), splits)
    assert task.name == "classify" and task.augment_preset == "flip" and sampler is not None
    task, sampler = experiment.build_task(RunSpec(imbalance="logit_adjust", label_smoothing=0.1), splits)
    assert type(task.loss_function).__name__ == "LogitAdjustedLoss" and task.augment_preset == "art"
    assert sampler is None and task.label_smoothing == 0.1
    task, sampler = experiment.build_task(RunSpec(task="reconstruct", model="ConvAutoencoder"), splits)
    assert task.name == "reconstruct" and task.augment_preset == "flip" and sampler is None
    with pytest.raises(ValueError, match="task must be one of"):
        experiment.build_task(RunSpec(task="generate"), splits)


def test_baselines_are_computed_once_per_splits(splits):
    first = tasks.classification_baselines(splits)
    assert tasks.classification_baselines(splits) is first
    assert set(first) == {"validation", "test"}
    for split in first.values():
        assert set(split) == {"majority", "stratified", "colour_statistics"}
        assert 0.0 <= split["colour_statistics"]["balanced_accuracy"] <= 1.0


def test_results_rows_and_predictions_matrix(splits):
    runs = [experiment.run(RunSpec(name="seeded", seed=seed, **TINY), splits, fit_fn=SpyFit()) for seed in (0, 1)]
    rows = experiment.results_rows(runs)
    assert list(rows) == ["seeded"] and rows["seeded"]["test"] == runs[1].test  # one name: the last run's row
    y_true, predictions = experiment.predictions_matrix(runs, "test")
    assert y_true.tolist() == splits.test.targets and predictions.shape == (2, len(splits.test))
    assert predictions[1].tolist() == runs[1].predictions["test"]
    runs[1].y_true["test"] = list(reversed(runs[1].y_true["test"]))
    with pytest.raises(ValueError, match="different test items"):
        experiment.predictions_matrix(runs, "test")
    with pytest.raises(ValueError, match="no runs"):
        experiment.predictions_matrix([])
