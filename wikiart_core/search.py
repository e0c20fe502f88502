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

Before any trial trains, :func:`check_storage` makes sure the storage can hold the
study, and :func:`run_study` that the trial counts are whole numbers, 0 or more; each
problem (an in-memory SQLite URL, a folder that cannot be written, a damaged study.db,
a database driver that is not installed, a server that does not answer) ends in one
:class:`SearchError` that names the file or URL (password hidden) and the fix.
"""
from __future__ import annotations

import contextlib
import inspect
import math
import numbers
import os
import sqlite3
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

from . import augment, engine, experiment, imbalance, models, tasks
from .data import Splits

# Spec fields a study may differ in between its sessions without changing what a trial means.
_SPEC_FIELDS_FREE = ("name", "device")


class SearchError(ValueError):
    """A search that cannot start as asked: a trial count that is not a whole number, 0
    or more, or a study storage that cannot keep the study (in memory, a folder that
    cannot be written, a damaged SQLite file, a database driver that is not installed,
    a server that does not answer). The message names the count or the storage (its
    password hidden) and the fix; it is raised before any trial trains."""


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
    if tasks.task_class(base_spec.task).uses_imbalance:
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


def storage_url(storage: str | os.PathLike | None) -> str | None:
    """An RDB URL for ``storage``: a URL stays as it is (``sqlite:///...``,
    ``postgresql://...``); a plain file path becomes ``sqlite:///<absolute path>``.
    Nothing is created here (:func:`check_storage` creates the folder)."""
    if storage is None or "://" in str(storage):
        return None if storage is None else str(storage)
    return f"sqlite:///{Path(storage).expanduser().resolve()}"


# ----------------------------------------------------------------- checking the storage

_SQLITE_HEADER = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite 3 database
# Python modules of the usual SQLAlchemy drivers -> the package that provides them.
_DRIVER_PACKAGES = {"psycopg": "psycopg[binary]", "psycopg2": "psycopg2-binary", "MySQLdb": "mysqlclient",
                    "pymysql": "PyMySQL", "mysql": "mysql-connector-python", "oracledb": "oracledb",
                    "cx_Oracle": "cx_Oracle", "pyodbc": "pyodbc", "pymssql": "pymssql"}
_A_FILE = "Fix: give a file, e.g. --storage sqlite:///runs/search/study.db (or leave --storage out: --out/study.db)"


def check_storage(storage: str | os.PathLike) -> str:
    """The RDB URL of ``storage`` (see :func:`storage_url`) once it is known to be able to
    keep a study; called by :func:`run_study` before any trial trains.

    SQLite: the URL names a file (not ``sqlite://``, ``sqlite:///`` or ``:memory:``, whose
    study would vanish with the process), its folder exists or is created and can be
    written, and an existing file is a readable, undamaged SQLite database. Other URLs:
    SQLAlchemy knows the database and its driver is installed (no connection is made here).

    Raises:
        SearchError: what is wrong, the file or URL (password hidden) and the fix."""
    url = storage_url(storage)
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
    except Exception as error:  # sqlalchemy's ArgumentError, or a value that is no URL at all
        raise SearchError(f"--storage {redact_password(url)}: not a database URL ({error}). "
                          f"Fix: sqlite:///path/study.db, or postgresql://user:password@host/database") from None
    if parsed.get_backend_name() != "sqlite":
        _check_driver(url)
        return url
    path = _sqlite_path(parsed)
    if path is None:
        raise SearchError(f"--storage {url} is an SQLite database in memory: the study and its trials would be "
                          f"lost when the process ends, and could not be continued. {_A_FILE}")
    _check_folder(path)
    if path.exists():
        _check_sqlite_file(path)
    return url


def _sqlite_path(parsed) -> Path | None:
    """The file an SQLite URL names (relative: to the working folder, as SQLite takes it);
    None for a database in memory."""
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file::memory:") or parsed.query.get("mode") == "memory":
        return None
    if database.startswith("file:") and parsed.query.get("uri") == "true":  # an SQLite URI filename
        database = database[len("file:"):]
    # Absolute for the messages; relative to the working folder, as SQLite takes it (no ~ expansion).
    return Path(os.path.abspath(database))


def _check_folder(path: Path) -> None:
    """Create ``path``'s folder if needed and make sure a file can be written in it
    (SQLite also writes its journal next to the database, so the folder must be writable
    even when the file exists)."""
    folder = path.parent
    if path.is_dir():
        raise SearchError(f"--storage {path} is a folder, not a file. Fix: name a file in it, e.g. "
                          f"--storage sqlite:///{path.resolve() / 'study.db'}")
    existing = next(parent for parent in (folder, *folder.parents) if parent.exists())
    if not existing.is_dir():  # mkdir would only say "File exists"
        raise SearchError(f"cannot create the folder {folder} for the study file {path.name}: {existing} is a file. "
                          f"Fix: a --storage (or --out) whose folders are folders")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SearchError(f"cannot create the folder {folder} for the study file {path.name} "
                          f"({error.strerror or error}). Fix: a --storage (or --out) in a folder you can "
                          f"write") from None
    try:
        with tempfile.TemporaryFile(dir=folder, prefix=".write-test-"):
            pass  # a real write, not os.access: that says yes to root on a read-only disk
    except OSError as error:
        raise SearchError(f"cannot write in {folder}, the folder of the study file {path.name} "
                          f"({error.strerror or error}). Fix: a --storage (or --out) in a folder you can write, "
                          f"or write permission on that one") from None
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise SearchError(f"the study file {path} cannot be read and written by this user. Fix: give yourself "
                          f"read and write permission on it, or a --storage (or --out) of your own")


def _damaged(path: Path, why: str) -> SearchError:
    return SearchError(f"the study file {path} is not a readable SQLite database ({why}), so its study cannot be "
                       f"continued. Fix: move that file away (or use another --out or --storage) to start a new "
                       f"study, or put back a good copy of it")


def _check_sqlite_file(path: Path) -> None:
    """An existing ``path`` must be an undamaged SQLite database: an empty file is one to
    SQLite (a new study goes into it); anything else starts with the SQLite header and
    passes SQLite's quick check: the schema page alone can look fine in a file cut short
    or with a page overwritten, which Optuna would only trip over in the middle of a study."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(_SQLITE_HEADER))
    except OSError as error:
        raise SearchError(f"cannot read the study file {path} ({error.strerror or error}). Fix: read "
                          f"permission on it, or another --storage (or --out)") from None
    if not header:
        return
    if header != _SQLITE_HEADER:
        raise _damaged(path, "it does not start with the SQLite header")
    try:
        connection = sqlite3.connect(path, timeout=10)
        try:
            connection.execute("PRAGMA schema_version").fetchone()
            problems = [row[0] for row in connection.execute("PRAGMA quick_check(3)")]
        finally:
            connection.close()
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            return  # another worker is writing the study; Optuna waits for it, and it is not damage
        raise _damaged(path, str(error)) from None
    except sqlite3.DatabaseError as error:  # "file is not a database", "database disk image is malformed"
        raise _damaged(path, str(error)) from None
    if problems != ["ok"]:
        raise _damaged(path, " ".join("; ".join(problems).split()))  # its report spans lines; the message does not


def _check_driver(url: str) -> None:
    """SQLAlchemy knows the database of ``url`` and its driver module imports: creating
    an engine imports the driver without connecting."""
    import sqlalchemy

    shown = redact_password(url)
    try:
        engine = sqlalchemy.create_engine(url)
    except ImportError as error:
        module = error.name or str(error)
        package = _DRIVER_PACKAGES.get(module.split(".")[0], module.split(".")[0])
        raise SearchError(f"--storage {shown} needs the database driver {module!r}, which is not installed. "
                          f"Fix: pip install '{package}' in this environment, or use an SQLite file "
                          f"(--storage sqlite:///path/study.db)") from None
    except sqlalchemy.exc.NoSuchModuleError:
        raise SearchError(f"--storage {shown}: SQLAlchemy knows no database {url.split('://')[0]!r}. Fix: a URL "
                          f"such as sqlite:///path/study.db, postgresql://user:password@host/database or "
                          f"mysql://user:password@host/database") from None
    except sqlalchemy.exc.ArgumentError as error:
        raise SearchError(f"--storage {shown}: not a database URL SQLAlchemy can use ({error}). Fix: "
                          f"sqlite:///path/study.db, or postgresql://user:password@host/database") from None
    engine.dispose()


def _check_count(name: str, value: Any) -> None:
    """``value`` (trials or total_trials) is a whole number, 0 or more: -1, 2.5 or "3"
    would otherwise reach Optuna, which runs forever on -1 or fails deep inside."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        flag = "--trials" if name == "trials" else name
        raise SearchError(f"{name} must be a whole number of trials, 0 or more; got {value!r}. "
                          f"Fix: {flag} 0 or more (0: retrain the stored study's best trial only)")


def _open_study(url: str | None, study_name: str, pruner):
    """The study ``study_name`` in ``url`` (created if new; None: in memory). A database
    that cannot be reached, or refuses the user, ends in a SearchError, not a traceback."""
    import optuna
    import sqlalchemy

    rdb = None
    try:
        if url is not None:
            # The heartbeat marks a trial whose process died (kill -9, lost machine) as failed
            # at the next session's start, instead of leaving it "running" forever.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)  # heartbeats: "experimental"
                rdb = optuna.storages.RDBStorage(url, heartbeat_interval=60, grace_period=180)
        with _quiet_optuna():
            return optuna.create_study(study_name=study_name, storage=rdb, direction="maximize",
                                       load_if_exists=True, pruner=pruner)
    except (sqlalchemy.exc.SQLAlchemyError, ImportError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise SearchError(f"could not open the study {study_name!r} in --storage {redact_password(url)} ({reason}). "
                          f"Fix: check the URL (user, password, host, database) and that the database is "
                          f"reachable and not locked by another program") from None


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
            file path (SQLite); the same storage and name continue the study. None: in memory
            (an in-memory SQLite URL is refused: it looks persistent and is not).
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
        SearchError: ``trials`` or ``total_trials`` is not a whole number, 0 or more, or
            the storage cannot keep the study (:func:`check_storage`); before any training.
        TrainingError: no trial of the study completed (all pruned or failed), or the
            study was started with another base run, data or space.
        KeyboardInterrupt: re-raised after logging how to resume; the finished trials
            are in the storage.
    """
    import optuna

    if (trials is None) == (total_trials is None):
        raise SearchError("give exactly one of trials (how many to add) and total_trials (how many in all)")
    _check_count("trials", trials)
    _check_count("total_trials", total_trials)
    # Before the first trial: a storage that cannot keep the study should fail now, not after hours.
    url = None if storage is None else check_storage(storage)
    started = time.perf_counter()
    space = space if space is not None else search_space(base_spec)
    metric = base_spec.headline_metric
    study = _open_study(url, study_name, pruner or optuna.pruners.MedianPruner(n_startup_trials=startup_trials,
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
