"""The validation-driven hyperparameter search (search.py, `python -m wikiart_core search`):
a study in SQLite that resumes, pruning on per-epoch validation scores, the best trial
retrained and scored once on test (the trials never), the figures and search.json."""
import json

import optuna
import pytest

from wikiart_core import augment, cli, data, engine, experiment, imbalance, plots, search, synth

# The tiny set has 2-3 training images per style: scikit-learn warns that this many classes
# for so few samples looks like regression (the colour baseline). Expected here.
pytestmark = [pytest.mark.usefixtures("single_torch_thread"),
              pytest.mark.filterwarnings("ignore:The number of unique classes is greater than 50%")]


@pytest.fixture(scope="module")
def splits(tiny_splits):
    train, test = tiny_splits
    return data.make_splits(train, test, validation_fraction=0.3)


def base_spec(**changes):
    spec = experiment.RunSpec(name="search", model="stylecnn", model_args=dict(width=4, depth=2), epochs=2,
                              batch_size=16, warmup_epochs=0.5, device="cpu")
    return spec.replace(**changes)


class RunSpy:
    """Wraps experiment.run: records every call's spec and test scoring."""

    def __init__(self, monkeypatch):
        self.calls = []
        real_run = experiment.run

        def spy(spec, splits, **options):
            result = real_run(spec, splits, **options)
            self.calls.append({"spec": spec, "score_test_split": options.get("score_test_split", True),
                               "tested": result.test is not None, "result": result})
            return result

        monkeypatch.setattr(experiment, "run", spy)


def params_key(trial):
    return tuple(sorted((name, repr(value)) for name, value in trial.params.items()))


def test_search_space_reads_the_presets_and_methods_and_scales_the_width():
    space = search.search_space(base_spec(model_args=dict(width=8, depth=2)))
    assert space["augment"].choices == tuple(augment.PRESETS)
    assert space["imbalance"].choices == tuple(imbalance.METHODS)
    assert space["width"].choices == (4, 8, 16)
    assert space["lr"].kind == space["weight_decay"].kind == "log_uniform"
    spec = search.spec_for(base_spec(), {"lr": 0.01, "width": 8, "augment": "none", "imbalance": "logit_adjust"})
    assert (spec.lr, spec.augment, spec.imbalance) == (0.01, "none", "logit_adjust")
    assert spec.model_args == {"width": 8, "depth": 2}


def test_a_study_in_sqlite_resumes_and_its_best_trial_is_retrained_and_tested_once(splits, tmp_path, monkeypatch):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    spy = RunSpy(monkeypatch)
    lines = []
    first = search.run_study(base_spec(), splits, trials=4, storage=storage, study_name="s", seed=0,
                             startup_trials=2, log=lines.append)
    assert len(first.study.trials) == 4
    assert sum(line.startswith("trial ") for line in lines) == 4  # one line per finished trial
    trial_calls, retrain_calls = spy.calls[:4], spy.calls[4:]
    # The trials are scored on validation only; the retrained best trial once on test.
    assert all(not call["score_test_split"] and not call["tested"] for call in trial_calls)
    assert len(retrain_calls) == 1 and retrain_calls[0]["tested"] and first.best.test is not None
    assert first.best.spec == search.spec_for(base_spec(), first.best_params, name=first.best.spec.name)
    assert first.best_params == first.study.best_trial.params
    # Same spec, same seed, on the CPU: the retrained run is the best trial's model again.
    assert first.best.score("validation") == pytest.approx(first.study.best_value)
    # Every trial reported its validation score after each epoch it trained.
    for trial in first.study.trials:
        assert set(trial.intermediate_values) <= {1, 2} and 1 in trial.intermediate_values
        if trial.state == optuna.trial.TrialState.COMPLETE:
            assert trial.intermediate_values[2] == pytest.approx(trial.value)
    first_trials = [(trial.number, trial.state, trial.value, trial.params) for trial in first.study.trials]

    spy.calls.clear()
    second = search.run_study(base_spec(), splits, trials=2, storage=storage, study_name="s", seed=0,
                              startup_trials=2, log=lines.append)
    assert any("continuing study 's': 4 trial(s) stored, 2 more" in line for line in lines)
    reloaded = optuna.load_study(study_name="s", storage=storage)
    assert [trial.number for trial in reloaded.trials] == list(range(6))
    # The first session's trials are kept as they were, and the new ones are new proposals
    # (a sampler re-seeded the same way would repeat the first session's trials).
    assert [(t.number, t.state, t.value, t.params) for t in reloaded.trials[:4]] == first_trials
    assert not {params_key(t) for t in reloaded.trials[4:]} & {params_key(t) for t in reloaded.trials[:4]}
    assert sum(not call["score_test_split"] for call in spy.calls) == 2
    assert [call["tested"] for call in spy.calls if call["score_test_split"]] == [True]
    assert second.study.best_trial.number == max(
        (t for t in reloaded.trials if t.state == optuna.trial.TrialState.COMPLETE), key=lambda t: t.value).number

    # The study remembers its setup: continuing it with other epochs is refused.
    with pytest.raises(engine.TrainingError, match="another setup"):
        search.run_study(base_spec(epochs=3), splits, trials=1, storage=storage, study_name="s", log=None)


def test_the_median_pruner_is_asked_after_every_epoch_but_the_last(splits, monkeypatch):
    events = []
    real_report, real_should_prune = optuna.trial.Trial.report, optuna.trial.Trial.should_prune

    def report(trial, value, step):
        events.append(("report", trial.number, step))
        return real_report(trial, value, step)

    def should_prune(trial):
        answer = real_should_prune(trial)
        events.append(("ask", trial.number, answer))
        return answer

    monkeypatch.setattr(optuna.trial.Trial, "report", report)
    monkeypatch.setattr(optuna.trial.Trial, "should_prune", should_prune)
    result = search.run_study(base_spec(epochs=3), splits, trials=4, study_name="median", startup_trials=1,
                              log=None)
    for trial in result.study.trials:
        mine = [event for event in events if event[1] == trial.number]
        reported = [step for kind, _, step in mine if kind == "report"]
        answers = [answer for kind, _, answer in mine if kind == "ask"]
        if trial.state == optuna.trial.TrialState.PRUNED:
            # asked after each epoch until the answer was yes; training stopped there
            assert answers == [False] * (len(answers) - 1) + [True] and reported == list(range(1, len(answers) + 1))
            assert len(reported) < 3 and sorted(trial.intermediate_values) == reported
        else:
            # asked after epochs 1 and 2, not after the last one: a finished trial counts
            assert trial.state == optuna.trial.TrialState.COMPLETE
            assert reported == [1, 2, 3] and answers == [False, False]
    # The first trial cannot be pruned: there is no completed trial to compare it with.
    assert result.study.trials[0].state == optuna.trial.TrialState.COMPLETE


def test_a_pruned_trial_stops_training_and_a_study_without_a_completed_trial_says_so(splits, monkeypatch):
    real_epoch = engine.train_one_epoch
    epochs_trained = []

    def counting_epoch(*args, **kwargs):
        epochs_trained.append(kwargs["epoch"])
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(engine, "train_one_epoch", counting_epoch)
    always = optuna.pruners.ThresholdPruner(lower=2.0)  # no balanced accuracy reaches 200%: prune at once
    with pytest.raises(engine.TrainingError, match="no trial of study 'pruned' completed"):
        search.run_study(base_spec(epochs=3), splits, trials=2, study_name="pruned", pruner=always, log=None)
    assert epochs_trained == [1, 1]  # each trial was stopped after its first epoch, of 3


def test_an_interrupted_study_keeps_its_finished_trials_and_resumes(splits, tmp_path, monkeypatch):
    storage = str(tmp_path / "interrupted.db")  # a plain path is an SQLite file
    real_epoch = engine.train_one_epoch
    epochs = []

    def interrupt_in_the_second_trial(*args, **kwargs):
        epochs.append(kwargs["epoch"])
        if len(epochs) == 3:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(engine, "train_one_epoch", interrupt_in_the_second_trial)
    lines = []
    with pytest.raises(KeyboardInterrupt):
        search.run_study(base_spec(), splits, trials=3, storage=storage, study_name="ctrl-c", log=lines.append)
    assert "run again with the same storage and study name 'ctrl-c' to continue" in lines[-1]
    stored = optuna.load_study(study_name="ctrl-c", storage=search.storage_url(storage))
    assert [t.state.name for t in stored.trials] == ["COMPLETE", "FAIL"]
    monkeypatch.setattr(engine, "train_one_epoch", real_epoch)
    resumed = search.run_study(base_spec(), splits, trials=1, storage=storage, study_name="ctrl-c", log=None)
    assert [t.state.name for t in resumed.study.trials] == ["COMPLETE", "FAIL", "COMPLETE"]
    assert resumed.best.test is not None


def test_importances_say_why_when_they_cannot_be_computed(splits):
    study = optuna.create_study(direction="maximize")
    importances, note = search.param_importances(study)
    assert importances is None and "need at least 2" in note
    figure = plots.study_importances(importances, note)
    assert note in " ".join(figure.axes[0].texts[0].get_text().split())
    for value in (0.1, 0.2):
        study.enqueue_trial({"lr": 1e-3})
        study.optimize(lambda trial: trial.suggest_float("lr", 1e-4, 1e-2, log=True) * 0 + value, n_trials=1)
    importances, note = search.param_importances(study)
    assert importances is None and "same parameters" in note


def folders(root):
    return ["--train", str(root / "train"), "--test", str(root / "test")]


def test_the_search_command_writes_search_json_and_the_figures(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    synth.generate(root, scale=0.003, size=32, seed=0, workers=1, progress=False)
    out = tmp_path_factory.mktemp("search")
    command = ["search", "--profile", "smoke", "--image-size", "16", "--epochs", "2", "--batch-size", "16",
               "--device", "cpu", "--quiet", "--out", str(out)] + folders(root)
    assert cli.main(command + ["--trials", "3"]) == 0
    assert cli.main(command + ["--trials", "1"]) == 0  # the default storage, out/study.db, continues
    values = json.loads((out / "search.json").read_text())
    assert [trial["number"] for trial in values["trials"]] == [0, 1, 2, 3]
    assert values["storage"] == f"sqlite:///{(out / 'study.db').resolve()}"
    assert values["objective"] == "validation balanced_accuracy" and values["profile"] == "smoke"
    best = values["trials"][values["best_trial"]]
    assert best["state"] == "COMPLETE" and best["params"] == values["best_params"]
    retrained = values["retrained"]
    assert retrained["validation"]["balanced_accuracy"] == pytest.approx(values["best_value"])
    assert 0 <= retrained["test"]["balanced_accuracy"] <= 1
    assert set(retrained["baselines"]) == {"validation", "test"}
    assert retrained["spec"]["lr"] == values["best_params"]["lr"] and retrained["spec"]["epochs"] == 2
    assert values["importances"] is not None or values["importances_note"]
    for name in ("optimisation_history.png", "param_importances.png", "best/best.pt", "best/metrics.json"):
        assert (out / name).stat().st_size > 0, name
    assert json.loads((out / "best" / "metrics.json").read_text())["spec"] == retrained["spec"]


def test_total_trials_tops_a_stored_study_up_instead_of_starting_again(splits, tmp_path):
    storage = tmp_path / "study.db"
    options = dict(storage=storage, study_name="notebook", seed=0, startup_trials=1, log=None)
    first = search.run_study(base_spec(epochs=1), splits, total_trials=2, **options)
    assert len(first.study.trials) == 2
    # re-run (the notebook's cell run again, e.g. after an interrupt): nothing more to do
    again = search.run_study(base_spec(epochs=1), splits, total_trials=2, **options)
    assert len(again.study.trials) == 2 and again.best_params == first.best_params
    more = search.run_study(base_spec(epochs=1), splits, total_trials=3, **options)
    assert len(more.study.trials) == 3
    with pytest.raises(ValueError, match="exactly one of trials"):
        search.run_study(base_spec(epochs=1), splits, trials=1, total_trials=1, **options)
