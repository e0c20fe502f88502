# %% [markdown]
# # Part 1: class imbalance
#
# WikiArt's styles are far from balanced (the counts are below): a classifier trained
# with plain cross-entropy can reach a respectable accuracy by getting the big styles
# right and never predicting the small ones. In this notebook I compare the usual
# corrections on three numbers: accuracy, balanced accuracy (the mean recall over
# styles) and macro-F1, over several seeds, with 95% bootstrap intervals over test
# images and seeds, because one run per method cannot tell a method apart from luck.
#
# **Which data?** By default the workbook runs on `synthart`, an embedded procedural
# stand-in with WikiArt's style folders and WikiArt's class imbalance. It is *not*
# WikiArt: numbers measured on it say how the code behaves, not how well anything
# recognises real paintings. On the GPU server, set `dataset: wikiart` in
# `data_paths.yaml` and re-run: the text below is rendered from the run's results.

# %% [markdown]
# ## Parameters
# `PROFILE` sets the size of everything (`config.PROFILES`; this notebook reads
# `profile.imbalance` and `profile.seeds`). The environment variable `WIKIART_PROFILE`
# overrides the default, which is how `make test` and `make report` choose.
#
# Every method times the profile's seeds is many trainings, so I use a deliberately
# small `StyleCNN`, small images and a few epochs: absolute numbers are lower than in
# `01_bonusA`; what matters here is the *difference* between methods trained under
# identical conditions.

# %% tags=["parameters", "show-code"]
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
# Always answering the largest style is the accuracy to beat; $1/C$, for $C$ styles,
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

# %%
results.show(part1_imbalance.imbalance_words(counts, results.which_data(paths), synthetic=paths.synth is not None))

# %% [markdown]
# ## Three inverse-frequency weight formulas are one loss
# Per style $c$ with $n_c$ training images, $N$ images in all and $C$ styles, the three
# inverse-frequency formulas are $N/(n_c C)$, $N/n_c$ and $1/n_c$. For comparison I add
# the weights from the *effective number of samples* (Cui et al. 2019),
# $(1-\beta)/(1-\beta^{n_c})$, which grow more slowly than $1/n_c$ for the rarest styles
# (β is printed below: the default of `imbalance.configure`, the one the runs use).

# %%
# NBVAL_CHECK_OUTPUT
import inspect

beta = inspect.signature(imbalance.configure).parameters["beta"].default
print(f"beta = {beta}")
formulas = {
    "N/(n_c C)": imbalance.class_weights_normalised_inverse_frequency(counts),
    "N/n_c": imbalance.class_weights_inverse_frequency(counts),
    "1/n_c": imbalance.class_weights_reciprocal(counts),
    "eff. number": imbalance.class_weights_effective_number(counts, beta=beta),
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
# The first three columns differ only by a constant factor ($N/C$, $N$ and $1$), so their
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

# %% tags=["show-code"]
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
# ## Validation's choice, seen on test
# I pick the method with the highest mean *validation* balanced accuracy. The test
# split then says whether another method scores higher; it only reports, it changes
# no choice.

# %%
best = comparison.best("balanced_accuracy")
choice = part1_imbalance.validation_test_check(comparison, "balanced_accuracy")
results.show(part1_imbalance.validation_test_words(choice))

# %% [markdown]
# ## Who gains: recall per style
# The method chosen on validation next to the unweighted model (and the method highest
# on test, when that is another one), test recall averaged over the seeds, styles from
# the largest to the smallest:

# %%
recall = comparison.per_class_recall("test")
chosen = {"none (unweighted)": recall["none"]}
if best != "none":
    chosen[f"{best} (chosen on validation)"] = recall[best]
if choice["test_best"] not in (best, "none"):
    chosen[f"{choice['test_best']} (highest on test, not chosen)"] = recall[choice["test_best"]]
plots.per_class_recall(chosen, train_set.class_counts(), title=f"Recall per style, mean over {profile.seeds} seeds (test set)")

# %% [markdown]
# The same on the largest and on the smallest styles (as many of each as the table
# says, ranked by the training images of this run's training split), with the number of
# styles that no seed of a method ever gets right:

# %%
split_counts = train_set.class_counts()
tail = comparison.tail_recall(split_counts, reference=best)
print(part1_imbalance.tail_table(tail))

# %%
results.show(part1_imbalance.tail_words(tail, profile.seeds))

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
against_colour = comparison.against_baseline("colour_statistics", "balanced_accuracy")
beats_colour = [m for m, r in against_colour.items() if r["verdict"] == "better"]
under_colour = [m for m, r in against_colour.items() if r["verdict"] == "worse"]
colour_checks = {m: part1_imbalance.colour_check(summary, against_colour, colour, m) for m in comparison.methods}
best_macro = max(comparison.methods, key=lambda m: np.mean([r.validation["macro_f1"] for r in comparison.runs[m]]))
listed = part1_imbalance.methods_words
test_best = choice["test_best"]
tail_size = len(tail["styles"])


def tail_pct(method: str, key: str = "recall") -> str:
    value = tail[key][method]
    return "not measured (no test images)" if value is None else pct(value["mean"])


values = {"methods": comparison.methods, "seed_list": profile.seed_list, "summary_test": summary,
          "validation_mean": {m: {k: float(np.mean([r.validation[k] for r in runs])) for k in part1_imbalance.METRICS}
                              for m, runs in comparison.runs.items()},
          "against_none": against_none, "best_validation_balanced_accuracy": best,
          "best_validation_macro_f1": best_macro, "baselines": comparison.baselines,
          "above_colour_baseline": above_colour, "below_colour_baseline": below_colour,
          "against_colour": against_colour, "beats_colour_paired": beats_colour,
          "below_colour_paired": under_colour, "colour_check": colour_checks,
          "validation_vs_test": choice, "best_test_balanced_accuracy": test_best,
          "tail": tail,
          "recall_largest_third": {m: None if v is None else v["mean"] for m, v in tail["recall_largest"].items()},
          "recall_smallest_third": {m: None if v is None else v["mean"] for m, v in tail["recall"].items()},
          "zero_recall_styles": tail["zero_recall"],
          "image_size": splits.image_size, "settings": profile.imbalance, "seconds": comparison_seconds}
headline = (f"{len(comparison.methods)} imbalance methods x {profile.seeds} seeds: raise test balanced accuracy over "
            f"plain cross-entropy (95% paired bootstrap): {', '.join(raises['balanced_accuracy']) or 'none'}; "
            f"best on validation: {best} ({pct(summary[best]['balanced_accuracy']['mean'])} test balanced accuracy "
            f"[{pct(summary[best]['balanced_accuracy']['low'])}, {pct(summary[best]['balanced_accuracy']['high'])}] "
            f"vs {pct(none['balanced_accuracy']['mean'])} unweighted, "
            f"{pct(colour['balanced_accuracy'])} colour statistics)"
            + ("" if not choice["disagree"] else
               f"; highest on test: {test_best} ({pct(summary[test_best]['balanced_accuracy']['mean'])}, "
               f"{choice['difference']['verdict']} vs {best}, paired)"))
results.save(NOTEBOOK, paths, profile, values, headline=headline, seeds=profile.seeds)
if not choice["disagree"]:
    test_words = "It is also the method with the highest mean test balanced accuracy."
else:
    test_words = (f"On test, `{test_best}` scores higher ({pct(summary[test_best]['balanced_accuracy']['mean'])}): "
                  f"{stats.verdict_words(choice['difference'], f'`{test_best}`', f'`{best}`')}. I report this and "
                  f"keep the validation choice; the test split chooses nothing.")
zero_best = tail["zero_recall"][best]
tail_summary = (f"recall on the {tail_size} smallest styles is {tail_pct(best)} for `{best}`"
                + ("" if tail["best"] in (None, best) else f" and {tail_pct(tail['best'])} for `{tail['best']}`, the "
                   f"highest, {'clearly' if tail['best_vs_reference']['verdict'] == 'better' else 'not clearly'} "
                   f"higher than `{best}` in the paired bootstrap")
                + f"; `{best}` gets {len(zero_best)} of the {tail['n_scored']} styles never right"
                + (f" (rarest first: {part1_imbalance.style_names(zero_best, part1_imbalance.NAMED_STYLES)})."
                   if zero_best else "."))
colour_lines = [part1_imbalance.colour_words(colour_checks[best], "the method validation chose")]
if choice["disagree"]:
    colour_lines.append(part1_imbalance.colour_words(colour_checks[test_best], "the method highest on test"))
if not beats_colour:
    colour_overall = "With no method does this small, briefly trained CNN clearly beat colour statistics alone."
elif len(beats_colour) == len(comparison.methods):
    colour_overall = "Every method clearly beats colour statistics alone."
else:
    colour_overall = f"Only {listed(beats_colour)} clearly beat{'s' if len(beats_colour) == 1 else ''} colour statistics alone."
text = f"""
Measured on {results.which_data(paths)}, profile `{profile.name}`: {profile.seeds} seeds,
{profile.imbalance['epochs']} epoch{'s' if profile.imbalance['epochs'] != 1 else ''}, {splits.image_size} px, StyleCNN width {profile.imbalance['width']},
{sum(len(r) for r in comparison.runs.values())} runs in {comparison_seconds:.0f} s. I call a difference real only
when its 95% paired-bootstrap interval (over test images and seeds) excludes zero.
{"**In the `smoke` profile these numbers mean nothing** (a few images per style, one epoch)." if profile.name == "smoke" else ""}

- **Plain cross-entropy** (`none`): {pct(none['accuracy']['mean'])} accuracy,
  {pct(none['balanced_accuracy']['mean'])} balanced accuracy, {pct(none['macro_f1']['mean'])} macro-F1 on test;
  its recall is {tail_pct('none', 'recall_largest')} on the {tail_size} largest styles and
  {tail_pct('none')} on the {tail_size} smallest.
- **Balanced accuracy**: raised by {listed(raises['balanced_accuracy'])}.
  **Macro-F1**: raised by {listed(raises['macro_f1'])}. **Accuracy** lowered by {listed(lowers_accuracy)}.
- **The method I chose on validation** is `{best}` for balanced accuracy (`{best_macro}` for macro-F1). On
  test, `{best}` has {pct(summary[best]['balanced_accuracy']['mean'])} balanced accuracy
  (95% interval {pct(summary[best]['balanced_accuracy']['low'])} to {pct(summary[best]['balanced_accuracy']['high'])}).
  {test_words}
- **The smallest styles**: {tail_summary}
- **Against the colour-statistics baseline** (a logistic regression on colour statistics, paired bootstrap over
  the same test images): {' '.join(colour_lines)} {colour_overall}
- The three inverse-frequency weight formulas are one loss (shown above), so they are one row,
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
    "importances": study_result.importances, "importances_backed_by_completed_trials": search_counts.get("COMPLETE", 0),
    "importances_ranked": bool(study_result.importances)
    and search_counts.get("COMPLETE", 0) >= part1_imbalance.MIN_TRIALS_TO_RANK,
    "seconds": search_seconds,
    "headline": (f"a {len(study.trials)}-trial validation search: best trial {pct(study.best_value)} validation, "
                 f"{pct(search_test['balanced_accuracy'])} test balanced accuracy (retrained, scored once)")}
results.save(NOTEBOOK, paths, profile, values, headline=headline, seeds=profile.seeds)
shown_params = ", ".join(f"{name} = {value:.2g}" if isinstance(value, float) else
                         f"{name} = `{value}`" if isinstance(value, str) else f"{name} = {value}"
                         for name, value in best_params.items())
importance_words = part1_imbalance.importance_words(study_result.importances, study_result.importances_note,
                                                    search_counts)
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
# (a learning rate that is not positive, a batch size larger than the training set) are refused with a
# message. Run from top to bottom without a person, the cell below trains once with
# the defaults (the method chosen on validation above).

# %% tags=["remove-cell"]
from IPython.display import display

panel = widgets.training_panel(splits, part1_imbalance.base_spec(profile, DEVICE).replace(imbalance=best),
                               cache_dir=paths.cache_dir)
display(panel.widget)
panel.train()

# %%
widgets.static_copy(panel)

# %% tags=["remove-cell"]
# NBVAL_CHECK_OUTPUT
print("the panel trained:", panel.last_result is not None and panel.last_error is None)
print("epochs trained as set in the panel:", len(panel.last_result.history.records) == panel.epochs.value)
print("the panel scored validation only:", panel.last_result.test is None)
