"""Class-imbalance options: weight formulas, the balanced sampler, logit adjustment,
configure() and the multi-seed comparison."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fakes import InMemoryDataset
from wikiart_core import data, engine, experiment, imbalance, models, tasks
from wikiart_core.parts import part1_imbalance
from wikiart_core.imbalance import (LogitAdjustedLoss, WeightedCrossEntropyLoss, balanced_sampler,
                                    class_weights_effective_number, class_weights_inverse_frequency,
                                    class_weights_normalised_inverse_frequency, class_weights_reciprocal)

pytestmark = pytest.mark.usefixtures("single_torch_thread")


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
    assert set(imbalance.METHODS) == {"none", "class_weights", "effective_number", "balanced_sampler", "logit_adjust"}
    assert imbalance.configure("none", COUNTS, targets) == (None, None)
    # class_weights: the report's three formulas, picked with formula=
    expected_weights = {"normalised": class_weights_normalised_inverse_frequency(COUNTS),
                        "inverse": class_weights_inverse_frequency(COUNTS),
                        "reciprocal": class_weights_reciprocal(COUNTS)}
    assert set(imbalance.WEIGHT_FORMULAS) == set(expected_weights)
    for formula, weights in expected_weights.items():
        loss, sampler = imbalance.configure("class_weights", COUNTS, targets, formula=formula)
        assert isinstance(loss, WeightedCrossEntropyLoss) and sampler is None
        assert torch.allclose(loss.weights, weights)
    default_loss, _ = imbalance.configure("class_weights", COUNTS, targets)
    assert torch.allclose(default_loss.weights, expected_weights["normalised"])
    loss, sampler = imbalance.configure("effective_number", COUNTS, targets, beta=0.9)
    assert isinstance(loss, WeightedCrossEntropyLoss) and sampler is None
    assert torch.allclose(loss.weights, class_weights_effective_number(COUNTS, beta=0.9))
    loss, sampler = imbalance.configure("balanced_sampler", COUNTS, targets, seed=5)
    assert loss is None and isinstance(sampler, torch.utils.data.WeightedRandomSampler)
    assert list(sampler) == list(balanced_sampler(targets, seed=5))
    loss, sampler = imbalance.configure("logit_adjust", COUNTS, targets, tau=0.5, label_smoothing=0.1)
    assert isinstance(loss, LogitAdjustedLoss) and sampler is None and loss.tau == 0.5
    assert loss.label_smoothing == 0.1
    with pytest.raises(ValueError, match="unknown imbalance method"):
        imbalance.configure("focal", COUNTS, targets)
    with pytest.raises(ValueError, match="unknown weight formula"):
        imbalance.configure("class_weights", COUNTS, targets, formula="squared")
    with pytest.raises(ValueError, match="targets"):
        imbalance.configure("balanced_sampler", COUNTS, None)


class _Imbalanced(InMemoryDataset):
    """In-memory dataset with the WikiArtDataset batch interface: 3 styles, 12/6/2 images."""

    classes = ["Baroque", "Cubism", "Rococo"]
    image_size = 12

    def __init__(self):
        generator = torch.Generator().manual_seed(0)
        self.targets = [0] * 12 + [1] * 6 + [2] * 2
        self.images = (torch.rand(len(self.targets), 3, 12, 12, generator=generator) * 255).to(torch.uint8)
        for index, label in enumerate(self.targets):
            self.images[index, label] //= 3  # a darker channel per style


def test_the_three_weight_formulas_train_the_same_model():
    # PyTorch's weighted mean divides by the batch's weight sum: a constant factor on the
    # weights cancels, so N/(n_c C), N/n_c and 1/n_c give the same run.
    data = _Imbalanced()
    trained = {}
    for formula in imbalance.WEIGHT_FORMULAS:
        loss, _ = imbalance.configure("class_weights", data.class_counts(), data.targets, formula=formula)
        torch.manual_seed(0)
        model = models.build("StyleCNN", n_classes=3, width=4, depth=2)
        history = engine.fit(model, tasks.Classification(loss), data, None,
                             engine.TrainConfig(epochs=2, batch_size=8, lr=3e-3, device="cpu"),
                             progress=False, log=lambda line: None)
        trained[formula] = (model.state_dict(), history.column("train_loss"))
    reference_state, reference_losses = trained["normalised"]
    for formula, (state, losses) in trained.items():
        assert losses == pytest.approx(reference_losses, rel=1e-5), formula
        for name, tensor in state.items():
            torch.testing.assert_close(tensor, reference_state[name], atol=1e-4, rtol=1e-4, msg=formula)


# --------------------------------------------------------------------------- comparison


@pytest.fixture(scope="module")
def splits(tiny_splits):
    return data.make_splits(*tiny_splits)


SMALL_SPEC = dict(model="stylecnn", model_args=dict(width=4, depth=2), epochs=1, batch_size=32, device="cpu",
                  amp=False, augment="none")


def test_compare_runs_methods_times_seeds_and_summarises_on_test(splits):
    lines = []
    result = part1_imbalance.compare(["none", "logit_adjust"], [0, 1], splits, experiment.RunSpec(**SMALL_SPEC),
                               progress=False, log=lines.append)
    assert list(result.runs) == result.methods == ["none", "logit_adjust"]
    assert len(lines) == 4
    for method, runs in result.runs.items():
        assert [(r.spec.name, r.spec.imbalance, r.spec.seed) for r in runs] == [(method, method, 0),
                                                                                (method, method, 1)]
        for r in runs:  # scored on validation and once on test
            assert r.validation["n_samples"] == len(splits.validation) and r.test["n_samples"] == len(splits.test)
            assert r.y_true["test"] == splits.test.targets
    assert result.classes == splits.classes
    summary = result.summary("test")
    assert set(summary) == {"none", "logit_adjust"}
    for method, runs in result.runs.items():
        for metric in ("accuracy", "balanced_accuracy"):
            values = summary[method][metric]
            # the mean over seeds of the metric on the whole test split, inside its interval
            assert values["mean"] == pytest.approx(np.mean([r.test[metric] for r in runs]))
            assert 0.0 <= values["low"] <= values["mean"] <= values["high"] <= 1.0
    assert result.best() == max(result.runs, key=lambda m: np.mean([r.validation["balanced_accuracy"]
                                                                  for r in result.runs[m]]))
    comparison = result.against("none")
    assert set(comparison) == {"logit_adjust"}
    assert comparison["logit_adjust"]["difference"] == pytest.approx(
        summary["logit_adjust"]["balanced_accuracy"]["mean"] - summary["none"]["balanced_accuracy"]["mean"])
    assert comparison["logit_adjust"]["verdict"] in ("better", "worse", "no clear difference")
    table = result.table()
    for words in ("none", "logit_adjust", "val. bal. acc.", "always", "stratified random", "colour statistics",
                  "mean over 2 seeds [0, 1]"):
        assert words in table, words
    assert set(result.per_class_recall()["none"]) == set(splits.classes)
    assert set(result.baselines) == {"validation", "test"}
    json.dumps(result.to_dict())  # plain values only
    with pytest.raises(ValueError, match="unknown"):
        part1_imbalance.compare(["focal"], [0], splits, experiment.RunSpec(**SMALL_SPEC), progress=False)


def test_best_is_chosen_on_validation_not_on_test():
    def finished(method, seed, validation, test):
        return experiment.RunResult(spec=experiment.RunSpec(name=method, imbalance=method, seed=seed),
                                    history=engine.History(), validation={"balanced_accuracy": validation},
                                    test={"balanced_accuracy": test})

    # class_weights wins on validation, logit_adjust on test: the choice must be class_weights.
    result = part1_imbalance.ComparisonResult(runs={
        "none": [finished("none", 0, 0.30, 0.30), finished("none", 1, 0.32, 0.31)],
        "class_weights": [finished("class_weights", 0, 0.50, 0.20), finished("class_weights", 1, 0.48, 0.22)],
        "logit_adjust": [finished("logit_adjust", 0, 0.40, 0.90), finished("logit_adjust", 1, 0.42, 0.88)],
    }, classes=["A", "B"])
    assert result.best() == "class_weights"
    assert result.best("balanced_accuracy") == "class_weights"
