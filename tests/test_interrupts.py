"""Nothing lost on an interrupt, a full disk or a bad file: the command line's long
runs stop on the first SIGINT with exit 130 after saving the last finished epoch, report
nothing unfinished, and continue with --resume to the weights of an uninterrupted run;
every failure a user can cause is one line naming the file or flag (exit 2)."""
import errno
import functools
import json
import os
import signal
import stat
import tempfile

import numpy as np
import pytest
import torch
from PIL import Image

from wikiart_core import checkpoint, cli, experiment, files, models, style, synth, tasks

pytestmark = [pytest.mark.usefixtures("single_torch_thread"),
              pytest.mark.filterwarnings("ignore:The number of unique classes is greater than 50%")]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    synth.generate(root, scale=0.003, size=32, seed=0, workers=1, progress=False)
    return root


def data_flags(root):
    return ["--train", str(root / "train"), "--test", str(root / "test"), "--profile", "smoke",
            "--validation-fraction", "0.5", "--device", "cpu", "--quiet"]


@pytest.fixture
def real_sigint(monkeypatch):
    """send(cls, method, at_call): make the ``at_call``-th call of ``cls.method`` deliver a
    real SIGINT to this process (Python's default handler raises KeyboardInterrupt at the
    next instruction, as Ctrl-C in a terminal does)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)

    def send(cls, method, at_call):
        original, calls = getattr(cls, method), {"n": 0}

        def wrapped(self, *args, **kwargs):
            calls["n"] += 1
            if calls["n"] == at_call:
                os.kill(os.getpid(), signal.SIGINT)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cls, method, wrapped)
        return lambda: monkeypatch.setattr(cls, method, original)

    yield send
    signal.signal(signal.SIGINT, previous)


def state_of(path):
    return checkpoint.read_checkpoint(path)["state_dict"]


def max_difference(a, b):
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.0 for k in a)


# --------------------------------------------------------------------------- SIGINT, then --resume


def test_style_stops_on_sigint_then_resumes_to_the_uninterrupted_weights(tiny_data, tmp_path, real_sigint, capsys):
    style_command = ["style", *data_flags(tiny_data), "--epochs", "3"]
    reference = tmp_path / "reference"
    assert cli.main(style_command + ["--out", str(reference)]) == 0

    out = tmp_path / "interrupted"
    restore = real_sigint(style.StyleTransfer, "loss", at_call=2)  # the cin generator's second batch
    assert cli.main(style_command + ["--out", str(out)]) == 130
    restore()
    err = capsys.readouterr().err
    assert "the cin generator was interrupted" in err and "--resume" in err
    # Nothing unfinished is reported: no generator, no metrics, the next models never started.
    assert not any((out / name).exists() for name in ("generator.pt", "generator_concat.pt", "metrics.json"))
    assert not (out / "runs" / "concat").exists()
    assert checkpoint.read_checkpoint(out / "runs" / "cin" / "last.pt")["epoch"] < 3
    assert checkpoint.read_checkpoint(out / "runs" / "loss_network" / "last.pt")["epoch"] >= 1

    # Re-running without --resume would restart from epoch 0 over the saved run: refused.
    assert cli.main(style_command + ["--out", str(out)]) == 2
    assert "add --resume" in capsys.readouterr().err

    assert cli.main(style_command + ["--out", str(out), "--resume"]) == 0
    for name in ("generator.pt", "generator_concat.pt", "runs/loss_network/last.pt", "runs/judge/last.pt",
                 "runs/plain_autoencoder/last.pt"):
        assert max_difference(state_of(out / name), state_of(reference / name)) == 0, name
    resumed, uninterrupted = (json.loads((folder / "metrics.json").read_text()) for folder in (out, reference))
    assert resumed["summary"] == uninterrupted["summary"]


def test_style_resume_refuses_a_run_of_other_settings(tiny_data, tmp_path, real_sigint, capsys):
    out = tmp_path / "style"
    restore = real_sigint(style.StyleTransfer, "loss", at_call=2)
    assert cli.main(["style", *data_flags(tiny_data), "--epochs", "3", "--out", str(out)]) == 130
    restore()
    capsys.readouterr()
    # Another style weight would train a different generator than the one saved.
    assert cli.main(["style", *data_flags(tiny_data), "--epochs", "3", "--style-weight", "7", "--out", str(out),
                     "--resume"]) == 2
    err = capsys.readouterr().err
    assert "cin/last.pt" in err and "other settings" in err and "style_weight" in err


def test_autoencode_stops_on_sigint_writes_nothing_unfinished_and_resumes_exactly(tiny_data, tmp_path, real_sigint,
                                                                                   capsys):
    command = ["autoencode", *data_flags(tiny_data), "--epochs", "3", "--batch-size", "8"]
    reference = tmp_path / "reference"
    assert cli.main(command + ["--out", str(reference)]) == 0
    out = tmp_path / "ae"
    restore = real_sigint(tasks.Reconstruction, "loss", at_call=3)
    assert cli.main(command + ["--out", str(out)]) == 130
    restore()
    assert "--resume" in capsys.readouterr().err
    assert not (out / "autoencoder.pt").exists() and not (out / "metrics.json").exists()
    assert cli.main(command + ["--out", str(out)]) == 2  # no silent restart
    assert cli.main(command + ["--out", str(out), "--resume"]) == 0
    assert max_difference(state_of(out / "autoencoder.pt"), state_of(reference / "autoencoder.pt")) == 0


def test_train_resume_without_a_path_continues_the_run_in_out(tiny_data, tmp_path, real_sigint, capsys):
    command = ["train", *data_flags(tiny_data), "--epochs", "3", "--batch-size", "8", "--image-size", "16"]
    reference = tmp_path / "reference"
    assert cli.main(command + ["--out", str(reference)]) == 0
    out = tmp_path / "train"
    restore = real_sigint(tasks.Classification, "loss", at_call=4)
    assert cli.main(command + ["--out", str(out)]) == 130
    restore()
    assert not (out / "metrics.json").exists()
    assert cli.main(command + ["--out", str(out)]) == 2
    assert "add --resume" in capsys.readouterr().err
    assert cli.main(command + ["--out", str(out), "--resume"]) == 0
    assert max_difference(state_of(out / "last.pt"), state_of(reference / "last.pt")) == 0


# --------------------------------------------------------------------------- a full disk


class _FullDisk:
    """A temporary file whose writes fail as on a full disk once ``fail`` says so."""

    def __init__(self, real, fail):
        self._real, self._fail = real, fail

    def write(self, data):
        if self._fail(self._real.name):
            raise OSError(errno.ENOSPC, "No space left on device")
        return self._real.write(data)

    def __getattr__(self, name):
        return getattr(self._real, name)

    def __enter__(self):
        self._real.__enter__()
        return self

    def __exit__(self, *exc):
        return self._real.__exit__(*exc)


def fill_disk(monkeypatch, fail):
    """Make files.atomic_write's temporary files fail with ENOSPC when ``fail(name)`` is true."""
    real = tempfile.NamedTemporaryFile
    monkeypatch.setattr(files.tempfile, "NamedTemporaryFile", lambda *a, **k: _FullDisk(real(*a, **k), fail))


def test_a_full_disk_mid_training_keeps_the_last_saved_epoch_and_says_how_to_go_on(tiny_data, tmp_path, monkeypatch,
                                                                                    capsys):
    disk = {"full": False}

    def fill_after_first_epoch(*args, **kwargs):
        def after(record):
            disk["full"] = True
        return experiment.engine.fit(*args, **{**kwargs, "on_epoch_end": after})

    fill_disk(monkeypatch, lambda name: disk["full"])
    monkeypatch.setattr(experiment, "run", functools.partial(experiment.run, fit_fn=fill_after_first_epoch))
    out = tmp_path / "run"
    code = cli.main(["train", *data_flags(tiny_data), "--epochs", "3", "--batch-size", "8", "--image-size", "16",
                     "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the disk is full") and str(out) in err and "free" in err and "--resume" in err
    assert checkpoint.read_checkpoint(out / "last.pt")["epoch"] == 1  # intact, and resumable
    assert not [path for path in out.iterdir() if path.name.endswith(".tmp")]


def test_a_full_disk_leaves_the_previous_results_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "last.metrics.json"
    files.write_json(path, {"accuracy": 0.5})
    fill_disk(monkeypatch, lambda name: True)
    with pytest.raises(files.DiskFullError, match=r"disk is full.*last.metrics.json.*intact"):
        files.write_json(path, {"accuracy": 0.7})
    assert json.loads(path.read_text()) == {"accuracy": 0.5}
    assert [p.name for p in tmp_path.iterdir()] == ["last.metrics.json"]


def test_result_files_and_checkpoints_are_readable_by_the_group(tmp_path):
    previous = os.umask(0o022)
    try:
        written = [files.write_json(tmp_path / "metrics.json", {"a": 1}),
                   checkpoint.save_checkpoint(tmp_path / "last.pt", torch.nn.Linear(2, 2))]
    finally:
        os.umask(previous)
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


# --------------------------------------------------------------------------- paint's hostile inputs


@pytest.fixture
def generator_file(tmp_path):
    generator = models.StyleConditionedAutoencoder(n_styles=2, image_size=16, base_channels=4, depth=1,
                                                   embedding_dim=4)
    return checkpoint.save_checkpoint(tmp_path / "generator.pt", generator, task="style",
                                      classes=["Baroque", "Cubism"], image_size=16)


@pytest.fixture
def picture(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(path)
    return path


def paint(checkpoint_path, image, out, *extra):
    return cli.main(["paint", "--checkpoint", str(checkpoint_path), "--image", str(image), "--style", "Cubism",
                     "--out", str(out), *extra])


def test_paint_names_a_file_that_is_not_a_picture(generator_file, tmp_path, capsys):
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    assert paint(generator_file, text, tmp_path / "out.png") == 2
    err = capsys.readouterr().err
    assert str(text) in err and "not an image" in err and not (tmp_path / "out.png").exists()


def test_paint_refuses_a_classifier_checkpoint(tmp_path, picture, capsys):
    classifier = checkpoint.save_checkpoint(tmp_path / "best.pt", models.build("StyleCNN", n_classes=2, width=4,
                                                                               depth=2), classes=["A", "B"],
                                            image_size=16)
    assert paint(classifier, picture, tmp_path / "out.png") == 2
    assert "holds a StyleCNN" in capsys.readouterr().err


def test_paint_refuses_an_implausible_recorded_image_size(tmp_path, picture, capsys):
    generator = models.StyleConditionedAutoencoder(n_styles=2, image_size=16, base_channels=4, depth=1,
                                                   embedding_dim=4)
    crafted = checkpoint.save_checkpoint(tmp_path / "g.pt", generator, task="style", classes=["Baroque", "Cubism"],
                                         image_size=100000)
    assert paint(crafted, picture, tmp_path / "out.png") == 2
    assert "image size 100000" in capsys.readouterr().err


@pytest.mark.parametrize("mix", ["nan", "5", "-0.1"])
def test_paint_refuses_a_mix_outside_zero_to_one(generator_file, picture, tmp_path, capsys, mix):
    with pytest.raises(SystemExit) as exited:
        paint(generator_file, picture, tmp_path / "out.png", "--mix-with", "Baroque", "--mix", mix)
    assert exited.value.code == 2 and "--mix" in capsys.readouterr().err


def test_paint_checks_the_output_suffix_before_any_work(picture, tmp_path, capsys):
    # The checkpoint does not even exist: the suffix is refused first.
    assert paint(tmp_path / "missing.pt", picture, tmp_path / "painted.xyz") == 2
    err = capsys.readouterr().err
    assert "--out" in err and ".xyz" in err and "missing.pt" not in err


def test_paint_writes_the_format_its_suffix_names(generator_file, picture, tmp_path):
    assert paint(generator_file, picture, tmp_path / "painted.jpg") == 0
    assert Image.open(tmp_path / "painted.jpg").format == "JPEG"


@pytest.mark.parametrize("flags", [["train", "--epochs", "0"], ["train", "--image-size", "100000"],
                                   ["train", "--lr", "nan"], ["search", "--trials", "-1"],
                                   ["autoencode", "--batch-size", "-3"]])
def test_counts_and_sizes_from_flags_are_bounded(flags, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.build_parser().parse_args([*flags, "--out", "o"])
    assert exited.value.code == 2 and flags[1] in capsys.readouterr().err


def test_search_storage_mistakes_are_one_line_before_any_training(tiny_data, tmp_path, capsys):
    command = ["search", *data_flags(tiny_data), "--trials", "1", "--out", str(tmp_path / "search")]
    assert cli.main(command + ["--storage", "sqlite:///"]) == 2
    assert "error: --storage sqlite:/// is an SQLite database in memory" in capsys.readouterr().err
    broken = tmp_path / "broken.db"
    broken.write_bytes(os.urandom(4096))
    assert cli.main(command + ["--storage", f"sqlite:///{broken}"]) == 2
    assert f"{broken} is not a readable SQLite database" in capsys.readouterr().err
    assert not (tmp_path / "search" / "best").exists()  # nothing trained


def test_an_out_folder_that_cannot_be_made_is_named(tiny_data, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    assert cli.main(["search", *data_flags(tiny_data), "--trials", "1", "--out", str(blocker / "search")]) == 2
    assert f"--out {blocker / 'search'}: cannot create that folder" in capsys.readouterr().err


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 1 MB tmpfs (a real full disk), where this machine lets the tests mount one (root on Linux)."""
    import shutil
    import subprocess

    folder = tmp_path / "small_disk"
    folder.mkdir()
    mounted = shutil.which("mount") and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                                                       capture_output=True).returncode == 0
    if not mounted:
        pytest.skip("cannot mount a tmpfs here (needs root on Linux); the patched writer above covers the logic")
    yield folder
    subprocess.run(["umount", str(folder)], check=False)


def test_a_real_full_disk_gives_the_named_error_for_checkpoints_and_json(small_tmpfs):
    # torch's own writer reports a full disk as "RuntimeError: unexpected pos"; the checkpoint
    # bytes are made in memory first so that the write raises ENOSPC, named.
    small = checkpoint.save_checkpoint(small_tmpfs / "last.pt", torch.nn.Linear(2, 2))
    before = small.read_bytes()
    with pytest.raises(files.DiskFullError, match=r"last.pt into .*small_disk failed; it needs 1.4 MB"):
        checkpoint.save_checkpoint(small_tmpfs / "last.pt", torch.nn.Linear(600, 600))
    with pytest.raises(files.DiskFullError, match="metrics.json"):
        files.write_json(small_tmpfs / "metrics.json", {"padding": "x" * 2_000_000})
    assert small.read_bytes() == before
    assert sorted(path.name for path in small_tmpfs.iterdir()) == ["last.pt"]
