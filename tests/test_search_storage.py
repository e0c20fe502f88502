"""The search's storage and trial counts, checked before any training (search.check_storage,
search.run_study): each hostile input ends in one search.SearchError that names the file or
URL (password hidden) and the fix, never in a traceback from SQLite, SQLAlchemy or Optuna."""
import importlib.util
import os
import re
import sqlite3
from pathlib import Path

import optuna
import pytest

from wikiart_core import data, experiment, search
from wikiart_core.search import SearchError

pytestmark = pytest.mark.usefixtures("single_torch_thread")


@pytest.fixture(scope="module")
def splits(tiny_splits):
    train, test = tiny_splits
    return data.make_splits(train, test, validation_fraction=0.3)


@pytest.fixture
def no_training(monkeypatch):
    """Every check must come before the first trial: training at all fails the test."""
    def train(*args, **kwargs):
        raise AssertionError("a trial was trained before the storage or the counts were checked")

    monkeypatch.setattr(experiment, "run", train)


def base_spec():
    return experiment.RunSpec(name="search", model="stylecnn", model_args=dict(width=4, depth=2), epochs=1,
                              batch_size=16, device="cpu")


def refused(splits, storage, match, **options):
    """run_study with ``storage`` raises a SearchError matching ``match``; its message."""
    options = {"trials": 1, **options}
    with pytest.raises(SearchError, match=match) as caught:
        search.run_study(base_spec(), splits, storage=storage, study_name="s", log=None, **options)
    assert "Fix:" in str(caught.value) and "\n" not in str(caught.value)
    return str(caught.value)


@pytest.fixture(scope="module")
def study_bytes(tmp_path_factory):
    """The bytes of an Optuna study in SQLite with 40 trials: some 30 pages, to damage."""
    path = tmp_path_factory.mktemp("study") / "whole.db"
    with search._quiet_optuna():
        study = optuna.create_study(study_name="s", storage=f"sqlite:///{path}")
        study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=40)
    return path.read_bytes()


def test_a_study_file_of_random_bytes_is_named_and_left_alone(splits, tmp_path, no_training):
    study_file = tmp_path / "study.db"
    garbage = os.urandom(4096)
    study_file.write_bytes(garbage)
    message = refused(splits, f"sqlite:///{study_file}", "not a readable SQLite database")
    assert str(study_file) in message and "SQLite header" in message and "move that file away" in message
    assert study_file.read_bytes() == garbage  # nothing written into it


def test_a_study_file_cut_in_half_is_named(splits, tmp_path, study_bytes, no_training):
    whole = tmp_path / "whole.db"
    whole.write_bytes(study_bytes)
    assert search.check_storage(str(whole)) == f"sqlite:///{whole}"  # the whole file is fine
    half = tmp_path / "study.db"
    contents = study_bytes
    half.write_bytes(contents[:len(contents) // 2])
    message = refused(splits, str(half), "not a readable SQLite database")
    assert str(half) in message and "another --out" in message
    assert half.read_bytes() == contents[:len(contents) // 2]


@pytest.mark.parametrize("page", [2, 3])
def test_a_study_file_with_a_page_overwritten_is_named(splits, tmp_path, study_bytes, page, no_training):
    """The header and schema still read: only SQLite's quick check finds the damage."""
    study_file = tmp_path / "study.db"
    contents = bytearray(study_bytes)
    size = int.from_bytes(study_bytes[16:18], "big")  # the page size, from the header
    assert len(contents) > (page + 1) * size
    contents[page * size:(page + 1) * size] = bytes(size)
    study_file.write_bytes(bytes(contents))
    assert sqlite3.connect(study_file).execute("PRAGMA schema_version").fetchone()  # looks fine at first sight
    message = refused(splits, study_file, "not a readable SQLite database")
    assert str(study_file) in message and "move that file away" in message


def test_an_empty_file_and_a_new_folder_are_fine(tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")  # SQLite takes an empty file for an empty database
    assert search.check_storage(f"sqlite:///{empty}") == f"sqlite:///{empty}"
    nested = tmp_path / "a" / "b" / "study.db"
    assert search.check_storage(nested) == f"sqlite:///{nested}" and nested.parent.is_dir()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "sqlite:///:memory:"])
def test_an_sqlite_database_in_memory_is_refused(splits, url, no_training):
    message = refused(splits, url, "in memory")
    assert url in message and "lost" in message and "give a file" in message


def missing(module):
    return pytest.mark.skipif(importlib.util.find_spec(module) is not None, reason=f"{module} is installed here")


@pytest.mark.parametrize("url, module, package", [
    pytest.param("postgresql://user:secret@dbhost/optuna", "psycopg", "psycopg[binary]", marks=missing("psycopg")),
    pytest.param("postgresql+psycopg2://user:secret@dbhost/optuna", "psycopg2", "psycopg2-binary",
                 marks=missing("psycopg2")),
    pytest.param("mysql://user:secret@dbhost/optuna", "MySQLdb", "mysqlclient", marks=missing("MySQLdb")),
])
def test_a_database_driver_that_is_not_installed_names_the_package(splits, url, module, package, no_training):
    message = refused(splits, url, "not installed")
    assert f"'{module}'" in message and f"pip install '{package}'" in message
    assert "user:***@dbhost" in message and "secret" not in message


def test_a_database_sqlalchemy_does_not_know_is_named(no_training):
    with pytest.raises(SearchError, match="knows no database 'postgres'") as caught:
        search.check_storage("postgres://user:secret@dbhost/optuna")  # the old name of postgresql://
    assert "secret" not in str(caught.value) and "postgresql://" in str(caught.value)


def test_a_folder_that_cannot_be_created_is_named(splits, tmp_path, no_training):
    message = refused(splits, "sqlite:////proc/nope/study.db", "cannot create the folder /proc/nope")
    assert "--out" in message
    a_file = tmp_path / "not_a_folder"
    a_file.write_text("")
    message = refused(splits, str(a_file / "study.db"), "is a file")
    assert str(a_file) in message
    message = refused(splits, f"sqlite:///{tmp_path}", "is a folder, not a file")
    assert f"sqlite:///{tmp_path / 'study.db'}" in message


def writable(folder):
    try:
        (folder / ".probe").touch()
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True


@pytest.mark.skipif(not os.path.isdir("/sys") or writable(Path("/sys")),
                    reason="needs /sys, read-only even for root")
def test_a_folder_that_cannot_be_written_is_named_even_for_root(splits, no_training):
    message = refused(splits, "sqlite:////sys/study.db", "cannot write in /sys")
    assert "study.db" in message


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into a read-only folder")
def test_a_folder_without_write_permission_is_named(splits, tmp_path, no_training):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        refused(splits, str(locked / "study.db"), f"cannot write in {re.escape(str(locked))}")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("options, name", [
    ({"trials": -1}, "trials"), ({"trials": 2.5}, "trials"), ({"trials": "3"}, "trials"), ({"trials": True}, "trials"),
    ({"trials": None, "total_trials": -2}, "total_trials"),
])
def test_trial_counts_must_be_whole_numbers_zero_or_more(splits, tmp_path, options, name, no_training):
    storage = tmp_path / "study.db"
    message = refused(splits, storage, f"^{name} must be a whole number of trials, 0 or more", **options)
    assert repr(options[name]) in message
    assert not storage.exists()  # refused before the storage was even opened


def test_a_database_that_cannot_be_opened_is_a_search_error(splits, tmp_path, monkeypatch, no_training):
    """An unreachable server or a wrong password (here: SQLAlchemy's error, stood in)."""
    import sqlalchemy

    def unreachable(url, **options):
        raise sqlalchemy.exc.OperationalError("connect", {}, sqlite3.OperationalError("connection refused"))

    monkeypatch.setattr(optuna.storages, "RDBStorage", unreachable)
    message = refused(splits, tmp_path / "study.db", "could not open the study 's'")
    assert "connection refused" in message and str(tmp_path / "study.db") in message
