"""Class-imbalance options: weight formulas, the balanced sampler, logit adjustment,
configure() and the multi-seed comparison."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from wikiart_core import imbalance
from wikiart_core.imbalance import (LogitAdjustedLoss, WeightedCrossEntropyLoss, balanced_sampler,
                                    class_weights_effective_number, class_weights_inverse_frequency,
                                    class_weights_normalised_inverse_frequency, class_weights_reciprocal)

COUNTS = [6, 3, 1]  # N = 10, C = 3


# --------------------------------------------------------------------------- weight formulas


def test_the_three_formulas_of_the_report_against_hand_computed_values():
    # N / (n_c C): 10/18, 10/9, 10/3
    assert torch.allclose(class_weights_normalised_inverse_frequency(COUNTS), torch.tensor([5 / 9, 10 / 9, 10 / 3]))
    # N / n_c: 10/6, 10/3, 10
    assert torch.allclose(class_weights_inverse_frequency(COUNTS), torch.tensor([5 / 3, 10 / 3, 10.0]))
    # 1 / n_c
    assert torch.allclose(class_weights_reciprocal(COUNTS), torch.tensor([1 / 6, 1 / 3, 1.0]))
    for weights in (class_weights_normalised_inverse_frequency(COUNTS), class_weights_reciprocal(COUNTS)):
        assert weights.dtype == torch.float32 and weights.shape == (3,)


def test_effective_number_weights_against_hand_computed_values():
    # beta = 0.9: (1 - beta) / (1 - beta^n) = 0.1/0.468559, 0.1/0.271, 0.1/0.1, then scaled to sum to C = 3.
    raw = np.array([0.1 / (1 - 0.9 ** 6), 0.1 / (1 - 0.9 ** 3), 1.0])
    expected = torch.tensor(raw * 3 / raw.sum(), dtype=torch.float32)
    weights = class_weights_effective_number(COUNTS, beta=0.9)
    assert torch.allclose(weights, expected, atol=1e-6)
    assert math.isclose(float(weights.sum()), 3.0, rel_tol=1e-6)
    # beta = 0: every class counts as one sample, equal weights.
    assert torch.allclose(class_weights_effective_number(COUNTS, beta=0.0), torch.ones(3))
    # beta -> 1: proportional to 1 / n_c.
    near_one = class_weights_effective_number(COUNTS, beta=1 - 1e-9)
    assert torch.allclose(near_one / near_one.sum(), torch.tensor([1 / 9, 2 / 9, 6 / 9]), atol=1e-5)
    with pytest.raises(ValueError, match="beta"):
        class_weights_effective_number(COUNTS, beta=1.0)


def test_counts_as_dict_in_label_order_and_empty_class_refused_by_name():
    counts = {"Baroque": 6, "Cubism": 3, "Rococo": 1}
    assert torch.allclose(class_weights_reciprocal(counts), class_weights_reciprocal(COUNTS))
    for function in (class_weights_normalised_inverse_frequency, class_weights_inverse_frequency,
                     class_weights_reciprocal, class_weights_effective_number):
        with pytest.raises(ValueError, match="Cubism"):
            function({"Baroque": 6, "Cubism": 0, "Rococo": 1})
    with pytest.raises(ValueError, match="label 1"):
        class_weights_reciprocal([6, 0, 1])
    with pytest.raises(ValueError, match="Cubism"):
        LogitAdjustedLoss({"Baroque": 6, "Cubism": 0})


def test_proportional_weights_give_the_same_loss_with_pytorch_weighted_mean():
    # The three formulas differ by a constant, which the weighted mean cancels.
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(16, 3, generator=generator)
    targets = torch.randint(0, 3, (16,), generator=generator)
    losses = [WeightedCrossEntropyLoss(f(COUNTS))(logits, targets)
              for f in (class_weights_normalised_inverse_frequency, class_weights_inverse_frequency,
                        class_weights_reciprocal)]
    reference = F.cross_entropy(logits, targets, weight=class_weights_reciprocal(COUNTS))
    for loss in losses:
        assert torch.allclose(loss, reference, atol=1e-6)


# --------------------------------------------------------------------------- sampler


def test_balanced_sampler_draws_classes_equally_often():
    targets = [0] * 600 + [1] * 300 + [2] * 100
    draws = torch.tensor(list(balanced_sampler(targets, num_samples=30_000, seed=0)))
    observed = np.bincount(np.asarray(targets)[draws.numpy()], minlength=3)
    expected = 30_000 / 3
    chi_square = float(((observed - expected) ** 2 / expected).sum())
    # 2 degrees of freedom: P(chi2 > 13.8) = 0.001.
    assert chi_square < 13.8, observed
    assert len(balanced_sampler(targets)) == len(targets)


def test_balanced_sampler_is_deterministic_per_seed():
    targets = [0] * 50 + [1] * 5
    assert list(balanced_sampler(targets, seed=3)) == list(balanced_sampler(targets, seed=3))
    assert list(balanced_sampler(targets, seed=3)) != list(balanced_sampler(targets, seed=4))


# --------------------------------------------------------------------------- logit adjustment


def test_logit_adjusted_loss_is_cross_entropy_on_shifted_logits():
    generator = torch.Generator().manual_seed(1)
    logits = torch.randn(32, 3, generator=generator)
    targets = torch.randint(0, 3, (32,), generator=generator)
    prior = torch.tensor([0.6, 0.3, 0.1])
    for tau in (1.0, 0.5):
        expected = F.cross_entropy(logits + tau * prior.log(), targets)
        assert torch.allclose(LogitAdjustedLoss(COUNTS, tau=tau)(logits, targets), expected, atol=1e-6)
    # A uniform prior shifts every logit by the same constant: plain cross-entropy.
    assert torch.allclose(LogitAdjustedLoss([4, 4, 4])(logits, targets), F.cross_entropy(logits, targets), atol=1e-6)
    assert torch.allclose(LogitAdjustedLoss(COUNTS, tau=0.0)(logits, targets), F.cross_entropy(logits, targets))


# --------------------------------------------------------------------------- configure


def test_configure_returns_the_pieces_for_each_method():
    targets = [0] * 6 + [1] * 3 + [2]
    assert set(imbalance.METHODS) == {"none", "weighted_normalised", "weighted_inverse", "weighted_reciprocal",
                                      "effective_number", "balanced_sampler", "logit_adjust"}
    assert imbalance.configure("none", COUNTS, targets) == (None, None)
    expected_weights = {"weighted_normalised": class_weights_normalised_inverse_frequency(COUNTS),
                        "weighted_inverse": class_weights_inverse_frequency(COUNTS),
                        "weighted_reciprocal": class_weights_reciprocal(COUNTS),
                        "effective_number": class_weights_effective_number(COUNTS)}
    for method, weights in expected_weights.items():
        loss, sampler = imbalance.configure(method, COUNTS, targets)
        assert isinstance(loss, WeightedCrossEntropyLoss) and sampler is None
        assert torch.allclose(loss.weights, weights)
    loss, sampler = imbalance.configure("balanced_sampler", COUNTS, targets, seed=5)
    assert loss is None and isinstance(sampler, torch.utils.data.WeightedRandomSampler)
    assert list(sampler) == list(balanced_sampler(targets, seed=5))
    loss, sampler = imbalance.configure("logit_adjust", COUNTS, targets, tau=0.5)
    assert isinstance(loss, LogitAdjustedLoss) and sampler is None and loss.tau == 0.5
    with pytest.raises(ValueError, match="unknown imbalance method"):
        imbalance.configure("focal", COUNTS, targets)
    with pytest.raises(ValueError, match="targets"):
        imbalance.configure("balanced_sampler", COUNTS, None)


# --------------------------------------------------------------------------- comparison



def test_compare_runs_methods_times_seeds_and_reports_mean_and_std(tiny_splits):
    from wikiart_core import models

    train, test = tiny_splits
    lines = []
    result = imbalance.compare(
        ["none", "logit_adjust"], [0, 1], train, test,
        model_factory=lambda: models.build("stylecnn", n_classes=len(train.classes), width=4, depth=2),
        fit_kwargs=dict(epochs=1, batch_size=32, device="cpu", amp=False, augment=False),
        progress=False, log=lines.append)
    assert [(row["method"], row["seed"]) for row in result.rows] == [
        ("none", 0), ("none", 1), ("logit_adjust", 0), ("logit_adjust", 1)]
    assert len(lines) == 4
    summary = result.summary
    assert set(summary) == {"none", "logit_adjust"}
    for method in summary:
        values = [row["balanced_accuracy"] for row in result.rows if row["method"] == method]
        assert math.isclose(summary[method]["balanced_accuracy"]["mean"], float(np.mean(values)))
        assert math.isclose(summary[method]["balanced_accuracy"]["std"], float(np.std(values, ddof=1)))
        assert 0.0 <= summary[method]["accuracy"]["mean"] <= 1.0
    table = result.table()
    assert "±" in table and "logit_adjust" in table and "baseline: always" in table
    assert set(result.per_class_recall["none"]) == set(train.classes)
    assert result.best("balanced_accuracy") in summary
    with pytest.raises(ValueError, match="unknown"):
        imbalance.compare(["focal"], [0], train, test, model_factory=lambda: None, progress=False)
