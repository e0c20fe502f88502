# %% [markdown]
# # Part 1: class imbalance
#
# WikiArt's styles are far from balanced: the largest has 150 times more training
# images than the smallest. A classifier trained with plain cross-entropy can reach a
# respectable accuracy by getting the big styles right and never predicting the small
# ones. This notebook compares the usual corrections on three numbers: accuracy,
# balanced accuracy (the mean recall over styles) and macro-F1, over several seeds,
# with 95% bootstrap intervals over test images and seeds, because one run per method
# cannot tell a method apart from luck.
#
# **Which data?** By default the workbook runs on `synthart`, an embedded procedural
# stand-in with WikiArt's 27 style folders and WikiArt's class imbalance. It is *not*
# WikiArt: numbers measured on it say how the code behaves, not how well anything
# recognises real paintings. On the GPU server, set `dataset: wikiart` in
# `data_paths.yaml` and re-run: the text below is rendered from the run's results.

# %% [markdown]
# ## Parameters
# `PROFILE` sets the size of everything (`config.PROFILES`; this notebook reads
# `profile.imbalance` and `profile.seeds`). The environment variable `WIKIART_PROFILE`
# overrides the default, which is how `make test` and `make report` choose.
#
# Five methods times the profile's seeds is many trainings, so this comparison uses a
# deliberately small `StyleCNN`, small images and a few epochs: absolute numbers are
# lower than in `01_bonusA`; what matters here is the *difference* between methods
# trained under identical conditions.

# %% tags=["parameters"]
import os

PROFILE = os.environ.get("WIKIART_PROFILE", "demo")
DATASET = os.environ.get("WIKIART_DATASET")  # None: the `dataset:` line of data_paths.yaml
DEVICE = "auto"

# %%
import time

import numpy as np

from wikiart_core import data, imbalance, parts, plots, results, stats, widgets
from wikiart_core.parts import part1_imbalance

NOTEBOOK = "02_part1_weights"
book = parts.setup(PROFILE, DATASET, NOTEBOOK, section="imbalance")
profile, paths, splits, outputs = book.profile, book.paths, book.splits, book.outputs
train_set, validation_set, test_set = splits
print(f"{profile.seeds} seeds per method")

# %% [markdown]
# ## Why imbalance matters here
# The training images per style (the whole training folder, whatever the profile).
# Always answering the largest style is the accuracy to beat; 1 / (number of styles)
# is the balanced accuracy of guessing. The weights below use these folder counts; the
# runs use the counts of their own training split.

# %%
counts = data.folder_counts(paths.train, splits.classes)
plots.class_counts(counts)

# %%
# NBVAL_CHECK_OUTPUT
largest = max(counts, key=counts.get)
smallest = min(counts, key=counts.get)
print(f"largest style:  {largest} ({counts[largest]} images, {counts[largest] / sum(counts.values()):.1%} "
      f"of the training folder)")
print(f"smallest style: {smallest} ({counts[smallest]} images)")
print(f"ratio largest / smallest: {counts[largest] / counts[smallest]:.0f}")

# %% [markdown]
# ## The three weight formulas of the original report are one loss
# Per style c with n_c training images, N images in all and C styles:
# (1) N / (n_c · C), (2) N / n_c, (3) 1 / n_c; and, for comparison, the weights from
# the *effective number of samples* (Cui et al. 2019, β = 0.999), which grow more
# slowly than 1 / n_c for the rarest styles.

# %%
# NBVAL_CHECK_OUTPUT
formulas = {
    "N/(n_c C)": imbalance.class_weights_normalised_inverse_frequency(counts),
    "N/n_c": imbalance.class_weights_inverse_frequency(counts),
    "1/n_c": imbalance.class_weights_reciprocal(counts),
    "eff. number": imbalance.class_weights_effective_number(counts, beta=0.999),
}
order = sorted(counts, key=lambda s: -counts[s])
shown = [order[0], order[1], order[len(order) // 2], order[-2], order[-1]]
print(f"{'style':<28}{'n_c':>6}" + "".join(f"{name:>13}" for name in formulas))
for style in shown:
    label = train_set.class_to_idx[style]
    print(f"{style:<28}{counts[style]:>6}" + "".join(f"{float(w[label]):>13.4g}" for w in formulas.values()))
print("ratio of each column to its first row (how much more a rare image counts):")
for style in shown[1:]:
    label, first = train_set.class_to_idx[style], train_set.class_to_idx[shown[0]]
    print(f"{style:<28}{'':>6}" + "".join(f"{float(w[label] / w[first]):>13.1f}" for w in formulas.values()))

# %% [markdown]
# The first three columns differ only by a constant factor (N/C, N and 1), so their
# ratios are the same. PyTorch's `CrossEntropyLoss(weight=w)` averages the weighted
# losses by dividing by the sum of the weights in the batch,
# Σ w[yᵢ] lᵢ / Σ w[yᵢ], and the constant cancels: **the three formulas are one and the
# same loss**, with the same gradients, so training with them three times would only
# measure the same method three times. They are one row below (`class_weights`). (If
# the loss were summed or divided by the batch size instead, the constant would scale
# every gradient: with plain SGD that multiplies the learning rate; AdamW divides each
# update by the gradient's running RMS, so it would still barely notice.) A check on a
# random batch:

# %%
# NBVAL_CHECK_OUTPUT
import torch

generator = torch.Generator().manual_seed(0)
logits = torch.randn(64, len(counts), generator=generator)
targets = torch.randint(0, len(counts), (64,), generator=generator)
losses = [imbalance.WeightedCrossEntropyLoss(w)(logits, targets) for w in list(formulas.values())[:3]]
print("the three weighted losses are equal on a random batch:",
      all(torch.allclose(loss, losses[0], rtol=1e-5) for loss in losses))

# %% [markdown]
# ## Every method over several seeds
# The methods (`imbalance.METHODS`), each one word for `imbalance.configure`:

# %%
# NBVAL_CHECK_OUTPUT
for name, description in imbalance.METHODS.items():
    print(f"{name:<18} {description}")

# %% [markdown]
# Each run goes through the workbook's one runner (`experiment.run`): a fresh model
# from its seed, trained on train, validated on validation, and its finished model
# scored once on test. The seed also sets the batch order, the augmentation and the
# balanced sampler's draws. The "best" method is picked on **validation**; the test
# columns carry 95% intervals from a bootstrap over test images and seeds.

# %%
started = time.perf_counter()
comparison = part1_imbalance.run_comparison(splits, profile, device=DEVICE, progress=False)
comparison_seconds = time.perf_counter() - started
print(f"{sum(len(runs) for runs in comparison.runs.values())} runs in {comparison_seconds:.0f} s")

# %%
print(comparison.table())

# %% tags=["key-figure"]
summary = comparison.summary("test")
plots.method_comparison(summary, comparison.baselines["test"])

# %% [markdown]
# ## Against plain cross-entropy, with intervals
# For each method, the difference to `none` on test (the same test images and seeds
# for both, resampled together: a paired bootstrap), in percentage points:

# %%
against_none = {metric: comparison.against("none", metric) for metric in part1_imbalance.METRICS}
for metric in part1_imbalance.METRICS:
    for method, result in against_none[metric].items():
        print(stats.verdict_words(result, method, "none"))
    print()

# %% [markdown]
# ## Who gains: recall per style
# The best method by mean *validation* balanced accuracy next to the unweighted model,
# test recall averaged over the seeds, styles from the largest to the smallest:

# %%
best = comparison.best("balanced_accuracy")
recall = comparison.per_class_recall("test")
chosen = {"none (unweighted)": recall["none"]}
if best != "none":
    chosen[f"{best} (best validation balanced accuracy)"] = recall[best]
plots.per_class_recall(chosen, train_set.class_counts(), title=f"Recall per style, mean over {profile.seeds} seeds (test set)")

# %%
split_counts = train_set.class_counts()
by_size = sorted(train_set.classes, key=lambda s: -split_counts[s])
third = max(1, len(by_size) // 3)
large, small = by_size[:third], by_size[-third:]


def mean_recall(method: str, styles: list[str]) -> float:
    return float(np.mean([recall[method][s] for s in styles]))


print(f"{'method':<18}{'recall, ' + str(third) + ' largest':>22}{'recall, ' + str(third) + ' smallest':>23}")
for method in comparison.methods:
    print(f"{method:<18}{100 * mean_recall(method, large):>21.1f}%{100 * mean_recall(method, small):>22.1f}%")

# %% [markdown]
# ## What the numbers say
# Rendered from this run's results (`outputs/<dataset>/<profile>/02_part1_weights/results.json`):

# %%
pct = results.pct
none = summary["none"]
raises = {metric: [m for m, r in against_none[metric].items() if r["verdict"] == "better"]
          for metric in part1_imbalance.METRICS}
lowers_accuracy = [m for m, r in against_none["accuracy"].items() if r["verdict"] == "worse"]
colour = comparison.baselines["test"]["colour_statistics"]
above_colour = [m for m in comparison.methods if summary[m]["balanced_accuracy"]["low"] > colour["balanced_accuracy"]]
below_colour = [m for m in comparison.methods if summary[m]["balanced_accuracy"]["high"] < colour["balanced_accuracy"]]
best_macro = max(comparison.methods, key=lambda m: np.mean([r.validation["macro_f1"] for r in comparison.runs[m]]))


def listed(methods):
    return ", ".join(f"`{m}`" for m in methods) if methods else "none of them"


values = {"methods": comparison.methods, "seed_list": profile.seed_list, "summary_test": summary,
          "validation_mean": {m: {k: float(np.mean([r.validation[k] for r in runs])) for k in part1_imbalance.METRICS}
                              for m, runs in comparison.runs.items()},
          "against_none": against_none, "best_validation_balanced_accuracy": best,
          "best_validation_macro_f1": best_macro, "baselines": comparison.baselines,
          "above_colour_baseline": above_colour, "below_colour_baseline": below_colour,
          "recall_largest_third": {m: mean_recall(m, large) for m in comparison.methods},
          "recall_smallest_third": {m: mean_recall(m, small) for m in comparison.methods},
          "image_size": splits.image_size, "settings": profile.imbalance, "seconds": comparison_seconds}
headline = (f"{len(comparison.methods)} imbalance methods x {profile.seeds} seeds: raise test balanced accuracy over "
            f"plain cross-entropy (95% paired bootstrap): {', '.join(raises['balanced_accuracy']) or 'none'}; "
            f"best on validation: {best} ({pct(summary[best]['balanced_accuracy']['mean'])} test balanced accuracy "
            f"[{pct(summary[best]['balanced_accuracy']['low'])}, {pct(summary[best]['balanced_accuracy']['high'])}] "
            f"vs {pct(none['balanced_accuracy']['mean'])} unweighted)")
results.save(NOTEBOOK, paths, profile, values, headline=headline, seeds=profile.seeds)
text = f"""
Measured on {results.which_data(paths)}, profile `{profile.name}`: {profile.seeds} seeds,
{profile.imbalance['epochs']} epochs, {splits.image_size} px, StyleCNN width {profile.imbalance['width']},
{sum(len(r) for r in comparison.runs.values())} runs in {comparison_seconds:.0f} s. Differences are
called real only when their 95% paired-bootstrap interval (over test images and seeds) excludes zero.
{"**In the `smoke` profile these numbers mean nothing** (a few images per style, one epoch)." if profile.name == "smoke" else ""}

- **Plain cross-entropy** (`none`): {pct(none['accuracy']['mean'])} accuracy,
  {pct(none['balanced_accuracy']['mean'])} balanced accuracy, {pct(none['macro_f1']['mean'])} macro-F1 on test;
  its recall is {pct(mean_recall('none', large))} on the {third} largest styles and
  {pct(mean_recall('none', small))} on the {third} smallest.
- **Balanced accuracy**: raised by {listed(raises['balanced_accuracy'])}.
  **Macro-F1**: raised by {listed(raises['macro_f1'])}. **Accuracy** lowered by {listed(lowers_accuracy)}.
- **Against the colour-statistics baseline** ({pct(colour['balanced_accuracy'])} test balanced accuracy, a
  logistic regression on colour statistics): the 95% interval lies above it for {listed(above_colour)} and below
  it for {listed(below_colour)}; the rest cannot be told apart from it. A small CNN trained this briefly
  {"does not clearly beat colour statistics with any method" if not above_colour else "beats colour statistics with every method" if len(above_colour) == len(comparison.methods) else "clearly beats colour statistics only with " + listed(above_colour)}.
- **The best method on validation** is `{best}` for balanced accuracy and `{best_macro}` for macro-F1. On
  test, `{best}` has {pct(summary[best]['balanced_accuracy']['mean'])} balanced accuracy
  (95% interval {pct(summary[best]['balanced_accuracy']['low'])} to {pct(summary[best]['balanced_accuracy']['high'])}).
- The three weight formulas of the original report are one loss (shown above), so they are one row,
  `class_weights`.
- The smallest styles have few test images, so their recalls move in large steps; the intervals above
  include that uncertainty, which is why some differences that look large are not called real.
"""
results.show(text)

# %% [markdown]
# ## A search that uses validation
# The comparison above changes one thing, the imbalance method, and keeps the learning
# rate, weight decay, width and augmentation fixed. A hyperparameter search changes them
# together: an Optuna study (`search.run_study`) proposes a learning rate and a weight
# decay (log-uniform), a width (half, the same or double the one above), an augmentation
# recipe and an imbalance method, first at random, then with a TPE sampler that favours
# what scored well. Each trial trains the same small StyleCNN on train and reports its
# **validation** balanced accuracy after every epoch; the median pruner stops a trial that
# is behind the median of the finished trials at the same epoch. The best trial on
# validation is trained again and scored **once** on test; no trial is ever scored on test.
#
# The study is stored in SQLite (`outputs/<dataset>/<profile>/02_part1_weights/search/study.db`):
# re-running the notebook after an interruption tops it up to its number of trials instead
# of starting again. From the command line (`python -m wikiart_core search --trials N --out
# DIR`) the same storage lets several GPUs or machines share a study (see the README).

# %%
from wikiart_core import evaluate, search

search_settings = profile.search
search_spec = part1_imbalance.base_spec(profile, DEVICE).replace(name="search", epochs=search_settings["epochs"])
started = time.perf_counter()
search_folder = outputs / "search"
study_result = search.run_study(search_spec, splits, total_trials=search_settings["trials"],
                                storage=search_folder / "study.db", study_name=NOTEBOOK, seed=0,
                                startup_trials=search_settings["startup_trials"],
                                min_epochs=search_settings["min_epochs"], checkpoint_dir=search_folder / "best",
                                log=print)
search_seconds = time.perf_counter() - started
print(study_result.table())

# %%
plots.study_history(study_result.study)

# %%
plots.study_importances(study_result.importances, study_result.importances_note)

# %% [markdown]
# The best trial, trained again with its parameters and seed, on validation and (once) on
# test, beside the baselines:

# %%
best_run = study_result.best
print(evaluate.results_table({f"best trial ({study_result.best_trial.number})": {
    "validation": best_run.validation, "test": best_run.test}}, best_run.baselines))

# %%
study = study_result.study
search_counts = study_result.counts()
best_params = study_result.best_params
search_test, search_validation = best_run.test, best_run.validation
majority_test = best_run.baselines["test"]["majority"]
colour_test = best_run.baselines["test"]["colour_statistics"]
values["search"] = {
    "trials": len(study.trials), "states": search_counts, "epochs_per_trial": search_settings["epochs"],
    "best_trial": study_result.best_trial.number, "best_params": best_params,
    "best_validation_balanced_accuracy": study.best_value,
    "retrained_validation": {k: v for k, v in search_validation.items() if k != "per_class_recall"},
    "retrained_test": {k: v for k, v in search_test.items() if k != "per_class_recall"},
    "importances": study_result.importances, "seconds": search_seconds,
    "headline": (f"a {len(study.trials)}-trial validation search: best trial {pct(study.best_value)} validation, "
                 f"{pct(search_test['balanced_accuracy'])} test balanced accuracy (retrained, scored once)")}
results.save(NOTEBOOK, paths, profile, values, headline=headline, seeds=profile.seeds)
shown_params = ", ".join(f"{name} = {value:.2g}" if isinstance(value, float) else
                         f"{name} = `{value}`" if isinstance(value, str) else f"{name} = {value}"
                         for name, value in best_params.items())
if study_result.importances:
    top_param, top_share = next(iter(study_result.importances.items()))
    importance_words = (f"The parameter that mattered most among the completed trials was `{top_param}` "
                        f"({pct(top_share, 0)} of the importance).")
else:
    importance_words = f"Parameter importances were not computed: {study_result.importances_note}."
results.show(f"""
**What the search found** ({results.which_data(paths)}, profile `{profile.name}`): {len(study.trials)} trials of
{search_settings['epochs']} epochs in {search_seconds:.0f} s, {search_counts.get('COMPLETE', 0)} completed and
{search_counts.get('PRUNED', 0)} pruned. The best on validation was trial {study_result.best_trial.number}
({shown_params}) with {pct(study.best_value)} validation balanced accuracy. Trained again, it scores
{pct(search_test['balanced_accuracy'])} balanced accuracy on test ({pct(search_test['accuracy'])} accuracy),
against {pct(majority_test['balanced_accuracy'])} for always answering
{majority_test.get('style', 'the largest style')}, {pct(colour_test['balanced_accuracy'])} for colour statistics and
{pct(none['balanced_accuracy']['mean'])} for plain cross-entropy with the fixed settings above (mean over
{profile.seeds} seeds, {profile.imbalance['epochs']} epoch{'s' if profile.imbalance['epochs'] != 1 else ''} each).
{importance_words}

The best validation score is the largest of {search_counts.get('COMPLETE', 0)} noisy numbers, so it flatters the
chosen trial; its test score, measured once after the choice, is the honest one. It is one seed, so it carries no
interval: it is {results.compare_words(search_test['balanced_accuracy'], none['balanced_accuracy']['high'],
higher='above', lower='not above')} the upper end of plain cross-entropy's 95% interval
({pct(none['balanced_accuracy']['high'])}).
{f"**In the `smoke` profile these numbers mean nothing** (a few images per style, {search_settings['epochs']} epochs)."
   if profile.name == "smoke" else ""}
""")

# %% [markdown]
# ## Try it yourself: the training panel
# Pick a model, image size, learning rate, batch size, number of epochs, imbalance
# method and seed, and press **Train**: the loss curve is redrawn after each epoch and
# the **validation** scores appear next to the baselines. Values the panel cannot use
# (a learning rate ≤ 0, a batch size larger than the training set) are refused with a
# message. Run from top to bottom without a person, the cell below trains once with
# the defaults (the method chosen on validation above).

# %%
from IPython.display import display

panel = widgets.training_panel(splits, part1_imbalance.base_spec(profile, DEVICE).replace(imbalance=best),
                               cache_dir=paths.cache_dir)
display(panel.widget)
panel.train()

# %%
widgets.static_copy(panel)

# %%
# NBVAL_CHECK_OUTPUT
print("the panel trained:", panel.last_result is not None and panel.last_error is None)
print("epochs trained as set in the panel:", len(panel.last_result.history.records) == panel.epochs.value)
print("the panel scored validation only:", panel.last_result.test is None)
