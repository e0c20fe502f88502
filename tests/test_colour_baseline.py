"""wikiart_core.colour_baseline: colour features, validation-only model choice, test isolation."""
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

from wikiart_core.colour_baseline import ColourStatisticsBaseline, colour_features, colour_statistics_baseline

CLASSES = ["Red", "Green", "Blue", "Grey"]
# One mean colour per class: classes differ only by colour.
CLASS_COLOURS = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200], [128, 128, 128]])


class TinyDataset:
    """The parts of WikiArtDataset the baseline uses, over in-memory uint8 images.

    ``calls`` counts ``get_batch`` calls, to prove which splits were read."""

    def __init__(self, images: np.ndarray, targets, classes=CLASSES):
        self.images = images                      # (N, 3, S, S) uint8
        self.targets = [int(t) for t in targets]
        self.classes = list(classes)
        self.calls = 0

    def __len__(self):
        return len(self.targets)

    def get_batch(self, indices):
        self.calls += 1
        indices = np.asarray(indices, dtype=np.int64)
        return (torch.from_numpy(self.images[indices].copy()),
                torch.as_tensor(np.asarray(self.targets, dtype=np.int64)[indices]))


def coloured_split(per_class: int, seed: int, size: int = 8, noise: float = 25.0, labels=range(4)):
    """Images of each class in ``labels``: the class colour plus per-image and per-pixel noise."""
    rng = np.random.default_rng(seed)
    targets = np.repeat(np.asarray(list(labels)), per_class)
    base = CLASS_COLOURS[targets][:, :, None, None] + rng.normal(0, noise / 2, (len(targets), 3, 1, 1))
    pixels = base + rng.normal(0, noise, (len(targets), 3, size, size))
    images = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return TinyDataset(images, targets)


def uninformative_split(n: int, seed: int, size: int = 8):
    """Random colours whatever the label: colour carries no information."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3, 1, 1)) + rng.normal(0, 25, (n, 3, size, size))
    return TinyDataset(np.clip(np.rint(images), 0, 255).astype(np.uint8), rng.integers(0, 4, n))


# --------------------------------------------------------------------------- features


def test_colour_features_shape_ranges_and_histograms():
    dataset = coloured_split(per_class=5, seed=0)
    features = colour_features(dataset)
    assert features.shape == (20, 30) and features.dtype == np.float32
    means, stds, histograms = features[:, :3], features[:, 3:6], features[:, 6:].reshape(20, 3, 8)
    assert means.min() >= 0 and means.max() <= 1
    assert stds.min() >= 0 and stds.max() <= 0.5  # the largest possible spread of values in [0, 1]
    assert histograms.min() >= 0
    np.testing.assert_allclose(histograms.sum(axis=2), 1.0, atol=1e-6)


def test_colour_features_match_a_direct_computation_in_dataset_order():
    dataset = coloured_split(per_class=3, seed=1, size=6)
    features = colour_features(dataset, batch_size=5)  # batches that do not divide N
    for i, image in enumerate(dataset.images):
        values = image.reshape(3, -1).astype(np.float64)
        np.testing.assert_allclose(features[i, :3], values.mean(axis=1) / 255, atol=1e-6)
        np.testing.assert_allclose(features[i, 3:6], values.std(axis=1) / 255, atol=1e-6)
        for channel in range(3):
            counts, _ = np.histogram(values[channel], bins=np.arange(0, 257, 32))
            np.testing.assert_allclose(features[i, 6 + 8 * channel:14 + 8 * channel], counts / values.shape[1],
                                       atol=1e-6)
    np.testing.assert_array_equal(features, colour_features(dataset, batch_size=512))


def test_colour_features_of_flat_images_and_empty_datasets():
    images = np.zeros((2, 3, 4, 4), dtype=np.uint8)
    images[0] = np.array([0, 200, 255], dtype=np.uint8)[:, None, None]
    images[1] = 31  # the top of bin 0
    features = colour_features(TinyDataset(images, [0, 1]))
    np.testing.assert_allclose(features[0, :3], [0, 200 / 255, 1], atol=1e-6)
    np.testing.assert_array_equal(features[:, 3:6], 0)
    expected_bins = [0, 6, 7]  # 0 -> bin 0, 200 // 32 = 6, 255 // 32 = 7
    for channel, bin_index in enumerate(expected_bins):
        assert features[0, 6 + 8 * channel + bin_index] == 1.0
        assert features[1, 6 + 8 * channel] == 1.0
    empty = colour_features(TinyDataset(np.zeros((0, 3, 4, 4), dtype=np.uint8), []))
    assert empty.shape == (0, 30) and empty.dtype == np.float32


# --------------------------------------------------------------------------- the baseline


@pytest.fixture(scope="module")
def coloured_splits():
    return (coloured_split(per_class=40, seed=10), coloured_split(per_class=20, seed=11),
            coloured_split(per_class=25, seed=12))


def test_colour_separates_classes_that_differ_by_colour(coloured_splits):
    train, validation, test = coloured_splits
    result = colour_statistics_baseline(train, validation, test, seed=0)
    assert result["test"]["balanced_accuracy"] > 0.9
    assert result["validation"]["balanced_accuracy"] > 0.9
    for split in ("validation", "test"):
        assert set(result[split]) == {"accuracy", "balanced_accuracy", "macro_f1", "top3_accuracy"}
        assert result[split]["top3_accuracy"] >= result[split]["accuracy"]
    predictions = result["test_predictions"]
    assert predictions.shape == (len(test),) and predictions.dtype == np.int64
    assert balanced_accuracy_score(test.targets, predictions) == pytest.approx(result["test"]["balanced_accuracy"])
    assert set(result["chosen"]) == {"C", "class_weight"}


def test_near_chance_when_colour_carries_no_label():
    train, validation, test = (uninformative_split(240, 20), uninformative_split(120, 21),
                               uninformative_split(400, 22))
    result = colour_statistics_baseline(train, validation, test, seed=0)
    assert abs(result["test"]["balanced_accuracy"] - 0.25) < 0.1


def test_fit_never_reads_the_test_split(coloured_splits, monkeypatch):
    train, validation, test = coloured_splits
    test.calls = 0
    fit = ColourStatisticsBaseline.fit

    def checked_fit(self, *args, **kwargs):
        # Inside the one-call helper: the test split must still be unread when fit returns.
        assert test.calls == 0
        fitted = fit(self, *args, **kwargs)
        assert test.calls == 0, "fit read the test split"
        return fitted

    monkeypatch.setattr(ColourStatisticsBaseline, "fit", checked_fit)
    colour_statistics_baseline(train, validation, test)
    assert test.calls > 0  # and afterwards it was read, for the predictions

    monkeypatch.undo()
    for split in (train, validation, test):
        split.calls = 0
    baseline = ColourStatisticsBaseline(C_grid=(1.0,), class_weights=(None,)).fit(train, validation)
    assert train.calls > 0 and validation.calls > 0 and test.calls == 0
    baseline.predict(test)
    assert test.calls > 0


def test_choice_is_the_best_validation_score_recomputed_independently():
    # Noisier colours, so that the grid points do not all tie at 100%.
    train, validation = coloured_split(40, 30, noise=90.0), coloured_split(20, 31, noise=90.0)
    baseline = ColourStatisticsBaseline(C_grid=(0.001, 0.1, 10.0), seed=0).fit(train, validation)
    scaler = StandardScaler().fit(colour_features(train))
    x_train, x_validation = scaler.transform(colour_features(train)), scaler.transform(colour_features(validation))
    expected = []
    for c in (0.001, 0.1, 10.0):
        for weight in (None, "balanced"):
            model = LogisticRegression(C=c, class_weight=weight, max_iter=2000, random_state=0)
            model.fit(x_train, train.targets)
            expected.append(balanced_accuracy_score(validation.targets, model.predict(x_validation)))
    scores = [entry["balanced_accuracy"] for entry in baseline.validation_scores_]
    np.testing.assert_allclose(scores, expected, atol=1e-12)
    assert [(e["C"], e["class_weight"]) for e in baseline.validation_scores_] == [
        (c, w) for c in (0.001, 0.1, 10.0) for w in (None, "balanced")]
    best = int(np.argmax(scores))  # argmax: the first of tied maxima, as documented
    assert baseline.chosen_ == {"C": baseline.validation_scores_[best]["C"],
                                "class_weight": baseline.validation_scores_[best]["class_weight"]}
    assert baseline.model_.C == baseline.chosen_["C"]


def test_ties_keep_the_first_grid_point(coloured_splits):
    train, validation, _ = coloured_splits  # well separated: every grid point scores 100%
    baseline = ColourStatisticsBaseline(C_grid=(1.0, 10.0), class_weights=("balanced", None)).fit(train, validation)
    assert {entry["balanced_accuracy"] for entry in baseline.validation_scores_} == {1.0}
    assert baseline.chosen_ == {"C": 1.0, "class_weight": "balanced"}


def test_predictions_stay_in_the_full_label_space():
    # Style 1 ("Green") is missing from train: column j of the model is label classes_[j].
    train = coloured_split(30, 40, labels=(0, 2, 3))
    validation = coloured_split(15, 41, labels=(0, 2, 3))
    test = coloured_split(15, 42, labels=(0, 2, 3))
    baseline = ColourStatisticsBaseline(C_grid=(1.0,)).fit(train, validation)
    predictions = baseline.predict(test)
    assert set(np.unique(predictions)) <= {0, 2, 3}
    assert (predictions == np.asarray(test.targets)).mean() > 0.9


def test_convergence_warnings_do_not_leak(coloured_splits):
    train, validation, _ = coloured_splits
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        baseline = ColourStatisticsBaseline(C_grid=(100.0,), class_weights=(None,), max_iter=1).fit(train, validation)
    assert not [w for w in caught if issubclass(w.category, ConvergenceWarning)]
    assert baseline.validation_scores_[0]["converged"] is False


def test_predict_before_fit_and_single_class_train_are_clear_errors(coloured_splits):
    _, validation, _ = coloured_splits
    with pytest.raises(RuntimeError, match="before fit"):
        ColourStatisticsBaseline().predict(validation)
    with pytest.raises(ValueError, match="at least two styles"):
        ColourStatisticsBaseline().fit(coloured_split(10, 50, labels=(2,)), validation)
