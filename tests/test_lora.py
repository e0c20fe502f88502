"""Bonus B without a network: a tiny random Stable-Diffusion pipeline, saved and loaded
through ``load_text_to_image`` (the real loading path), trained with LoRA for two
steps, saved, reloaded, painted with, resumed, interrupted, and launched as two CPU
processes with torchrun."""
import ast
import copy
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from wikiart_core import config
from wikiart_core.data import WikiArtDataset
from wikiart_core.lora import ADAPTER_NAME, LORA_FILE_NAME, LoraError, captions, judge
from wikiart_core.lora import generate as painting
from wikiart_core.lora import pipeline as pipelines
from wikiart_core.lora import train

pytestmark = pytest.mark.usefixtures("single_torch_thread")

STYLES = {"Analytical_Cubism": 2, "Pop_Art": 4, "Ukiyo_e": 6}  # deliberately imbalanced
RESOLUTION = 32
SETTINGS = dict(steps=2, rank=4, batch_size=2, lr=1e-2, checkpoint_every=1, seed=0)


def _write_folder(root: Path, counts: dict[str, int], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for index, (style, count) in enumerate(counts.items()):
        (root / style).mkdir(parents=True, exist_ok=True)
        for item in range(count):
            # Each style its own dominant colour, so the pictures are not all alike.
            pixels = rng.integers(0, 80, size=(40, 48, 3)) + np.eye(3, dtype=np.int64)[index] * 170
            Image.fromarray(pixels.astype(np.uint8)).save(root / style / f"{item}.png")
    return root


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A tiny ImageFolder dataset: three style folders of small PNGs, train and test."""
    root = tmp_path_factory.mktemp("lora_data")
    _write_folder(root / "train", STYLES, seed=0)
    _write_folder(root / "test", {style: 1 for style in STYLES}, seed=1)
    return root


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return pipelines.build_tiny_pipeline(tmp_path_factory.mktemp("tiny") / "pipeline", resolution=RESOLUTION,
                                         styles=list(STYLES))


def _pipeline(tiny_folder):
    return pipelines.load_text_to_image(tiny_folder)


@pytest.fixture(scope="module")
def captioned(folders, tiny_folder):
    train_set = WikiArtDataset(folders / "train", image_size=RESOLUTION, progress=False)
    return captions.caption_dataset(train_set, _pipeline(tiny_folder).tokenizer, RESOLUTION)


def _weights(module) -> dict[str, torch.Tensor]:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


@pytest.fixture(scope="module")
def trained(tiny_folder, captioned, tmp_path_factory):
    """Two steps of LoRA on a freshly loaded pipeline; the adapter is kept on to inspect."""
    pipeline = _pipeline(tiny_folder)
    before = {part: _weights(getattr(pipeline, part)) for part in ("unet", "vae", "text_encoder")}
    initial_lora = train.lora_state(_with_fresh_lora(pipeline.unet))
    out = tmp_path_factory.mktemp("lora_run")
    run = train.train_lora(pipeline, captioned, train.LoraSettings(**SETTINGS), out, progress=False, keep_adapter=True,
                           log=lambda _line: None)
    return pipeline, before, initial_lora, run, out


def _with_fresh_lora(unet):
    copied = copy.deepcopy(unet)
    train.add_lora(copied, SETTINGS["rank"], seed=SETTINGS["seed"])
    return copied


def test_tiny_pipeline_loads_through_the_real_path(tiny_folder):
    pipeline = _pipeline(tiny_folder)
    assert type(pipeline).__name__ == "StableDiffusionPipeline"
    assert pipelines.pipeline_resolution(pipeline) == RESOLUTION
    ids = pipeline.tokenizer(captions.style_caption("Analytical_Cubism")).input_ids
    # The hand-made vocabulary holds the caption words whole: "a painting in the style of analytical cubism".
    assert len(ids) == 2 + 8


def test_missing_weights_message_names_the_key_and_the_fetch(tmp_path, monkeypatch):
    paths_file = tmp_path / "data_paths.yaml"
    paths_file.write_text("dataset: d\ndatasets:\n  d: {train: tr, test: te, synth: {scale: 0.1}}\n"
                          "cache_dir: cache\noutputs_dir: out\npretrained:\n  stable_diffusion: models/nowhere\n")
    paths = config.load_paths(paths_file)
    with pytest.raises(LoraError) as error:
        pipelines.load_text_to_image(paths=paths)
    message = str(error.value)
    assert "pretrained.stable_diffusion" in message and str(tmp_path / "models" / "nowhere") in message
    assert "save_pretrained" in message and pipelines.DEFAULT_HUB_ID in message
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(LoraError, match="HF_HUB_OFFLINE"):  # a hub id offline: refused, never a download attempt
        pipelines.load_text_to_image("someone/some-model")


def test_captions_come_from_the_folder_names(captioned):
    assert captions.style_caption("Analytical_Cubism") == "a painting in the style of Analytical Cubism"
    assert captions.style_caption("Ukiyo_e", with_token=True) == "a painting in the style of Ukiyo e wkrtukiyoe"
    assert captioned.classes == sorted(STYLES)
    assert captioned.captions == [captions.style_caption(style) for style in sorted(STYLES)]
    assert captioned.input_ids.shape == (len(STYLES), 77)
    pixels, labels = captioned.pixels([0, len(captioned) - 1])
    assert pixels.shape == (2, 3, RESOLUTION, RESOLUTION) and -1 <= pixels.min() and pixels.max() <= 1
    assert [captioned.classes[label] for label in labels.tolist()] == ["Analytical_Cubism", "Ukiyo_e"]


def test_class_balanced_sampling_draws_styles_uniformly():
    targets = [0] * 200 + [1] * 20 + [2] * 2
    draws = captions.balanced_indices(targets, 6000, np.random.default_rng(0))
    shares = np.bincount(np.asarray(targets)[draws], minlength=3) / len(draws)
    assert np.allclose(shares, 1 / 3, atol=0.03), shares
    assert set(draws[np.asarray(targets)[draws] == 2].tolist()) == {220, 221}  # both rare images get drawn
    assert np.array_equal(draws, captions.balanced_indices(targets, 6000, np.random.default_rng(0)))


def test_two_steps_change_only_the_lora(trained):
    pipeline, before, initial_lora, run, _ = trained
    assert run.steps == 2 and len(run.losses) == 2 and all(np.isfinite(run.losses))
    final = train.lora_state(pipeline.unet)
    assert set(final) == set(initial_lora) and len(final) == 4 * 2 * 2 * 4
    # q, k, v, out x A, B x self- and cross-attention x 4 transformer blocks (down, mid, two up)
    for name, value in final.items():
        assert torch.isfinite(value).all(), name
        assert not torch.equal(value, initial_lora[name]), f"{name} did not change"
    trainable = {name for name, p in pipeline.unet.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    assert 0 < run.trainable_share < 0.1 and run.trainable_parameters == sum(v.numel() for v in final.values())
    train.remove_lora(pipeline.unet)  # back to the plain modules: every other weight must be bit-identical
    for part, weights in before.items():
        after = _weights(getattr(pipeline, part))
        assert set(after) == set(weights), part
        changed = [name for name in weights if not torch.equal(weights[name], after[name])]
        assert not changed, f"{part}: {changed[:3]} changed"


def test_saved_lora_reloads_into_a_fresh_pipeline(trained, tiny_folder):
    from peft.utils import get_peft_model_state_dict

    _, _, _, run, out = trained
    assert run.lora_file == out / LORA_FILE_NAME and run.lora_bytes == (out / LORA_FILE_NAME).stat().st_size
    saved = torch.load(out / train.STATE_FILE_NAME, weights_only=True)
    fresh = _pipeline(tiny_folder)
    fresh.load_lora_weights(str(out), adapter_name="reloaded")
    reloaded = get_peft_model_state_dict(fresh.unet, adapter_name="reloaded")
    assert set(reloaded) == set(saved["lora"])
    assert all(torch.equal(reloaded[name], saved["lora"][name]) for name in reloaded)
    # Same weights *and* the same scale: the reloaded UNet computes what the trained one did.
    trained_unet = _with_fresh_lora(fresh.unet.__class__.from_pretrained(tiny_folder, subfolder="unet"))
    from peft.utils import set_peft_model_state_dict

    set_peft_model_state_dict(trained_unet, saved["lora"], adapter_name=ADAPTER_NAME)
    latents, t = torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(0)), torch.tensor([500])
    text = torch.randn(1, 77, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = trained_unet(latents, t, encoder_hidden_states=text).sample
        got = fresh.unet(latents, t, encoder_hidden_states=text).sample
    assert torch.allclose(expected, got, atol=1e-6)


def test_generation_with_and_without_the_lora_differs(trained, tiny_folder):
    _, _, _, _, out = trained
    pipeline = _pipeline(tiny_folder)
    base_alone = painting.paint(pipeline, [captions.style_caption("Pop_Art")], [0], 2, 7.5)
    grid = painting.generate_style_grid(pipeline, ["Pop_Art", "Ukiyo_e"], [0], steps=2, guidance=7.5, lora=out)
    assert grid.base.shape == grid.lora.shape == (2, 1, RESOLUTION, RESOLUTION, 3)
    assert np.isfinite(grid.lora).all() and not np.array_equal(grid.base, grid.lora)
    assert np.allclose(grid.base[0, 0], base_alone[0], atol=1e-5)
    # Loading the LoRA to paint leaves no trace: the base model paints as before.
    assert np.array_equal(painting.paint(pipeline, [captions.style_caption("Pop_Art")], [0], 2, 7.5), base_alone)
    strip = painting.lora_scale_strip(pipeline, "Pop_Art", 0, [0.0, 1.0], 2, 7.5, out)
    assert np.array_equal(strip[0], base_alone[0]) and not np.array_equal(strip[1], strip[0])
    figures = [painting.style_grid_figure(grid), painting.scale_strip_figure(strip, [0.0, 1.0], "Pop_Art")]
    assert all(figure.axes for figure in figures)


def test_a_resumed_run_continues_from_the_saved_step(tiny_folder, captioned, trained, tmp_path):
    _, _, _, straight, straight_out = trained
    settings = train.LoraSettings(**{**SETTINGS, "steps": 1})
    first = train.train_lora(_pipeline(tiny_folder), captioned, settings, tmp_path, progress=False,
                             log=lambda _line: None)
    assert first.steps == 1 and torch.load(tmp_path / train.STATE_FILE_NAME, weights_only=True)["step"] == 1
    resumed = train.train_lora(_pipeline(tiny_folder), captioned, train.LoraSettings(**SETTINGS), tmp_path,
                               progress=False, log=lambda _line: None)
    assert (resumed.start_step, resumed.steps) == (1, 2) and resumed.losses[0] == first.losses[0]
    # Seeded draws and the saved optimiser state: resuming gives what the straight run gave.
    ours = torch.load(tmp_path / train.STATE_FILE_NAME, weights_only=True)["lora"]
    theirs = torch.load(straight_out / train.STATE_FILE_NAME, weights_only=True)["lora"]
    assert all(torch.allclose(ours[name], theirs[name], atol=1e-7) for name in theirs)
    assert np.allclose(resumed.losses, straight.losses, atol=1e-6)


def test_an_interrupt_saves_the_last_finished_step(tiny_folder, captioned, tmp_path, monkeypatch):
    real_loss, calls = train._diffusion_loss, []

    def interrupted_on_second_call(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_loss(*args, **kwargs)

    monkeypatch.setattr(train, "_diffusion_loss", interrupted_on_second_call)
    settings = train.LoraSettings(**{**SETTINGS, "checkpoint_every": 10})
    run = train.train_lora(_pipeline(tiny_folder), captioned, settings, tmp_path, progress=False,
                           log=lambda _line: None)
    assert run.interrupted and run.steps == 1
    assert torch.load(tmp_path / train.STATE_FILE_NAME, weights_only=True)["step"] == 1
    with pytest.raises(LoraError, match="rank"):  # resuming with another rank is refused, with the fix
        train.train_lora(_pipeline(tiny_folder), captioned, train.LoraSettings(**{**SETTINGS, "rank": 8}), tmp_path,
                         progress=False, log=lambda _line: None)


def test_the_judge_resizes_and_counts_hits():
    class Judge(torch.nn.Module):
        """Says "style 1" when the red channel is bright, else "style 0"; checks its input size."""

        def forward(self, x):
            assert x.shape[-2:] == (8, 8)
            red = x[:, 0].mean(dim=(1, 2))
            return torch.stack([0.5 - red, red - 0.5], dim=1)

    images = np.zeros((2, 2, 32, 32, 3), np.float32)  # rows: styles A, B; two seeds each
    images[1, :, :, :, 0] = 1.0  # row B is red: judged B
    images[0, 1, :, :, 0] = 1.0  # one image of row A is red too: a miss
    scores = judge.style_hit_rate(Judge(), images, ["A", "B"], ["A", "B", "C"], image_size=8)
    assert scores["hit_rate"] == 0.75 and scores["per_style"] == {"A": 0.5, "B": 1.0}
    assert scores["chance"] == pytest.approx(1 / 3) and scores["predicted"] == ["A", "B", "B", "B"]


def test_the_lora_cli_module_imports_no_heavy_library_at_import_time():
    # `python -m wikiart_core --help` builds the parser, which imports wikiart_core.lora.cli.
    import wikiart_core.lora.cli as lora_cli

    heavy = {"diffusers", "peft", "accelerate", "transformers", "torch"}
    for module in (lora_cli, sys.modules["wikiart_core.lora"]):
        tree = ast.parse(Path(module.__file__).read_text())
        top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
        top |= {(node.module or "").split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom)}
        assert not top & heavy, f"{module.__name__} imports {top & heavy} at import time"


def test_two_cpu_processes_end_with_identical_lora(folders, tmp_path):
    """torchrun, two processes, gloo: the data-parallel path of a multi-GPU launch."""
    out = tmp_path / "lora"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1",
           "CUDA_VISIBLE_DEVICES": ""}
    # `torchrun` is `python -m torch.distributed.run`; --standalone picks a free local port.
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
    command = torchrun + ["-m", "wikiart_core", "lora", "--tiny", "--train", str(folders / "train"), "--test",
                          str(folders / "test"), "--profile", "smoke", "--steps", "2", "--batch-size", "2",
                          "--lr", "0.01", "--device", "cpu", "--quiet", "--write-lora-hash", "--out", str(out)]
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stdout[-2000:] + finished.stderr[-4000:]
    hashes = [(out / f"lora_hash.{rank}.txt").read_text().strip() for rank in (0, 1)]
    assert hashes[0] == hashes[1]
    state = torch.load(out / train.STATE_FILE_NAME, weights_only=True)
    assert state["step"] == 2 and state["processes"] == 2
    assert all(torch.isfinite(value).all() for value in state["lora"].values())
    assert any(name.endswith("lora_B.weight") and value.abs().sum() > 0 for name, value in state["lora"].items())


def test_gradient_accumulation_steps_the_optimiser_once_per_step(tiny_folder, captioned, tmp_path):
    settings = train.LoraSettings(**{**SETTINGS, "steps": 1, "batch_size": 1, "gradient_accumulation": 3})
    run = train.train_lora(_pipeline(tiny_folder), captioned, settings, tmp_path, progress=False,
                           log=lambda _line: None)
    state = torch.load(tmp_path / train.STATE_FILE_NAME, weights_only=True)
    assert run.steps == 1 and run.effective_batch == 3
    assert {int(values["step"]) for values in state["optimizer"]["state"].values()} == {1}


def test_test_profiles_never_fine_tune_configured_weights(tiny_folder, tmp_path):
    from wikiart_core.parts import bonus_b

    # tiny_folder stands in for real weights configured under pretrained.stable_diffusion
    paths_file = tmp_path / "data_paths.yaml"
    paths_file.write_text(f"dataset: d\ndatasets:\n  d: {{train: tr, test: te, synth: {{scale: 0.1}}}}\n"
                          f"cache_dir: cache\noutputs_dir: out\npretrained:\n  stable_diffusion: {tiny_folder}\n")
    paths = config.load_paths(paths_file)
    for name in ("smoke", "rehearsal"):
        choice = bonus_b.choose_pipeline(paths, tmp_path / name, list(STYLES), resolution=RESOLUTION,
                                         profile=config.get_profile(name))
        assert choice.tiny and choice.profile_refuses == name and Path(choice.source).parent == tmp_path / name
        assert f"`{name}` profile is a test run" in bonus_b.pipeline_note(choice, paths)
    chosen = bonus_b.choose_pipeline(paths, tmp_path / "full", list(STYLES), resolution=RESOLUTION,
                                     profile=config.get_profile("full"))
    assert not chosen.tiny and chosen.source == str(tiny_folder)
