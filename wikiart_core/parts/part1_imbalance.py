"""Part 1 (notebook 02): the class-imbalance comparison.

Every method of ``imbalance.METHODS`` is trained with the same small StyleCNN, the
same epochs and learning rate (``profile.imbalance``) over ``profile.seeds`` seeds;
what differs between the runs of one seed is only the method. :func:`compare` runs
them through ``experiment.run``; :class:`ComparisonResult` holds the runs and their
intervals (``stats``), the best method chosen on validation.

The notebook's conclusions are rendered by the functions at the end of this module,
each a check on the numbers (:func:`validation_test_check`, :func:`colour_check`,
``ComparisonResult.tail_recall``) and a sentence whose words follow from that check
(:func:`validation_test_words`, :func:`colour_words`, :func:`tail_words`,
:func:`importance_words`), so the same text is true of any outcome.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from wikiart_core import experiment, imbalance, results, stats, tasks
from wikiart_core.experiment import RunSpec


def base_spec(profile, device: str = "auto") -> RunSpec:
    """The run every method shares (the method and seed are set per run); what the
    profile does not set (batch size, weight decay, ...) is ``RunSpec``'s default."""
    settings = profile.imbalance
    return RunSpec(name="imbalance", model="stylecnn",
                   model_args=dict(width=settings["width"], depth=settings["depth"]),
                   epochs=settings["epochs"], lr=settings["lr"], warmup_epochs=0.5, device=device)


def run_comparison(splits, profile, device: str = "auto", progress: bool = True, log=print,
                   spec: RunSpec | None = None) -> "ComparisonResult":
    """:func:`compare` over every method and ``profile.seed_list`` with ``spec``
    (default: :func:`base_spec`); splits at ``profile.imbalance["image_size"]`` px."""
    return compare(list(imbalance.METHODS), profile.seed_list, splits, spec or base_spec(profile, device),
                   progress=progress, log=log)


# --------------------------------------------------------------------------- comparison over seeds

METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


@dataclass
class ComparisonResult:
    """The runs of :func:`compare`: one :class:`~wikiart_core.experiment.RunResult` per
    (method, seed), every run scored on validation and, once, on test.

    ``best`` is chosen on *validation*; intervals and comparisons are computed on test
    with a bootstrap over test images and seeds (``wikiart_core.stats``)."""

    runs: dict[str, list]
    classes: list[str]
    n_resamples: int = 2000
    # {baseline name: (N_test,) int64 test predictions}, for paired comparisons with a baseline
    # (:meth:`against_baseline`); :func:`compare` stores the colour-statistics baseline's.
    reference_predictions: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def methods(self) -> list[str]:
        return list(self.runs)

    @property
    def baselines(self) -> dict:
        first = next(iter(self.runs.values()))[0]
        return first.baselines

    def best(self, metric: str = "balanced_accuracy") -> str:
        """The method with the highest mean *validation* ``metric`` over seeds."""
        return max(self.runs, key=lambda method: float(np.mean([r.validation[metric] for r in self.runs[method]])))

    def summary(self, split: str = "test") -> dict[str, dict[str, dict[str, float]]]:
        """{method: {metric: {"mean", "low", "high"}}}: the mean over seeds and a 95%
        bootstrap interval over images and seeds, as fractions."""
        result = {}
        for method, runs in self.runs.items():
            y_true, predictions = experiment.predictions_matrix(runs, split)
            result[method] = {}
            for metric in METRICS:
                interval = stats.bootstrap_interval(y_true, predictions, metric=metric,
                                                    n_resamples=self.n_resamples, seed=0)
                result[method][metric] = {"mean": float(interval["mean"]), "low": float(interval["low"]),
                                          "high": float(interval["high"])}
        return result

    def against(self, reference: str = "none", metric: str = "balanced_accuracy", split: str = "test") -> dict:
        """{method: paired bootstrap of method minus ``reference``} on ``split``, the
        same images and seeds for both (``stats.paired_bootstrap``)."""
        y_true, reference_predictions = experiment.predictions_matrix(self.runs[reference], split)
        comparisons = {}
        for method, runs in self.runs.items():
            if method == reference:
                continue
            _, predictions = experiment.predictions_matrix(runs, split)
            comparisons[method] = stats.paired_bootstrap(y_true, predictions, reference_predictions, metric=metric,
                                                         n_resamples=self.n_resamples, seed=0)
        return comparisons

    def against_baseline(self, name: str = "colour_statistics", metric: str = "balanced_accuracy") -> dict:
        """{method: paired bootstrap of method minus the baseline ``name``} on test.

        The baseline is one deterministic model (no seeds), so its (N,) predictions stand
        for every seed; the resampled test images are shared, so images both get right or
        both get wrong cancel out. Differences are fractions (``stats.paired_bootstrap``)."""
        if name not in self.reference_predictions:
            raise KeyError(f"no test predictions of the baseline {name!r} stored "
                           f"(have: {sorted(self.reference_predictions) or 'none'})")
        reference = np.asarray(self.reference_predictions[name], dtype=np.int64)
        comparisons = {}
        for method, runs in self.runs.items():
            y_true, predictions = experiment.predictions_matrix(runs, "test")
            comparisons[method] = stats.paired_bootstrap(y_true, predictions, np.broadcast_to(reference, predictions.shape),
                                                         metric=metric, n_resamples=self.n_resamples, seed=0)
        return comparisons

    def tail_recall(self, train_counts: Mapping[str, int], reference: str | None = None, groups: int = 3) -> dict:
        """Test recall on the rarest styles, with intervals, and the styles never recognised.

        Args:
            train_counts: {style: training images}; the styles are ranked by it.
            reference: the method the others are held against (default: the best on
                validation balanced accuracy, :meth:`best`).
            groups: the smallest ``len(classes) // groups`` styles (at least one) are the
                tail, the largest as many are the head.

        Returns plain values (fractions):
            {"styles": the tail, rarest first; "largest": the head, largest first;
             "recall" / "recall_largest": {method: {"mean", "low", "high", ...} or None}:
             the mean recall over those styles' test images, averaged over seeds, with a 95%
             bootstrap interval over test images and seeds (None: no test images there);
             "zero_recall": {method: [styles with test images that no seed ever gets
             right, rarest first]}; "rarest_zero": {method: how many of the rarest styles
             (with test images), counted from the rarest, all have zero recall};
             "no_test_images": [styles without test images]; "n_scored": styles with test
             images; "reference"; "best": the method with the highest tail recall;
             "best_vs_reference": paired bootstrap of best minus reference on the tail's
             test images (None when best is the reference or the tail has no test images)}.
        """
        reference = reference or self.best("balanced_accuracy")
        missing = [style for style in self.classes if style not in train_counts]
        if missing:
            raise ValueError(f"train_counts has no count for {missing}")
        ordered = sorted(self.classes, key=lambda style: (-train_counts[style], style))
        size = max(1, len(ordered) // max(1, groups))
        largest, smallest = ordered[:size], ordered[::-1][:size]
        index = {style: label for label, style in enumerate(self.classes)}
        matrices = {method: experiment.predictions_matrix(runs, "test") for method, runs in self.runs.items()}
        y_true = next(iter(matrices.values()))[0]
        support = np.bincount(y_true, minlength=len(self.classes))
        rarest_first = [style for style in ordered[::-1] if support[index[style]] > 0]

        def subset(styles):
            return np.isin(y_true, [index[style] for style in styles])

        def interval(predictions, mask):
            if not mask.any():
                return None
            return stats.bootstrap_interval(y_true[mask], predictions[:, mask], metric="balanced_accuracy",
                                            n_resamples=self.n_resamples, seed=0)

        tail_mask, head_mask = subset(smallest), subset(largest)
        recall = {method: interval(p, tail_mask) for method, (_, p) in matrices.items()}
        zero_recall, rarest_zero = {}, {}
        for method, (_, predictions) in matrices.items():
            hits = np.bincount(y_true[(predictions == y_true).any(axis=0)], minlength=len(self.classes))
            zero_recall[method] = [style for style in rarest_first if hits[index[style]] == 0]
            streak = 0
            for style in rarest_first:
                if hits[index[style]]:
                    break
                streak += 1
            rarest_zero[method] = streak
        scored = {method: value["mean"] for method, value in recall.items() if value is not None}
        best = max(scored, key=scored.get) if scored else None
        best_vs_reference = None
        if best is not None and best != reference:
            best_vs_reference = stats.paired_bootstrap(y_true[tail_mask], matrices[best][1][:, tail_mask],
                                                       matrices[reference][1][:, tail_mask], metric="balanced_accuracy",
                                                       n_resamples=self.n_resamples, seed=0)
        return {"styles": smallest, "largest": largest, "recall": recall,
                "recall_largest": {method: interval(p, head_mask) for method, (_, p) in matrices.items()},
                "zero_recall": zero_recall, "rarest_zero": rarest_zero,
                "no_test_images": [style for style in ordered if support[index[style]] == 0],
                "n_scored": len(rarest_first), "reference": reference, "best": best,
                "best_vs_reference": best_vs_reference}

    def per_class_recall(self, split: str = "test") -> dict[str, dict[str, float]]:
        """{method: {style: recall averaged over seeds}}."""
        return {method: {style: float(np.mean([r.test["per_class_recall"][style] if split == "test"
                                               else r.validation["per_class_recall"][style] for r in runs]))
                         for style in self.classes}
                for method, runs in self.runs.items()}

    def table(self) -> str:
        """Per method: mean validation balanced accuracy, then test accuracy, balanced
        accuracy and macro-F1 as mean [95% interval] in percent; the baselines below."""
        summary = self.summary("test")
        seeds = sorted({r.spec.seed for runs in self.runs.values() for r in runs})
        names = list(summary)
        width = max(len(name) for name in names + ["colour statistics (logistic regr.)"]) + 2
        header = (f"{'method':<{width}}{'val. bal. acc.':>15}" + "".join(f"{'test ' + title:>22}"
                  for title in ("accuracy", "bal. acc.", "macro-F1")))
        lines = [header, "-" * len(header)]
        for method in names:
            validation = np.mean([r.validation["balanced_accuracy"] for r in self.runs[method]])
            cells = "".join(f"{100 * summary[method][m]['mean']:>9.1f} [{100 * summary[method][m]['low']:4.1f}, "
                            f"{100 * summary[method][m]['high']:4.1f}]" for m in METRICS)
            lines.append(f"{method:<{width}}{100 * validation:>14.1f}%{cells}")
        lines.append("-" * len(header))
        test_baselines, validation_baselines = self.baselines.get("test", {}), self.baselines.get("validation", {})
        for key, name in (("majority", f"always {test_baselines.get('majority', {}).get('style', '?')}"),
                          ("stratified", "stratified random"), ("colour_statistics", "colour statistics (logistic regr.)")):
            values = test_baselines.get(key, {})
            validation = validation_baselines.get(key, {}).get("balanced_accuracy", float("nan"))
            cells = "".join(f"{100 * values.get(m, float('nan')):>9.1f}{'':13}" for m in METRICS)
            lines.append(f"{name:<{width}}{100 * validation:>14.1f}%{cells}")
        lines.append(f"test: mean over {len(seeds)} seeds {seeds} [95% bootstrap interval over test images and seeds]")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"runs": {method: [r.to_dict() for r in runs] for method, runs in self.runs.items()},
                "classes": self.classes}


def compare(methods: Sequence[str], seeds: Sequence[int], splits, base_spec, *, progress: bool = True,
            log: Callable[[str], None] | None = print, fit_fn: Callable | None = None) -> ComparisonResult:
    """One run per (method, seed) through ``experiment.run``, each scored on validation
    and once on test.

    Args:
        methods: keys of ``imbalance.METHODS``.
        seeds: one run per seed and method; the seed sets the initial weights, the
            batch order, the augmentation and the balanced sampler.
        splits: ``data.Splits`` (train, validation, test).
        base_spec: an ``experiment.RunSpec`` (model, epochs, lr, ...); ``imbalance``,
            ``seed`` and ``name`` are set per run.
        progress: a tqdm bar over the runs. log: one line per finished run (None: silent).
        fit_fn: the training function (tests pass a fake).
    """
    unknown = [m for m in methods if m not in imbalance.METHODS]
    if unknown:
        raise ValueError(f"unknown imbalance method(s) {unknown}; choose from {list(imbalance.METHODS)}")
    pairs = [(method, seed) for method in methods for seed in seeds]
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(pairs), desc="imbalance runs", leave=False)
    runs: dict[str, list] = {}
    try:
        for method, seed in pairs:
            spec = base_spec.replace(name=method, imbalance=method, seed=seed)
            result = experiment.run(spec, splits, fit_fn=fit_fn)
            runs.setdefault(method, []).append(result)
            if log is not None:
                log(f"{method:<18} seed {seed}: validation balanced accuracy {result.validation['balanced_accuracy']:.3f}"
                    f"  ({result.seconds:.1f} s)")
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return ComparisonResult(runs=runs, classes=list(splits.classes),
                            reference_predictions={"colour_statistics": tasks.colour_baseline_test_predictions(splits)})


# --------------------------------------------------------------------------- checks and the words they decide

# Below this many completed trials, Optuna's parameter importances rank nothing: a random
# forest fitted to a handful of points attributes the scores to whichever parameter
# happened to vary with them.
MIN_TRIALS_TO_RANK = 20


def _code(name: str) -> str:
    return f"`{name}`"


def style_names(styles: Sequence[str], at_most: int | None = None) -> str:
    """'Action painting, Analytical Cubism'; beyond ``at_most`` names, '... and 5 more'."""
    names = [style.replace("_", " ") for style in styles]
    if at_most is not None and len(names) > at_most:
        return ", ".join(names[:at_most]) + f" and {len(names) - at_most} more"
    return ", ".join(names)


# A sentence names at most this many styles; the tables list them all.
NAMED_STYLES = 8


def methods_words(methods: Sequence[str]) -> str:
    """"`a`, `b`" for a list of method names, "none of them" for an empty one."""
    return ", ".join(_code(method) for method in methods) if methods else "none of them"


def _as_quantity(result: Mapping, quantity: str) -> dict:
    """A paired-bootstrap result whose metric is named ``quantity`` in ``stats.verdict_words``."""
    return {**result, "metric": quantity}


def validation_test_check(comparison: ComparisonResult, metric: str = "balanced_accuracy") -> dict:
    """Whether the method chosen on validation is also the best on test.

    Returns plain values (fractions): {"metric"; "chosen": best mean validation
    ``metric`` (:meth:`ComparisonResult.best`); "test_best": best mean test ``metric``;
    "validation_mean", "test_mean": {method: mean over seeds}; "disagree": test_best is
    not chosen; "difference": paired bootstrap of test_best minus chosen on test (over
    images and seeds), None when they agree}. The test split is reported, never used to
    choose: ``chosen`` stays the method the notebook goes on with."""
    chosen = comparison.best(metric)
    validation_mean = {method: float(np.mean([r.validation[metric] for r in runs]))
                       for method, runs in comparison.runs.items()}
    test_mean = {method: values[metric]["mean"] for method, values in comparison.summary("test").items()}
    test_best = max(test_mean, key=test_mean.get)
    difference = None
    if test_best != chosen:
        difference = comparison.against(chosen, metric)[test_best]
    return {"metric": metric, "chosen": chosen, "test_best": test_best, "validation_mean": validation_mean,
            "test_mean": test_mean, "disagree": test_best != chosen, "difference": difference}


def validation_test_words(check: Mapping) -> str:
    """Sentences for :func:`validation_test_check`: which method validation chose, and
    whether another scores higher on test, said with the paired difference's interval."""
    metric = stats.METRIC_NAMES.get(check["metric"], check["metric"])
    chosen, top = check["chosen"], check["test_best"]
    validation, test = check["validation_mean"], check["test_mean"]
    if not check["disagree"]:
        return (f"Validation chose {_code(chosen)} ({results.pct(validation[chosen])} mean validation {metric}), and it "
                f"also has the highest mean test {metric} of the {len(test)} methods ({results.pct(test[chosen])}).")
    words = stats.verdict_words(check["difference"], _code(top), _code(chosen))
    verdict = check["difference"]["verdict"]
    text = (f"Validation chose {_code(chosen)} ({results.pct(validation[chosen])} mean validation {metric}, against "
            f"{results.pct(validation[top])} for {_code(top)}), but on test {_code(top)} scores higher: "
            f"{results.pct(test[top])} against {results.pct(test[chosen])}. ")
    if verdict == "better":
        text += (f"The paired bootstrap says this is more than noise: {words}. On this test split the "
                 f"validation choice was not the best method.")
    elif verdict == "no clear difference":
        text += (f"The paired bootstrap cannot tell the two apart: {words}; so test does not clearly "
                 f"contradict the choice.")
    else:
        text += f"The paired bootstrap points the other way: {words}."
    return (text + f" The test split only reports this and chooses nothing: I keep {_code(chosen)}, because a "
                   f"method picked by its test score would have a flattering test score.")


def _rarest_words(zero: Sequence[str], streak: int) -> str:
    """': the 3 rarest (A, B, C)' / ' (A, B), among them the rarest' / ' (A, B)', rarest first,
    at most :data:`NAMED_STYLES` names."""
    names = style_names(zero, NAMED_STYLES)
    if streak == len(zero):
        return f": the rarest, {names}" if streak == 1 else f": the {streak} rarest ({names})"
    rarest = "the rarest" if streak == 1 else f"the {streak} rarest"
    return f" (rarest first: {names}){', among them ' + rarest if streak else ''}"


def tail_words(tail: Mapping, seeds: int) -> str:
    """Sentences for ``ComparisonResult.tail_recall``: the reference method's recall on the
    smallest styles, the method highest there (with the paired difference), and the styles
    the reference never gets right."""
    reference, size = tail["reference"], len(tail["styles"])
    quantity = f"recall on the {size} smallest styles"
    recall = tail["recall"]
    if recall.get(reference) is None:
        return f"None of the {size} smallest styles has test images, so their recall cannot be measured."
    own = recall[reference]
    text = (f"On the {size} smallest styles (fewest training images), {_code(reference)} finds "
            f"{results.pct(own['mean'])} of the test images on average (95% interval {results.pct(own['low'])} to "
            f"{results.pct(own['high'])}); ")
    best = tail["best"]
    if best == reference:
        text += "no method is higher there. "
    else:
        words = stats.verdict_words(_as_quantity(tail["best_vs_reference"], quantity), _code(best), _code(reference))
        text += f"{_code(best)} is highest there with {results.pct(recall[best]['mean'])}: {words}. "
    zero = tail["zero_recall"][reference]
    if not zero:
        text += (f"{_code(reference)} gets at least one test image right in each of the {tail['n_scored']} styles "
                 f"that have test images.")
    else:
        text += (f"{_code(reference)} gets no test image right, in any of the {seeds} seed{'s' if seeds != 1 else ''}, "
                 f"for {len(zero)} of the {tail['n_scored']} styles that have test images"
                 f"{_rarest_words(zero, tail['rarest_zero'][reference])}.")
    others = {method: len(styles) for method, styles in tail["zero_recall"].items() if method != reference}
    if others:
        fewest = min(others.values())
        named = [method for method, count in others.items() if count == fewest]
        verb = "misses" if len(named) == 1 else "miss"
        text += (f" Of the other methods, {methods_words(named)} {verb} "
                 f"{'no style' if fewest == 0 else f'the fewest styles ({fewest})'} entirely.")
    return text


def colour_check(summary: Mapping, against_colour: Mapping, colour: Mapping, method: str,
                 metric: str = "balanced_accuracy") -> dict:
    """Whether ``method`` beats the colour-statistics baseline on test.

    Args:
        summary: ``ComparisonResult.summary("test")``.
        against_colour: ``ComparisonResult.against_baseline("colour_statistics", metric)``.
        colour: the baseline's test metrics (``baselines["test"]["colour_statistics"]``).

    Returns {"method", "metric", "score": the method's {"mean", "low", "high"}, "colour":
    the baseline's score, "inside": the baseline's score lies inside the method's 95%
    interval, "paired": the paired bootstrap of method minus colour, "verdict": its
    verdict ("better", "worse" or "no clear difference")}."""
    score, value = summary[method][metric], float(colour[metric])
    paired = against_colour[method]
    return {"method": method, "metric": metric, "score": dict(score), "colour": value,
            "inside": bool(score["low"] <= value <= score["high"]), "paired": dict(paired),
            "verdict": paired["verdict"]}


def colour_words(check: Mapping, role: str = "") -> str:
    """One sentence for :func:`colour_check`; ``role`` names the method, e.g. "the method
    validation chose" ("" : the method's name alone)."""
    metric = stats.METRIC_NAMES.get(check["metric"], check["metric"])
    name = f"{role}, {_code(check['method'])}" if role else _code(check["method"])
    subject = f"{name}," if role else name
    score, colour = check["score"], check["colour"]
    inside = (f"{'inside' if check['inside'] else 'outside'} its 95% interval "
              f"({results.pct(score['low'])} to {results.pct(score['high'])})")
    words = stats.verdict_words(check["paired"], _code(check["method"]), "colour statistics")
    if check["verdict"] == "better":
        return (f"{subject[0].upper() + subject[1:]} beats colour statistics alone: {results.pct(score['mean'])} test {metric} "
                f"against {results.pct(colour)}, which lies {inside}; {words}.")
    if check["verdict"] == "worse":
        return (f"Colour statistics alone score higher than {name}: {results.pct(colour)} test {metric} against "
                f"{results.pct(score['mean'])}; {words}.")
    return (f"Colour statistics alone match {name}: their {results.pct(colour)} test {metric} lies {inside} around "
            f"{results.pct(score['mean'])}, and the paired bootstrap finds {words}.")


def importance_words(importances: Mapping[str, float] | None, note: str, counts: Mapping[str, int],
                     min_trials: int = MIN_TRIALS_TO_RANK) -> str:
    """What the parameter-importance plot can say, from how many trials back it.

    Args:
        importances: {param: share of the importance, summing to 1} or None
            (``search.param_importances``).
        note: why they are None.
        counts: trials per state (``StudyResult.counts()``); Optuna's importances use the
            COMPLETE ones only.
        min_trials: the fewest completed trials from which the top parameter is named.
    """
    complete, pruned = counts.get("COMPLETE", 0), counts.get("PRUNED", 0)
    backing = (f"{complete} completed trial{'s' if complete != 1 else ''} "
               f"({pruned} pruned trial{'s do' if pruned != 1 else ' does'} not enter it)")
    if not importances:
        return f"Parameter importances were not computed ({note}); the study has {backing}."
    if complete < min_trials:
        return (f"The importance plot rests on {backing}: too few to rank parameters (I would want at least "
                f"{min_trials}), so I read nothing into which bar is longest.")
    top, share = max(importances.items(), key=lambda item: item[1])
    return (f"Over {backing}, Optuna's importance estimate puts {_code(top)} first ({results.pct(share, 0)} of the "
            f"importance); this is an estimate from one study, not a measured effect of the parameter.")


def imbalance_words(counts: Mapping[str, int], which_data: str, synthetic: bool) -> str:
    """How unbalanced the training folder in use is, beside the real WikiArt split
    (``wikiart_facts``) when the data in use is the embedded stand-in.

    counts: {style: training images} of the folder in use; which_data: words for it
    (``results.which_data``); synthetic: the data is the embedded stand-in."""
    from wikiart_core import wikiart_facts

    largest, smallest = max(counts, key=counts.get), min(counts, key=counts.get)
    text = (f"On {which_data}, the largest style, {style_names([largest])} ({counts[largest]} training images), has "
            f"{counts[largest] / counts[smallest]:.0f} times more training images than the smallest, "
            f"{style_names([smallest])} ({counts[smallest]}).")
    if synthetic:
        text += (f" The embedded data copies the real split's imbalance with fewer images per style; in the real "
                 f"WikiArt split the ratio is {wikiart_facts.imbalance_ratio():.0f} "
                 f"({wikiart_facts.style_words(wikiart_facts.LARGEST_STYLE)} "
                 f"{wikiart_facts.TRAIN_COUNTS[wikiart_facts.LARGEST_STYLE]}, "
                 f"{wikiart_facts.style_words(wikiart_facts.SMALLEST_STYLE)} "
                 f"{wikiart_facts.TRAIN_COUNTS[wikiart_facts.SMALLEST_STYLE]}).")
    return text


def tail_table(tail: Mapping) -> str:
    """Per method: mean test recall on the largest and on the smallest styles of
    ``ComparisonResult.tail_recall`` (the latter with its 95% interval), in percent, and
    the number of styles no seed ever gets right."""
    size = len(tail["styles"])
    header = (f"{'method':<18}{f'recall, {size} largest':>22}{f'recall, {size} smallest [95%]':>32}"
              f"{'styles never right':>20}")
    lines = [header, "-" * len(header)]
    for method, recall in tail["recall"].items():
        head = tail["recall_largest"][method]
        head_cell = "-" if head is None else f"{100 * head['mean']:.1f}%"
        tail_cell = "-" if recall is None else (f"{100 * recall['mean']:.1f}% [{100 * recall['low']:.1f}, "
                                                f"{100 * recall['high']:.1f}]")
        lines.append(f"{method:<18}{head_cell:>22}{tail_cell:>32}{len(tail['zero_recall'][method]):>20}")
    lines.append(f"smallest styles, rarest first: {style_names(tail['styles'])}")
    if tail["no_test_images"]:
        lines.append(f"without test images (not scored): {style_names(tail['no_test_images'])}")
    return "\n".join(lines)
