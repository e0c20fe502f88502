"""The checks and sentences of notebook 02's conclusions (parts.part1_imbalance), on
hand-made runs whose predictions are known: the validation/test disagreement, recall on
the rarest styles, the colour-statistics baseline and the search's importances."""
import numpy as np
import pytest

from wikiart_core import engine, experiment, stats
from wikiart_core.parts import part1_imbalance
from wikiart_core.parts.part1_imbalance import (ComparisonResult, colour_check, colour_words, importance_words,
                                                tail_words, validation_test_check, validation_test_words)

CLASSES = ["Big", "Mid", "Small", "Tiny"]
TRAIN_COUNTS = {"Big": 100, "Mid": 40, "Small": 8, "Tiny": 2}
# 10 test images per style, in label order.
Y_TRUE = np.repeat(np.arange(4), 10)


def predictions(correct_per_class, seed_shift=0):
    """(N,) predictions that get the first ``correct_per_class[k]`` images of class k
    right and call the others "Big" (or "Mid" for Big's own misses)."""
    out = []
    for label, correct in enumerate(correct_per_class):
        for i in range(10):
            right = (i + seed_shift) % 10 < correct
            out.append(label if right else (1 if label == 0 else 0))
    return out


def run(method, seed, validation, correct_per_class):
    test_predictions = predictions(correct_per_class, seed)
    test_bal = float(np.mean(np.asarray(correct_per_class) / 10))
    return experiment.RunResult(spec=experiment.RunSpec(name=method, imbalance=method, seed=seed),
                                history=engine.History(), validation={"balanced_accuracy": validation},
                                test={"balanced_accuracy": test_bal},
                                predictions={"test": test_predictions}, y_true={"test": Y_TRUE.tolist()})


def comparison(*, chosen_tail=(0, 0), other_tail=(9, 9), chosen_head=(10, 9), other_head=(4, 4),
               chosen_validation=0.6, other_validation=0.4, colour=None):
    """Two methods over two seeds: "logit_adjust" (chosen on validation unless told
    otherwise) and "balanced_sampler"; per-class correct counts (Big, Mid, Small, Tiny)."""
    runs = {
        "logit_adjust": [run("logit_adjust", s, chosen_validation, [*chosen_head, *chosen_tail]) for s in (0, 1)],
        "balanced_sampler": [run("balanced_sampler", s, other_validation, [*other_head, *other_tail])
                             for s in (0, 1)],
    }
    reference = {} if colour is None else {"colour_statistics": np.asarray(predictions(colour))}
    return ComparisonResult(runs=runs, classes=CLASSES, n_resamples=500, reference_predictions=reference)


# --------------------------------------------------------------------------- validation against test


def test_validation_and_test_disagree_and_the_words_say_so_with_the_interval():
    result = comparison()  # chosen: head right, tail never; other: tail right -> higher on test
    check = validation_test_check(result)
    assert check["chosen"] == "logit_adjust" and check["test_best"] == "balanced_sampler" and check["disagree"]
    assert check["difference"]["verdict"] == "better"
    assert check["difference"]["difference"] == pytest.approx(check["test_mean"]["balanced_sampler"]
                                                              - check["test_mean"]["logit_adjust"])
    words = validation_test_words(check)
    assert "Validation chose `logit_adjust`" in words and "on test `balanced_sampler` scores higher" in words
    assert "more than noise" in words and "95% interval" in words
    assert "I keep `logit_adjust`" in words  # the test split chooses nothing


def test_validation_and_test_agree():
    result = comparison(chosen_tail=(9, 9), other_tail=(0, 0))
    check = validation_test_check(result)
    assert not check["disagree"] and check["difference"] is None
    words = validation_test_words(check)
    assert "also has the highest mean test balanced accuracy of the 2 methods" in words
    assert "but on test" not in words


def test_a_test_lead_inside_the_noise_is_not_called_a_contradiction():
    check = {"metric": "balanced_accuracy", "chosen": "a", "test_best": "b", "disagree": True,
             "validation_mean": {"a": 0.5, "b": 0.4}, "test_mean": {"a": 0.40, "b": 0.41},
             "difference": {"metric": "balanced_accuracy", "difference": 0.01, "low": -0.03, "high": 0.05,
                            "verdict": "no clear difference"}}
    words = validation_test_words(check)
    assert "cannot tell the two apart" in words and "does not clearly contradict" in words
    assert "more than noise" not in words


# --------------------------------------------------------------------------- the rarest styles


def test_tail_recall_names_the_rarest_styles_never_recognised():
    result = comparison()
    tail = result.tail_recall(TRAIN_COUNTS, groups=2)
    assert tail["styles"] == ["Tiny", "Small"] and tail["largest"] == ["Big", "Mid"]
    assert tail["reference"] == "logit_adjust"
    assert tail["recall"]["logit_adjust"]["mean"] == pytest.approx(0.0)
    assert tail["recall"]["balanced_sampler"]["mean"] == pytest.approx(0.9)
    assert tail["recall_largest"]["logit_adjust"]["mean"] == pytest.approx(0.95)
    assert tail["zero_recall"] == {"logit_adjust": ["Tiny", "Small"], "balanced_sampler": []}
    assert tail["rarest_zero"] == {"logit_adjust": 2, "balanced_sampler": 0}
    assert tail["best"] == "balanced_sampler" and tail["best_vs_reference"]["verdict"] == "better"
    assert tail["n_scored"] == 4 and tail["no_test_images"] == []
    words = tail_words(tail, seeds=2)
    assert "On the 2 smallest styles" in words and "`logit_adjust` finds 0.0%" in words
    assert "`balanced_sampler` is highest there with 90.0%: `balanced_sampler` raises" in words
    assert "raises recall on the 2 smallest styles over `logit_adjust`" in words
    assert "no test image right, in any of the 2 seeds, for 2 of the 4 styles" in words
    assert ": the 2 rarest (Tiny, Small)" in words
    assert "`balanced_sampler` misses no style entirely" in words


def test_tail_recall_of_a_method_that_finds_every_style():
    result = comparison(chosen_tail=(9, 9), other_tail=(0, 0))
    tail = result.tail_recall(TRAIN_COUNTS, groups=2)
    assert tail["best"] == "logit_adjust" and tail["best_vs_reference"] is None
    words = tail_words(tail, seeds=2)
    assert "no method is higher there" in words
    assert "at least one test image right in each of the 4 styles" in words
    assert "misses the fewest styles (2) entirely" in words


def test_a_zero_recall_style_that_is_not_the_rarest_is_named_without_the_streak():
    # chosen finds Tiny (rarest) but never Small
    result = comparison(chosen_tail=(0, 9))
    tail = result.tail_recall(TRAIN_COUNTS, groups=2)
    assert tail["zero_recall"]["logit_adjust"] == ["Small"] and tail["rarest_zero"]["logit_adjust"] == 0
    assert "for 1 of the 4 styles that have test images (rarest first: Small)." in tail_words(tail, seeds=2)
    assert (part1_imbalance._rarest_words(["Tiny", "Small", "Mid"], 2)
            == " (rarest first: Tiny, Small, Mid), among them the 2 rarest")
    assert part1_imbalance._rarest_words(["Tiny"], 1) == ": the rarest, Tiny"
    many = [f"S{i}" for i in range(part1_imbalance.NAMED_STYLES + 3)]
    assert part1_imbalance._rarest_words(many, len(many)).endswith(" and 3 more)")


def test_tail_recall_refuses_a_style_without_a_count():
    with pytest.raises(ValueError, match="Tiny"):
        comparison().tail_recall({"Big": 1, "Mid": 1, "Small": 1})


# --------------------------------------------------------------------------- the colour baseline


def test_against_baseline_is_a_paired_bootstrap_against_fixed_predictions():
    colour = (5, 5, 5, 5)
    result = comparison(colour=colour)
    against = result.against_baseline("colour_statistics")
    y_true, method = experiment.predictions_matrix(result.runs["logit_adjust"], "test")
    expected = stats.paired_bootstrap(y_true, method, np.tile(predictions(colour), (2, 1)), n_resamples=500, seed=0)
    assert against["logit_adjust"] == expected
    with pytest.raises(KeyError, match="no test predictions"):
        comparison().against_baseline("colour_statistics")


def test_colour_words_follow_the_paired_verdict_and_the_interval():
    summary = {"m": {"balanced_accuracy": {"mean": 0.354, "low": 0.319, "high": 0.420}}}
    colour = {"balanced_accuracy": 0.367}

    def paired(verdict, difference, low, high):
        return {"m": {"metric": "balanced_accuracy", "difference": difference, "low": low, "high": high,
                      "verdict": verdict, "confidence": 0.95}}

    match = colour_check(summary, paired("no clear difference", -0.013, -0.06, 0.04), colour, "m")
    assert match["inside"] and match["verdict"] == "no clear difference"
    words = colour_words(match, "the method validation chose")
    assert words.startswith("Colour statistics alone match the method validation chose, `m`")
    assert "36.7%" in words and "inside its 95% interval (31.9% to 42.0%)" in words
    assert "the paired bootstrap finds no clear difference" in words
    assert colour_words(colour_check(summary, paired("better", 0.05, 0.01, 0.09), colour, "m"),
                        "the method highest on test").startswith("The method highest on test, `m`, beats")
    beaten = colour_check(summary, paired("better", 0.05, 0.01, 0.09), {"balanced_accuracy": 0.30}, "m")
    words = colour_words(beaten)
    assert not beaten["inside"] and words.startswith("`m` beats colour statistics alone")
    assert "outside its 95% interval" in words
    worse = colour_words(colour_check(summary, paired("worse", -0.05, -0.09, -0.01), colour, "m"))
    assert worse.startswith("Colour statistics alone score higher than `m`") and "lowers" in worse


# --------------------------------------------------------------------------- the search


def test_importance_words_name_no_parameter_from_few_trials():
    importances = {"lr": 0.52, "weight_decay": 0.47, "width": 0.01}
    few = importance_words(importances, "", {"COMPLETE": 7, "PRUNED": 1})
    assert "7 completed trials (1 pruned trial does not enter it)" in few
    assert "too few to rank parameters" in few and "`lr`" not in few
    many = importance_words(importances, "", {"COMPLETE": 40, "PRUNED": 10})
    assert "Over 40 completed trials (10 pruned trials do not enter it)" in many and "`lr` first (52%" in many
    assert "too few" not in many
    assert "too few" in importance_words(importances, "", {"COMPLETE": 40}, min_trials=50)
    none = importance_words(None, "1 completed trial(s); parameter importances need at least 2", {"COMPLETE": 1})
    assert none.startswith("Parameter importances were not computed (1 completed trial(s)")
    assert "1 completed trial (0 pruned trials do not enter it)" in none


def test_tail_table_and_imbalance_words():
    table = part1_imbalance.tail_table(comparison().tail_recall(TRAIN_COUNTS, groups=2))
    assert "recall, 2 smallest [95%]" in table and "smallest styles, rarest first: Tiny, Small" in table
    row = next(line for line in table.splitlines() if line.startswith("logit_adjust"))
    assert row.split()[-1] == "2" and "95.0%" in row
    words = part1_imbalance.imbalance_words(TRAIN_COUNTS, "my data", synthetic=True)
    assert words.startswith("On my data, the largest style, Big (100 training images), has 50 times more")
    assert "the smallest, Tiny (2)" in words and "in the real WikiArt split the ratio is 151" in words
    assert "real WikiArt" not in part1_imbalance.imbalance_words(TRAIN_COUNTS, "`wikiart`", synthetic=False)
