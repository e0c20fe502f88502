# %% [markdown]
# # Part 3: a crude art generator, told which style to paint in, and judged
#
# The assignment: condition the autoencoder on a trained style embedding, feed it an
# image together with a style that is *not* its own, and see what comes out. I build the
# crude version the assignment asks for, make the style input matter, and then ask whether
# it does more than a tint, with numbers from a judge that had no part in training it, and
# measure how much the picture changes when only the target style changes.
#
# The published anchor is **conditional instance normalisation** (Dumoulin, Shlens and
# Kudlur, 2017): one network, shared convolutions, and a per-style scale and shift in
# every normalisation layer of the decoder (one network for many styles).
#
# **Which data?** By default the workbook runs on `synthart`, an embedded procedural
# stand-in with WikiArt's style folders and class imbalance. It is *not* WikiArt:
# its "styles" are palettes, textures and stroke grammars, so numbers here say how the
# method behaves, not how well it paints Cubism. On the GPU server, set
# `dataset: wikiart` in `data_paths.yaml` and re-run: the text below is rendered from
# the run's results.

# %% [markdown]
# ## Parameters
# `PROFILE` sets the sizes (`config.PROFILES`, `profile.generator`). `STYLE_WEIGHT`
# (None: the profile's) trades reconstruction against style; `CONTENT_WEIGHT` adds a
# loss on the loss network's deeper features (off by default).

# %% tags=["parameters", "show-code"]
import os

PROFILE = os.environ.get("WIKIART_PROFILE", "demo")
DATASET = os.environ.get("WIKIART_DATASET")  # None: the `dataset:` line of data_paths.yaml
SEED = 0
DEVICE = "auto"
STYLE_WEIGHT = None
CONTENT_WEIGHT = 0.0

# %%
import time

import numpy as np
import torch
from IPython.display import display

from wikiart_core import parts, plots, results, style, widgets
from wikiart_core.parts import part3_generator

NOTEBOOK = "04_part3"
started = time.perf_counter()
book = parts.setup(PROFILE, DATASET, NOTEBOOK, section="generator")
profile, paths, splits, outputs, settings = book.profile, book.paths, book.splits, book.outputs, book.settings
train_set, validation_set, test_set = splits

# %% [markdown]
# ## What is built, and why
#
# - **Generator** (`models.StyleConditionedAutoencoder`): a content encoder (strided
#   convolutions, batch norm) whose code keeps a spatial grid, and a decoder that is told
#   the style through a trained `nn.Embedding`, one vector per style. Two ways to use it:
#   - **`cin`**: every decoder normalisation layer is an instance norm whose per-channel
#     scale and shift are a linear function of the style vector. Instance norm wipes the
#     content image's own contrast and colours at every layer, and the style puts its own
#     back: the style reaches every layer, not just the first.
#   - **`concat`**: the vector is broadcast and concatenated to the content code once,
#     the simpler way; kept for comparison.
# - **Losses.** Reconstruct the image under its *own* style (mean squared error), and
#   paint it in a *random other* style whose **statistics** must match that style's: the
#   per-channel means and standard deviations of a frozen StyleCNN's features after its
#   stem and first blocks, averaged over the style's training images (Huang and Belongie,
#   2017, use these statistics with VGG features; there are no ImageNet weights offline,
#   so the feature network is a StyleCNN trained here, the **loss network**).
# - **Training** is a task of the workbook's one engine (`style.StyleTransfer`): the
#   validation objective (the same losses on fixed mismatched pairs of the validation
#   split) chooses `best.pt`; interrupts go back to the last finished epoch.

# %%
results.show(f"""
**How I judge it.** The *style hit rate* is the share of outputs that a classifier
assigns to the target style (chance is 1 in {len(splits.classes)}). That classifier, the **judge**, is
another StyleCNN, of another width and seed, that the generator never saw: scoring with
the loss network would reward the generator for fooling its own critic
(`style.check_independent_judge` refuses it). Three baselines must be beaten: the
**plain autoencoder** of Part 2 (ignores the style), **colour transfer** (Reinhard et
al. 2001: each image's mean and standard deviation in the decorrelated lαβ colour space
matched to the target style's, a tint), and the **concat** generator. **Content kept** is
measured on blurred luminance (structure, not colour): SSIM and PSNR to the input, and the
distance between content codes; the floor is an *unrelated* image of the target style.
**The style input must change the picture**: for the same image, the outputs in different
target styles must differ from each other (mean absolute pixel difference) more than colour
transfer's tints of it do.
""")

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
print("methods judged:", ", ".join(part3_generator.METHODS))
print("style statistics from loss-network layers", style.DEFAULT_STYLE_LAYERS, "(0 = stem)")

# %% [markdown]
# ## Training
# The loss network and the judge are trained first through the runner (each scored once
# on test, so the table can say how good a judge the judge is); then the `cin` and
# `concat` generators, one line per epoch; then the plain autoencoder.

# %% tags=["show-code"]
run = part3_generator.run_all(splits, profile, seed=SEED, device=DEVICE, style_weight=STYLE_WEIGHT,
                              content_weight=CONTENT_WEIGHT, checkpoint_dir=outputs / "runs", log=print)
part3_generator.save_generators(run, splits, profile, outputs, dataset=paths.dataset, seed=SEED)
print("seconds per stage (total):", ", ".join(f"{name} {value:.0f}" for name, value in run.seconds.items()))

# %%
plots.generator_curves(run.histories)

# %% [markdown]
# ## What it paints
# Each content image (rows, from contrasting styles) reconstructed under its own style,
# then painted in fixed, contrasting target styles (columns) by the `cin` generator, and, in the
# row below it, recoloured towards the same targets by colour transfer.

# %% tags=["key-figure"]
grid = part3_generator.example_grid_images(run, test_set)
plots.style_grid(grid, splits.classes)

# %% [markdown]
# ## How much the target style changes the picture
# One content image painted in different target styles should give different pictures.
# For every test image and every pair of the grid's target styles, I measure the mean
# absolute difference between the two outputs: on RGB values in [0, 1], on blurred
# luminance (layout and shading, no colour) and on fine detail (brightness minus its blur:
# the texture a blur removes); and each target-style output against the same image's
# own-style output. Colour transfer's tints of the same images in the same styles are the
# yardstick, and two different test images give the scale. Means with
# 95% bootstrap intervals over the test images.

# %%
spread_methods = part3_generator.spread_painters(run, device=DEVICE)
spread = part3_generator.summarise_spread(part3_generator.style_spread(
    spread_methods, test_set, range(len(test_set)), grid["target_styles"], device=DEVICE), seed=SEED)
# The same on the grid's own rows (the pictures above).
grid_spread = (part3_generator.summarise_spread(part3_generator.style_spread(
    spread_methods, test_set, grid["indices"], grid["target_styles"], device=DEVICE), seed=SEED)
    if len(grid["indices"]) >= 2 else None)
results.show(part3_generator.spread_table(spread))

# %% [markdown]
# Moving the style vector from one style's embedding to another's, for one content image:

# %%
first, last = grid["target_styles"][0], grid["target_styles"][-1]
strip = part3_generator.interpolation_strip(run.generators["cin"].cpu(), torch.as_tensor(grid["originals"][0]),
                                            first, last, steps=7)
plots.image_strip(strip, [f"{w:.2f}" for w in np.linspace(0, 1, 7)],
                  title=f"{splits.classes[first]} → {splits.classes[last]} (mixing weight)")

# %% [markdown]
# A real photograph nobody here drew (matplotlib's bundled portrait of Grace Hopper),
# painted in the grid's target styles: the model on a picture from outside its training data.

# %%
from matplotlib import cbook

photo = part3_generator.load_picture(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False), splits.image_size)
painted_photo = [part3_generator.paint_image(run.generators["cin"], photo, target).numpy()
                 for target in grid["target_styles"]]
plots.image_strip([photo.numpy(), *painted_photo],
                  ["photo", *[splits.classes[t].replace("_", " ") for t in grid["target_styles"]]])

# %% [markdown]
# ## Judged
# Every test image, painted in a random other style (the same pairs for every method),
# scored by the independent judge. Means with 95% bootstrap intervals over the test images.

# %%
summary = run.summary
results.show(part3_generator.results_table(summary))

# %%
pct = results.pct
hit, cin_vs, floor_gap = summary["hit_rate"], summary["cin_vs"], summary["content_vs_floor"]["cin"]
judge_test, chance = run.judge.test, summary["chance"]
cin_hit = hit["cin"]
# Structure of the photograph kept, on the same blurred luminance as the table.
photo_ssim = float(style.content_scores(torch.as_tensor(np.stack(painted_photo)),
                                        photo[None].expand(len(painted_photo), -1, -1, -1))["ssim"].mean())
# How far apart the photograph's versions in the target styles are (RGB, as in the table).
photo_between = float(part3_generator.output_distances(
    torch.as_tensor(np.stack(painted_photo))[None])["between_targets"]["rgb"][0])
judged = part3_generator.verdict(summary, judge_test["accuracy"], photo_ssim, spread=spread)
cin_spread, colour_spread = spread["methods"]["cin"], spread["methods"]["colour transfer"]
values = {"hit_rate": hit, "matched_hit_rate": summary["matched_hit_rate"], "content": summary["content"],
          "content_vs_floor": summary["content_vs_floor"], "cin_vs": cin_vs, "chance": chance,
          "judge": {"spec": run.judge.spec.to_dict(), "test": judge_test},
          "loss_network": {"spec": run.loss_net_result.spec.to_dict(), "test": run.loss_net_result.test},
          "generator": {**run.generators["cin"].init_args, "epochs": len(run.histories["cin"].records),
                        "style_weight": STYLE_WEIGHT or settings["style_weight"], "content_weight": CONTENT_WEIGHT},
          "n_test": summary["n_images"], "seconds": run.seconds,
          "style_spread": spread, "style_spread_grid": grid_spread,
          "photo": {"ssim": photo_ssim, "between_targets_rgb": photo_between, "n_styles": len(painted_photo)},
          "criteria": judged.criteria}
headline = (f"cin generator: mismatched style hit rate {pct(cin_hit['mean'])} (95% interval {pct(cin_hit['low'])} to "
            f"{pct(cin_hit['high'])}) by an independent judge, vs colour transfer "
            f"{pct(hit['colour transfer']['mean'])}, plain autoencoder {pct(hit['plain autoencoder']['mean'])}, "
            f"chance {pct(chance)}; two target styles' outputs of one image differ by "
            f"{cin_spread['between_targets']['rgb']['mean']:.3f} (colour transfer "
            f"{colour_spread['between_targets']['rgb']['mean']:.3f}, mean absolute RGB difference)")
results.save(NOTEBOOK, paths, profile, values, headline=headline)


def compared_with(name: str) -> str:
    result = cin_vs[name]
    words = {"better": "above", "worse": "below",
             "no clear difference": "not clearly different from"}[result["verdict"]]
    return (f"{words} {name} ({pct(hit[name]['mean'])}; difference {100 * result['difference']:+.1f} points, "
            f"95% interval {100 * result['low']:+.1f} to {100 * result['high']:+.1f})")


own_style_hit = summary["matched_hit_rate"]["cin"]
own_style_note = (": the generator paints each style's typical look, which is easier to recognise than a real "
                  "member of the style" if judged.own_style_easier else "")
smoke_warning = ("**In the `smoke` profile these numbers mean nothing** (a few images per style, one epoch)."
                 if profile.name == "smoke" else "")
verdict_text = part3_generator.verdict_words(judged)
spread_difference = spread["cin_minus_colour_transfer"]["rgb"]
spread_than = ("more than" if spread_difference["low"] > 0 else "less than" if spread_difference["high"] < 0
               else "not clearly more than")
results.show(f"""
Measured on {results.which_data(paths)}, profile `{profile.name}`, {summary['n_images']} test images at
{splits.image_size} px, seed {SEED}.
{smoke_warning}

- **The judge** (a StyleCNN of width {run.judge.spec.model_args['width']}, seed {run.judge.spec.seed}; the loss
  network has width {run.loss_net_result.spec.model_args['width']}, seed {run.loss_net_result.spec.seed}) reaches
  {pct(judge_test['accuracy'])} accuracy and {pct(judge_test['balanced_accuracy'])} balanced accuracy on the
  unchanged test images: hit rates are bounded by how well it recognises real members of a style.
  It shares the loss network's architecture and training images (not its seed, width or weights), so
  blind spots they share cannot be ruled out; the baselines are scored by the same judge, so such a
  bias would not favour one method over another by itself.
- **Own style.** Painted under their own style, `cin` outputs are assigned to it
  {pct(own_style_hit['mean'])} of the time, {results.compare_words(own_style_hit['low'], judge_test['accuracy'])}
  the judge's accuracy on the real images{own_style_note}.
- **Mismatched style hit rate of `cin`: {pct(cin_hit['mean'])}** (95% interval {pct(cin_hit['low'])} to
  {pct(cin_hit['high'])}), {"above" if judged.above_chance else "not clearly above"} chance ({pct(chance)}); it is
  {compared_with('plain autoencoder')}; {compared_with('colour transfer')}; and {compared_with('concat')}.
- **The style input.** Two target styles' `cin` outputs of one test image differ by
  {cin_spread['between_targets']['rgb']['mean']:.3f} on average (mean absolute RGB difference), {spread_than}
  colour transfer's tints ({colour_spread['between_targets']['rgb']['mean']:.3f}; difference
  {spread_difference['mean']:+.3f}, 95% interval {spread_difference['low']:+.3f} to {spread_difference['high']:+.3f}).
- **Content.** On blurred luminance, `cin` outputs keep SSIM {summary['content']['cin']['ssim']['mean']:.3f} to
  their input, against {summary['content']['unrelated image']['ssim']['mean']:.3f} for an unrelated image of the
  target style (difference {floor_gap['ssim']['mean']:+.3f}, 95% interval {floor_gap['ssim']['low']:+.3f} to
  {floor_gap['ssim']['high']:+.3f}): content is {"kept" if judged.keeps_content else "**not** measurably kept"}
  beyond the floor. Colour transfer keeps SSIM {summary['content']['colour transfer']['ssim']['mean']:.3f}
  (it changes only colours, so it keeps structure by construction) and the plain autoencoder
  {summary['content']['plain autoencoder']['ssim']['mean']:.3f} (it does not change the style at all).

**Verdict:** {verdict_text}
""")

# %% [markdown]
# ## What the pictures show, in numbers
# Each sentence states the measurement it rests on (the tables above).

# %%
lines = part3_generator.impression_lines(
    summary, spread, judged, grid_spread=grid_spread,
    photo={"ssim": photo_ssim, "between_targets": photo_between, "n_styles": len(painted_photo)})
results.show("\n".join(lines))

# %% [markdown]
# ## Paint
# Pick a content image (or upload any picture), a style, and optionally a second style
# with a mixing weight; the generator repaints at once. Run top to bottom without a
# person, the cell paints the first test image in the first target style once. The same
# from the command line: `python -m wikiart_core paint --checkpoint
# outputs/<dataset>/<profile>/04_part3/generator.pt --image photo.jpg --style Cubism --out cubist.png`.

# %% tags=["remove-cell"]
painter = widgets.style_painter(run.generators["cin"].cpu(), test_set, start_style=grid["target_styles"][0])
display(painter.widget)

# %%
widgets.static_copy(painter)

# %% tags=["remove-cell"]
print(f"whole notebook {time.perf_counter() - started:.0f} s")
