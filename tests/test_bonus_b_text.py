"""Notebook 05's sentences follow its numbers: the judge's test scores and the hit rates
are said against their baselines through their intervals, on small hand-made summaries
(a changed rule or a wrong word fails here, without a model)."""
import pytest

from wikiart_core import wikiart_facts
from wikiart_core.parts import bonus_b


def interval(mean, low, high):
    return {"mean": mean, "low": low, "high": high, "confidence": 0.95}


def judge_summary(balanced=(0.47, 0.40, 0.55), accuracy=(0.70, 0.66, 0.74), colour_verdict="better"):
    difference = 0.12 if colour_verdict == "better" else -0.05 if colour_verdict == "worse" else 0.01
    return {"accuracy": accuracy[0], "balanced_accuracy": balanced[0], "n_images": 501,
            "intervals": {"accuracy": interval(*accuracy), "balanced_accuracy": interval(*balanced)},
            "baselines": {"majority": {"style": "Impressionism", "accuracy": 0.17, "balanced_accuracy": 1 / 27},
                          "stratified": {"accuracy": 0.08, "balanced_accuracy": 1 / 27},
                          "colour_statistics": {"accuracy": 0.30, "balanced_accuracy": 0.35}},
            "vs_colour_statistics": {"metric": "balanced_accuracy", "difference": difference, "low": difference - 0.03,
                                     "high": difference + 0.03, "confidence": 0.95, "verdict": colour_verdict}}


def grid_verdict(base=(1 / 27, 0.0, 0.09), lora=(1 / 27, 0.0, 0.09), verdict="no clear difference", same=54,
                 distinct=None):
    difference = lora[0] - base[0]
    comparison = {"metric": "accuracy", "difference": difference, "low": difference - 0.05,
                  "high": difference + 0.05, "confidence": 0.95, "verdict": verdict}
    return {"base": {"hit_rate": base[0], "n_images": 54, "chance": 1 / 27},
            "lora": {"hit_rate": lora[0], "n_images": 54, "chance": 1 / 27},
            "intervals": {"base": interval(*base), "lora": interval(*lora)}, "comparison": comparison,
            "same_style": same, "distinct_styles": distinct or {"base": 5, "lora": 5},
            "words": bonus_b.hit_rate_words(comparison)}


@pytest.mark.parametrize("low, high, words", [(0.1, 0.2, "above"), (0.01, 0.03, "below"),
                                              (0.02, 0.2, "not distinguishable from")])
def test_an_interval_is_above_or_below_a_reference_only_as_a_whole(low, high, words):
    assert bonus_b.relation_words({"low": low, "high": high}, 0.037) == words


def test_a_judge_above_every_baseline_is_said_so_and_its_hit_rates_count():
    words = bonus_b.judge_words(judge_summary())
    assert bonus_b.judge_is_informative(judge_summary())
    assert "balanced accuracy is 47.0% (95% interval 40.0% to 55.0%), above the 3.7% of any guess" in words
    assert "is above the 17.0% of always answering Impressionism" in words
    assert "the judge raises balanced accuracy over colour statistics by 12.0 points" in words
    assert "say nothing" not in words


def test_a_judge_no_better_than_guessing_voids_the_hit_rates():
    summary = judge_summary(balanced=(0.05, 0.02, 0.08), accuracy=(0.15, 0.12, 0.19), colour_verdict="worse")
    words = bonus_b.judge_words(summary)
    assert not bonus_b.judge_is_informative(summary)
    assert "not distinguishable from the 3.7% of any guess" in words
    assert "not distinguishable from the 17.0% of always answering Impressionism" in words
    assert "the judge lowers balanced accuracy below colour statistics" in words
    assert "the hit rates below say nothing about the paintings' styles" in words


def test_hit_rates_are_said_against_chance_and_each_other_through_their_intervals():
    words = bonus_b.hit_rates_words(grid_verdict(base=(0.04, 0.0, 0.09), lora=(0.30, 0.18, 0.42), verdict="better",
                                                 same=20))
    assert "the LoRA's rate is above chance, the base model's not distinguishable from it" in words
    assert "the LoRA raises the style hit rate by 26.0 points (LoRA minus base model: 95% interval" in words
    assert "in 20 of the 54 pairs" in words and "single style" not in words


def test_a_judge_that_names_one_style_is_said_to_hit_chance_by_construction():
    words = bonus_b.hit_rates_words(grid_verdict(distinct={"base": 1, "lora": 1}))
    assert "no clear difference in style hit rate" in words and "better" not in words
    assert "for the base model's and the LoRA's paintings it named a single style every time" in words


def test_a_drop_is_said_as_a_drop_with_the_signed_interval():
    sentence = bonus_b.hit_rate_words({"verdict": "worse", "difference": -0.1, "low": -0.15, "high": -0.05,
                                       "confidence": 0.95})
    assert sentence == ("the LoRA lowers the style hit rate by 10.0 points (LoRA minus base model: 95% interval "
                        "-15.0 to -5.0 points)")
    assert "-0.0" not in bonus_b.hit_rate_words({"verdict": "no clear difference", "difference": 0.0,
                                                 "low": -0.0001, "high": 0.0, "confidence": 0.95})


def test_balanced_draws_name_real_wikiart_and_the_data_in_use_apart():
    folder = {"Impressionism": 567, "Realism": 400, "Analytical_Cubism": 4}
    lora = {"Impressionism": 8, "Realism": 8, "Analytical_Cubism": 4}
    words = bonus_b.balanced_draws_words(folder, lora, "the embedded synthetic data", 8)
    real = wikiart_facts.TRAIN_COUNTS[wikiart_facts.LARGEST_STYLE]
    assert f"On the real WikiArt split (its train folders, from `wikiart_facts`), Impressionism has {real:,} of the " \
           f"{wikiart_facts.TRAIN_IMAGES:,} train images" in words
    assert "data this run uses, the embedded synthetic data, Impressionism has 567 of 971 (58.4%) and Analytical " \
           "Cubism 4" in words
    assert "trains on 20 of them (at most 8 per style): 8 of Impressionism and 4 of Analytical Cubism, " \
           "still 2.0 times more" in words
    assert "each of the 3 styles fills 33.3% of the draws" in words
    even = bonus_b.balanced_draws_words(folder, {"Impressionism": 2, "Realism": 2, "Analytical_Cubism": 2}, "x", 2)
    assert "(at most 2 per style): 2 of every style, so the cap already makes the styles the same size" in even


def constant_judge(label: int, n_classes: int):
    """A stand-in classifier (a torch module) that names style ``label`` for every image."""
    import torch

    class Constant(torch.nn.Module):
        def forward(self, images):
            logits = torch.zeros(len(images), n_classes)
            logits[:, label] = 1.0
            return logits

    return Constant()


def test_a_judge_that_ignores_the_images_hits_chance_and_names_one_style():
    import numpy as np

    from wikiart_core.lora.generate import StyleGrid

    classes = ["A", "B", "C"]
    images = np.random.default_rng(0).random((3, 2, 8, 8, 3), dtype=np.float32)
    grid = StyleGrid(styles=classes, seeds=[0, 1], prompts=classes, base=images, lora=images[::-1].copy(),
                     lora_scale=1.0, steps=1, guidance=1.0)
    verdict = bonus_b.judge_grid(constant_judge(1, 3), grid, classes, image_size=8)
    assert verdict["base"]["hit_rate"] == verdict["lora"]["hit_rate"] == pytest.approx(1 / 3)
    assert verdict["distinct_styles"] == {"base": 1, "lora": 1} and verdict["same_style"] == 6
    assert verdict["comparison"]["verdict"] == "no clear difference"
    assert verdict["intervals"]["lora"]["low"] <= 1 / 3 <= verdict["intervals"]["lora"]["high"]
    assert "it named a single style every time" in bonus_b.hit_rates_words(verdict)
