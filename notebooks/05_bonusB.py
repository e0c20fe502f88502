# %% [markdown]
# # Bonus B: LoRA fine-tuning of a text-to-image model on the art styles
#
# A pre-trained text-to-image diffusion model (Stable Diffusion v1.5) takes a prompt such
# as "a painting in the style of Cubism". Can a small add-on, trained on the WikiArt
# styles, make it paint *these* styles more recognisably? In this notebook I run the
# diffusers text-to-image LoRA recipe, which I built into `wikiart_core.lora`, and judge
# the result with an independent classifier:
#
# 1. **captions** from the style folders ("a painting in the style of Analytical Cubism");
# 2. **LoRA** (low-rank adapters, of the rank the profile sets) on the UNet's attention
#    projections, everything else frozen, trained on the noise-prediction loss with
#    class-balanced draws;
# 3. **paintings** with and without the LoRA, from the same prompts and the same seeds;
# 4. the **judge**: the StyleCNN of notebook 01, which never saw the LoRA's loss, says
#    how often a painting shows the style its prompt asked for.
#
# **Which data?** By default the workbook runs on `synthart`, an embedded procedural
# stand-in with WikiArt's style folders and its class imbalance; it is *not* WikiArt.
# On the GPU server, `dataset: wikiart` in `data_paths.yaml` runs it on WikiArt: every
# sentence with a number below is rendered from the run's own results.

# %% [markdown]
# ## Parameters
# `PROFILE` sets the size of everything (`config.PROFILES`; this notebook reads
# `profile.lora`). The environment variable `WIKIART_PROFILE` overrides the default,
# which is how `make test` and `make report` choose. With `RESUME = True` (the default) a
# re-run continues an interrupted training run from its last save in
# `outputs/<dataset>/<profile>/05_bonusB/lora` (a finished one is reused as it is);
# `RESUME = False` starts afresh.

# %% tags=["parameters", "show-code"]
import os

PROFILE = os.environ.get("WIKIART_PROFILE", "demo")
DATASET = os.environ.get("WIKIART_DATASET")  # None: the `dataset:` line of data_paths.yaml
SEED = 0
DEVICE = "auto"
RESUME = True

# %%
import time

import torch

from wikiart_core import config, data, parts, results
from wikiart_core.device import pick_device
from wikiart_core.lora import captions, generate, train
from wikiart_core.lora import pipeline as pipelines
from wikiart_core.parts import bonus_b, part2_autoencoder

NOTEBOOK = bonus_b.NOTEBOOK
started = time.perf_counter()
book = parts.setup(PROFILE, DATASET, NOTEBOOK, section="lora")
profile, paths, splits, outputs, settings = book.profile, book.paths, book.splits, book.outputs, book.settings
classes = splits.classes
device = pick_device(DEVICE)
choice = bonus_b.choose_pipeline(paths, outputs, classes, resolution=settings["resolution"], seed=SEED,
                                 profile=profile)
if choice.tiny and device.type == "cpu":
    torch.set_num_threads(1)  # matrices of a few dozen numbers: a second CPU thread costs more than it gives
pipeline = pipelines.load_text_to_image(choice.source, device=device)
resolution = pipelines.pipeline_resolution(pipeline)
print(f"device {device.type}; pipeline: {'tiny random (built here)' if choice.tiny else 'pre-trained'}, "
      f"{resolution} px")

# %%
results.show(bonus_b.pipeline_note(choice, paths))

# %% [markdown]
# ## The recipe
#
# - **Frozen**: the UNet, the VAE and the CLIP text encoder get no gradient and no update.
# - **LoRA**: beside each attention projection $W$ (`to_q`, `to_k`, `to_v`, `to_out.0`)
#   sits a product $BA$ of rank $r$; the layer computes $Wx + (\alpha / r)\,BAx$. $A$
#   starts random and $B$ at zero, so training starts from exactly the base model.
#   Only $A$ and $B$ train, saved as a safetensors file of their own; what share of the
#   UNet they are is measured below.
# - **Loss**: a training image's latent (from the frozen VAE, computed once and cached),
#   noised at a random timestep with the pipeline's own noise schedule; the UNet,
#   conditioned on the caption of the image's style, predicts the noise; the loss is
#   the mean squared error of that prediction.
# - **Balanced draws**: each image of a batch is a style drawn uniformly, then one of its
#   images, so a style's share of the draws does not follow its image count (the counts
#   are set out after the captions).
# - **Captions** come from the folder names, in the train split's label order:

# %%
weights = {name: sum(p.numel() for p in getattr(pipeline, name).parameters())
           for name in ("unet", "vae", "text_encoder")}
print("weights: " + ", ".join(f"{name} {count:,}" for name, count in weights.items()))
captioned = captions.caption_dataset(splits.train, pipeline.tokenizer, resolution,
                                     images_per_style=settings["images_per_style"], seed=SEED)
print(f"{len(captioned)} training images at {resolution} px from the train split "
      f"(at most {settings['images_per_style'] or 'all'} per style), {len(captioned.classes)} styles")

# %%
# NBVAL_CHECK_OUTPUT
for style in ("Analytical_Cubism", "Naive_Art_Primitivism", "Ukiyo_e"):
    print(f"{style:<22} -> {captions.style_caption(style)!r}")
print(f"LoRA on: {', '.join(train.TARGET_MODULES)}")

# %%
results.show(bonus_b.balanced_draws_words(data.folder_counts(paths.train, classes), captioned.class_counts(),
                                          results.which_data(paths), settings["images_per_style"]))

# %% [markdown]
# ## Training
# Written with `accelerate`: on a GPU the frozen weights are cast to bf16 (fp16 where
# bf16 is missing) and the adapters train in float32; several GPUs run the same code
# data-parallel (`accelerate launch -m wikiart_core lora ...`). The LoRA is saved every
# `checkpoint_every` steps and at the end; an interrupt saves the last finished step.

# %% tags=["show-code"]
lora_settings = train.LoraSettings.from_profile(profile, seed=SEED)
latent_cache = captions.latent_cache_file(paths.cache_dir, choice.source, captioned)
run = train.train_lora(pipeline, captioned, lora_settings, outputs / "lora", resume=RESUME, device=DEVICE,
                       latent_cache=latent_cache)

# %%
generate.loss_figure(run.losses, title=f"LoRA training loss ({run.steps} steps of {run.effective_batch} images)")

# %% [markdown]
# ## Before and after
# The same prompts from the same seeds (the same starting noise), painted by the base
# model (left) and with the LoRA (right). Every style is painted for the judge below;
# a few are shown here.

# %% tags=["key-figure"]
seeds = list(range(settings["generation_seeds"]))
grid = generate.generate_style_grid(pipeline, classes, seeds, settings["inference_steps"], settings["guidance"],
                                    lora=run.out_dir)
shown = bonus_b.showcase_styles(classes, 6)
generate.style_grid_figure(bonus_b.grid_rows(grid, shown),
                           title=f"{settings['inference_steps']} denoising steps, guidance {settings['guidance']:g}")

# %%
results.show(f"The LoRA's strength is a dial: `lora_scale` multiplies its contribution at painting time, from "
             f"{bonus_b.STRIP_SCALES[0]:g} (the base model) to {bonus_b.STRIP_SCALES[-1]:g} (the LoRA as trained). "
             f"One prompt, one seed, at the scales {', '.join(f'{scale:g}' for scale in bonus_b.STRIP_SCALES)}:")

# %%
strip = generate.lora_scale_strip(pipeline, shown[0], seeds[0], bonus_b.STRIP_SCALES, settings["inference_steps"],
                                  settings["guidance"], run.out_dir)
generate.scale_strip_figure(strip, bonus_b.STRIP_SCALES, shown[0])

# %% [markdown]
# ## The judge
# The StyleCNN that notebook 01 chose on validation and saved for this dataset and
# profile (run notebook 01 first; it is never retrained here) classifies every painting,
# resized to the size it was trained at. A **hit** is a painting judged as the style its
# prompt named. Every style is prompted equally often, so a judge that ignores the image
# hits one time in the number of styles: that is chance, and balanced accuracy is the
# judge's score that carries over. I measure that score first, with intervals, on the
# test images (the dataset's own paintings) beside the baselines: a judge that cannot
# tell the styles apart there says nothing about generated ones. The test split only
# measures; it chooses nothing.

# %%
style_cnn, style_cnn_source = part2_autoencoder.load_style_cnn(splits, profile, paths)
judge_test = bonus_b.judge_test_scores(style_cnn, splits, device=DEVICE, seed=SEED)
verdict = bonus_b.judge_grid(style_cnn, grid, classes, splits.image_size, device=device, seed=SEED)
print(f"judge: StyleCNN {style_cnn_source}")
print(f"{'test images':<40}{'accuracy':>10}{'balanced':>10}   (95% intervals of the judge)")
print(f"{'judge (StyleCNN)':<40}{judge_test['accuracy']:>10.3f}{judge_test['balanced_accuracy']:>10.3f}   ["
      + ", ".join(f"{judge_test['intervals'][m]['low']:.3f}-{judge_test['intervals'][m]['high']:.3f}"
                  for m in ("accuracy", "balanced_accuracy")) + "]")
for name, row in judge_test["baselines"].items():
    label = f"always {row['style']}" if "style" in row else name.replace("_", " ")
    print(f"{'baseline: ' + label:<40}{row['accuracy']:>10.3f}{row['balanced_accuracy']:>10.3f}")
print(f"\n{'paintings':<14}{'hit rate':>9}  95% interval  ({verdict['lora']['n_images']} paintings each, "
      f"chance {verdict['lora']['chance']:.3f})")
for name in ("base", "lora"):
    interval = verdict["intervals"][name]
    print(f"{'base model' if name == 'base' else 'with LoRA':<14}{verdict[name]['hit_rate']:>9.3f}  "
          f"{interval['low']:.3f}-{interval['high']:.3f}")
print("shown styles, base -> LoRA: " + ", ".join(
    f"{style} {verdict['base']['per_style'][style]:.2f} -> {verdict['lora']['per_style'][style]:.2f}"
    for style in shown))

# %% [markdown]
# ## What it did
# Rendered from this run's results (`outputs/<dataset>/<profile>/05_bonusB/results.json`):

# %%
pct = results.pct
loss = bonus_b.loss_summary(run.losses)
base_hits, lora_hits = verdict["base"]["hit_rate"], verdict["lora"]["hit_rate"]
values = {"pipeline": "tiny random (plumbing check)" if choice.tiny else choice.source, "tiny_pipeline": choice.tiny,
          "resolution": resolution, "n_train_images": len(captioned), "lora": run.to_dict(),
          "trainable_share": run.trainable_share, "lora_megabytes": run.lora_bytes / 1e6,
          "training_seconds": run.seconds, "peak_gpu_memory_bytes": run.peak_memory_bytes,
          "hit_rate": {"base": base_hits, "lora": lora_hits, "chance": verdict["lora"]["chance"],
                       "n_images": verdict["lora"]["n_images"], "comparison": verdict["comparison"],
                       "intervals": verdict["intervals"], "same_style": verdict["same_style"],
                       "distinct_styles": verdict["distinct_styles"],
                       "per_style_base": verdict["base"]["per_style"], "per_style_lora": verdict["lora"]["per_style"]},
          "judge": {"source": style_cnn_source, "test_accuracy": judge_test["accuracy"],
                    "test_balanced_accuracy": judge_test["balanced_accuracy"],
                    "test_intervals": judge_test["intervals"], "test_baselines": judge_test["baselines"],
                    "vs_colour_statistics": judge_test["vs_colour_statistics"],
                    "informative": bonus_b.judge_is_informative(judge_test)},
          "generation": {"seeds": seeds, "inference_steps": settings["inference_steps"],
                         "guidance": settings["guidance"], "styles_shown": shown}}
headline = (f"style hit rate under the StyleCNN judge {pct(lora_hits)} with the LoRA vs {pct(base_hits)} for the "
            f"base model (chance {pct(verdict['lora']['chance'])}): {verdict['words']}; "
            f"LoRA {pct(run.trainable_share, 2)} of the UNet, "
            f"{run.lora_bytes / 1e6:.2f} MB" + ("; tiny random pipeline: a plumbing check, not art" if choice.tiny
                                                 else ""))
results.save(NOTEBOOK, paths, profile, values, headline=headline)
text = f"""
Measured on {results.which_data(paths)}, profile `{profile.name}`, seed {SEED}, with
{"**the tiny random pipeline: these numbers check the plumbing and say nothing about art**" if choice.tiny
 else f"the pre-trained pipeline in `{results.shown_path(choice.source, paths)}`"}.
{"**In the `smoke` profile the training is a few steps long.**" if profile.name == "smoke" else ""}

- **What trained.** {run.trainable_parameters:,} LoRA parameters (rank {lora_settings.rank}),
  {pct(run.trainable_share, 2)} of the UNet's {run.unet_parameters:,}; every other weight stayed frozen. The LoRA
  file is {run.lora_bytes / 1e6:.2f} MB.
- **Cost.** {run.steps} steps of {run.effective_batch} images ({run.processes} process(es), mixed precision
  `{run.mixed_precision}`) in {run.seconds:.1f} s; {bonus_b.memory_words(run.peak_memory_bytes)}.
- **Loss.** The noise-prediction MSE went from {loss['first']:.3f} (first step) to {loss['last_mean']:.3f} (mean
  of the last {loss['last_steps']} step{"s" if loss['last_steps'] > 1 else ""}); it is noisy by nature (each step
  sees other timesteps).
- **The judge**, {style_cnn_source}. {bonus_b.judge_words(judge_test)}
- **Judged.** {verdict['lora']['n_images']} paintings per model ({len(classes)} styles x {len(seeds)}
  seed{"s" if len(seeds) > 1 else ""}):
  {bonus_b.hit_rates_words(verdict)}
"""
results.show(text)

# %% [markdown]
# ## The recipe on the GPU server
# What to run for the report, rendered from the `full` profile and the package's own
# constants:

# %%
results.show(bonus_b.server_recipe(config.get_profile("full"), paths))

# %% tags=["remove-cell"]
print(f"whole notebook {time.perf_counter() - started:.0f} s")
