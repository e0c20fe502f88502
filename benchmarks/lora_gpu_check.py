"""The CUDA path of the Bonus B LoRA recipe: bf16, peak GPU memory, time per step.

    .venv/bin/python benchmarks/lora_gpu_check.py --device cpu --steps 2 --batch-size 2   # CPU: does it run?
    .venv/bin/python benchmarks/lora_gpu_check.py --device cuda --sizes tiny sd15          # GPU: the figures

Two pipelines with random weights, so no download is needed:
  tiny  the tests' pipeline (build_tiny_pipeline, loaded through load_text_to_image) at 32 px;
  sd15  Stable Diffusion 1.5's own UNet, VAE and CLIP text encoder configurations at 512 px
        (860M UNet weights, random): the memory and the time per step of the real recipe
        (random weights cost exactly what trained ones do).
Each runs ``wikiart_core.lora.train.train_lora`` as the notebook and ``python -m wikiart_core lora``
do (frozen weights in bf16 on a GPU that has it, LoRA rank 4 on to_q/to_k/to_v/to_out.0, latents
cached), first a short warm-up run, then the timed one. On CUDA the table is appended to
benchmarks/RESULTS.md (unless --no-record).
"""
from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from wikiart_core.data import WikiArtDataset  # noqa: E402
from wikiart_core.lora import captions, train  # noqa: E402
from wikiart_core.lora import pipeline as pipelines  # noqa: E402

HERE = Path(__file__).resolve().parent
STYLES = ("Analytical_Cubism", "Baroque", "Impressionism", "Pop_Art", "Ukiyo_e")


def image_folder(root: Path, per_style: int = 4, side: int = 96) -> Path:
    """A small ImageFolder of random PNGs (the images' content does not change the cost)."""
    rng = np.random.default_rng(0)
    for style in STYLES:
        (root / style).mkdir(parents=True, exist_ok=True)
        for item in range(per_style):
            pixels = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / style / f"{item}.png")
    return root


def sd15_random_pipeline(folder: Path, device: torch.device):
    """Stable Diffusion 1.5's architecture with random weights, built on ``device``."""
    from diffusers import AutoencoderKL, DDPMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    tiny = pipelines.build_tiny_pipeline(folder / "tiny", styles=STYLES)  # only for its tokenizer files
    tokenizer = CLIPTokenizer.from_pretrained(tiny, subfolder="tokenizer")
    with torch.device(device):  # initialise the weights where they will live (fast on a GPU)
        unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
        vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), latent_channels=4, sample_size=512,
                            down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                            layers_per_block=2)
        text_encoder = CLIPTextModel(CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                                    num_hidden_layers=12, num_attention_heads=12,
                                                    max_position_embeddings=77, projection_dim=768))
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="scaled_linear", beta_start=0.00085,
                              beta_end=0.012, steps_offset=1, clip_sample=False)
    return StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)


def measure(size: str, args, work: Path, device: torch.device) -> dict:
    if size == "tiny":
        pipeline = pipelines.load_text_to_image(pipelines.build_tiny_pipeline(work / "tiny", styles=STYLES))
    else:
        pipelines.quiet_libraries()
        pipeline = sd15_random_pipeline(work / "sd15", device)
    resolution = pipelines.pipeline_resolution(pipeline)
    train_split = WikiArtDataset(image_folder(work / "images"), image_size=16, progress=False)
    captioned = captions.caption_dataset(train_split, pipeline.tokenizer, resolution)
    settings = dict(rank=4, batch_size=args.batch_size, gradient_accumulation=1, lr=1e-4, checkpoint_every=10**6,
                    mixed_precision=args.mixed_precision)
    quiet = lambda _line: None  # noqa: E731
    # Warm-up: kernels, allocator, the latent encoding (kept in memory for the timed run's settings too).
    train.train_lora(pipeline, captioned, train.LoraSettings(steps=2, **settings), work / f"{size}_warmup",
                     resume=False, device=args.device, progress=False, log=quiet)
    if device.type == "cuda":
        torch.cuda.synchronize()
    run = train.train_lora(pipeline, captioned, train.LoraSettings(steps=args.steps, **settings), work / size,
                           resume=False, device=args.device, progress=False, log=quiet)
    return {"pipeline": size, "resolution": resolution, "batch": args.batch_size, "steps": run.steps,
            "seconds_per_step": run.seconds / max(1, run.steps),
            "images_per_second": run.steps * args.batch_size / max(run.seconds, 1e-9),
            "peak_gib": None if run.peak_memory_bytes is None else run.peak_memory_bytes / 2**30,
            "precision": run.mixed_precision, "lora_parameters": run.trainable_parameters,
            "share": run.trainable_share, "lora_mb": run.lora_bytes / 1e6, "device": run.device}


def table(rows: list[dict]) -> str:
    lines = ["| pipeline | px | batch | precision | s/step | images/s | peak GPU GiB | LoRA params (share) | file MB |",
             "|---|---:|---:|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        peak = "CPU run" if row["peak_gib"] is None else f"{row['peak_gib']:.2f}"
        lines.append(f"| {row['pipeline']} | {row['resolution']} | {row['batch']} | {row['precision']} | "
                     f"{row['seconds_per_step']:.3f} | {row['images_per_second']:.1f} | {peak} | "
                     f"{row['lora_parameters']:,} ({100 * row['share']:.3f}%) | {row['lora_mb']:.2f} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (the check) or cpu (does the script run?)")
    parser.add_argument("--sizes", nargs="+", choices=("tiny", "sd15"), default=["tiny"])
    parser.add_argument("--batch-size", type=int, default=8, help="images per step (the full profile's: 8)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps, after 2 warm-up steps")
    parser.add_argument("--mixed-precision", default="auto", choices=("auto", "bf16", "fp16", "no"))
    parser.add_argument("--no-record", action="store_true", help="do not append to benchmarks/RESULTS.md")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU here: run with --device cpu for a check that the script works", file=sys.stderr)
        return 1
    rows = []
    with tempfile.TemporaryDirectory(prefix="lora_gpu_check_") as scratch:
        for size in args.sizes:
            started = time.perf_counter()
            rows.append(measure(size, args, Path(scratch), device))
            print(f"{size}: done in {time.perf_counter() - started:.0f} s", flush=True)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "CPU"
    heading = (f"### LoRA CUDA path (lora_gpu_check), {time.strftime('%Y-%m-%d %H:%M')} on {name}, "
               f"torch {torch.__version__}")
    text = (f"{heading}\n\nRandom-weight pipelines (no download), LoRA rank 4 on to_q/to_k/to_v/to_out.0, latents "
            f"cached, {args.steps} timed steps after 2 warm-up steps.\n\n{table(rows)}\n")
    print(text)
    if device.type == "cuda" and not args.no_record:
        with open(HERE / "RESULTS.md", "a", encoding="utf-8") as results:
            results.write("\n\n" + text)
        print(f"appended to {HERE / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
