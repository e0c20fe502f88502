"""wikiart_core.stats: vectorised metrics against scikit-learn, and the bootstrap's behaviour."""
import warnings

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from wikiart_core import stats

SKLEARN = {
    "accuracy": accuracy_score,
    "balanced_accuracy": balanced_accuracy_score,
    "macro_f1": lambda y, p: f1_score(y, p, average="macro", zero_division=0),
}


def _random_case(rng, n_images=80, n_seeds=3, n_classes=6):
    """Labels with a missing class in y_true and predictions of classes absent from y_true."""
    y_true = rng.integers(0, n_classes - 1, n_images)  # class n_classes-1 never true
    predictions = rng.integers(0, n_classes, (n_seeds, n_images))
    right = rng.random((n_seeds, n_images)) < 0.4  # better than chance, so TP counts vary
    predictions[right] = np.broadcast_to(y_true, predictions.shape)[right]
    return y_true, predictions


@pytest.mark.parametrize("metric", stats.METRICS)
@pytest.mark.parametrize("case_seed", range(5))
def test_unit_weights_equal_scikit_learn(metric, case_seed):
    rng = np.random.default_rng(case_seed)
    y_true, predictions = _random_case(rng, n_images=int(rng.integers(5, 120)), n_classes=int(rng.integers(2, 9)))
    values = stats.resampled_metric(y_true, predictions, np.ones(len(y_true)), metric)
    assert values.shape == (1, predictions.shape[0])
    expected = [_sklearn(metric, y_true, row) for row in predictions]
    np.testing.assert_allclose(values[0], expected, rtol=0, atol=1e-9)


def _sklearn(metric, y_true, y_pred):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "y_pred contains classes not in y_true": intended here
        return SKLEARN[metric](y_true, y_pred)


@pytest.mark.parametrize("metric", stats.METRICS)
def test_weights_mean_drawing_images_that_many_times(metric):
    rng = np.random.default_rng(1)
    y_true, predictions = _random_case(rng, n_images=60, n_seeds=2)
    drawn = rng.integers(0, len(y_true), (4, len(y_true)))  # 4 resamples as index lists
    weights = np.stack([np.bincount(row, minlength=len(y_true)) for row in drawn])
    values = stats.resampled_metric(y_true, predictions, weights, metric)
    assert values.shape == (4, 2)
    for b, rows in enumerate(drawn):
        for s in range(2):
            assert values[b, s] == pytest.approx(_sklearn(metric, y_true[rows], predictions[s, rows]), abs=1e-9)


def test_counts_have_documented_shapes():
    y_true, predictions = _random_case(np.random.default_rng(2), n_images=30, n_seeds=4, n_classes=5)
    counts = stats.resample_counts(y_true, predictions, np.ones((7, 30)))
    k = len(counts.labels)
    assert counts.n.shape == (7,) and counts.true.shape == (7, k)
    assert counts.predicted.shape == counts.true_positive.shape == (7, 4, k)
    np.testing.assert_array_equal(counts.predicted.sum(axis=-1), 30)


def test_identical_methods_give_zero_and_no_clear_difference():
    rng = np.random.default_rng(3)
    y_true, predictions = _random_case(rng, n_images=200, n_seeds=3)
    result = stats.paired_bootstrap(y_true, predictions, predictions.copy(), n_resamples=500)
    assert result["difference"] == 0.0
    assert result["low"] == result["high"] == 0.0
    assert result["verdict"] == "no clear difference"
    assert (result["n_resamples"], result["n_seeds"], result["n_images"]) == (500, 3, 200)


def _half_wrong(y_true, n_classes, rng):
    wrong = (y_true + 1) % n_classes
    return np.where(rng.random(len(y_true)) < 0.5, y_true, wrong)


@pytest.mark.parametrize("metric", stats.METRICS)
def test_always_right_beats_half_wrong(metric):
    rng = np.random.default_rng(4)
    y_true = rng.integers(0, 4, 300)
    perfect = y_true.copy()
    half = _half_wrong(y_true, 4, rng)
    result = stats.paired_bootstrap(y_true, perfect, half, metric=metric, n_resamples=1000)
    assert result["verdict"] == "better" and result["low"] > 0
    assert result["low"] <= result["difference"] <= result["high"]
    reverse = stats.paired_bootstrap(y_true, half, perfect, metric=metric, n_resamples=1000)
    assert reverse["verdict"] == "worse" and reverse["high"] < 0
    assert reverse["difference"] == pytest.approx(-result["difference"])


def test_intervals_shrink_with_more_images():
    rng = np.random.default_rng(5)
    widths, paired_widths = [], []
    for n_images in (100, 1600):
        y_true = rng.integers(0, 5, n_images)
        a = np.stack([_half_wrong(y_true, 5, rng) for _ in range(3)])
        b = np.stack([_half_wrong(y_true, 5, rng) for _ in range(3)])
        single = stats.bootstrap_interval(y_true, a, n_resamples=500)
        paired = stats.paired_bootstrap(y_true, a, b, n_resamples=500)
        widths.append(single["high"] - single["low"])
        paired_widths.append(paired["high"] - paired["low"])
    assert widths[1] < widths[0] / 2  # about 1/sqrt(16) = 1/4 in theory
    assert paired_widths[1] < paired_widths[0] / 2


def test_seeded_results_are_reproducible():
    y_true, predictions = _random_case(np.random.default_rng(6), n_images=150, n_seeds=4)
    other = np.roll(predictions, 1, axis=1)
    first = stats.paired_bootstrap(y_true, predictions, other, metric="macro_f1", n_resamples=300, seed=11)
    again = stats.paired_bootstrap(y_true, predictions, other, metric="macro_f1", n_resamples=300, seed=11)
    different = stats.paired_bootstrap(y_true, predictions, other, metric="macro_f1", n_resamples=300, seed=12)
    assert first == again
    assert (first["low"], first["high"]) != (different["low"], different["high"])
    assert first["difference"] == different["difference"]  # the point estimate does not resample
    assert stats.bootstrap_interval(y_true, predictions, seed=3) == stats.bootstrap_interval(y_true, predictions, seed=3)


def test_bootstrap_interval_point_estimate_is_the_mean_over_seeds():
    y_true, predictions = _random_case(np.random.default_rng(7), n_images=120, n_seeds=3)
    result = stats.bootstrap_interval(y_true, predictions, metric="balanced_accuracy", n_resamples=400)
    expected = np.mean([_sklearn("balanced_accuracy", y_true, row) for row in predictions])
    assert result["mean"] == pytest.approx(expected, abs=1e-12)
    assert 0.0 <= result["low"] <= result["mean"] <= result["high"] <= 1.0
    assert result["metric"] == "balanced_accuracy" and result["n_seeds"] == 3


def test_one_dimensional_predictions_are_one_seed():
    y_true, predictions = _random_case(np.random.default_rng(8), n_images=90, n_seeds=2)
    flat = stats.paired_bootstrap(y_true, predictions[0], predictions[1], n_resamples=200)
    rows = stats.paired_bootstrap(y_true, predictions[:1], predictions[1:], n_resamples=200)
    assert flat == rows and flat["n_seeds"] == 1


def test_chunked_resampling_matches_one_chunk(monkeypatch):
    y_true, predictions = _random_case(np.random.default_rng(9), n_images=50, n_seeds=2)
    whole = stats.bootstrap_interval(y_true, predictions, n_resamples=300, seed=1)
    monkeypatch.setattr(stats, "_CHUNK_ENTRIES", 50 * 7)  # 7 resamples per chunk
    chunked = stats.bootstrap_interval(y_true, predictions, n_resamples=300, seed=1)
    assert chunked == whole


@pytest.mark.parametrize("call, message", [
    (lambda: stats.paired_bootstrap(np.zeros(10), np.zeros(9), np.zeros(10)), "predictions_a has 9 images"),
    (lambda: stats.paired_bootstrap(np.zeros(10), np.zeros(10), np.zeros((2, 11))), "predictions_b has 11 images"),
    (lambda: stats.paired_bootstrap(np.zeros(10), np.zeros((3, 10)), np.zeros((2, 10))),
     "predictions_a has 3 seeds but predictions_b has 2"),
    (lambda: stats.paired_bootstrap(np.zeros(10), np.zeros((2, 5, 2)), np.zeros(10)), "predictions_a must be"),
    (lambda: stats.paired_bootstrap(np.zeros((2, 5)), np.zeros(5), np.zeros(5)), "y_true must be 1-D"),
    (lambda: stats.paired_bootstrap(np.zeros(0), np.zeros(0), np.zeros(0)), "y_true is empty"),
    (lambda: stats.paired_bootstrap(np.zeros(4), np.zeros(4), np.zeros(4), metric="f1"), "unknown metric 'f1'"),
    (lambda: stats.paired_bootstrap(np.zeros(4), np.zeros(4), np.zeros(4), confidence=95), "confidence"),
    (lambda: stats.bootstrap_interval(np.zeros(4), np.zeros(4), n_resamples=0), "n_resamples"),
    (lambda: stats.bootstrap_interval(np.zeros(4), np.zeros((0, 4))), "no seeds"),
    (lambda: stats.resampled_metric(np.zeros(4), np.zeros(4), np.ones((3, 5))), r"weights must be \(n_resamples, N\)"),
])
def test_shapes_and_options_are_validated(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_verdict_words():
    better = {"metric": "balanced_accuracy", "difference": 0.0412, "low": 0.0199, "high": 0.0634,
              "confidence": 0.95, "verdict": "better"}
    assert stats.verdict_words(better, "logit_adjust", "none") == (
        "logit_adjust raises balanced accuracy over none by 4.1 points (95% interval 2.0 to 6.3)")
    worse = {"metric": "accuracy", "difference": -0.03, "low": -0.05, "high": -0.011,
             "confidence": 0.9, "verdict": "worse"}
    assert stats.verdict_words(worse, "A", "B") == "A lowers accuracy below B by 3.0 points (90% interval 1.1 to 5.0)"
    unclear = {"metric": "macro_f1", "difference": 0.004, "low": -0.0100, "high": 0.0221,
               "confidence": 0.95, "verdict": "no clear difference"}
    assert stats.verdict_words(unclear, "X", "Y") == (
        "no clear difference in macro-F1 between X and Y (95% interval -1.0 to 2.2 points)")


def test_verdict_words_from_a_real_result_and_no_negative_zero():
    y_true = np.arange(20) % 4
    result = stats.paired_bootstrap(y_true, y_true, y_true, metric="macro_f1", n_resamples=50)
    assert stats.verdict_words(result, "X", "Y") == (
        "no clear difference in macro-F1 between X and Y (95% interval 0.0 to 0.0 points)")
    tiny_negative = dict(result, low=-0.0001, high=0.0001)
    assert "-0.0" not in stats.verdict_words(tiny_negative, "X", "Y")
    with pytest.raises(ValueError, match="paired_bootstrap result"):
        stats.verdict_words(stats.bootstrap_interval(y_true, y_true, n_resamples=20), "X", "Y")


@pytest.mark.parametrize("metric", stats.METRICS)
def test_paired_bootstrap_equals_a_plain_loop_over_the_same_draws(metric, monkeypatch):
    """Record the draws the bootstrap makes, then redo every resample the slow way:
    index the images, score each drawn seed with scikit-learn, average, subtract."""
    rng = np.random.default_rng(12)
    y_true, a = _random_case(rng, n_images=40, n_seeds=3)
    _, b = _random_case(rng, n_images=40, n_seeds=3)
    recorded = []
    real_draw = stats._draw_counts

    def recording_draw(*args, **kwargs):
        counts = real_draw(*args, **kwargs)
        recorded.append(counts)
        return counts

    monkeypatch.setattr(stats, "_draw_counts", recording_draw)
    result = stats.paired_bootstrap(y_true, a, b, metric=metric, n_resamples=30, seed=5, confidence=0.8)
    seed_counts, image_counts = recorded[0], np.concatenate(recorded[1:])
    assert seed_counts.shape == (30, 3) and image_counts.shape == (30, 40)
    differences = []
    for seeds_drawn, images_drawn in zip(seed_counts.astype(int), image_counts.astype(int)):
        rows = np.repeat(np.arange(40), images_drawn)    # the resampled test set
        seeds = np.repeat(np.arange(3), seeds_drawn)     # the resampled seeds, same for A and B
        score_a = np.mean([_sklearn(metric, y_true[rows], a[s, rows]) for s in seeds])
        score_b = np.mean([_sklearn(metric, y_true[rows], b[s, rows]) for s in seeds])
        differences.append(score_a - score_b)
    low, high = np.percentile(differences, [10, 90])
    assert result["low"] == pytest.approx(low, abs=1e-9) and result["high"] == pytest.approx(high, abs=1e-9)
