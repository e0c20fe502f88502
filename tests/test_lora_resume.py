"""LoRA runs that stop and go on: an interrupt right after an optimiser update, resumes
with other settings, a full disk while saving, and the modes of the files written.
The tiny random pipeline of test_lora, never the network; a few seconds per test."""
import errno
import os
import signal
import tempfile
import types

import pytest
import torch

# The tiny data and pipeline of test_lora (module-scoped fixtures, built once per module).
from test_lora import RESOLUTION, _pipeline, folders, tiny_folder  # noqa: F401
from wikiart_core import files
from wikiart_core.data import WikiArtDataset
from wikiart_core.lora import LORA_FILE_NAME, LoraError, captions
from wikiart_core.lora import pipeline as pipelines
from wikiart_core.lora import train

pytestmark = pytest.mark.usefixtures("single_torch_thread")

SETTINGS = dict(steps=4, rank=4, batch_size=2, lr=1e-2, checkpoint_every=10, seed=0)
QUIET = dict(progress=False, log=lambda _line: None)


@pytest.fixture(autouse=True)
def python_handles_ctrl_c():
    """Each test starts with Python's own SIGINT handler, as a terminal or a kernel gives
    it. pytest started in the background by a non-interactive shell (``make test &``, a CI
    runner's script) inherits SIGINT ignored, Python then installs no handler, and an ignored
    SIGINT stays ignored by design (``train._InterruptLatch``)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def train_set(folders):
    return WikiArtDataset(folders / "train", image_size=RESOLUTION, progress=False)


@pytest.fixture(scope="module")
def captioned(train_set, tiny_folder):
    return captions.caption_dataset(train_set, _pipeline(tiny_folder).tokenizer, RESOLUTION)


def _train(tiny_folder, captioned, out, **changes):
    return train.train_lora(_pipeline(tiny_folder), captioned, train.LoraSettings(**{**SETTINGS, **changes}), out,
                            **QUIET)


def _state(out):
    return torch.load(out / train.STATE_FILE_NAME, weights_only=True)


@pytest.fixture(scope="module")
def straight(tiny_folder, captioned, tmp_path_factory):
    """The uninterrupted run of SETTINGS["steps"] steps: its saved state."""
    out = tmp_path_factory.mktemp("straight")
    _train(tiny_folder, captioned, out)
    return _state(out)


def _adam_steps(state) -> set[int]:
    return {int(values["step"]) for values in state["optimizer"]["state"].values()}


def _largest_difference(ours: dict, theirs: dict) -> float:
    """Max |a - b| over the LoRA weights and AdamW's two moments of two saved states."""
    assert set(ours["lora"]) == set(theirs["lora"])
    pairs = [(ours["lora"][name], theirs["lora"][name]) for name in theirs["lora"]]
    for index, values in theirs["optimizer"]["state"].items():
        pairs += [(ours["optimizer"]["state"][index][key], values[key]) for key in ("exp_avg", "exp_avg_sq")]
    return max(float((a - b).abs().max()) for a, b in pairs)


def _lora_file_matches_state(out) -> bool:
    """pytorch_lora_weights.safetensors holds the LoRA weights of training_state.pt."""
    from diffusers.utils import convert_state_dict_to_diffusers
    from safetensors.torch import load_file

    saved = load_file(out / LORA_FILE_NAME)
    expected = convert_state_dict_to_diffusers(_state(out)["lora"])
    return set(saved) == {f"unet.{key}" for key in expected} and all(
        torch.equal(saved[f"unet.{key}"], value) for key, value in expected.items())


def _ctrl_c_after_update(monkeypatch, update: int, presses: int = 1) -> None:
    """Press Ctrl-C (a real SIGINT to this process) ``presses`` times right after the
    ``update``-th AdamW update has changed the weights, before the loop counts the step:
    where a Ctrl-C lands on CUDA, while the host waits for the loss."""
    real_step, updates = torch.optim.AdamW.step, []

    def handlers_run():  # a Python call: pending signal handlers run here, one press at a time
        pass

    def step(self, *args, **kwargs):
        result = real_step(self, *args, **kwargs)
        updates.append(1)
        if len(updates) == update:
            for _ in range(presses):
                os.kill(os.getpid(), signal.SIGINT)
                handlers_run()
        return result

    monkeypatch.setattr(torch.optim.AdamW, "step", step)


# --------------------------------------------------------------------------- the interrupt window


def test_ctrl_c_after_an_update_saves_that_step_and_resumes_to_the_straight_run(
        tiny_folder, captioned, straight, tmp_path, monkeypatch):
    _ctrl_c_after_update(monkeypatch, update=3)
    stopped = _train(tiny_folder, captioned, tmp_path)
    monkeypatch.undo()
    # The step whose update had landed finished (loss, counter) and was saved.
    assert stopped.interrupted and stopped.steps == 3 and stopped.saved_step == 3 and len(stopped.losses) == 3
    saved = _state(tmp_path)
    assert saved["step"] == 3 and _adam_steps(saved) == {3} and _lora_file_matches_state(tmp_path)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handler is given back
    resumed = _train(tiny_folder, captioned, tmp_path)
    assert (resumed.start_step, resumed.steps) == (3, SETTINGS["steps"])
    final = _state(tmp_path)
    assert _adam_steps(final) == _adam_steps(straight) == {SETTINGS["steps"]}
    assert _largest_difference(final, straight) == 0.0
    assert final["losses"] == straight["losses"]


def test_a_second_ctrl_c_inside_an_update_keeps_the_last_save(tiny_folder, captioned, straight, tmp_path,
                                                                monkeypatch):
    # Saves at steps 2 and 4; both presses land right after update 4, with step 3 done but
    # not saved: the second press stops at once, the weights one update ahead of the count
    # (saving them as "step 3" would apply update 4 twice on resume).
    _ctrl_c_after_update(monkeypatch, update=4, presses=2)
    stopped = _train(tiny_folder, captioned, tmp_path, checkpoint_every=2)
    monkeypatch.undo()
    assert stopped.interrupted and stopped.saved_step == 2
    saved = _state(tmp_path)
    assert saved["step"] == 2 and _adam_steps(saved) == {2} and _lora_file_matches_state(tmp_path)
    _train(tiny_folder, captioned, tmp_path, checkpoint_every=2)
    final = _state(tmp_path)
    assert _adam_steps(final) == {SETTINGS["steps"]} and _largest_difference(final, straight) == 0.0


# --------------------------------------------------------------------------- resuming with other settings


@pytest.fixture(scope="module")
def one_step(tiny_folder, captioned, tmp_path_factory):
    """A folder holding a one-step run of SETTINGS (resumes below are refused before they
    train, so the tests share it)."""
    out = tmp_path_factory.mktemp("one_step")
    _train(tiny_folder, captioned, out, steps=1)
    return out


def _contents(out) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(out.iterdir()) if path.is_file()}


@pytest.mark.parametrize("name, value", [
    ("lr", 1e-3), ("batch_size", 3), ("seed", 1), ("gradient_accumulation", 2), ("weight_decay", 0.0),
    ("max_grad_norm", 0.5), ("cache_latents", False), ("mixed_precision", "no"), ("alpha", 8.0), ("rank", 8)])
def test_a_resume_with_another_setting_is_refused_naming_it(tiny_folder, captioned, one_step, name, value):
    before = _contents(one_step)
    with pytest.raises(LoraError) as refused:
        _train(tiny_folder, captioned, one_step, **{name: value})
    message = str(refused.value)
    assert f"{name}={SETTINGS.get(name, getattr(train.LoraSettings(), name))!r} there" in message
    assert f"{name}={value!r} now" in message
    assert "--restart" in message and "resume=False" in message and "another --out" in message
    assert "\n" not in message and _contents(one_step) == before


@pytest.mark.parametrize("name, changed, shown", [
    ("images_per_style", dict(images_per_style=1), "images_per_style=None there, images_per_style=1 now"),
    ("captions", dict(with_token=True), "captions=["),
])
def test_a_resume_on_other_training_images_is_refused(tiny_folder, train_set, one_step, name, changed, shown):
    other = captions.caption_dataset(train_set, _pipeline(tiny_folder).tokenizer, RESOLUTION, **changed)
    with pytest.raises(LoraError, match=name) as refused:
        _train(tiny_folder, other, one_step)
    assert shown in str(refused.value)


def test_more_steps_and_another_checkpoint_interval_resume(tiny_folder, captioned, one_step, tmp_path):
    out = tmp_path / "copy"
    out.mkdir()
    for name, data in _contents(one_step).items():
        (out / name).write_bytes(data)
    run = _train(tiny_folder, captioned, out, steps=2, checkpoint_every=5)
    assert (run.start_step, run.steps) == (1, 2) and _state(out)["step"] == 2


def test_an_old_state_without_the_image_record_is_reused_but_not_continued(tiny_folder, captioned, one_step,
                                                                           tmp_path):
    old = _state(one_step)
    for key in ("data", "mixed_precision_used"):  # what states saved before this check lack
        del old[key]
    torch.save(old, tmp_path / train.STATE_FILE_NAME)
    (tmp_path / LORA_FILE_NAME).write_bytes((one_step / LORA_FILE_NAME).read_bytes())
    reused = _train(tiny_folder, captioned, tmp_path, steps=1)  # finished: nothing to mix, kept as it is
    assert (reused.start_step, reused.steps, reused.interrupted) == (1, 1, False)
    with pytest.raises(LoraError, match="earlier version.*training images.*--restart"):
        _train(tiny_folder, captioned, tmp_path, steps=2)
    with pytest.raises(LoraError, match="lr=0.01 there, lr=0.001 now"):  # its settings are still compared
        _train(tiny_folder, captioned, tmp_path, steps=1, lr=1e-3)


# --------------------------------------------------------------------------- a full disk


def _full_disk(monkeypatch, target: str) -> None:
    """From now on, writing a file whose name holds ``target`` through ``files`` fills
    the disk half-way through (ENOSPC), as a real full disk would."""
    real = tempfile.NamedTemporaryFile

    def named_temporary_file(*args, prefix="", **kwargs):
        handle = real(*args, prefix=prefix, **kwargs)
        if target in prefix:
            def write(data):
                handle.file.write(bytes(data)[:len(data) // 2])
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            handle.write = write
        return handle

    monkeypatch.setattr(files, "tempfile", types.SimpleNamespace(NamedTemporaryFile=named_temporary_file))


@pytest.mark.parametrize("target", [train.STATE_FILE_NAME, LORA_FILE_NAME])
def test_a_full_disk_while_saving_keeps_the_last_save_and_says_how_to_go_on(tiny_folder, captioned, one_step,
                                                                            tmp_path, monkeypatch, target):
    for name, data in _contents(one_step).items():
        (tmp_path / name).write_bytes(data)
    before = _contents(tmp_path)
    _full_disk(monkeypatch, target)
    with pytest.raises(LoraError) as full:
        _train(tiny_folder, captioned, tmp_path, steps=2)
    message = str(full.value)
    assert "\n" not in message and "disk is full" in message and str(tmp_path) in message
    assert "step 2" in message and "last saved step (1) is intact" in message
    assert "re-run the same command" in message and "resumes from step 1" in message
    # Both files as they were (the state is written first, but only renamed in last), no leftovers.
    assert _contents(tmp_path) == before and sorted(os.listdir(tmp_path)) == sorted(before)


# --------------------------------------------------------------------------- the command line


@pytest.fixture
def umask_027():
    """A umask that tells the files' intended mode (0o640 here) from a temporary file's 0o600."""
    previous = os.umask(0o027)
    yield 0o640
    os.umask(previous)


def _lora_command(folders, out, *extra):
    return ["lora", "--tiny", "--train", str(folders / "train"), "--test", str(folders / "test"), "--profile",
            "smoke", "--batch-size", "2", "--lr", "0.01", "--device", "cpu", "--quiet", "--out", str(out), *extra]


def _written_through_files(monkeypatch) -> set[str]:
    """Names of the files written through ``files.atomic_write`` from now on."""
    real, names = files.atomic_write, set()

    def spy(path, write, **options):
        names.add(os.path.basename(path))
        return real(path, write, **options)

    monkeypatch.setattr(files, "atomic_write", spy)
    return names


def test_the_commands_write_every_file_atomically_and_readable_by_the_group(folders, tmp_path, monkeypatch,
                                                                           umask_027):
    from wikiart_core import cli

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    through_files = _written_through_files(monkeypatch)
    out, paint = tmp_path / "lora", tmp_path / "paint"
    assert cli.main(_lora_command(folders, out, "--steps", "1", "--write-lora-hash")) == 0
    assert cli.main(["generate", "--lora", str(out), "--style", "Pop_Art", "--seeds", "0", "--steps", "1",
                     "--device", "cpu", "--out", str(paint)]) == 0
    kept = [path for path in out.iterdir() if path.is_file()] + list(paint.iterdir())
    kept.append(out / "tiny-pipeline" / "tiny_pipeline.json")
    names = {path.name for path in kept}
    assert {train.STATE_FILE_NAME, LORA_FILE_NAME, "lora_run.json", "lora_hash.0.txt", "grid.png",
            "generate.json", "base_Pop_Art_seed0.png", "lora_Pop_Art_seed0.png"} <= names
    for path in kept:
        # The resume state is written under a staged name, then renamed over training_state.pt.
        assert path.name in through_files or f".{path.name}.staged" in through_files, path
        assert path.stat().st_mode & 0o777 == umask_027, f"{path}: {oct(path.stat().st_mode & 0o777)}"


def test_a_full_disk_under_the_lora_command_is_one_named_line(folders, tmp_path, monkeypatch, capsys):
    from wikiart_core import cli

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "lora"
    assert cli.main(_lora_command(folders, out, "--steps", "1")) == 0
    _full_disk(monkeypatch, train.STATE_FILE_NAME)
    capsys.readouterr()
    assert cli.main(_lora_command(folders, out, "--steps", "2")) == 2
    said = capsys.readouterr().err.strip().splitlines()
    assert len(said) == 1 and said[0].startswith("error: the disk is full"), said
    assert str(out) in said[0] and "last saved step (1) is intact" in said[0] and "same command" in said[0]
    assert _state(out)["step"] == 1


# --------------------------------------------------------------------------- the files themselves


def _safetensors_contents(path) -> tuple[dict, dict]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as opened:
        return opened.metadata(), {key: opened.get_tensor(key) for key in opened.keys()}


def test_the_lora_file_holds_what_diffusers_writes(tiny_folder, tmp_path):
    """The same tensors and metadata as ``save_lora_weights`` (the bytes may differ: the
    safetensors writer orders metadata keys as it likes)."""
    from diffusers import StableDiffusionPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft.utils import get_peft_model_state_dict

    unet = _pipeline(tiny_folder).unet
    train.add_lora(unet, rank=4, alpha=8, seed=3)
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet, adapter_name=train.ADAPTER_NAME))
    StableDiffusionPipeline.save_lora_weights(tmp_path, unet_lora_layers=layers, safe_serialization=True,
                                              unet_lora_adapter_metadata=unet.peft_config[train.ADAPTER_NAME].to_dict())
    ours = tmp_path / "ours.safetensors"
    ours.write_bytes(train.lora_file_bytes(unet))
    (our_metadata, our_tensors), (metadata, tensors) = map(_safetensors_contents, (ours, tmp_path / LORA_FILE_NAME))
    assert our_metadata == metadata and set(our_tensors) == set(tensors)
    assert all(torch.equal(our_tensors[key], tensors[key]) for key in tensors)


def test_an_interrupted_tiny_pipeline_rebuild_is_not_taken_for_a_finished_one(tmp_path, monkeypatch):
    from diffusers import StableDiffusionPipeline

    folder = pipelines.build_tiny_pipeline(tmp_path / "tiny", resolution=8)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    with monkeypatch.context() as patched:
        patched.setattr(StableDiffusionPipeline, "save_pretrained", interrupted)
        with pytest.raises(KeyboardInterrupt):
            pipelines.build_tiny_pipeline(folder, resolution=8, overwrite=True)
    assert not (folder / "tiny_pipeline.json").exists()  # so the next call rebuilds instead of reusing
    rebuilt = []
    real = StableDiffusionPipeline.save_pretrained
    monkeypatch.setattr(StableDiffusionPipeline, "save_pretrained",
                        lambda self, *args, **kwargs: rebuilt.append(1) or real(self, *args, **kwargs))
    pipelines.build_tiny_pipeline(folder, resolution=8)
    assert rebuilt and (folder / "tiny_pipeline.json").is_file()
