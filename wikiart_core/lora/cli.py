"""The ``lora`` and ``generate`` sub-commands of ``python -m wikiart_core``.

    python -m wikiart_core lora --steps 3000 --rank 4 --out outputs/lora            # one GPU (or the CPU)
    accelerate launch --multi_gpu --num_processes 4 -m wikiart_core lora --out outputs/lora   # data parallel
    torchrun --nproc_per_node 2 -m wikiart_core lora --tiny --out /tmp/lora         # two CPU processes (gloo)
    python -m wikiart_core generate --lora outputs/lora --style Cubism Ukiyo_e --seeds 0 1 2 --out outputs/paint

This module is imported when the parser is built, so it imports diffusers, peft and
accelerate only inside the command functions: ``--help`` stays fast.

Every file the commands write goes through ``wikiart_core.files`` (atomic, readable by
the group). A full disk ends in one line (``error: ...``, exit 2): while saving the LoRA
as a ``LoraError`` that says which step the folder holds, elsewhere as the
``files.DiskFullError`` that ``wikiart_core.cli.main`` prints.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import files
from ..cli_options import fraction, image_side, non_negative_float, positive_float, positive_int
from . import LoraError

RUN_FILE_NAME = "lora_run.json"


def _write_json(path: Path, values: dict) -> None:
    """``values`` as indented JSON at ``path``, atomically (values that JSON lacks as text)."""
    files.write_json(path, values, default=str)


def _style_name(text: str) -> str:
    """``"Analytical Cubism"`` or ``Analytical_Cubism`` -> ``Analytical_Cubism``."""
    return "_".join(str(text).split())


def cmd_lora(args: argparse.Namespace) -> int:
    """Fine-tune LoRA adapters of the text-to-image UNet on the train split's styles;
    write --out/pytorch_lora_weights.safetensors, training_state.pt and lora_run.json."""
    from wikiart_core import config, data
    from wikiart_core.cli_options import progress_wanted, splits_from_args

    from . import captions as captions_module
    from . import pipeline as pipelines
    from . import train

    profile = config.get_profile(args.profile)
    settings = train.LoraSettings.from_profile(
        profile, steps=args.steps, rank=args.rank, batch_size=args.batch_size,
        gradient_accumulation=args.gradient_accumulation, lr=args.lr, checkpoint_every=args.checkpoint_every,
        mixed_precision=args.mixed_precision, seed=args.seed,
        cache_latents=False if args.no_cache_latents else None)
    accelerator = train.make_accelerator(settings, args.device)
    out = Path(args.out)
    pipelines.quiet_libraries()
    paths = None if args.train is not None else config.load_paths(args.paths, args.dataset)
    with accelerator.main_process_first():  # one process builds folders and decode caches, the others reuse them
        source = args.pretrained
        if args.tiny:
            if paths is not None:
                data.ensure_dataset(paths, progress=progress_wanted(args))
            styles = data.list_style_folders(Path(args.train) if args.train is not None else paths.train)
            source = pipelines.build_tiny_pipeline(out / "tiny-pipeline", resolution=args.resolution
                                                   or profile.lora["resolution"], styles=styles, seed=0)
        pipeline = pipelines.load_text_to_image(source, paths=paths)
        resolution = args.resolution or pipelines.pipeline_resolution(pipeline)
        _, splits, dataset = splits_from_args(args)  # file lists and labels; images are decoded at `resolution` later
        captions = captions_module.caption_dataset(
            splits.train, pipeline.tokenizer, resolution, images_per_style=args.images_per_style
            or profile.lora.get("images_per_style"), seed=args.split_seed, with_token=args.rare_tokens)
    cache_dir = args.cache_dir or (paths.cache_dir if paths is not None else None)
    latent_cache = (captions_module.latent_cache_file(cache_dir, pipeline.name_or_path, captions)
                    if cache_dir is not None else None)
    run = train.train_lora(pipeline, captions, settings, out, resume=not args.restart, accelerator=accelerator,
                           latent_cache=latent_cache, progress=progress_wanted(args), keep_adapter=True)
    if args.write_lora_hash:
        files.write_text(out / f"lora_hash.{accelerator.process_index}.txt", train.lora_hash(pipeline.unet) + "\n")
    if accelerator.is_main_process:
        _write_json(out / RUN_FILE_NAME, {**run.to_dict(), "pipeline": str(pipeline.name_or_path),
                                          "resolution": resolution, "profile": profile.name, "dataset": dataset,
                                          "classes": captions.classes, "captions": captions.captions,
                                          "rare_tokens": bool(args.rare_tokens), "n_images": len(captions),
                                          "training_images": captions.record()})
    accelerator.wait_for_everyone()
    accelerator.end_training()  # closes the process group of a multi-process launch
    if run.interrupted:
        print(f"interrupted at step {run.steps}: run the same command again to resume from {out}", file=sys.stderr)
        return 130
    if accelerator.is_main_process:
        memory = (f"peak GPU memory {run.peak_memory_bytes / 2**30:.2f} GiB" if run.peak_memory_bytes is not None
                  else "CPU run")
        print(f"LoRA: {run.trainable_parameters:,} trainable parameters ({100 * run.trainable_share:.3f}% of the "
              f"UNet), {run.lora_bytes / 2**20:.2f} MB file, {run.seconds:.1f} s, {memory}; wrote {out}")
    return 0


def _generation_source(args: argparse.Namespace) -> str | None:
    """--pretrained, else the pipeline recorded beside the LoRA (lora_run.json, e.g. the
    tiny one), else None (data_paths.yaml decides)."""
    if args.pretrained:
        return args.pretrained
    record = Path(args.lora) / RUN_FILE_NAME if args.lora else None
    if record is not None and record.is_file():
        recorded = json.loads(record.read_text(encoding="utf-8")).get("pipeline")
        if recorded and Path(recorded).is_dir():
            return recorded
    return None


def cmd_generate(args: argparse.Namespace) -> int:
    """Paint the styles' prompts from the seeds with and without the LoRA; write the
    images, grid.png and generate.json into --out (and hit rates with --judge)."""
    import torch

    from wikiart_core import config
    from wikiart_core.device import pick_device

    from . import generate, judge
    from . import pipeline as pipelines

    device = pick_device(args.device)
    source = _generation_source(args)
    paths = config.load_paths(args.paths, args.dataset) if source is None else None
    pipeline = pipelines.load_text_to_image(source, paths=paths, device=device,
                                            dtype=torch.float16 if device.type == "cuda" else None)
    styles = [_style_name(style) for style in args.style]
    grid = generate.generate_style_grid(pipeline, styles, args.seeds, args.steps, args.guidance, lora=args.lora,
                                        lora_scale=args.lora_scale, with_token=args.rare_tokens,
                                        batch_size=args.batch_size)
    out = Path(args.out)
    generate.save_grid_pictures(grid, out)
    files.save_figure(generate.style_grid_figure(grid), out / "grid.png")
    summary = {"pipeline": str(pipeline.name_or_path), "lora": None if args.lora is None else str(args.lora),
               "lora_scale": grid.lora_scale, "styles": grid.styles, "prompts": grid.prompts, "seeds": grid.seeds,
               "steps": grid.steps, "guidance": grid.guidance}
    if args.judge is not None:
        from wikiart_core import checkpoint

        classifier, meta = checkpoint.load_checkpoint(args.judge)
        for name, images in (("base", grid.base), ("lora", grid.lora)):
            if images is not None:
                scores = judge.style_hit_rate(classifier, images, grid.styles, meta["classes"], meta["image_size"],
                                              device=device)
                summary[f"judge_{name}"] = scores
                print(f"{name}: style hit rate {scores['hit_rate']:.3f} over {scores['n_images']} images "
                      f"(chance {scores['chance']:.3f})")
    _write_json(out / "generate.json", summary)
    print(f"wrote {len(grid.styles) * len(grid.seeds) * (1 if grid.lora is None else 2)} images and grid.png to {out}")
    return 0


def add_commands(commands, data_options: argparse.ArgumentParser, run_options: argparse.ArgumentParser) -> None:
    """Add ``lora`` and ``generate`` to the sub-command parsers of ``wikiart_core.cli``."""
    lora = commands.add_parser(
        "lora", parents=[data_options, run_options],
        help="fine-tune LoRA adapters of a text-to-image model on the styles (bonus B; also under "
             "`accelerate launch` or `torchrun`)")
    lora.add_argument("--out", type=Path, required=True,
                      help="folder for pytorch_lora_weights.safetensors, training_state.pt, lora_run.json")
    source = lora.add_mutually_exclusive_group()
    source.add_argument("--pretrained", help="pipeline folder or hub id (default: pretrained.stable_diffusion "
                                             "in data_paths.yaml; a hub id is fetched only when online)")
    source.add_argument("--tiny", action="store_true",
                        help="build and use a tiny random pipeline in OUT/tiny-pipeline (plumbing check, not art)")
    lora.add_argument("--steps", type=positive_int, help="optimiser steps (default: the profile's)")
    lora.add_argument("--rank", type=positive_int, help="LoRA rank (default: the profile's)")
    lora.add_argument("--batch-size", type=positive_int, help="images per process per micro-step (default: the profile's)")
    lora.add_argument("--gradient-accumulation", type=positive_int, help="micro-steps per optimiser step")
    lora.add_argument("--lr", type=positive_float, help="AdamW learning rate (default: the profile's)")
    lora.add_argument("--checkpoint-every", type=positive_int, help="save the LoRA every N steps (and at the end)")
    lora.add_argument("--resolution", type=image_side,
                      help="training image side, px (default: the pipeline's own; --tiny: the profile's)")
    lora.add_argument("--images-per-style", type=positive_int, help="cap on training images per style (default: profile's)")
    lora.add_argument("--mixed-precision", choices=("auto", "bf16", "fp16", "no"),
                      help="autocast on CUDA (default auto: bf16 where supported, else fp16; none on the CPU)")
    lora.add_argument("--rare-tokens", action="store_true", help="add a made-up word per style to the captions")
    lora.add_argument("--no-cache-latents", action="store_true", help="encode images with the VAE at every step")
    lora.add_argument("--restart", action="store_true", help="ignore a saved training state in --out")
    lora.add_argument("--write-lora-hash", action="store_true",
                      help="each process writes the SHA-256 of its LoRA to OUT/lora_hash.<rank>.txt (a check that "
                           "data-parallel processes end identical)")
    lora.set_defaults(run=cmd_lora)

    painting = commands.add_parser("generate", parents=[data_options, run_options],
                                   help="paint styles with and without a trained LoRA (bonus B)")
    painting.add_argument("--lora", type=Path, help="LoRA folder from `lora --out` (omit: the base model only)")
    painting.add_argument("--style", nargs="+", default=["Impressionism", "Cubism", "Ukiyo_e"],
                          help="style folder names (Analytical_Cubism or 'Analytical Cubism')")
    painting.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="one image per style and seed")
    painting.add_argument("--out", type=Path, required=True, help="folder for the PNGs, grid.png, generate.json")
    painting.add_argument("--pretrained", help="pipeline folder or hub id (default: the one recorded with the LoRA, "
                                               "else pretrained.stable_diffusion in data_paths.yaml)")
    painting.add_argument("--steps", type=positive_int, default=30, help="denoising steps")
    painting.add_argument("--guidance", type=non_negative_float, default=7.5, help="classifier-free guidance scale")
    painting.add_argument("--lora-scale", type=fraction, default=1.0, help="0 (base model) to 1 (the LoRA as trained)")
    painting.add_argument("--rare-tokens", action="store_true", help="prompts with the styles' made-up words")
    painting.add_argument("--batch-size", type=positive_int, default=8, help="images per pipeline call")
    painting.add_argument("--judge", type=Path, help="a StyleCNN checkpoint: also report the style hit rates")
    painting.set_defaults(run=cmd_generate)


__all__ = ["LoraError", "add_commands", "cmd_generate", "cmd_lora"]
