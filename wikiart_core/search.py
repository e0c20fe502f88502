"""A hyperparameter search that chooses on validation: an Optuna study over the run
specification, its best trial retrained through the runner and scored once on test.

    result = search.run_study(base_spec, splits, trials=20, storage="sqlite:///outputs/search/study.db",
                              study_name="stylecnn")

Each trial is one ``experiment.run`` of ``base_spec`` with the trial's learning rate,
weight decay, StyleCNN width, augmentation and imbalance method (:func:`search_space`),
scored on the *validation* split only (``score_test_split=False``). After every epoch
the trial reports its validation balanced accuracy, and the median pruner stops a
trial that is behind the median of the finished trials at the same epoch. The study's
objective is the validation balanced accuracy of the finished model. When the trials
are done, the best one is trained again with the same specification (same seed: on
the CPU, the same model) and only that run is scored on the test split.

The study lives in an Optuna storage. With an RDB URL (``sqlite:///study.db`` on one
machine, a PostgreSQL URL for several) it outlives the process: calling
:func:`run_study` again with the same storage and study name continues the study
(``trials`` more trials), and several processes (one per GPU, or per machine) pointed
at the same storage and name share it. Without a storage the study is kept in memory.
"""
from __future__ import annotations

import contextlib
import inspect
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from . import augment, engine, experiment, imbalance, models
from .data import Splits

# Spec fields a study may differ in between its sessions without changing what a trial means.
_SPEC_FIELDS_FREE = ("name", "device")


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter. ``kind``: "log_uniform" (a float drawn log-uniformly
    in [low, high]) or "choice" (one of ``choices``)."""

    kind: str
    low: float | None = None
    high: float | None = None
    choices: tuple = ()

    def suggest(self, trial, name: str):
        """The trial's value for ``name`` (``trial``: an ``optuna.Trial``)."""
        if self.kind == "log_uniform":
            return trial.suggest_float(name, self.low, self.high, log=True)
        if self.kind == "choice":
            return trial.suggest_categorical(name, list(self.choices))
        raise ValueError(f"unknown dimension kind {self.kind!r} for {name!r}")

    def describe(self) -> str:
        if self.kind == "log_uniform":
            return f"log-uniform in [{self.low:g}, {self.high:g}]"
        return "one of " + ", ".join(str(choice) for choice in self.choices)


def log_uniform(low: float, high: float) -> Dimension:
    return Dimension("log_uniform", low=float(low), high=float(high))


def choice(*choices) -> Dimension:
    return Dimension("choice", choices=tuple(choices))


def search_space(base_spec: experiment.RunSpec) -> dict[str, Dimension]:
    """The default search space around ``base_spec``:

    - ``lr``: AdamW's peak learning rate, log-uniform in [1e-4, 3e-2];
    - ``weight_decay``: AdamW's decoupled decay, log-uniform in [1e-5, 0.3];
    - ``width``: the model's width (models with a ``width`` argument, e.g. StyleCNN),
      half, the same as and double the base spec's (or the model's default);
    - ``augment``: every recipe of ``augment.PRESETS`` (read when called, so a new
      preset is searched without a change here; all are label-preserving);
    - ``imbalance``: every method of ``imbalance.METHODS``.

    A name that is a field of :class:`~wikiart_core.experiment.RunSpec` sets that
    field; any other name is a constructor argument of the model (``model_args``)."""
    space = {"lr": log_uniform(1e-4, 3e-2), "weight_decay": log_uniform(1e-5, 0.3)}
    parameters = inspect.signature(models.model_class(base_spec.model)).parameters
    if "width" in parameters:
        width = int(base_spec.model_args.get("width", parameters["width"].default))
        space["width"] = choice(*sorted({max(1, width // 2), width, 2 * width}))
    space["augment"] = choice(*augment.PRESETS)
    if base_spec.task == "classify":
        space["imbalance"] = choice(*imbalance.METHODS)
    return space


def spec_for(base_spec: experiment.RunSpec, params: Mapping[str, Any], name: str | None = None) -> experiment.RunSpec:
    """``base_spec`` with a trial's ``params`` applied (RunSpec fields set, other names
    passed to the model's constructor)."""
    fields = set(base_spec.to_dict())
    changes = {key: value for key, value in params.items() if key in fields and key != "model_args"}
    model_args = {**base_spec.model_args, **{key: value for key, value in params.items() if key not in fields}}
    return base_spec.replace(**changes, model_args=model_args, name=name or base_spec.name)


@dataclass
class StudyResult:
    """What :func:`run_study` produced.

    study: the ``optuna.Study`` (every trial of every session, with its state, params,
    per-epoch validation scores and value). best_params: the best trial's params.
    best: the best trial retrained through ``experiment.run``, scored on validation and
    once on test. metric: the objective (validation ``balanced_accuracy``, a fraction).
    storage: the storage URL (None: in memory). space: the searched dimensions.
    seconds: this session's wall time, trials and retraining."""

    study: Any
    best_params: dict
    best: experiment.RunResult
    metric: str
    storage: str | None
    space: dict[str, Dimension]
    seconds: float = 0.0
    importances: dict | None = field(default=None)
    importances_note: str = ""

    @property
    def best_trial(self):
        return self.study.best_trial

    def trial_rows(self) -> list[dict]:
        """One plain dict per trial: number, state, value, params, the validation score
        after each epoch, seconds and (failed trials) the error."""
        rows = []
        for trial in self.study.trials:
            seconds = ((trial.datetime_complete - trial.datetime_start).total_seconds()
                       if trial.datetime_complete and trial.datetime_start else None)
            rows.append({"number": trial.number, "state": trial.state.name, "value": trial.value,
                         "params": dict(trial.params),
                         "per_epoch": {str(step): value for step, value in sorted(trial.intermediate_values.items())},
                         "seconds": seconds, **({"error": trial.user_attrs["error"]}
                                                if "error" in trial.user_attrs else {})})
        return rows

    def counts(self) -> dict[str, int]:
        """Trials per state: {"COMPLETE": n, "PRUNED": n, "FAIL": n, ...}."""
        counted: dict[str, int] = {}
        for trial in self.study.trials:
            counted[trial.state.name] = counted.get(trial.state.name, 0) + 1
        return counted

    def table(self) -> str:
        """A fixed-width text table, one line per trial, the best marked with *."""
        best_number = self.best_trial.number
        names = list(self.space)
        header = ["trial", "state", f"val. {self.metric}", "epochs"] + names
        rows = []
        for trial in self.study.trials:
            cells = [f"{trial.number}{'*' if trial.number == best_number else ''}", trial.state.name.lower(),
                     "-" if trial.value is None else f"{trial.value:.3f}", str(len(trial.intermediate_values))]
            cells += [_format_param(trial.params.get(name)) for name in names]
            rows.append(cells)
        widths = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(header)]
        lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
        lines += ["  ".join(cell.rjust(w) for cell, w in zip(row, widths)) for row in rows]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """Plain values for search.json: the study, every trial, the best params and the
        retrained best run's validation and test metrics beside the baselines."""
        best = self.best_trial
        return {"study_name": self.study.study_name, "storage": redact_password(self.storage),
                "objective": f"validation {self.metric}", "direction": "maximize",
                "space": {name: dimension.describe() for name, dimension in self.space.items()},
                "counts": self.counts(), "trials": self.trial_rows(),
                "best_trial": best.number, "best_value": best.value, "best_params": self.best_params,
                "importances": self.importances, "importances_note": self.importances_note,
                "retrained": {"spec": self.best.spec.to_dict(), "validation": self.best.validation,
                              "test": self.best.test, "baselines": self.best.baselines},
                "seconds": self.seconds}


def _format_param(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2e}"
    return str(value)


def redact_password(url: str | None) -> str | None:
    """``url`` without its password (search.json may be shared; a database URL may hold one)."""
    if url is None or "@" not in url:
        return url
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: keep only what follows the credentials
        return url.split("://")[0] + "://***@" + url.rsplit("@", 1)[1]


def storage_url(storage: str | None) -> str | None:
    """An RDB URL for ``storage``: a URL stays as it is (``sqlite:///...``,
    ``postgresql://...``); a plain file path becomes ``sqlite:///<absolute path>``."""
    if storage is None or "://" in str(storage):
        return None if storage is None else str(storage)
    from pathlib import Path

    path = Path(storage).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def param_importances(study) -> tuple[dict | None, str]:
    """({param: importance (fractions that sum to 1)}, "") from Optuna's default evaluator
    over the completed trials, or (None, why not): it needs at least 2 completed trials
    and a param that took more than one value among them."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(complete) < 2:
        return None, f"{len(complete)} completed trial(s); parameter importances need at least 2"
    varying = sorted({name for trial in complete for name in trial.params
                      if len({repr(other.params.get(name)) for other in complete}) > 1})
    if not varying:
        return None, "every completed trial had the same parameters; nothing to attribute the scores to"
    if len({trial.value for trial in complete}) < 2:
        return None, "every completed trial had the same validation score; no parameter explains a difference"
    try:
        return {name: float(value) for name, value in
                optuna.importance.get_param_importances(study, params=varying).items()}, ""
    except (ValueError, RuntimeError, ZeroDivisionError) as error:
        return None, f"Optuna could not compute them ({error})"


@contextlib.contextmanager
def _quiet_optuna():
    """Optuna's own log off for a while (errors only): it would print a line per trial
    and a failed trial's traceback on stderr; :func:`run_study` logs one line per trial,
    and an unexpected error still reaches the caller with its traceback."""
    import optuna

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def _check_same_setup(study, base_spec: experiment.RunSpec, splits: Splits, space: dict[str, Dimension]) -> None:
    """Record the base run, data and space in a new study; refuse to continue a study
    that was started with another (its trials would not be comparable)."""
    setup = {"base_spec": {key: value for key, value in base_spec.to_dict().items() if key not in _SPEC_FIELDS_FREE},
             "data": splits.describe(), "space": {name: d.describe() for name, d in space.items()}}
    recorded = study.user_attrs
    if not recorded:
        for key, value in setup.items():
            study.set_user_attr(key, value)
        return
    differences = []
    for key, value in setup.items():
        before = recorded.get(key)
        if isinstance(before, dict) and isinstance(value, dict):
            differences += [f"{key}.{name}: {before.get(name)!r} then, {value.get(name)!r} now"
                            for name in sorted(set(before) | set(value)) if before.get(name) != value.get(name)]
        elif before != value:
            differences.append(f"{key}: {before!r} then, {value!r} now")
    if differences:
        raise engine.TrainingError(
            f"study {study.study_name!r} was started with another setup (" + "; ".join(differences)
            + "), so its trials are not comparable with new ones. Fix: the same options as before, or a new "
              "study name (--study-name).")


def run_study(base_spec: experiment.RunSpec, splits: Splits, *, trials: int | None = None,
              total_trials: int | None = None, storage: str | None = None,
              study_name: str = "search", seed: int = 0, space: dict[str, Dimension] | None = None,
              startup_trials: int = 5, min_epochs: int = 1, pruner=None, checkpoint_dir=None,
              meta: dict | None = None, log: Callable[[str], Any] | None = print) -> StudyResult:
    """Run ``trials`` more trials of the study ``study_name``, then retrain its best
    trial and score that run once on test.

    Args:
        base_spec: the run every trial starts from (model, epochs, batch size, seed...);
            each trial replaces the params of ``space``. All trials share its seed, so
            they differ by their params only.
        splits: train, validation and test; trials see train and validation only.
        trials: how many trials this call adds (the study may hold more already).
        total_trials: instead of ``trials``: run until the study holds this many completed
            or pruned trials (none when it already does). A notebook re-run after an
            interrupt then tops the stored study up instead of starting it again.
        storage: an Optuna RDB URL (``sqlite:///path/study.db``, ``postgresql://...``) or a
            file path (SQLite); the same storage and name continue the study. None: in memory.
        study_name: the study inside the storage.
        seed: seeds the TPE sampler, mixed with the number of trials already in the study,
            so a resumed session does not propose the first session's trials again.
            Workers sharing a study should each get their own.
        space: {name: :class:`Dimension`} (default: :func:`search_space` of ``base_spec``).
        startup_trials: trials drawn at random before TPE models the results, and
            completed trials needed before the median pruner stops any trial.
        min_epochs: epochs every trial trains before it can be pruned.
        pruner: an Optuna pruner instead of the median pruner (tests).
        checkpoint_dir: last.pt / best.pt of the retrained best run (continued from there
            when a second call finds the same run).
        meta: plain values for its checkpoints (profile, dataset...).
        log: one line per finished trial and a summary (None: silent).

    Returns:
        a :class:`StudyResult`.

    Raises:
        TrainingError: no trial of the study completed (all pruned or failed), or the
            study was started with another base run, data or space.
        KeyboardInterrupt: re-raised after logging how to resume; the finished trials
            are in the storage.
    """
    import optuna

    if (trials is None) == (total_trials is None):
        raise ValueError("give exactly one of trials (how many to add) and total_trials (how many in all)")
    asked = trials if trials is not None else total_trials
    if asked < 0:
        raise ValueError(f"trials must be >= 0, got {asked}")
    started = time.perf_counter()
    space = space if space is not None else search_space(base_spec)
    metric = experiment.SCORE[base_spec.task]
    url = storage_url(storage)
    rdb = None
    if url is not None:
        # The heartbeat marks a trial whose process died (kill -9, lost machine) as failed
        # at the next session's start, instead of leaving it "running" forever.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats are "experimental"
            rdb = optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)
    with _quiet_optuna():
        study = optuna.create_study(study_name=study_name, storage=rdb, direction="maximize", load_if_exists=True,
                                    pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=startup_trials,
                                                                                 n_warmup_steps=min_epochs))
    _check_same_setup(study, base_spec, splits, space)
    already = len(study.trials)
    if total_trials is not None:
        finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        trials = max(0, total_trials - len(study.get_trials(deepcopy=False, states=finished_states)))
    sampler_seed = int(np.random.SeedSequence([int(seed), already]).generate_state(1)[0])
    study.sampler = optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=startup_trials)
    finished_here = 0

    def objective(trial) -> float:
        params = {name: dimension.suggest(trial, name) for name, dimension in space.items()}
        spec = spec_for(base_spec, params, name=f"trial {trial.number}")

        def report(record: engine.EpochRecord) -> None:
            value = record.val.get(metric)
            if value is None or not math.isfinite(value):
                return
            trial.report(float(value), record.epoch)
            # After the last epoch the trial is finished: its score counts, pruned or not.
            if record.epoch < spec.epochs and trial.should_prune():
                raise optuna.TrialPruned(f"epoch {record.epoch}: validation {metric} {value:.3f}, pruned by "
                                         f"{type(study.pruner).__name__}")

        try:
            result = experiment.run(spec, splits, score_test_split=False, on_epoch_end=report, meta=meta)
        except engine.TrainingError as error:
            trial.set_user_attr("error", str(error))
            raise
        if result.interrupted:
            # fit returns on Ctrl-C with a partly trained model: not a result of this trial.
            raise KeyboardInterrupt
        trial.set_user_attr("validation", {key: value for key, value in result.validation.items()
                                           if key != "per_class_recall"})
        return result.score("validation")

    def one_line(study, trial) -> None:
        nonlocal finished_here
        finished_here += 1
        if log is None:
            return
        params = "  ".join(f"{name} {_format_param(trial.params.get(name))}" for name in space)
        if trial.state == optuna.trial.TrialState.COMPLETE:
            outcome = f"validation {metric} {trial.value:.3f}"
        elif trial.state == optuna.trial.TrialState.PRUNED:
            last = max(trial.intermediate_values) if trial.intermediate_values else 0
            outcome = f"pruned after epoch {last} ({trial.intermediate_values.get(last, float('nan')):.3f})"
        else:
            outcome = f"{trial.state.name.lower()}: {trial.user_attrs.get('error', '')}".rstrip(": ")
        try:
            best = f"best {study.best_value:.3f} (trial {study.best_trial.number})"
        except ValueError:
            best = "no completed trial yet"
        # Trial numbers count every worker's trials; the session's count says where this one is.
        log(f"trial {trial.number} ({finished_here}/{trials} here): {outcome}; {best}  [{params}]")

    if log is not None and already:
        log(f"continuing study {study_name!r}: {already} trial(s) stored, {trials} more")
    try:
        with _quiet_optuna():
            study.optimize(objective, n_trials=trials, callbacks=[one_line], catch=(engine.TrainingError,),
                           gc_after_trial=False, show_progress_bar=False)
    except KeyboardInterrupt:
        if log is not None:
            finished = sum(trial.state.is_finished() for trial in study.trials)
            where = (f"in {redact_password(url)}; run again with the same storage and study name "
                     f"{study_name!r} to continue" if url
                     else "in memory only (no storage): they are lost when this process ends")
            log(f"interrupted: {finished} finished trial(s) of study {study_name!r} are stored {where}")
        raise

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        counted = {state.name.lower(): sum(t.state == state for t in study.trials) for state in optuna.trial.TrialState}
        raise engine.TrainingError(
            f"no trial of study {study_name!r} completed ({', '.join(f'{n} {s}' for s, n in counted.items() if n)}): "
            f"there is no best trial to retrain. Fix: run more trials (--trials), or see the failed trials' errors.")
    best_trial = study.best_trial
    if log is not None:
        log(f"best: trial {best_trial.number}, validation {metric} {best_trial.value:.3f}; retraining it and "
            f"scoring it once on test")
    best_spec = spec_for(base_spec, best_trial.params, name=f"best of {study_name!r} (trial {best_trial.number})")
    best = experiment.run(best_spec, splits, score_test_split=True, checkpoint_dir=checkpoint_dir, meta=meta,
                          resume="auto")
    importances, note = param_importances(study)
    return StudyResult(study=study, best_params=dict(best_trial.params), best=best, metric=metric, storage=url,
                       space=space, seconds=time.perf_counter() - started, importances=importances,
                       importances_note=note)
