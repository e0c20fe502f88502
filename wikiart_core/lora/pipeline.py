"""Where the text-to-image pipeline comes from: local weights, a hub id, or a tiny random one.

:func:`load_text_to_image` loads a Stable-Diffusion-style diffusers pipeline from the
folder that ``data_paths.yaml`` names under ``pretrained: stable_diffusion:`` (or any
folder or hub id given to it). It never downloads on its own: with no local folder it
stops with a :class:`~wikiart_core.lora.LoraError` that names the key to set and the
command that fetches the weights on a machine with a network.

:func:`build_tiny_pipeline` writes a pipeline with the same parts and random weights
(a UNet of two blocks, a two-block VAE, a two-layer CLIP text encoder and a tokenizer
from a hand-made vocabulary) with ``save_pretrained``, so tests and machines without
the real weights go through the very same loading path. Its pictures are noise: it
checks the plumbing, it does not paint.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .. import files
from . import LoraError

PRETRAINED_KEY = "stable_diffusion"  # the key under `pretrained:` in data_paths.yaml
DEFAULT_HUB_ID = "stable-diffusion-v1-5/stable-diffusion-v1-5"
FETCH_COMMAND = ("python -c \"from diffusers import StableDiffusionPipeline; "
                 f"StableDiffusionPipeline.from_pretrained('{DEFAULT_HUB_ID}')"
                 ".save_pretrained('models/stable-diffusion-v1-5')\"")


def quiet_libraries() -> None:
    """Turn off the progress bars and info/warning chatter of diffusers, transformers and
    huggingface_hub: they go to stderr, which nbval compares, and in an executed notebook
    a bar only leaves a frozen "0%"."""
    import diffusers
    import transformers
    from huggingface_hub.utils import disable_progress_bars

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    disable_progress_bars()


def hub_offline() -> bool:
    """True when ``$HF_HUB_OFFLINE`` (or ``$TRANSFORMERS_OFFLINE``) forbids the network."""
    return any(os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")
               for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _missing_weights(folder: Path, where: str) -> LoraError:
    return LoraError(
        f"No text-to-image weights at {folder} ({where}). Fix: on a machine with a network run\n"
        f"    {FETCH_COMMAND}\n"
        f"copy the folder here and set `pretrained: {PRETRAINED_KEY}:` in data_paths.yaml to it "
        f"(or check the plumbing with a tiny random pipeline: `--tiny` on the command line, "
        f"wikiart_core.lora.pipeline.build_tiny_pipeline in Python)."
    )


def resolve_source(source: str | os.PathLike | None = None, paths=None) -> tuple[str, bool]:
    """Where to load from: ``(folder or hub id, is_local)``.

    ``source`` None: the folder of ``pretrained.stable_diffusion`` in data_paths.yaml
    (``paths`` from :func:`wikiart_core.config.load_paths`, read if not given). An existing
    folder is local; a string shaped like ``owner/name`` that is no folder is a hub id.

    Raises:
        LoraError: the configured folder is missing (the message says how to fetch it),
            or a hub id was given while ``$HF_HUB_OFFLINE`` is set.
    """
    if source is None:
        if paths is None:
            from wikiart_core import config

            paths = config.load_paths()
        folder = paths.pretrained.get(PRETRAINED_KEY)
        if folder is None:
            raise LoraError(f"{paths.source}: no key 'pretrained.{PRETRAINED_KEY}'. Fix: add it, e.g.\n"
                            f"pretrained:\n  {PRETRAINED_KEY}: models/stable-diffusion-v1-5\n"
                            f"and fetch the weights there on a machine with a network:\n    {FETCH_COMMAND}")
        if not Path(folder).is_dir():
            raise _missing_weights(Path(folder), f"key 'pretrained.{PRETRAINED_KEY}' of {paths.source}")
        return str(folder), True
    candidate = Path(source).expanduser()
    if candidate.is_dir():
        return str(candidate.resolve()), True
    text = str(source)
    looks_like_hub_id = text.count("/") == 1 and not text.startswith((".", "/", "~")) and not candidate.suffix
    if not looks_like_hub_id:
        raise _missing_weights(candidate, "given as the source")
    if hub_offline():
        raise LoraError(f"'{text}' is a hub id, but $HF_HUB_OFFLINE is set, so nothing is downloaded. Fix: fetch "
                        f"it on a machine with a network:\n    {FETCH_COMMAND}\nthen load the saved folder (set "
                        f"`pretrained: {PRETRAINED_KEY}:` in data_paths.yaml).")
    return text, False


def load_text_to_image(source: str | os.PathLike | None = None, *, paths=None, device="cpu", dtype=None,
                       progress: bool = False):
    """A diffusers ``StableDiffusionPipeline`` from local weights (or a hub id when online).

    Args:
        source: a folder written by ``save_pretrained``, or a hub id such as
            ``"stable-diffusion-v1-5/stable-diffusion-v1-5"`` (downloaded only when
            named here and the machine is online); default: ``pretrained.stable_diffusion``
            of data_paths.yaml.
        paths: :class:`wikiart_core.config.Paths` to read that key from (default: load it).
        device: where the pipeline's models go ("cpu", "cuda", ...).
        dtype: e.g. ``torch.float16`` for inference on a GPU; default float32.
        progress: show the denoising progress bar at generation.

    Returns:
        The pipeline, without safety checker, with the libraries' own progress bars and
        warnings off. ``pipeline.name_or_path`` is where it came from.

    Raises:
        LoraError: no weights where data_paths.yaml says (message: the key and the
            command that fetches them), a folder that is not a diffusers pipeline, or a
            hub id while offline.
    """
    quiet_libraries()
    from diffusers import StableDiffusionPipeline

    where, local = resolve_source(source, paths)
    if local and not (Path(where) / "model_index.json").is_file():
        raise LoraError(f"{where} has no model_index.json, so it is not a diffusers pipeline folder. Fix: save one "
                        f"there with save_pretrained (on a machine with a network:\n    {FETCH_COMMAND})")
    kwargs = {"safety_checker": None, "requires_safety_checker": False}
    if dtype is not None:
        kwargs["torch_dtype"] = dtype
    pipeline = StableDiffusionPipeline.from_pretrained(where, local_files_only=local, **kwargs)
    pipeline.set_progress_bar_config(disable=not progress)
    return pipeline.to(device)


def pipeline_resolution(pipeline) -> int:
    """The side (pixels) the pipeline's UNet was built for: sample_size x the VAE's scale."""
    return int(pipeline.unet.config.sample_size * pipeline.vae_scale_factor)


# --------------------------------------------------------------------------- the tiny random pipeline

# Words of the captions and prompts get whole-word tokens; anything else falls back to
# single characters, so every string can be tokenized.
_TINY_WORDS = ("a", "painting", "in", "the", "style", "of", "art", "by", "and", "with")


def _tiny_tokenizer_files(folder: Path, words: list[str]) -> tuple[Path, Path]:
    """A CLIP-style byte-pair vocabulary: the printable ASCII characters (alone and as a
    word end, ``x</w>``), and each word built up by merges left to right."""
    characters = [chr(code) for code in range(33, 127)]
    vocab = ["<|startoftext|>", "<|endoftext|>"] + characters + [c + "</w>" for c in characters]
    merges = []
    for word in sorted(set(words)):
        if len(word) < 2:
            continue
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        built = pieces[0]
        for piece in pieces[1:]:
            merges.append(f"{built} {piece}")
            built += piece
            if built not in vocab:
                vocab.append(built)
    vocab_file, merges_file = folder / "vocab.json", folder / "merges.txt"
    files.write_text(vocab_file, json.dumps({token: index for index, token in enumerate(vocab)}))
    files.write_text(merges_file, "#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")
    return vocab_file, merges_file


def build_tiny_pipeline(folder: str | os.PathLike, *, resolution: int = 32, styles=(), seed: int = 0,
                        overwrite: bool = False) -> Path:
    """Write a tiny Stable-Diffusion-shaped pipeline with random weights to ``folder``.

    The parts are those of SD 1.5 at toy size: a UNet with one cross-attention block
    (channels 8 and 16, so LoRA has ``to_q/to_k/to_v/to_out.0`` to adapt), a two-block
    VAE (4 latent channels, a factor of 2 per side), a two-layer CLIP text encoder of
    width 32, a tokenizer whose vocabulary holds the caption words and the ``styles``'
    words, and a ``DDPMScheduler``. About 0.2 MB of weights; built in a second.

    Args:
        folder: written with ``save_pretrained``; kept as it is when it already holds
            a tiny pipeline of the same recipe (resolution, styles, seed), unless ``overwrite``.
        resolution: image side in pixels (even); latents are ``resolution // 2``.
        styles: style names (e.g. ``Analytical_Cubism``) whose words get whole tokens.
        seed: the random weights (the global torch RNG is left untouched).

    Returns:
        ``folder`` as a Path, ready for :func:`load_text_to_image`.
    """
    import torch

    folder = Path(folder)
    recipe = {"resolution": int(resolution), "styles": [str(style) for style in styles], "seed": int(seed),
              "version": 1}
    marker = folder / "tiny_pipeline.json"
    if (folder / "model_index.json").is_file() and not overwrite and marker.is_file():
        if json.loads(marker.read_text(encoding="utf-8")) == recipe:
            return folder  # the same recipe gives the same weights: keep the files (and caches keyed on them)
    if resolution % 2:
        raise LoraError(f"the tiny pipeline's resolution must be even (the VAE halves it), got {resolution}")
    quiet_libraries()
    from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    words = list(_TINY_WORDS) + [word.lower() for style in styles for word in str(style).replace("_", " ").split()]
    max_length = 77  # CLIP's, so prompts are padded exactly as for the real model
    folder.mkdir(parents=True, exist_ok=True)
    # The marker says "this folder is complete": it goes first and comes back last, so a
    # rebuild interrupted half-way is never taken for the previous, complete one.
    marker.unlink(missing_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            sample_size=resolution // 2, in_channels=4, out_channels=4, layers_per_block=1,
            block_out_channels=(8, 16), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=32, attention_head_dim=4,
            norm_num_groups=4)
        vae = AutoencoderKL(
            in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(8, 16), layers_per_block=1,
            down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
            up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=4, sample_size=resolution)
        tokenizer_dir = folder / "_tokenizer_source"
        tokenizer_dir.mkdir(exist_ok=True)
        vocab_file, merges_file = _tiny_tokenizer_files(tokenizer_dir, words)
        tokenizer = CLIPTokenizer(str(vocab_file), str(merges_file), model_max_length=max_length)
        text_encoder = CLIPTextModel(CLIPTextConfig(
            vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, max_position_embeddings=max_length, bos_token_id=0, eos_token_id=1,
            pad_token_id=1, projection_dim=32))
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085,
                              beta_end=0.012, steps_offset=1, clip_sample=False)
    pipeline = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                       scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                       requires_safety_checker=False)
    pipeline.save_pretrained(folder, safe_serialization=True)
    files.write_text(marker, json.dumps(recipe) + "\n")
    for leftover in tokenizer_dir.iterdir():
        leftover.unlink()
    tokenizer_dir.rmdir()
    return folder
