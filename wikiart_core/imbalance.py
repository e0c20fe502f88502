"""Class imbalance: class weights, a balanced sampler, logit adjustment, and a
helper that compares them over several seeds.

WikiArt's largest style (Impressionism, 2269 training images) has 150 times more
images than its smallest (Analytical Cubism, 15). Trained with plain cross-entropy,
a classifier can score a good accuracy while never predicting the rare styles, which
is why every comparison here reports balanced accuracy and macro-F1 next to accuracy.

The options, each one word for :func:`configure` (see :data:`METHODS`):

- ``"none"``: plain cross-entropy.
- ``"weighted_normalised"``, ``"weighted_inverse"``, ``"weighted_reciprocal"``:
  class-weighted cross-entropy with the original report's three formulas, per class c
  with n_c training images, N in all and C classes: N / (n_c C), N / n_c and 1 / n_c.
- ``"effective_number"``: class weights from the effective number of samples
  (Cui et al. 2019, "Class-Balanced Loss Based on Effective Number of Samples").
- ``"balanced_sampler"``: plain cross-entropy, but every class is drawn equally often
  (a ``WeightedRandomSampler`` with per-image weight 1 / n_class, with replacement).
- ``"logit_adjust"``: logit-adjusted cross-entropy (Menon et al. 2021, "Long-tail
  learning via logit adjustment"): ``tau * log(prior)`` is added to the logits during
  training only, so the plain logits at test time are already balanced.

**The three formulas are one loss.** They differ only by a constant factor
(N/C, N, 1), and ``torch.nn.CrossEntropyLoss(weight=w)`` with its default
``reduction="mean"`` divides the weighted sum by the sum of the weights of the
batch's targets, ``sum_i w[y_i] l_i / sum_i w[y_i]``: the constant cancels, and the
three formulas give the same loss, the same gradients and, with the same seed, the same
model (up to float rounding). :class:`WeightedCrossEntropyLoss` keeps PyTorch's
convention. The scale would matter only with ``reduction="sum"`` or a plain mean over
the batch (``mean_i w[y_i] l_i``): then the loss and every gradient are multiplied by
the mean weight of a batch, about C / N for 1 / n_c (1/500 on WikiArt), about C for
N / n_c (27x) and about 1 for N / (n_c C). With SGD that multiplies the effective
learning rate by the same factor (1/n_c all but stops training, N/n_c can diverge),
and gradient clipping at a fixed norm interacts with it. Adam and AdamW divide each
update by a running root-mean-square of the gradient, so a constant factor cancels
(up to ``eps``), and AdamW's decoupled weight decay does not depend on the loss
scale: with AdamW (what :func:`wikiart_core.train.fit` uses) the three formulas train
the same either way. Only N / (n_c C) keeps the loss on the unweighted scale, which is
why it is the one to use when writing the reduction by hand.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

Counts = Sequence[int] | Mapping[str, int] | np.ndarray | torch.Tensor

METHODS: dict[str, str] = {
    "none": "plain cross-entropy, no correction",
    "weighted_normalised": "class-weighted cross-entropy, weights N / (n_c * C)",
    "weighted_inverse": "class-weighted cross-entropy, weights N / n_c",
    "weighted_reciprocal": "class-weighted cross-entropy, weights 1 / n_c",
    "effective_number": "class-weighted cross-entropy, weights from the effective number of samples (Cui et al. 2019)",
    "balanced_sampler": "plain cross-entropy, classes drawn equally often (WeightedRandomSampler)",
    "logit_adjust": "cross-entropy on logits + tau * log(prior) during training (Menon et al. 2021)",
}


# --------------------------------------------------------------------------- class weights


def _counts_array(counts: Counts) -> np.ndarray:
    """Counts in label order as float64, refusing empty classes by name.

    A class with no training image would get an infinite weight (or log prior of
    -inf); the loss would be NaN as soon as that class appears in a batch, or the
    weight would silently dominate. It cannot be learned from anyway: remove it from
    the class list, or give it images.
    """
    if isinstance(counts, Mapping):
        names = [str(name) for name in counts]
        values = np.array([counts[name] for name in counts], dtype=np.float64)
    else:
        values = np.asarray(counts.cpu() if isinstance(counts, torch.Tensor) else counts, dtype=np.float64)
        names = [f"label {index}" for index in range(len(values))]
    if values.ndim != 1 or len(values) == 0:
        raise ValueError(f"counts must be a non-empty 1-D sequence of images per class, got shape {values.shape}")
    if (values < 0).any() or not np.isfinite(values).all():
        raise ValueError(f"counts must be finite and >= 0, got {values.tolist()}")
    empty = [name for name, value in zip(names, values) if value == 0]
    if empty:
        raise ValueError(f"class(es) {', '.join(empty)} have no training images, so their weight would be "
                         f"infinite. Fix: remove them from the class list, or add images.")
    return values


def class_weights_normalised_inverse_frequency(counts: Counts) -> torch.Tensor:
    """N / (n_c * C) per class: 1 for a class of average size, so the loss keeps the
    unweighted scale. ``counts``: images per class in label order (sequence, or dict
    style -> count). Returns a float32 tensor of shape (C,)."""
    values = _counts_array(counts)
    return torch.as_tensor(values.sum() / (values * len(values)), dtype=torch.float32)


def class_weights_inverse_frequency(counts: Counts) -> torch.Tensor:
    """N / n_c per class (float32, shape (C,)): C times the normalised weights."""
    values = _counts_array(counts)
    return torch.as_tensor(values.sum() / values, dtype=torch.float32)


def class_weights_reciprocal(counts: Counts) -> torch.Tensor:
    """1 / n_c per class (float32, shape (C,)): 1/N times the inverse-frequency weights."""
    values = _counts_array(counts)
    return torch.as_tensor(1.0 / values, dtype=torch.float32)


def class_weights_effective_number(counts: Counts, beta: float = 0.999) -> torch.Tensor:
    """Class-balanced weights of Cui et al. (2019): (1 - beta) / (1 - beta ** n_c),
    the inverse of the "effective number" of distinct samples in a class, normalised
    so that the weights sum to C. ``beta`` in [0, 1): 0 gives equal weights, values
    near 1 approach 1 / n_c. Returns float32, shape (C,)."""
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"beta must be in [0, 1), got {beta}")
    values = _counts_array(counts)
    # 1 - beta**n computed as -expm1(n log beta) stays accurate for beta close to 1.
    effective = -np.expm1(values * np.log(beta)) / (1.0 - beta) if beta > 0 else np.ones_like(values)
    weights = 1.0 / effective
    return torch.as_tensor(weights * len(values) / weights.sum(), dtype=torch.float32)


def class_prior(counts: Counts) -> torch.Tensor:
    """n_c / N per class, float32 (C,)."""
    values = _counts_array(counts)
    return torch.as_tensor(values / values.sum(), dtype=torch.float32)


# --------------------------------------------------------------------------- losses and sampler


class WeightedCrossEntropyLoss(nn.Module):
    """Class-weighted cross-entropy, ``(logits (B, C), targets (B,)) -> scalar``.

    Same reduction as ``nn.CrossEntropyLoss(weight=w)``: the weighted mean
    ``sum_i w[y_i] l_i / sum_i w[y_i]`` (so weights that differ by a constant
    factor give the same loss; see the module docstring). The weights follow the
    logits to their device and stay float32 under autocast.
    """

    def __init__(self, weights: torch.Tensor, label_smoothing: float = 0.0):
        super().__init__()
        self.register_buffer("weights", torch.as_tensor(weights, dtype=torch.float32))
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), targets, weight=self.weights.to(logits.device),
                               label_smoothing=self.label_smoothing)


class LogitAdjustedLoss(nn.Module):
    """Logit-adjusted softmax cross-entropy (Menon et al. 2021):
    ``CE(logits + tau * log(prior), targets)`` with ``prior = n_c / N``.

    Adding the log prior during training makes the network's own logits estimate
    the *balanced* posterior: frequent classes no longer need large logits to win,
    so at test time the plain logits are used (which is what ``fit`` and
    ``evaluate.predict`` do). ``tau = 1`` is the Bayes-consistent choice for the
    balanced error; ``tau = 0`` is plain cross-entropy. Works on log-probabilities too
    (SeedCNN): log-softmax is unchanged by the constant it removes.

    Args:
        class_counts: training images per class in label order (sequence or dict).
        tau: strength of the adjustment.
    """

    def __init__(self, class_counts: Counts, tau: float = 1.0, label_smoothing: float = 0.0):
        super().__init__()
        self.register_buffer("log_prior", torch.log(class_prior(class_counts)))
        self.tau = float(tau)
        self.label_smoothing = float(label_smoothing)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        adjusted = logits.float() + self.tau * self.log_prior.to(logits.device)
        return F.cross_entropy(adjusted, targets, label_smoothing=self.label_smoothing)


def balanced_sampler(targets: Sequence[int] | np.ndarray, num_samples: int | None = None,
                     seed: int = 0) -> torch.utils.data.WeightedRandomSampler:
    """A sampler that draws every class equally often: image i has weight
    1 / (number of training images of its class), drawn with replacement.

    Args:
        targets: (N,) label of each training image.
        num_samples: draws per epoch (default N, so an epoch has as many steps as before).
        seed: seeds the sampler's own generator (each epoch continues the stream, so the
            epochs differ but the run repeats exactly).
    Rare images are seen many times per epoch (Analytical Cubism's 15 about 18 times
    each on WikiArt) and frequent ones about 1/6 of the time: augmentation matters.
    """
    labels = np.asarray(targets, dtype=np.int64)
    if labels.ndim != 1 or len(labels) == 0:
        raise ValueError("targets must be a non-empty 1-D sequence of labels")
    per_class = np.bincount(labels)
    weights = 1.0 / per_class[labels]
    generator = torch.Generator().manual_seed(int(seed))
    return torch.utils.data.WeightedRandomSampler(torch.as_tensor(weights, dtype=torch.double),
                                                  num_samples=int(num_samples or len(labels)),
                                                  replacement=True, generator=generator)


def configure(method: str, train_counts: Counts, targets: Sequence[int] | None = None, seed: int = 0, *,
              beta: float = 0.999, tau: float = 1.0,
              label_smoothing: float = 0.0) -> tuple[nn.Module | None, torch.utils.data.Sampler | None]:
    """What to pass to ``fit(loss=..., sampler=...)`` for one of :data:`METHODS`.

    Args:
        method: a key of :data:`METHODS`.
        train_counts: training images per class in label order (e.g. ``train.class_counts()``).
        targets: the training labels (needed by ``"balanced_sampler"`` only).
        seed: the sampler's seed.
        beta: for ``"effective_number"``; tau: for ``"logit_adjust"``.
        label_smoothing: applied by the returned losses (``fit`` applies its own only
            when ``loss`` is None, i.e. for ``"none"`` and ``"balanced_sampler"``).
    Returns:
        ``(loss or None, sampler or None)``; None means fit's default.
    """
    if method not in METHODS:
        raise ValueError(f"unknown imbalance method {method!r}; choose one of {list(METHODS)}")
    weight_functions = {
        "weighted_normalised": class_weights_normalised_inverse_frequency,
        "weighted_inverse": class_weights_inverse_frequency,
        "weighted_reciprocal": class_weights_reciprocal,
        "effective_number": lambda counts: class_weights_effective_number(counts, beta),
    }
    if method == "none":
        return None, None
    if method in weight_functions:
        return WeightedCrossEntropyLoss(weight_functions[method](train_counts), label_smoothing), None
    if method == "balanced_sampler":
        if targets is None:
            raise ValueError("the balanced sampler needs the training labels: pass targets=train.targets")
        return None, balanced_sampler(targets, seed=seed)
    return LogitAdjustedLoss(train_counts, tau=tau, label_smoothing=label_smoothing), None


# --------------------------------------------------------------------------- comparison over seeds

METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; 0.0 for a single value)."""
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


@dataclass
class ComparisonResult:
    """The runs of :func:`compare`.

    Attributes:
        rows: one dict per run: method, seed, accuracy, balanced_accuracy, macro_f1,
            final_train_loss, seconds.
        classes: style names in label order.
        per_class_recall_runs: {method: [{style: recall} per seed]}.
        baselines: ``evaluate.baselines(...)`` for the test set (or None).
    """

    rows: list[dict[str, Any]]
    classes: list[str]
    per_class_recall_runs: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    baselines: dict[str, Any] | None = None

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(row["method"] for row in self.rows))

    @property
    def summary(self) -> dict[str, dict[str, dict[str, float]]]:
        """{method: {metric: {"mean", "std", "n"}}} for accuracy, balanced accuracy,
        macro-F1 and seconds per run (std: sample standard deviation over seeds)."""
        result = {}
        for method in self.methods:
            rows = [row for row in self.rows if row["method"] == method]
            result[method] = {}
            for metric in METRICS + ("seconds",):
                mean, std = _mean_std([row[metric] for row in rows])
                result[method][metric] = {"mean": mean, "std": std, "n": len(rows)}
        return result

    @property
    def per_class_recall(self) -> dict[str, dict[str, float]]:
        """{method: {style: recall averaged over seeds}}."""
        return {method: {style: float(np.mean([run[style] for run in runs])) for style in self.classes}
                for method, runs in self.per_class_recall_runs.items()}

    def best(self, metric: str = "balanced_accuracy") -> str:
        """The method with the highest mean ``metric``."""
        summary = self.summary
        return max(summary, key=lambda method: summary[method][metric]["mean"])

    def table(self) -> str:
        """Mean ± standard deviation over seeds per method (percent), seconds per run,
        and the baselines below."""
        summary = self.summary
        seeds = sorted({row["seed"] for row in self.rows})
        names = list(summary)
        if self.baselines:
            names += [f"baseline: always {self.baselines.get('majority', {}).get('style', 'majority')}",
                      "baseline: stratified random"]
        width = max(len(name) for name in names + ["method"]) + 2
        header = f"{'method':<{width}}{'accuracy %':>15}{'balanced acc. %':>17}{'macro-F1 %':>15}{'s/run':>8}"
        lines = [header, "-" * len(header)]
        for method, metrics in summary.items():
            cells = "".join(f"{100 * metrics[m]['mean']:>{w - 6}.1f} ± {100 * metrics[m]['std']:<3.1f}"
                            for m, w in zip(METRICS, (15, 17, 15)))
            lines.append(f"{method:<{width}}{cells}{metrics['seconds']['mean']:>8.1f}")
        if self.baselines:
            lines.append("-" * len(header))
            for name, key in zip(names[-2:], ("majority", "stratified")):
                values = self.baselines.get(key, {})
                cells = "".join(f"{100 * values.get(m, float('nan')):>{w - 6}.1f}{'':6}"
                                for m, w in zip(METRICS, (15, 17, 15)))
                lines.append(f"{name:<{width}}{cells}")
        lines.append(f"mean ± sample standard deviation over {len(seeds)} seed(s) {seeds}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "summary": self.summary, "per_class_recall": self.per_class_recall,
                "baselines": self.baselines, "classes": self.classes}


def compare(methods: Sequence[str], seeds: Sequence[int], train_data, test_data, *,
            model_factory: Callable[[], nn.Module], fit_kwargs: Mapping[str, Any] | None = None,
            progress: bool = True, log: Callable[[str], None] | None = print, fit_fn: Callable | None = None,
            beta: float = 0.999, tau: float = 1.0) -> ComparisonResult:
    """Train one model per (method, seed) with ``fit`` and score it on ``test_data``.

    Args:
        methods: keys of :data:`METHODS`.
        seeds: one run per seed and method; the seed sets the model's initialisation
            (``torch.manual_seed(seed)`` before ``model_factory()``), fit's shuffling and
            augmentation, and the balanced sampler.
        train_data, test_data: ``WikiArtDataset`` splits sharing one class list.
        model_factory: builds a fresh, untrained classifier (called once per run).
        fit_kwargs: passed to ``fit`` (epochs, lr, batch_size, device, ...); ``loss``,
            ``sampler`` and ``seed`` are set here. fit's per-epoch log is silenced unless
            ``fit_kwargs`` gives ``log``.
        progress: a tqdm bar over the runs.
        log: one line per finished run (None: silent).
        fit_fn: the training function (default ``wikiart_core.train.fit``).
        beta, tau: passed to :func:`configure`.
    Returns:
        a :class:`ComparisonResult` (``.table()``, ``.summary``, ``.per_class_recall``).
    """
    from wikiart_core import evaluate

    if fit_fn is None:
        from wikiart_core.train import fit as fit_fn
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown imbalance method(s) {unknown}; choose from {list(METHODS)}")
    fit_kwargs = dict(fit_kwargs or {})
    for key in ("loss", "sampler", "seed"):
        if key in fit_kwargs:
            raise ValueError(f"fit_kwargs must not set {key!r}: compare sets it for each run")
    fit_kwargs.setdefault("progress", False)
    fit_kwargs.setdefault("log", lambda *args, **kwargs: None)
    device = fit_kwargs.get("device", "auto")
    train_counts = train_data.class_counts()
    classes = list(train_data.classes)
    runs = [(method, seed) for method in methods for seed in seeds]
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=len(runs), desc="imbalance runs", leave=False)
    rows: list[dict[str, Any]] = []
    recalls: dict[str, list[dict[str, float]]] = {}
    y_true = None
    try:
        for method, seed in runs:
            loss, sampler = configure(method, train_counts, train_data.targets, seed, beta=beta, tau=tau,
                                      label_smoothing=fit_kwargs.get("label_smoothing", 0.0))
            torch.manual_seed(seed)
            model = model_factory()
            started = time.perf_counter()
            history = fit_fn(model, train_data, None, loss=loss, sampler=sampler, seed=seed, **fit_kwargs)
            predictions = evaluate.predict(model, test_data, device=device)
            seconds = time.perf_counter() - started
            y_true = predictions.y_true
            metrics = evaluate.classification_metrics(predictions.y_true, predictions.y_pred, classes)
            records = getattr(history, "records", [])
            row = {"method": method, "seed": seed, **{m: float(metrics[m]) for m in METRICS},
                   "final_train_loss": float(records[-1].train_loss) if records else math.nan,
                   "seconds": seconds}
            rows.append(row)
            recalls.setdefault(method, []).append(
                {style: float(metrics["per_class"][style]["recall"]) for style in classes})
            if log is not None:
                log(f"{method:<20} seed {seed}: accuracy {row['accuracy']:.3f}  balanced {row['balanced_accuracy']:.3f}  "
                    f"macro-F1 {row['macro_f1']:.3f}  ({seconds:.1f} s)")
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    baselines = None
    if y_true is not None:
        baselines = evaluate.baselines(train_counts, y_true, classes)
    return ComparisonResult(rows=rows, classes=classes, per_class_recall_runs=recalls, baselines=baselines)
