"""Part 1 (notebook 02): the class-imbalance comparison.

Every method of ``imbalance.METHODS`` is trained with the same small StyleCNN, the
same epochs and learning rate (``profile.imbalance``) over ``profile.seeds`` seeds;
what differs between the runs of one seed is only the method. :func:`compare` runs
them through ``experiment.run``; :class:`ComparisonResult` holds the runs and their
intervals (``stats``), the best method chosen on validation.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from wikiart_core import experiment, imbalance, stats
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
    return ComparisonResult(runs=runs, classes=list(splits.classes))
