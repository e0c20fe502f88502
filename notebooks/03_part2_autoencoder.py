# %% [markdown]
# # Part 2: an autoencoder, its reconstructions, and do art styles cluster?
#
# I train a convolutional autoencoder that squeezes each painting through a small spatial
# latent and paints it back. I measure how well it does that (against a baseline that
# learns nothing) and whether its training had levelled off, then cluster the latents with
# scikit-learn to answer the question of the assignment: **do art styles cluster?** I answer
# in numbers, between a floor (raw downscaled pixels) and a supervised ceiling (the
# embeddings of a style classifier), and in pictures that name every style. I cluster the
# latent in two forms: flattened as it is, a grid in which *where* things sit in the picture
# counts, and pooled to per-channel statistics over the grid, with the layout removed,
# because a style is more a matter of palette and texture than of composition.
#
# **Which data?** By default the workbook runs on `synthart`, an embedded procedural
# stand-in with WikiArt's style folders and WikiArt's class imbalance. It is *not*
# WikiArt: numbers measured on it say how the code behaves, not how well anything
# recognises real paintings. On the GPU server, set `dataset: wikiart` in
# `data_paths.yaml` and re-run: the text below is rendered from the run's results.

# %% [markdown]
# ## Parameters
# `PROFILE` sets the size of everything (`config.PROFILES`; this notebook reads
# `profile.autoencoder`). The environment variable `WIKIART_PROFILE` overrides the
# default, which is how `make test` and `make report` choose.

# %% tags=["parameters", "show-code"]
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
#   (its shape in this run is given below the next cell) instead of one flat vector:
#   paintings are textures and layouts, and a grid keeps "where" for free.
# - **Shortcuts**: two linear paths run beside the convolutions. Block averages of the
#   image (through a 1x1 convolution) are added to the latent, and a 1x1 projection of the
#   latent to colours, upsampled, is added to the output. Training starts near plain
#   interpolation and the convolutions learn what it misses; the latent therefore also
#   carries a coarse colour map of the picture.
# - **Decoder**: the mirror image, but each stage *upsamples then convolves*
#   (bilinear, doubling the side, then 3x3). Strided transposed convolutions overlap
#   unevenly and paint checkerboards; resize-then-convolve cannot. A sigmoid ends on
#   [0, 1] images.
# - **No input standardisation**: the target is the input itself, in [0, 1].
# - **Loss**: mean squared error, which is exactly what PSNR measures
#   ($\mathrm{PSNR} = 10 \log_{10}(1 / \mathrm{MSE})$ dB for images in [0, 1]); `SSIM_WEIGHT`
#   mixes in $1 - \mathrm{SSIM}$ (Wang et al. 2004) to reward structure over pixel error.
# - **Compression ratio**: input numbers per latent number. The **baseline** gets the
#   same budget: resize each image down to as many numbers as the latent has (bilinear
#   with antialiasing, i.e. averaging) and back up (bilinear). It learns nothing, so the
#   autoencoder earns its keep only by beating it at the same ratio.

# %%
spec = part2_autoencoder.autoencoder_spec(profile, seed=SEED, device=DEVICE, ssim_weight=SSIM_WEIGHT)
autoencoder = experiment.build_model(spec, splits)
baseline_model = evaluate.ResizeBaseline(splits.image_size, autoencoder.compression_ratio)
latent_shape = tuple(autoencoder.encode(torch.zeros(1, 3, splits.image_size, splits.image_size)).shape[1:])
latent_channels, latent_side = latent_shape[0], latent_shape[1]
results.show(f"""In this run each 3 x {splits.image_size} x {splits.image_size} image becomes a
{latent_channels} x {latent_side} x {latent_side} latent: {latent_channels} numbers at each of
{latent_side} x {latent_side} grid positions, a compression ratio of {autoencoder.compression_ratio:g}. The resize
baseline at the same ratio shrinks each image to {baseline_model.side} x {baseline_model.side} and back.""")

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
print(f"compression ratio: {autoencoder.compression_ratio:g} input numbers per latent number")
print(f"resize baseline at the same ratio: side / {splits.image_size // baseline_model.side} "
      f"(ratio {baseline_model.compression_ratio:g})")

# %% [markdown]
# ## Training
# I train with the workbook's one runner and the reconstruction task: the target is the
# input, random flips are the only augmentation, and after every epoch the *validation*
# images give MSE and PSNR (the best validation PSNR decides `best.pt`). The finished model
# is scored once on test, beside the resize baseline on the same images. One line per epoch.

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
                            title=f"autoencoder, compression ratio {autoencoder.compression_ratio:g} (validation PSNR)")

# %% [markdown]
# **Had training levelled off?** I read the validation curve above: if the last part of
# the epochs still added a fair share of the whole gain, and the best epoch is among
# them, more epochs would likely have helped (the learning rate decays to zero over the
# run, so late gains come from ever smaller steps).

# %%
convergence = part2_autoencoder.training_convergence(autoencoder_run.history.column("psnr"))
convergence_text = part2_autoencoder.convergence_words(convergence)
results.show(f"""{convergence_text[0].upper() + convergence_text[1:]}. (My rule: training had levelled off when its
last {part2_autoencoder.TAIL_FRACTION:.0%} of the epochs, rounded up, added less than
{part2_autoencoder.LEVELLED_OFF_SHARE:.0%} of the gain since the first epoch, or when its best epoch came earlier.)""")

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
# I compare the clusters with the true styles by
#
# - **NMI** (normalised mutual information) and **ARI** (adjusted Rand index): they
#   rise from chance level, for clusters unrelated to the styles, to their maximum for
#   clusters that are exactly the styles (ARI is corrected for chance, NMI is not);
# - **homogeneity** (each cluster holds one style) and **completeness** (each style
#   sits in one cluster);
# - **purity**: the share of images that belong to their cluster's majority style.
#
# Two references put the autoencoder's numbers in context: **raw pixels** (a floor: no
# learning at all) and the embeddings of a **StyleCNN** trained with the style labels (a
# ceiling: it was *taught* the styles). The StyleCNN is the one notebook 01 chose on
# validation and saved for this dataset and profile; when it is missing, this notebook
# stops and says to run notebook 01 first (I never retrain it here quietly).

# %%
results.show(f"""The recipe is the same for every representation: standardise the features, keep at most
{part2_autoencoder.PCA_DIMS} principal components, run `KMeans` with k = the number of styles, once for each of
{part2_autoencoder.KMEANS_SEEDS} seeds (every score below is the mean over those seeds), then compare the clusters
with the true styles. The four representations:

- **pixels**: each image shrunk to {PIXEL_SIDE} x {PIXEL_SIDE} and flattened ({3 * PIXEL_SIDE ** 2} numbers);
- **autoencoder**: the latent grid flattened as it is ({latent_channels * latent_side ** 2} numbers), so the
  layout of the picture counts as much as its content;
- **autoencoder, pooled**: for each of the {latent_channels} latent channels, its mean and standard deviation
  over the {latent_side} x {latent_side} grid ({2 * latent_channels} numbers): how much of each channel there is
  and how much it varies, wherever it sits, which is closer to a "style" than to a layout. Through the encoder's
  shortcut the latent holds block averages of the image, so these means carry its average colour: part of what
  pooling keeps is the palette;
- **StyleCNN**: the supervised embedding of notebook 01.""")

# %%
style_cnn, style_cnn_source = part2_autoencoder.load_style_cnn(splits, profile, paths)
print(f"StyleCNN {style_cnn_source}")

# %%
PIXELS, FLAT, POOLED, CNN = f"pixels {PIXEL_SIDE}x{PIXEL_SIDE}", "autoencoder", "autoencoder, pooled", "StyleCNN"
called = {PIXELS: "raw pixels", FLAT: "the flattened latent", POOLED: "the pooled latent",
          CNN: "the StyleCNN embedding"}  # how the text names them

# %% tags=["show-code"]
# name: (what turns a batch of images into vectors, the file its vectors are saved to)
sources = {PIXELS: (part2_autoencoder.pixel_features(PIXEL_SIDE), "pixels"),
           FLAT: (autoencoder, "autoencoder"),                                        # encode(), flattened
           POOLED: (part2_autoencoder.PooledLatent(autoencoder), "autoencoder_pooled"),  # mean, std per channel
           CNN: (style_cnn, "stylecnn")}

# %%
cluster_set = test_set.subset(part2_autoencoder.subsample(len(test_set), settings["max_points"], SEED))
features = {}
for name, (source, file_name) in sources.items():
    features[name], cluster_labels = part2_autoencoder.extract(source, cluster_set, device=DEVICE,
                                                               save_to=outputs / f"features_{file_name}.npz")
clusterings = {name: part2_autoencoder.cluster_metrics(values, cluster_labels, seed=SEED,
                                                       kmeans_seeds=part2_autoencoder.KMEANS_SEEDS)
               for name, values in features.items()}
# The same resamples of the test images and KMeans seeds for every representation (paired).
compared = [(POOLED, FLAT), (FLAT, PIXELS), (POOLED, PIXELS), (CNN, FLAT), (CNN, POOLED)]
bootstrap = part2_autoencoder.bootstrap_clusterings(
    cluster_labels, {name: result.get("assignments_by_seed", result["assignments"])
                     for name, result in clusterings.items()}, compare=compared, seed=SEED)
print(f"{len(cluster_set)} test images, {len(np.unique(cluster_labels))} styles, k = "
      f"{clusterings[FLAT]['k']}, {part2_autoencoder.KMEANS_SEEDS} KMeans seeds; dims: "
      + ", ".join(f"{n} {v.shape[1]}" for n, v in features.items()))
print(part2_autoencoder.metrics_table(clusterings, bootstrap["intervals"]))

# %%
plots.cluster_scores(clusterings)

# %%
level = f"{100 * bootstrap['confidence']:g}%"
differences = bootstrap["differences"]
pooling = differences[f"{POOLED} - {FLAT}"]
pooling_verdict = pooling["nmi"]["verdict"]  # NMI decides, here and below; ARI is shown beside it
pooling_words = {"better": "removing the layout moves the clusters closer to the styles",
                 "worse": "removing the layout moves the clusters further from the styles",
                 "no clear difference": "removing the layout does not clearly move the clusters closer to the styles "
                                        "or further from them"}[pooling_verdict]
results.show(f"""Each interval ({level}) in the table comes from {bootstrap['n_resamples']} bootstrap resamples of
the {bootstrap['n_images']} clustered test images and of the {bootstrap['n_seeds']} KMeans seeds, the same draws for
every representation, so differences between two representations are paired; it is the score
± the normal quantile times the resamples' standard deviation (see
`part2_autoencoder.bootstrap_clusterings` for why not their percentiles). The clusterings are not refitted on each
resample: an interval measures how much a score depends on the images and seeds drawn.

**Pooled or flattened?** {pooling_words[0].upper() + pooling_words[1:]}: by NMI,
{part2_autoencoder.difference_words(pooling['nmi'], called[POOLED], called[FLAT], metric='nmi')}; by ARI,
{part2_autoencoder.difference_words(pooling['ari'], called[POOLED], called[FLAT], metric='ari')}.""")

# %% [markdown]
# ### Style by style
# For each style with at least `min_style_images` test images (the profile's): the cluster
# holding most of them (under the first KMeans seed), the **share** of the style in that
# cluster, and that cluster's **purity** (how much of it is this style).

# %%
results.show(f"""A style "clusters" when both reach {part2_autoencoder.COHESION_THRESHOLD:g}: most of it sits
together, in a cluster that is mostly it. Here {settings['min_style_images']} test images make a style
judgeable.""")

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
# Each point is a test image, coloured *and* shaped by its true style (with this many
# styles, colour alone cannot tell them apart), and beside it the same points coloured by
# KMeans cluster (the first seed).
# PCA keeps distances (but only two directions of many); t-SNE keeps neighbourhoods
# (its gaps and sizes are not measurements).

# %% tags=["key-figure"]
ae_clusters = clusterings[FLAT]
plots.embedding_2d(part2_autoencoder.embed_2d(features[FLAT], "pca", SEED), cluster_labels,
                   cluster_set.classes, ae_clusters["assignments"], title="autoencoder latents (flattened), PCA")

# %%
plots.embedding_2d(part2_autoencoder.embed_2d(features[POOLED], "pca", SEED), cluster_labels,
                   cluster_set.classes, clusterings[POOLED]["assignments"],
                   title="autoencoder latents pooled (mean and std per channel), PCA")

# %%
plots.embedding_2d(part2_autoencoder.embed_2d(features[FLAT], "tsne", SEED,
                                              max_iter=settings["tsne_max_iter"]),
                   cluster_labels, cluster_set.classes, ae_clusters["assignments"],
                   title="autoencoder latents (flattened), t-SNE")

# %%
plots.embedding_2d(part2_autoencoder.embed_2d(features[CNN], "tsne", SEED,
                                              max_iter=settings["tsne_max_iter"]),
                   cluster_labels, cluster_set.classes, clusterings[CNN]["assignments"],
                   title="StyleCNN embeddings (supervised reference), t-SNE")

# %% [markdown]
# Which clusters hold which styles (flattened autoencoder latents): a style that clusters is one
# bright cell in its column; a style spread over many rows does not cluster.

# %%
plots.contingency_heatmap(cluster_labels, ae_clusters["assignments"], cluster_set.classes,
                          title="flattened autoencoder latents: images per cluster (rows) and style (columns)")

# %% [markdown]
# ## So, do art styles cluster?
# Rendered from this run's results (`outputs/<dataset>/<profile>/03_part2_autoencoder/results.json`):

# %%
scores = {name: part2_autoencoder.scores_only(result) for name, result in clusterings.items()}
ae_test, resize_test = autoencoder_run.test, autoencoder_run.baselines["test"]["resize"]
gain_db = ae_test["psnr"] - resize_test["psnr"]
styles_that_cluster = {name: [row["style"] for row in rows if row["clusters"]] for name, rows in cohesion.items()}
judged = len(cohesion[FLAT])
nmi = {name: scores[name]["nmi"] for name in scores}
intervals = bootstrap["intervals"]


def nmi_with_interval(name):
    low, high = intervals[name]["nmi"]["low"], intervals[name]["nmi"]["high"]
    return f"NMI {nmi[name]:.2f}, {level} interval {low:.2f} to {high:.2f}"


def compared_words(a, b):
    return part2_autoencoder.difference_words(differences[f"{a} - {b}"]["nmi"], called[a], called[b])


def verdict(a, b):
    return differences[f"{a} - {b}"]["nmi"]["verdict"]


form_words = {FLAT: "flattened", POOLED: "pooled"}
forms_beating_pixels = [form_words[form] for form in (FLAT, POOLED) if verdict(form, PIXELS) == "better"]
cnn_beats_ae = all(verdict(CNN, form) == "better" for form in (FLAT, POOLED))
values = {"autoencoder": {**autoencoder.init_args, "compression_ratio": autoencoder.compression_ratio,
                          "latent_shape": list(latent_shape), "epochs": spec.epochs,
                          "validation": autoencoder_run.validation, "test": ae_test},
          "convergence": convergence, "resize_baseline": autoencoder_run.baselines, "psnr_gain_db": gain_db,
          "clustering": scores, "clustering_intervals": intervals, "clustering_differences": differences,
          "clustering_bootstrap": {key: bootstrap[key] for key in ("confidence", "n_resamples", "n_images", "n_seeds")},
          "pooled_latent_dims": int(features[POOLED].shape[1]), "pooling_verdict": pooling_verdict,
          "styles_that_cluster": styles_that_cluster, "styles_judged": judged, "style_cnn": style_cnn_source,
          "n_clustered": len(cluster_set)}
state_words = {"still improving": "still improving at its last epoch", "levelled off": "levelled off by its last epoch",
               "one epoch": "trained for one epoch"}[convergence["state"]]
headline = (f"autoencoder test PSNR {ae_test['psnr']:.2f} dB vs {resize_test['psnr']:.2f} dB for resizing at the same "
            f"compression ratio ({autoencoder.compression_ratio:g}), {state_words}; KMeans "
            f"NMI: pixels {nmi[PIXELS]:.2f}, autoencoder latent {nmi[FLAT]:.2f} flattened and {nmi[POOLED]:.2f} pooled, "
            f"supervised StyleCNN {nmi[CNN]:.2f}; {len(styles_that_cluster[FLAT])} of {judged} styles cluster in the "
            f"autoencoder's latents")
results.save(NOTEBOOK, paths, profile, values, headline=headline)
if forms_beating_pixels:
    conclusion = (f"the autoencoder's latents ({' and '.join(forms_beating_pixels)}) cluster by style clearly better "
                  f"than raw pixels; the supervised embedding does {'better still' if cnn_beats_ae else 'not do clearly better'}")
else:
    conclusion = ("styles do not cluster in the autoencoder's latents, flattened or pooled, clearly better than in "
                  "the pixels it compresses; the representation trained for the styles "
                  + ("does clearly better" if cnn_beats_ae else "does not clearly beat the autoencoder either"))
conclusion += (f", and lets {len(styles_that_cluster[CNN])} of {judged} styles cluster by the share and purity "
               f"test.")
text = f"""
Measured on {results.which_data(paths)}, profile `{profile.name}` ({len(cluster_set)} test images
clustered, k = {scores[FLAT]['k']}, {part2_autoencoder.KMEANS_SEEDS} KMeans seeds, {level} intervals over the
images and seeds).
{"**In the `smoke` profile these numbers mean nothing** (a few images per style, one epoch)." if profile.name == "smoke" else ""}

- **Reconstruction.** At the same budget of numbers (compression ratio {autoencoder.compression_ratio:g}:
  a {' x '.join(map(str, latent_shape))} latent for a 3 x {splits.image_size} x {splits.image_size} image) the
  autoencoder's test PSNR is {ae_test['psnr']:.2f} dB against {resize_test['psnr']:.2f} dB for resizing to
  {baseline_model.side} x {baseline_model.side} and back ({gain_db:+.2f} dB): it
  {"beats" if gain_db > 0 else "does not beat"} the baseline that learns nothing. Its {convergence_text}.
- **Clustering.** KMeans on the flattened latents gives {nmi_with_interval(FLAT)}, ARI
  {scores[FLAT]['ari']:.2f} and purity {scores[FLAT]['purity']:.2f}. Against raw {PIXEL_SIDE} x {PIXEL_SIDE} pixels
  ({nmi_with_interval(PIXELS)}): {compared_words(FLAT, PIXELS)}. Against the supervised StyleCNN embedding
  ({nmi_with_interval(CNN)}): {compared_words(CNN, FLAT)}.
- **Pooled latent.** Pooled to {values['pooled_latent_dims']} layout-free numbers (the mean and standard deviation of each
  latent channel), the latent gives {nmi_with_interval(POOLED)}, and ARI {scores[POOLED]['ari']:.2f}:
  {pooling_words}. Against raw pixels: {compared_words(POOLED, PIXELS)}; against the
  StyleCNN embedding: {compared_words(CNN, POOLED)}.
- **Style by style** ({judged} styles have enough test images to judge): {len(styles_that_cluster[FLAT])}
  cluster in the flattened latents{': ' + ', '.join(styles_that_cluster[FLAT]) if styles_that_cluster[FLAT] else ''},
  {len(styles_that_cluster[POOLED])} in the pooled latents, {len(styles_that_cluster[PIXELS])} in raw pixels and
  {len(styles_that_cluster[CNN])} in the StyleCNN embedding.
- **So:** {conclusion}
"""
results.show(text)

# %% [markdown]
# ## Explore
# Pick a representation, a 2D method and k, and press **Redraw** (t-SNE takes a few
# seconds the first time per representation). Run top to bottom without a person, the
# cell below draws the defaults once.

# %% tags=["remove-cell"]
explorer = widgets.cluster_explorer(features, cluster_labels, cluster_set.classes, seed=SEED,
                                    tsne_max_iter=settings["tsne_max_iter"])
display(explorer.widget)
explorer.redraw()

# %%
widgets.static_copy(explorer)

# %% tags=["remove-cell"]
print(f"whole notebook {time.perf_counter() - started:.0f} s")
