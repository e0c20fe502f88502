"""The colour-statistics baseline: the floor a CNN has to beat.

Colour statistics (channel means, spreads and histograms) are a classic hand-made
feature in the art-style literature: Impressionist palettes are light, Baroque ones
dark, Colour Field paintings nearly flat. A linear classifier on 30 such numbers per
image says how much of a style can be told without any notion of shape or texture;
a CNN that does not clearly beat it has learnt little more than the palette.

Model selection is honest: the regularisation strength and the class weighting are
chosen on the validation split (by balanced accuracy, the metric that does not
reward always answering the majority style), and the test split is only ever read
by :meth:`ColourStatisticsBaseline.predict` after ``fit`` has returned.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .evaluate import classification_metrics

HISTOGRAM_BINS = 8
N_FEATURES = 3 * 2 + 3 * HISTOGRAM_BINS  # 30
_SUMMARY_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "top3_accuracy")


# --------------------------------------------------------------------------- features


def _batch_features(images: np.ndarray) -> np.ndarray:
    """Colour features of one batch.

    Args:
        images: (B, 3, S, S) uint8 RGB pixel values in [0, 255].

    Returns:
        (B, 30) float32: channel means (R, G, B), channel standard deviations
        (R, G, B), both of values scaled to [0, 1], then the 8-bin histograms of R,
        G and B (fractions of the S*S pixels, each histogram sums to 1).
    """
    batch = images.shape[0]
    pixels = images.reshape(batch, 3, -1)
    n_pixels = pixels.shape[2]
    # float64 for the moments: float32 sums over 4096+ pixels lose digits in the std.
    scaled = pixels.astype(np.float64) / 255.0
    means = scaled.mean(axis=2)
    stds = scaled.std(axis=2)
    # 256 levels / 8 bins = 32 levels per bin, so the bin is the top 3 bits of the byte.
    bins = (pixels >> 5).astype(np.int64)
    # One bincount for the whole batch: offset each (image, channel) into its own 8 slots.
    offsets = (np.arange(batch * 3, dtype=np.int64) * HISTOGRAM_BINS).reshape(batch, 3, 1)
    counts = np.bincount((bins + offsets).ravel(), minlength=batch * 3 * HISTOGRAM_BINS)
    histograms = counts.reshape(batch, 3 * HISTOGRAM_BINS) / n_pixels
    return np.concatenate([means, stds, histograms], axis=1).astype(np.float32)


def _features_and_labels(dataset, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(N, 30) float32 colour features and (N,) int64 labels, in dataset order."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    features, labels = [], []
    for start in range(0, len(dataset), batch_size):
        indices = np.arange(start, min(start + batch_size, len(dataset)))
        images, batch_labels = dataset.get_batch(indices)
        features.append(_batch_features(np.asarray(images, dtype=np.uint8)))
        labels.append(np.asarray(batch_labels, dtype=np.int64))
    if not features:
        return np.zeros((0, N_FEATURES), dtype=np.float32), np.zeros(0, dtype=np.int64)
    return np.concatenate(features), np.concatenate(labels)


def colour_features(dataset, batch_size: int = 512) -> np.ndarray:
    """Colour statistics of every image of ``dataset``, in dataset order.

    Args:
        dataset: anything with ``len()`` and ``get_batch(indices) -> ((B, 3, S, S)
            uint8 tensor, (B,) int64 labels)``, e.g. a
            :class:`~wikiart_core.data.WikiArtDataset`.
        batch_size: images read per ``get_batch`` call (working memory: about 20
            bytes per pixel value, ~125 MB for 512 images of 64 x 64 px).

    Returns:
        (N, 30) float32. Columns 0-2: mean of R, G, B with pixel values scaled to
        [0, 1]; columns 3-5: their standard deviations (population, ddof=0);
        columns 6-13, 14-21, 22-29: 8-bin histograms of R, G and B over the byte
        values (bin k holds values 32k .. 32k+31), as fractions that sum to 1.
    """
    return _features_and_labels(dataset, batch_size)[0]


# --------------------------------------------------------------------------- the classifier


class ColourStatisticsBaseline:
    """Multinomial logistic regression on standardised :func:`colour_features`.

    Args:
        C_grid: inverse regularisation strengths to try (scikit-learn's ``C``).
        class_weights: class weightings to try: ``None`` (every image counts once)
            and/or ``"balanced"`` (weights inverse to the train class frequencies).
        seed: ``random_state`` of the logistic regressions.
        max_iter: L-BFGS iteration limit per fit.
        batch_size: images per ``get_batch`` call when computing features.

    Attributes after :meth:`fit`:
        chosen_: {"C": float, "class_weight": None | "balanced"}, the grid point with
            the best validation balanced accuracy (ties: the first in grid order,
            C outer loop, class weight inner loop).
        validation_scores_: one dict per grid point, in grid order:
            {"C", "class_weight", "balanced_accuracy" (fraction in [0, 1]),
             "converged" (bool: L-BFGS stopped before ``max_iter``)}.
        model_: the chosen fitted ``LogisticRegression`` (fitted on train only).
        scaler_: the ``StandardScaler`` fitted on the train features.
    """

    def __init__(self, C_grid: Sequence[float] = (0.01, 0.1, 1.0, 10.0, 100.0),
                 class_weights: Sequence[str | None] = (None, "balanced"), seed: int = 0,
                 max_iter: int = 2000, batch_size: int = 512):
        self.C_grid = C_grid
        self.class_weights = class_weights
        self.seed = seed
        self.max_iter = max_iter
        self.batch_size = batch_size

    def _grid(self) -> list[tuple[float, str | None]]:
        grid = [(float(c), weight) for c in self.C_grid for weight in self.class_weights]
        if not grid:
            raise ValueError("C_grid and class_weights must each have at least one value")
        return grid

    def _fit_one(self, features: np.ndarray, labels: np.ndarray, c: float,
                 class_weight: str | None) -> tuple[LogisticRegression, bool]:
        """One logistic regression; returns it and whether L-BFGS converged."""
        model = LogisticRegression(C=c, class_weight=class_weight, max_iter=self.max_iter,
                                   random_state=self.seed)
        # One BLAS thread: on matrices this small, thread start-up costs more than it saves
        # (measured 8x faster on 3,000 x 30 features with 27 classes on two cores).
        with warnings.catch_warnings(), threadpool_limits(1):
            # A weakly regularised fit may stop at max_iter; that is recorded in
            # validation_scores_ instead of printed into every notebook that runs this.
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(features, labels)
        converged = bool(np.all(np.asarray(model.n_iter_) < self.max_iter))
        return model, converged

    def fit(self, train, validation) -> "ColourStatisticsBaseline":
        """Fit every grid point on ``train`` and keep the best on ``validation``.

        Args:
            train, validation: datasets as for :func:`colour_features`; labels are
                the datasets' label indices. The test split is not an argument: it
                cannot influence the choice.

        Returns:
            self, with ``chosen_``, ``validation_scores_``, ``model_``, ``scaler_``.
        """
        grid = self._grid()
        train_x, train_y = _features_and_labels(train, self.batch_size)
        validation_x, validation_y = _features_and_labels(validation, self.batch_size)
        if len(np.unique(train_y)) < 2:
            raise ValueError(f"the train split needs at least two styles, got labels {np.unique(train_y).tolist()}")
        if len(validation_y) == 0:
            raise ValueError("the validation split is empty: nothing to choose the parameters on")
        # Standardise with train statistics only, so validation stays unseen data.
        self.scaler_ = StandardScaler().fit(train_x)
        train_x = self.scaler_.transform(train_x)
        validation_x = self.scaler_.transform(validation_x)

        self.validation_scores_ = []
        best_score, best_model = -np.inf, None
        for c, class_weight in grid:
            model, converged = self._fit_one(train_x, train_y, c, class_weight)
            score = _balanced_accuracy(validation_y, model.predict(validation_x))
            self.validation_scores_.append({"C": c, "class_weight": class_weight,
                                            "balanced_accuracy": score, "converged": converged})
            if score > best_score:  # strict: a tie keeps the earlier grid point
                best_score, best_model = score, model
                self.chosen_ = {"C": c, "class_weight": class_weight}
        self.model_ = best_model
        return self

    def predict_proba(self, dataset) -> np.ndarray:
        """(N, C) probabilities of every image of ``dataset`` over its C = len(dataset.classes)
        labels, in dataset order (0 for a style absent from train)."""
        if not hasattr(self, "model_"):
            raise RuntimeError("ColourStatisticsBaseline.predict called before fit")
        features, _ = _features_and_labels(dataset, self.batch_size)
        probabilities = np.zeros((len(features), len(dataset.classes)))
        if len(features):
            # model_.classes_ holds the train labels actually seen; column j is label
            # classes_[j], not label j, when some style was missing from train.
            probabilities[:, self.model_.classes_] = self.model_.predict_proba(self.scaler_.transform(features))
        return probabilities

    def predict(self, dataset) -> np.ndarray:
        """Predicted label indices of every image of ``dataset``.

        Returns:
            (N,) int64, in dataset order, in the dataset's label space (a style
            absent from train is simply never predicted).
        """
        return self.predict_proba(dataset).argmax(axis=1).astype(np.int64)


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """scikit-learn's balanced accuracy, without the warning about predicted styles
    absent from a small split (expected here, not news)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        return float(balanced_accuracy_score(y_true, y_pred))


def _summary(y_true: np.ndarray, probabilities: np.ndarray, classes: Sequence[str]) -> dict[str, float]:
    metrics = classification_metrics(y_true, probabilities.argmax(axis=1), classes, probabilities)
    return {key: metrics[key] for key in _SUMMARY_METRICS}


def colour_statistics_baseline(train, validation, test, seed: int = 0) -> dict:
    """Fit :class:`ColourStatisticsBaseline` (choice on validation) and score it.

    Args:
        train, validation, test: datasets as for :func:`colour_features`, sharing
            one label mapping (``train.classes``).
        seed: ``random_state`` of the logistic regressions.

    Returns:
        {"validation": metrics, "test": metrics, "chosen": {"C", "class_weight"},
         "test_predictions": (N_test,) int64 label indices in test order}, where
        metrics is {"accuracy", "balanced_accuracy", "macro_f1", "top3_accuracy"} as fractions in
        [0, 1] (from :func:`wikiart_core.evaluate.classification_metrics`).
    """
    baseline = ColourStatisticsBaseline(seed=seed).fit(train, validation)
    classes = list(train.classes)
    validation_true = np.asarray(validation.targets, dtype=np.int64)
    test_true = np.asarray(test.targets, dtype=np.int64)
    test_probabilities = baseline.predict_proba(test)
    test_predictions = test_probabilities.argmax(axis=1).astype(np.int64)
    return {
        "validation": _summary(validation_true, baseline.predict_proba(validation), classes),
        "test": _summary(test_true, test_probabilities, classes),
        "chosen": dict(baseline.chosen_),
        "test_predictions": test_predictions,
    }
