"""Intervals for comparing methods over test images and training seeds.

"Method A beats method B by 1.3 points" means little on a few hundred test images
and a handful of seeds: both the test sample and the seed move such numbers by
points. The bootstrap here resamples both at once:

- the N test images are drawn with replacement (one draw per resample, shared by
  the methods being compared: a *paired* bootstrap, so the images both get right
  or both get wrong cancel out);
- the S seeds are drawn with replacement (again the same seeds for both methods),
  and each resample's score is the mean over the drawn seeds.

Everything is vectorised: a resample is a row of weights W[b, i] (how many times
image i was drawn), and every per-class count any of the three metrics needs is one
matrix product of W with one-hot indicators. 2000 resamples of 5 seeds x a few
hundred images take a few tens of milliseconds.

All metrics are fractions in [0, 1]; :func:`verdict_words` reports percentage points.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

METRICS = ("accuracy", "balanced_accuracy", "macro_f1")
METRIC_NAMES = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "macro_f1": "macro-F1"}

# Resamples are processed in chunks of about this many weights (chunk x N), so that a
# test set of many thousand images does not need a (2000, N) float64 matrix at once.
_CHUNK_ENTRIES = 2_000_000


# --------------------------------------------------------------------------- counts and metrics


@dataclass
class ResampleCounts:
    """Weighted per-class counts for B resamples and S prediction rows (seeds).

    Attributes:
        n: (B,) total weight (number of images drawn) per resample.
        true: (B, K) weight of images whose true label is class k.
        predicted: (B, S, K) weight of images predicted as class k by seed s.
        true_positive: (B, S, K) weight of images of class k that seed s got right.
        labels: (K,) the label values behind the K columns (sorted union of the
            labels in y_true and in the predictions).
    """
    n: np.ndarray
    true: np.ndarray
    predicted: np.ndarray
    true_positive: np.ndarray
    labels: np.ndarray


def _as_predictions(predictions, n_images: int, name: str = "predictions") -> np.ndarray:
    """(S, N) view of predictions given as (S, N) or (N,); ValueError on other shapes."""
    predictions = np.asarray(predictions)
    if predictions.ndim == 1:
        predictions = predictions[None, :]
    if predictions.ndim != 2:
        raise ValueError(f"{name} must be (N,) or (n_seeds, N), got shape {predictions.shape}")
    if predictions.shape[0] == 0:
        raise ValueError(f"{name} has no seeds (shape {predictions.shape})")
    if predictions.shape[1] != n_images:
        raise ValueError(f"{name} has {predictions.shape[1]} images per seed but y_true has {n_images}")
    return predictions


def _as_labels(y_true) -> np.ndarray:
    y_true = np.asarray(y_true)
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be 1-D (N,), got shape {y_true.shape}")
    if len(y_true) == 0:
        raise ValueError("y_true is empty: there are no test images to resample")
    return y_true


def resample_counts(y_true, predictions, weights) -> ResampleCounts:
    """Per-class counts of every (resample, seed) pair, by matrix products.

    Args:
        y_true: (N,) true labels.
        predictions: (S, N) predicted labels, one row per seed, or (N,) for one seed.
        weights: (B, N) non-negative weights, weights[b, i] = how many times image i
            is drawn in resample b; (N,) means one resample. All ones: the data as is.

    Returns:
        :class:`ResampleCounts` with K = number of distinct labels in y_true and
        predictions together.
    """
    y_true = _as_labels(y_true)
    predictions = _as_predictions(predictions, len(y_true))
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim == 1:
        weights = weights[None, :]
    if weights.ndim != 2 or weights.shape[1] != len(y_true):
        raise ValueError(f"weights must be (n_resamples, N) with N = {len(y_true)} images, "
                         f"got shape {weights.shape}")
    n_seeds, n_images = predictions.shape
    labels, codes = np.unique(np.concatenate([y_true, predictions.ravel()]), return_inverse=True)
    n_classes = len(labels)
    true_code = codes[:n_images]
    predicted_code = codes[n_images:].reshape(n_seeds, n_images)

    true_onehot = np.eye(n_classes)[true_code]                        # (N, K)
    predicted_onehot = np.eye(n_classes)[predicted_code]              # (S, N, K)
    hit_onehot = predicted_onehot * (predicted_code == true_code)[:, :, None]  # right answers only
    # (S, N, K) -> (N, S*K): one product serves every seed and class at once.
    def per_seed(onehot):
        return (weights @ onehot.transpose(1, 0, 2).reshape(n_images, n_seeds * n_classes)).reshape(
            -1, n_seeds, n_classes)

    return ResampleCounts(n=weights.sum(axis=1), true=weights @ true_onehot,
                          predicted=per_seed(predicted_onehot), true_positive=per_seed(hit_onehot),
                          labels=labels)


def _mean_where(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over the last axis of the entries where mask is true (mask broadcasts)."""
    mask = np.broadcast_to(mask, values.shape)
    return np.where(mask, values, 0.0).sum(axis=-1) / mask.sum(axis=-1)


def metric_from_counts(counts: ResampleCounts, metric: str) -> np.ndarray:
    """One metric for every (resample, seed) pair.

    - ``accuracy``: right answers / images drawn.
    - ``balanced_accuracy``: mean recall over the classes present in the resample's
      y_true (scikit-learn's ``balanced_accuracy_score``).
    - ``macro_f1``: mean F1 = 2 TP / (true + predicted) over the classes present in
      the resample's y_true or y_pred (scikit-learn's ``f1_score(average="macro",
      zero_division=0)``).

    Returns:
        (B, S) float64 fractions in [0, 1].
    """
    _check_metric(metric)
    true = counts.true[:, None, :]                                    # (B, 1, K)
    if metric == "accuracy":
        return counts.true_positive.sum(axis=-1) / counts.n[:, None]
    if metric == "balanced_accuracy":
        present = true > 0
        recall = np.divide(counts.true_positive, true, out=np.zeros_like(counts.true_positive),
                           where=present)
        return _mean_where(recall, present)
    support = true + counts.predicted
    scored = support > 0
    f1 = np.divide(2 * counts.true_positive, support, out=np.zeros_like(support), where=scored)
    return _mean_where(f1, scored)


def resampled_metric(y_true, predictions, weights, metric: str = "balanced_accuracy") -> np.ndarray:
    """``metric`` for every (resample, seed) pair: (B, S) float64 fractions.

    Shapes as in :func:`resample_counts`; with ``weights`` all ones this equals
    scikit-learn's metric on each prediction row."""
    _check_metric(metric)
    return metric_from_counts(resample_counts(y_true, predictions, weights), metric)


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {', '.join(METRICS)}")


# --------------------------------------------------------------------------- resampling


def _check_options(n_resamples: int, confidence: float) -> None:
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence}")


def _draw_counts(rng: np.random.Generator, n_draws: int, n_items: int, size: int) -> np.ndarray:
    """(n_draws, n_items) float64: how often each item is drawn when drawing ``size``
    items with replacement, independently for each of the n_draws rows."""
    drawn = rng.integers(0, n_items, size=(n_draws, size))
    # Offset row r into its own n_items slots, so one bincount counts every row.
    offsets = (np.arange(n_draws, dtype=np.int64) * n_items)[:, None]
    return np.bincount((drawn + offsets).ravel(), minlength=n_draws * n_items).reshape(
        n_draws, n_items).astype(np.float64)


def _bootstrap_scores(y_true: np.ndarray, prediction_sets: list[np.ndarray], metric: str,
                      n_resamples: int, seed: int) -> list[np.ndarray]:
    """Per method, the (n_resamples,) scores: metric averaged over the drawn seeds.

    Every method sees the same image draws and the same seed draws (paired)."""
    rng = np.random.default_rng(seed)
    n_images = len(y_true)
    n_seeds = prediction_sets[0].shape[0]
    seed_counts = _draw_counts(rng, n_resamples, n_seeds, n_seeds)    # (B, S), rows sum to S
    stacked = np.concatenate(prediction_sets)                          # (M*S, N)
    chunk = max(1, _CHUNK_ENTRIES // n_images)
    per_method = [[] for _ in prediction_sets]
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        weights = _draw_counts(rng, stop - start, n_images, n_images)
        scores = resampled_metric(y_true, stacked, weights, metric)   # (b, M*S)
        for m in range(len(prediction_sets)):
            method_scores = scores[:, m * n_seeds:(m + 1) * n_seeds]
            per_method[m].append((method_scores * seed_counts[start:stop]).sum(axis=1) / n_seeds)
    return [np.concatenate(parts) for parts in per_method]


def _point_estimate(y_true: np.ndarray, predictions: np.ndarray, metric: str) -> float:
    """Mean over seeds of the metric on the full test set."""
    return float(resampled_metric(y_true, predictions, np.ones(len(y_true)), metric).mean())


def _percentiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return float(low), float(high)


def bootstrap_interval(y_true, predictions, metric: str = "balanced_accuracy", n_resamples: int = 2000,
                       seed: int = 0, confidence: float = 0.95) -> dict:
    """Percentile bootstrap interval of one method's score, over images and seeds.

    Args:
        y_true: (N,) true labels of the test images.
        predictions: (S, N) predicted labels, one row per training seed, or (N,).
        metric: "accuracy", "balanced_accuracy" or "macro_f1".
        n_resamples: bootstrap resamples B.
        seed: seed of the resampling (same seed, same resamples).
        confidence: coverage of the interval, e.g. 0.95.

    Returns:
        {"metric", "mean" (mean over seeds of the metric on the full test set),
         "low", "high" (percentile interval), "confidence", "n_resamples",
         "n_seeds", "n_images"}; scores are fractions in [0, 1].
    """
    _check_metric(metric)
    _check_options(n_resamples, confidence)
    y_true = _as_labels(y_true)
    predictions = _as_predictions(predictions, len(y_true))
    (scores,) = _bootstrap_scores(y_true, [predictions], metric, int(n_resamples), seed)
    low, high = _percentiles(scores, confidence)
    return {"metric": metric, "mean": _point_estimate(y_true, predictions, metric), "low": low, "high": high,
            "confidence": confidence, "n_resamples": int(n_resamples), "n_seeds": predictions.shape[0],
            "n_images": len(y_true)}


def paired_bootstrap(y_true, predictions_a, predictions_b, metric: str = "balanced_accuracy",
                     n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Paired bootstrap of ``metric(A) - metric(B)`` over test images and seeds.

    Args:
        y_true: (N,) true labels of the test images.
        predictions_a, predictions_b: (S, N) predicted labels, one row per seed,
            the same seeds in the same order for both methods; (N,) means one seed.
        metric: "accuracy", "balanced_accuracy" or "macro_f1".
        n_resamples: bootstrap resamples B.
        seed: seed of the resampling (same seed, same resamples).
        confidence: coverage of the interval, e.g. 0.95.

    Each resample draws N images and S seeds with replacement, the same draws for
    both methods, and scores mean-over-drawn-seeds metric(A) - metric(B).

    Returns:
        {"metric", "difference" (mean over seeds of metric(A) minus that of B, on the
         full test set), "low", "high" (percentile interval of the difference),
         "confidence", "n_resamples", "n_seeds", "n_images", "verdict"}: verdict is
        "better" (A is better: low > 0), "worse" (high < 0) or "no clear difference".
        Differences are fractions (0.041 = 4.1 points).
    """
    _check_metric(metric)
    _check_options(n_resamples, confidence)
    y_true = _as_labels(y_true)
    predictions_a = _as_predictions(predictions_a, len(y_true), "predictions_a")
    predictions_b = _as_predictions(predictions_b, len(y_true), "predictions_b")
    if predictions_a.shape[0] != predictions_b.shape[0]:
        raise ValueError(f"predictions_a has {predictions_a.shape[0]} seeds but predictions_b has "
                         f"{predictions_b.shape[0]}: pass the same seeds, in the same order, for both")
    scores_a, scores_b = _bootstrap_scores(y_true, [predictions_a, predictions_b], metric,
                                           int(n_resamples), seed)
    low, high = _percentiles(scores_a - scores_b, confidence)
    difference = _point_estimate(y_true, predictions_a, metric) - _point_estimate(y_true, predictions_b, metric)
    verdict = "better" if low > 0 else "worse" if high < 0 else "no clear difference"
    return {"metric": metric, "difference": difference, "low": low, "high": high, "confidence": confidence,
            "n_resamples": int(n_resamples), "n_seeds": predictions_a.shape[0], "n_images": len(y_true),
            "verdict": verdict}


def mean_interval(values, n_resamples: int = 2000, seed: int = 0, confidence: float = 0.95) -> dict:
    """Percentile bootstrap interval of the mean of per-item ``values`` ((N,) floats, e.g.
    one SSIM per test image), resampling the items with replacement.

    Returns {"mean", "low", "high", "confidence", "n_resamples", "n_items"}."""
    _check_options(n_resamples, confidence)
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        raise ValueError("mean_interval needs at least one value")
    rng = np.random.default_rng(seed)
    means = np.empty(int(n_resamples))
    # Chunks of resamples keep the (chunk, N) index matrix small for large N.
    chunk = max(1, _CHUNK_ENTRIES // values.size)
    for start in range(0, int(n_resamples), chunk):
        stop = min(int(n_resamples), start + chunk)
        means[start:stop] = values[rng.integers(0, values.size, size=(stop - start, values.size))].mean(axis=1)
    low, high = _percentiles(means, confidence)
    return {"mean": float(values.mean()), "low": low, "high": high, "confidence": confidence,
            "n_resamples": int(n_resamples), "n_items": int(values.size)}


# --------------------------------------------------------------------------- words


def points(fraction: float) -> str:
    """A fraction as percentage points with one decimal, never "-0.0": 0.0412 -> "4.1"."""
    return f"{round(100.0 * fraction, 1) + 0.0:.1f}"


def verdict_words(result: Mapping, name_a: str, name_b: str) -> str:
    """One English sentence for a :func:`paired_bootstrap` result, e.g.
    "logit_adjust raises balanced accuracy over none by 4.1 points (95% interval
    2.0 to 6.3)". Values are percentage points with one decimal."""
    if "difference" not in result or "verdict" not in result:
        raise ValueError("verdict_words needs a paired_bootstrap result (with 'difference' and 'verdict')")
    metric = METRIC_NAMES.get(result["metric"], str(result["metric"]))
    level = f"{100.0 * result.get('confidence', 0.95):g}%"
    difference, low, high = result["difference"], result["low"], result["high"]
    if result["verdict"] == "better":
        return (f"{name_a} raises {metric} over {name_b} by {points(difference)} points "
                f"({level} interval {points(low)} to {points(high)})")
    if result["verdict"] == "worse":
        # Said as a drop, so the interval is of the drop too (positive numbers).
        return (f"{name_a} lowers {metric} below {name_b} by {points(-difference)} points "
                f"({level} interval {points(-high)} to {points(-low)})")
    return (f"no clear difference in {metric} between {name_a} and {name_b} "
            f"({level} interval {points(low)} to {points(high)} points)")
