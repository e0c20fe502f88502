"""Notebook 01's logic: the bug replayed on predictions, what a score means against the
majority baseline, the in-class recipe, and when a learning rate at the grid's edge is
worth a warning."""
from types import SimpleNamespace

import numpy as np
import pytest

from wikiart_core.config import get_profile
from wikiart_core.parts import bonus_a

CLASSES = ["Baroque", "Cubism", "Impressionism", "Rococo"]
SORTED = {style: index for index, style in enumerate(CLASSES)}
# Another process's names: every style moves (a derangement).
SHUFFLED = {"Baroque": 1, "Cubism": 2, "Impressionism": 3, "Rococo": 0}


def fake_run(y_true, y_pred):
    """What bug_and_recipe and recipe_steps read of a RunResult."""
    return SimpleNamespace(y_true={"test": list(y_true)}, predictions={"test": list(y_pred)})


def test_relabel_for_bug_renames_the_truth_only():
    keyed = bonus_a.relabel_for_bug([0, 1, 2, 3], [0, 1, 2, 2], CLASSES, SORTED, SHUFFLED)
    truth, predicted = keyed["fixed"]
    assert truth.tolist() == [0, 1, 2, 3] and predicted.tolist() == [0, 1, 2, 2]
    truth, predicted = keyed["bug"]
    assert truth.tolist() == [1, 2, 3, 0] and predicted.tolist() == [0, 1, 2, 2]  # the same answers, another key


@pytest.fixture(scope="module")
def test_labels():
    # Impressionism is the majority: half of the images.
    rng = np.random.default_rng(0)
    return rng.permutation([2] * 200 + [0] * 70 + [1] * 70 + [3] * 60)


def test_a_model_that_learned_is_below_the_majority_only_under_the_bug(test_labels):
    table = bonus_a.bug_and_recipe({"perfect": fake_run(test_labels, test_labels)}, CLASSES, SORTED, SHUFFLED,
                                   "Impressionism", n_resamples=300)
    fixed, bug = table["perfect"]["fixed"], table["perfect"]["bug"]
    assert fixed["accuracy"] == 1.0 and bug["accuracy"] == 0.0
    assert bonus_a.against_majority(fixed) == "above" and bonus_a.against_majority(bug) == "below"
    assert fixed["accuracy_interval"]["low"] <= fixed["accuracy"] <= fixed["accuracy_interval"]["high"]
    # The baseline is always Impressionism under the same key as the truth: half of the images either way.
    assert fixed["vs_majority"]["difference"] == pytest.approx(0.5)
    assert bug["vs_majority"]["difference"] == pytest.approx(-0.5)
    words = bonus_a.bug_meaning_words(bug, fixed, "Impressionism")
    assert words.startswith("below always answering Impressionism") and "did learn something" in words
    assert "as good as always answering Impressionism" in words
    assert "lifts it above the majority baseline" in bonus_a.labels_alone_words(fixed, "Impressionism")


def test_a_model_that_always_answers_the_majority_is_level_with_it(test_labels):
    constant = np.full_like(test_labels, 2)
    table = bonus_a.bug_and_recipe({"constant": fake_run(test_labels, constant)}, CLASSES, SORTED, SHUFFLED,
                                   "Impressionism", n_resamples=300)
    fixed, bug = table["constant"]["fixed"], table["constant"]["bug"]
    assert bonus_a.against_majority(fixed) == "level with"
    assert "does not lift it clear of the majority baseline" in bonus_a.labels_alone_words(fixed, "Impressionism")
    # Under the bug the constant answer is read as another style: below the baseline, and learned little.
    assert bonus_a.against_majority(bug) == "below"
    assert "learned little" in bonus_a.bug_meaning_words(bug, fixed, "Impressionism")
    # Where the bug leaves the majority's name in place, the constant answer is level with the baseline.
    fixed_point = {**SHUFFLED, "Impressionism": 2, "Cubism": 3}
    level = bonus_a.bug_and_recipe({"constant": fake_run(test_labels, constant)}, CLASSES, SORTED, fixed_point,
                                   "Impressionism", n_resamples=300)["constant"]["bug"]
    assert bonus_a.bug_meaning_words(level, fixed, "Impressionism").startswith("level with always answering")


def test_recipe_steps_are_paired_differences_of_accuracy(test_labels):
    worse = np.where(np.arange(len(test_labels)) % 2 == 0, test_labels, 2)
    steps = bonus_a.recipe_steps(fake_run(test_labels, worse), fake_run(test_labels, test_labels),
                                 fake_run(test_labels, test_labels), n_resamples=300)
    assert steps["training"]["metric"] == "accuracy" and steps["training"]["verdict"] == "better"
    assert steps["training"]["difference"] == pytest.approx(1.0 - np.mean(worse == test_labels))
    assert steps["architecture"]["difference"] == 0.0 and steps["architecture"]["verdict"] == "no clear difference"


def test_the_in_class_recipe_is_seedcnn_with_its_epochs_capped_by_the_profile():
    smoke, demo = get_profile("smoke"), get_profile("demo")
    spec = bonus_a.in_class_spec(demo, seed=3)
    assert (spec.model, spec.model_args) == ("seedcnn", {"variant": "original"})
    assert spec.epochs == bonus_a.IN_CLASS_EPOCHS < demo.epochs and spec.lr == bonus_a.IN_CLASS_LR
    assert spec.batch_size == demo.batch_size and spec.seed == 3
    assert bonus_a.in_class_spec(smoke).epochs == min(bonus_a.IN_CLASS_EPOCHS, smoke.epochs)


def test_validation_noise_follows_the_validation_set_size():
    assert bonus_a.validation_noise(0.5, [100], "accuracy") == pytest.approx(0.05)
    assert bonus_a.validation_noise(0.5, [400], "accuracy") == pytest.approx(0.025)
    # Balanced accuracy averages per-style recalls: a style with one image makes it much noisier.
    even = bonus_a.validation_noise(0.5, [50, 50])
    assert even == pytest.approx(0.05)
    assert bonus_a.validation_noise(0.5, [99, 1]) > 5 * even
    assert bonus_a.validation_noise(1.0, [100], "accuracy") > 0  # never zero
    with pytest.raises(ValueError):
        bonus_a.validation_noise(0.5, [0, 0])


def rows(scores, chosen=None, metric="balanced_accuracy"):
    lrs = [1e-3, 3e-3, 1e-2][:len(scores)]
    best = max(range(len(scores)), key=lambda i: -1 if scores[i] is None else scores[i]) if chosen is None else chosen
    return [{"lr": lr, "diverged": "NaN loss", "chosen": False} if score is None else
            {"lr": lr, metric: score, "chosen": i == best} for i, (lr, score) in enumerate(zip(lrs, scores))]


COUNTS = {"a": 100, "b": 100, "c": 100, "d": 100}  # noise of a score near 0.5: about 2.5 points, margin about 4.9


def test_a_flat_grid_is_called_flat_even_with_the_best_at_its_edge():
    shape = bonus_a.grid_shape(rows([0.50, 0.49, 0.48]), COUNTS)
    assert shape["where"] == "flat" and shape["lr"] == 1e-3 and shape["lead"] == pytest.approx(0.01)
    assert shape["margin"] == pytest.approx(bonus_a.Z_95 * bonus_a.validation_noise(0.50, COUNTS))
    words = bonus_a.grid_words("StyleCNN", shape)
    assert "the grid is flat" in words and "hardly matters" in words and "might do better" not in words


def test_a_sloped_grid_with_the_best_at_its_edge_is_a_warning():
    shape = bonus_a.grid_shape(rows([0.30, 0.45, 0.60]), COUNTS)
    assert shape["where"] == "edge" and shape["lr"] == 1e-2 and shape["neighbour_lr"] == 3e-3
    assert shape["lead"] == pytest.approx(0.15) and shape["lead"] > shape["margin"]
    assert "the largest rate of the grid" in bonus_a.grid_words("SeedCNN", shape)
    assert "a larger rate might do better" in bonus_a.grid_words("SeedCNN", shape)
    low = bonus_a.grid_shape(rows([0.60, 0.45, 0.30]), COUNTS)
    assert low["where"] == "edge" and "the smallest rate" in bonus_a.grid_words("SeedCNN", low)


def test_an_edge_level_with_its_neighbour_is_no_warning():
    shape = bonus_a.grid_shape(rows([0.20, 0.58, 0.60]), COUNTS)
    assert shape["where"] == "edge, level" and shape["lead"] == pytest.approx(0.02)
    assert "no sign that a larger rate would help" in bonus_a.grid_words("SeedCNN", shape)


def test_inside_single_and_diverged_rates():
    assert bonus_a.grid_shape(rows([0.30, 0.60, 0.30]), COUNTS)["where"] == "inside"
    assert bonus_a.grid_shape(rows([0.60]), COUNTS)["where"] == "single"
    # The largest rate diverged: the best, next to it, is not at the edge of the grid.
    assert bonus_a.grid_shape(rows([0.30, 0.60, None]), COUNTS)["where"] == "inside"
    with pytest.raises(ValueError, match="diverged"):
        bonus_a.grid_shape(rows([None, None]), COUNTS)
