# %% [markdown]
# # Part 2: an autoencoder, its reconstructions, and do art styles cluster?
#
# A convolutional autoencoder squeezes each painting through a small spatial latent and
# paints it back. This notebook measures how well it does that (against a baseline that
# learns nothing), then takes the latents, clusters them with scikit-learn and asks the
# question of the assignment: **do art styles cluster?** The answer is given in numbers,
# between a floor (raw downscaled pixels) and a supervised ceiling (the embeddings of a
# style classifier), and in pictures that name every style.
#
# **Which data?** By default the workbook runs on `synthart`, an embedded procedural
# stand-in with WikiArt's 27 style folders and WikiArt's class imbalance. It is *not*
# WikiArt: numbers measured on it say how the code behaves, not how well anything
# recognises real paintings. On the GPU server, set `dataset: wikiart` in
# `data_paths.yaml` and re-run: the text below is rendered from the run's results.

# %% [markdown]
# ## Parameters
# `PROFILE` sets the size of everything (`config.PROFILES`; this notebook reads
# `profile.autoencoder`). The environment variable `WIKIART_PROFILE` overrides the
# default, which is how `make test` and `make report` choose.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("WIKIART_PROFILE", "demo")
DATASET = os.environ.get("WIKIART_DATASET")  # None: the `dataset:` line of data_paths.yaml
SEED = 0
DEVICE = "auto"
SSIM_WEIGHT = 0.0  # 0: plain MSE, the loss PSNR measures; try 0.2 for crisper edges
PIXEL_SIDE = 16    # the floor: images shrunk to 16 x 16 x 3 = 768 numbers

# %%
import time

import numpy as np
import torch
from IPython.display import display

from wikiart_core import evaluate, experiment, parts, plots, results, widgets
from wikiart_core.parts import part2_autoencoder

NOTEBOOK = "03_part2_autoencoder"
started = time.perf_counter()
book = parts.setup(PROFILE, DATASET, NOTEBOOK, section="autoencoder")
profile, paths, splits, outputs, settings = book.profile, book.paths, book.splits, book.outputs, book.settings
train_set, validation_set, test_set = splits

# %% [markdown]
# ## The design, and why
#
# - **Encoder**: `depth` stages, each a strided 3x3 convolution (halves the side) and a
#   second 3x3 convolution, both with batch norm and ReLU; channels double per stage; a
#   1x1 convolution maps to `latent_channels`. The latent keeps a small *spatial* grid
#   (e.g. 16 x 16 x 3 for 64 px images) instead of one flat vector: paintings are
#   textures and layouts, and a grid keeps "where" for free.
# - **Decoder**: the mirror image, but each stage *upsamples then convolves*
#   (bilinear x2, then 3x3). Transposed convolutions with stride 2 overlap unevenly and
#   paint checkerboards; resize-then-convolve cannot. A sigmoid ends on [0, 1] images.
# - **No input standardisation**: the target is the input itself, in [0, 1].
# - **Loss**: mean squared error, which is exactly what PSNR measures
#   (PSNR = 10 log10(1 / MSE) dB for images in [0, 1]); `SSIM_WEIGHT` mixes in
#   1 - SSIM (Wang et al. 2004) for those who prefer structure to pixel error.
# - **Compression ratio**: input numbers per latent number. The **baseline** gets the
#   same budget: resize each image down to as many numbers as the latent has (bilinear
#   with antialiasing, i.e. averaging) and back up (bilinear). It learns nothing, so the
#   autoencoder earns its keep only by beating it at the same ratio.

# %%
spec = part2_autoencoder.autoencoder_spec(profile, seed=SEED, device=DEVICE, ssim_weight=SSIM_WEIGHT)
autoencoder = experiment.build_model(spec, splits)
baseline_model = evaluate.ResizeBaseline(splits.image_size, autoencoder.compression_ratio)
latent_shape = tuple(autoencoder.encode(torch.zeros(1, 3, splits.image_size, splits.image_size)).shape[1:])
print(f"images 3 x {splits.image_size} x {splits.image_size} -> latent {latent_shape[0]} x {latent_shape[1]} x "
      f"{latent_shape[2]}")

# %%
# NBVAL_CHECK_OUTPUT
print(f"compression ratio: {autoencoder.compression_ratio:g} input numbers per latent number")
print(f"resize baseline at the same ratio: side / {splits.image_size // baseline_model.side} "
      f"(ratio {baseline_model.compression_ratio:g})")

# %% [markdown]
# ## Training
# The workbook's one runner with the reconstruction task: the target is the input,
# random flips are the only augmentation, and after every epoch the *validation* images
# give MSE and PSNR (the best validation PSNR decides `best.pt`). The finished model is
# scored once on test, beside the resize baseline on the same images. One line per epoch.

# %%
autoencoder_run = experiment.run(spec, splits, checkpoint_dir=outputs / "autoencoder",
                                 meta={"profile": profile.name, "dataset": paths.dataset}, log=print)
autoencoder = autoencoder_run.model
print(f"{sum(p.numel() for p in autoencoder.parameters()):,} weights, {autoencoder_run.seconds:.0f} s")

# %% [markdown]
# ## Does it beat the baseline?
# Both measured on the same images, by the same function
# (`evaluate.reconstruction_metrics`: the MSE over every pixel, and its PSNR).

# %%
print(f"{'compression ratio ' + format(autoencoder.compression_ratio, 'g'):<30}{'val. MSE':>10}{'val. PSNR':>11}"
      f"{'test MSE':>10}{'test PSNR':>11}")
for name, validation, test in (("autoencoder", autoencoder_run.validation, autoencoder_run.test),
                               (f"resize {baseline_model.side} px and back",
                                autoencoder_run.baselines["validation"]["resize"],
                                autoencoder_run.baselines["test"]["resize"])):
    print(f"{name:<30}{validation['mse']:>10.5f}{validation['psnr']:>11.2f}{test['mse']:>10.5f}{test['psnr']:>11.2f}")

# %%
plots.reconstruction_curves(autoencoder_run.history.records, autoencoder_run.baselines["validation"]["resize"]["psnr"],
                            title=f"autoencoder, compression ratio {autoencoder.compression_ratio:g} (validation)")

# %% [markdown]
# The same test images in every run (the first of each style in file order), with the
# autoencoder's reconstruction and the baseline's beside each:

# %%
examples = part2_autoencoder.reconstruction_examples(autoencoder, test_set)
example_images, example_labels = examples["images"], examples["labels"]
plots.reconstruction_grid(example_images, examples["reconstructions"], example_labels, test_set.classes)

# %% [markdown]
# What the latent of one image looks like, channel by channel (each on its own colour
# scale): a coarse map of the picture, split into a few learned components.

# %%
plots.latent_channels(examples["latent"], example_images[0],
                      title=f"{test_set.classes[int(example_labels[0])]}: latent {latent_shape}")

# %% [markdown]
# ## Do the latents cluster by style?
# The clustering recipe is the same for every representation: standardise the
# features, keep at most 50 principal components, run `KMeans` with k = the number
# of styles, then compare the clusters with the true styles:
#
# - **NMI** (normalised mutual information) and **ARI** (adjusted Rand index): 0 for
#   clusters unrelated to styles, 1 for clusters that are the styles;
# - **homogeneity** (each cluster holds one style) and **completeness** (each style
#   sits in one cluster);
# - **purity**: the share of images that belong to their cluster's majority style.
#
# Two references put the autoencoder's numbers in context: **raw pixels** shrunk to
# 16 x 16 (a floor: no learning at all) and the embeddings of a **StyleCNN** trained
# with the style labels (a ceiling: it was *taught* the styles). The StyleCNN is the
# one notebook 01 chose on validation and saved for this dataset and profile; when it
# is missing, this notebook stops and says to run notebook 01 first (it is never
# retrained here quietly).

# %%
style_cnn, style_cnn_source = part2_autoencoder.load_style_cnn(splits, profile, paths)
print(f"StyleCNN {style_cnn_source}")

# %%
cluster_set = test_set.subset(part2_autoencoder.subsample(len(test_set), settings["max_points"], SEED))
sources = {"pixels 16x16": part2_autoencoder.pixel_features(PIXEL_SIDE), "autoencoder": autoencoder,
           "StyleCNN": style_cnn}
features = {}
for name, source in sources.items():
    file_name = name.split()[0].lower()
    features[name], cluster_labels = part2_autoencoder.extract(source, cluster_set, device=DEVICE,
                                                               save_to=outputs / f"features_{file_name}.npz")
clusterings = {name: part2_autoencoder.cluster_metrics(values, cluster_labels, seed=SEED)
               for name, values in features.items()}
print(f"{len(cluster_set)} test images, {len(np.unique(cluster_labels))} styles, k = "
      f"{clusterings['autoencoder']['k']}; dims: " + ", ".join(f"{n} {v.shape[1]}" for n, v in features.items()))
print(part2_autoencoder.metrics_table(clusterings))

# %%
plots.cluster_scores(clusterings)

# %% [markdown]
# ### Style by style
# For each style with at least `min_style_images` test images (the profile's): the cluster
# holding most of them, the **share** of the style in that cluster, and that cluster's
# **purity** (how much of it is this style). A style "clusters" when both reach 0.5:
# most of it sits together, in a cluster that is mostly it.

# %%
cohesion = {name: part2_autoencoder.style_cohesion(cluster_labels, result["assignments"], cluster_set.classes,
                                                   min_images=settings["min_style_images"])
            for name, result in clusterings.items()}
print(part2_autoencoder.cohesion_table(cohesion["autoencoder"]))
print()
for name, rows in cohesion.items():
    clustering = [row["style"] for row in rows if row["clusters"]]
    closest = ", ".join(f"{row['style']} ({row['share']:.2f}/{row['cluster_purity']:.2f})" for row in rows[:3])
    scattered = ", ".join(f"{row['style']} ({row['share']:.2f}/{row['cluster_purity']:.2f})" for row in rows[-3:])
    print(f"{name}: {len(clustering)} of {len(rows)} styles cluster{': ' + ', '.join(clustering) if clustering else ''}")
    print(f"    closest (share/purity): {closest}")
    print(f"    most scattered:         {scattered}")

# %% [markdown]
# ## The pictures
# Each point is a test image, coloured *and* shaped by its true style (27 styles need
# both to be told apart), and beside it the same points coloured by KMeans cluster.
# PCA keeps distances (but only two directions of many); t-SNE keeps neighbourhoods
# (its gaps and sizes are not measurements).

# %% tags=["key-figure"]
ae_clusters = clusterings["autoencoder"]
plots.embedding_2d(part2_autoencoder.embed_2d(features["autoencoder"], "pca", SEED), cluster_labels,
                   cluster_set.classes, ae_clusters["assignments"], title="autoencoder latents, PCA")

# %%
plots.embedding_2d(part2_autoencoder.embed_2d(features["autoencoder"], "tsne", SEED,
                                              max_iter=settings["tsne_max_iter"]),
                   cluster_labels, cluster_set.classes, ae_clusters["assignments"],
                   title="autoencoder latents, t-SNE")

# %%
plots.embedding_2d(part2_autoencoder.embed_2d(features["StyleCNN"], "tsne", SEED,
                                              max_iter=settings["tsne_max_iter"]),
                   cluster_labels, cluster_set.classes, clusterings["StyleCNN"]["assignments"],
                   title="StyleCNN embeddings (supervised reference), t-SNE")

# %% [markdown]
# Which clusters hold which styles (autoencoder latents): a style that clusters is one
# bright cell in its column; a style spread over many rows does not cluster.

# %%
plots.contingency_heatmap(cluster_labels, ae_clusters["assignments"], cluster_set.classes,
                          title="autoencoder latents: images per cluster (rows) and style (columns)")

# %% [markdown]
# ## So, do art styles cluster?
# Rendered from this run's results (`outputs/<dataset>/<profile>/03_part2_autoencoder/results.json`):

# %%
pct = results.pct
scores = {name: {key: value for key, value in result.items() if key != "assignments"}
          for name, result in clusterings.items()}
ae_test, resize_test = autoencoder_run.test, autoencoder_run.baselines["test"]["resize"]
gain_db = ae_test["psnr"] - resize_test["psnr"]
styles_that_cluster = {name: [row["style"] for row in rows if row["clusters"]] for name, rows in cohesion.items()}
judged = len(cohesion["autoencoder"])
ae_nmi, pixel_nmi, cnn_nmi = (scores[name]["nmi"] for name in ("autoencoder", "pixels 16x16", "StyleCNN"))
values = {"autoencoder": {**autoencoder.init_args, "compression_ratio": autoencoder.compression_ratio,
                          "epochs": spec.epochs, "validation": autoencoder_run.validation, "test": ae_test},
          "resize_baseline": autoencoder_run.baselines, "psnr_gain_db": gain_db, "clustering": scores,
          "styles_that_cluster": styles_that_cluster, "styles_judged": judged, "style_cnn": style_cnn_source,
          "n_clustered": len(cluster_set)}
headline = (f"autoencoder test PSNR {ae_test['psnr']:.2f} dB vs {resize_test['psnr']:.2f} dB for resizing at the same "
            f"compression ratio ({autoencoder.compression_ratio:g}); KMeans NMI: pixels {pixel_nmi:.2f}, autoencoder "
            f"{ae_nmi:.2f}, supervised StyleCNN {cnn_nmi:.2f}; {len(styles_that_cluster['autoencoder'])} of {judged} "
            f"styles cluster in the autoencoder's latents")
results.save(NOTEBOOK, paths, profile, values, headline=headline)
text = f"""
Measured on {results.which_data(paths)}, profile `{profile.name}` ({len(cluster_set)} test images
clustered, k = {scores['autoencoder']['k']}).
{"**In the `smoke` profile these numbers mean nothing** (a few images per style, one epoch)." if profile.name == "smoke" else ""}

- **Reconstruction.** At the same budget of numbers (compression ratio {autoencoder.compression_ratio:g}:
  a {' x '.join(map(str, latent_shape))} latent for a 3 x {splits.image_size} x {splits.image_size} image) the
  autoencoder's test PSNR is {ae_test['psnr']:.2f} dB against {resize_test['psnr']:.2f} dB for resizing to
  {baseline_model.side} x {baseline_model.side} and back ({gain_db:+.2f} dB): it
  {"beats" if gain_db > 0 else "does not beat"} the baseline that learns nothing.
- **Clustering.** KMeans on the autoencoder latents gives NMI {ae_nmi:.2f}, ARI {scores['autoencoder']['ari']:.2f}
  and purity {scores['autoencoder']['purity']:.2f}: {results.compare_words(ae_nmi, pixel_nmi, margin=0.02)}
  raw {PIXEL_SIDE} x {PIXEL_SIDE} pixels (NMI {pixel_nmi:.2f}) and
  {results.compare_words(ae_nmi, cnn_nmi, margin=0.02)} the supervised StyleCNN embedding (NMI {cnn_nmi:.2f},
  {style_cnn_source}).
- **Style by style** ({judged} styles have enough test images to judge): {len(styles_that_cluster['autoencoder'])}
  cluster in the autoencoder's latents{': ' + ', '.join(styles_that_cluster['autoencoder']) if styles_that_cluster['autoencoder'] else ''},
  {len(styles_that_cluster['pixels 16x16'])} in raw pixels and {len(styles_that_cluster['StyleCNN'])} in the StyleCNN
  embedding.
- **So:** {"styles do not cluster in an autoencoder's latents any better than in the pixels it compresses; a representation trained for the styles separates " + ("many" if len(styles_that_cluster['StyleCNN']) > judged // 4 else "some") + " of them." if ae_nmi <= pixel_nmi + 0.02 else "the autoencoder's latents cluster by style better than raw pixels, and the supervised embedding does " + ("better still." if cnn_nmi > ae_nmi + 0.02 else "no better.")}
"""
results.show(text)

# %% [markdown]
# ## Explore
# Pick a representation, a 2D method and k, and press **Redraw** (t-SNE takes a few
# seconds the first time per representation). Run top to bottom without a person, the
# cell below draws the defaults once.

# %%
explorer = widgets.cluster_explorer(features, cluster_labels, cluster_set.classes, seed=SEED,
                                    tsne_max_iter=settings["tsne_max_iter"])
display(explorer.widget)
explorer.redraw()

# %%
widgets.static_copy(explorer)

# %%
print(f"whole notebook {time.perf_counter() - started:.0f} s")
