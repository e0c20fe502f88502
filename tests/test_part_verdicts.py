"""The rules the notebooks' conclusions follow from (parts.part3_generator.verdict,
parts.bonus_b's judge and loss summaries), on small hand-made summaries: a changed rule
fails here, not silently in a rendered sentence."""
import pytest

from wikiart_core import config
from wikiart_core.parts import bonus_b, part3_generator


def interval(mean, low, high):
    return {"mean": mean, "low": low, "high": high}


def ssim(mean, low=None, high=None):
    return {"ssim": interval(mean, mean - 0.01 if low is None else low, mean + 0.01 if high is None else high)}


def summary(*, cin_hit=(0.30, 0.20, 0.40), chance=1 / 27, cin_vs=None, floor_gap_low=0.05, own=(0.5, 0.4, 0.6),
            cin_ssim=ssim(0.5), plain_ssim=ssim(0.52, 0.45, 0.6), floor_ssim=ssim(0.2)):
    """A summarise()-shaped dict where cin meets every criterion unless told otherwise."""
    verdicts = {"plain autoencoder": "better", "colour transfer": "better", "concat": "better", **(cin_vs or {})}
    return {"hit_rate": {"cin": interval(*cin_hit)}, "matched_hit_rate": {"cin": interval(*own)},
            "content": {"cin": cin_ssim, "plain autoencoder": plain_ssim, "unrelated image": floor_ssim},
            "content_vs_floor": {"cin": {"ssim": interval(floor_gap_low + 0.05, floor_gap_low, floor_gap_low + 0.1)}},
            "cin_vs": {name: {"verdict": verdict} for name, verdict in verdicts.items()}, "chance": chance,
            "n_images": 100}


def views(rgb, luminance=None, detail=None):
    """{view: interval} with each given mean and a narrow interval around it."""
    means = {"rgb": rgb, "luminance": rgb if luminance is None else luminance, "detail": rgb / 10 if detail is None
             else detail}
    return {view: interval(mean, mean - 0.001, mean + 0.001) for view, mean in means.items()}


def spread(*, cin=0.20, colour=0.15, rgb_gap=(0.05, 0.04, 0.06), detail_gap=(0.005, 0.004, 0.006),
           detail_kept=(0.6, 0.5, 0.7)):
    """A summarise_spread()-shaped dict where cin's outputs differ between target styles more than
    colour transfer's (rgb_gap: mean, low, high of the per-image difference) unless told otherwise."""
    return {"methods": {"cin": {"between_targets": views(cin), "from_own": views(cin * 0.8),
                                "detail_kept": interval(*detail_kept)},
                        "colour transfer": {"between_targets": views(colour), "from_own": views(colour * 0.8),
                                            "detail_kept": interval(1.1, 1.0, 1.2)}},
            "between_images": views(0.25),
            "cin_minus_colour_transfer": {"rgb": interval(*rgb_gap), "luminance": interval(*rgb_gap),
                                          "detail": interval(*detail_gap)},
            "n_images": 100, "target_styles": [0, 1, 2]}


def test_a_generator_that_meets_every_criterion():
    judged = part3_generator.verdict(summary(), judge_accuracy=0.3, photo_ssim=0.4, spread=spread())
    assert judged.above_chance and judged.keeps_content and judged.varies_with_style and judged.failed == []
    assert judged.beats == {"plain autoencoder": True, "colour transfer": True, "concat": True}
    assert judged.criteria == {"above_chance": True, "beats": judged.beats, "keeps_content": True,
                               "varies_with_style": True}
    assert judged.real_style_change and not (judged.noise_like or judged.ignores_style or judged.tint_like
                                             or judged.near_identical)
    assert judged.detail_varies and judged.loses_detail  # detail gap above 0; detail kept [0.5, 0.7] below 1
    assert judged.own_style_easier  # own-style low end 0.4 > the judge's 0.3
    assert judged.photo_layout_survives  # 0.4 > the floor's 0.2
    assert not judged.blurrier  # cin's SSIM interval [0.49, 0.51] overlaps the plain autoencoder's
    assert part3_generator.verdict_words(judged).startswith("the `cin` generator meets every criterion")


@pytest.mark.parametrize("rgb_gap", [(0.01, -0.005, 0.02), (-0.03, -0.04, -0.02)])
def test_outputs_that_vary_no_more_than_a_tint_fail_the_verdict(rgb_gap):
    """Every hit-rate criterion met, but cin's outputs differ between target styles not clearly more
    than colour transfer's: not 'every criterion', and the outputs count as nearly the same."""
    judged = part3_generator.verdict(summary(), 0.3, spread=spread(rgb_gap=rgb_gap))
    assert not judged.varies_with_style and judged.near_identical and not judged.real_style_change
    assert judged.failed == [part3_generator.VARIES_CRITERION]
    assert judged.criteria["varies_with_style"] is False
    words = part3_generator.verdict_words(judged)
    assert "does **not** meet every criterion" in words and part3_generator.VARIES_CRITERION in words


def test_an_unmeasured_spread_is_not_a_met_criterion():
    judged = part3_generator.verdict(summary(), 0.3)
    assert not judged.varies_with_style and judged.failed == [part3_generator.VARIES_CRITERION + " (not measured)"]
    assert judged.detail_varies is None and judged.loses_detail is None


def test_blurrier_needs_the_whole_interval_below_the_plain_autoencoder():
    below = part3_generator.verdict(summary(cin_ssim=ssim(0.5, 0.45, 0.55), plain_ssim=ssim(0.7, 0.6, 0.8)), 0.3)
    assert below.blurrier
    overlapping = part3_generator.verdict(summary(cin_ssim=ssim(0.5, 0.45, 0.62), plain_ssim=ssim(0.7, 0.6, 0.8)),
                                          0.3)
    assert not overlapping.blurrier


def test_every_failed_criterion_is_named_in_order():
    judged = part3_generator.verdict(summary(cin_hit=(0.05, 0.02, 0.08), floor_gap_low=-0.01,
                                             cin_vs={"colour transfer": "no clear difference", "concat": "worse"}),
                                     judge_accuracy=0.3)
    assert not judged.above_chance and not judged.keeps_content
    assert judged.beats == {"plain autoencoder": True, "colour transfer": False, "concat": False}
    assert judged.failed == ["above chance", "above colour transfer", "above concat",
                             "content kept better than the unrelated-image floor",
                             part3_generator.VARIES_CRITERION + " (not measured)"]
    # The interval's low end decides, not the mean: 0.02 is below chance (0.037) though 0.05 is not.
    assert part3_generator.verdict(summary(cin_hit=(0.05, 0.04, 0.08)), 0.3).above_chance


def test_the_impressions_follow_the_baselines():
    tint = part3_generator.verdict(summary(cin_vs={"colour transfer": "no clear difference"}), 0.3, spread=spread())
    assert tint.tint_like and not tint.ignores_style and not tint.real_style_change
    ignores = part3_generator.verdict(summary(cin_vs={"plain autoencoder": "worse"}), 0.3, spread=spread())
    assert ignores.ignores_style and not ignores.real_style_change
    # No more structure kept than an unrelated image (means equal counts as noise).
    noise = part3_generator.verdict(summary(cin_ssim=ssim(0.2), floor_ssim=ssim(0.2)), 0.3, photo_ssim=0.1)
    assert noise.noise_like and not noise.real_style_change and noise.photo_layout_survives is False
    # A baseline missing from the summary is not beaten.
    missing = summary()
    del missing["cin_vs"]["colour transfer"]
    assert part3_generator.verdict(missing, 0.3).tint_like


def impressions(judged_summary=None, judged_spread=None, **keywords):
    judged_summary = judged_summary or summary(cin_hit=(0.30, 0.20, 0.40))
    judged_spread = judged_spread or spread()
    for name, rate in (("plain autoencoder", 0.02), ("colour transfer", 0.10), ("concat", 0.2)):
        judged_summary["hit_rate"][name] = interval(rate, rate - 0.01, rate + 0.01)
    judged_summary["cin_vs"]["concat"]["verdict"] = judged_summary["cin_vs"]["concat"]["verdict"]
    judged = part3_generator.verdict(judged_summary, 0.3, keywords.get("photo", {}).get("ssim"),
                                     spread=judged_spread)
    return "\n".join(part3_generator.impression_lines(judged_summary, judged_spread, judged, **keywords))


def test_the_impressions_quote_the_numbers_they_rest_on():
    text = impressions(photo={"ssim": 0.4, "between_targets": 0.12, "n_styles": 6}, grid_spread=spread(cin=0.3))
    assert "**The outputs change with the target style, more than a tint does.**" in text
    assert "differ by 0.200 on average" in text and "against 0.150 for colour transfer" in text
    assert "difference +0.050, 95% interval +0.040 to +0.060" in text
    assert "two different test images differ by 0.250" in text  # the scale
    assert "own-style output by 0.160 (0.120 for colour transfer)" in text
    assert "the target style changes the fine detail too" in text  # the detail gap lies above 0
    assert "they are **blurred**" in text and "60% of the input's fine detail" in text  # detail kept [0.5, 0.7] < 1
    assert "In the grid's 100 rows" in text and "0.300 for `cin`" in text
    assert "keeps low-pass SSIM 0.400" in text and "part of its layout survives" in text and "by 0.120" in text
    assert "a crude but real style-conditioned generator" in text and "fine detail included" in text
    assert "changes texture and colour" not in text
    assert "more often than the `concat` one (30.0% against 20.0%)" in text


def test_the_impressions_say_plainly_when_the_style_barely_changes_the_picture():
    text = impressions(judged_spread=spread(cin=0.12, colour=0.15, rgb_gap=(-0.03, -0.04, -0.02),
                                            detail_gap=(0.0, -0.001, 0.001), detail_kept=(0.95, 0.9, 1.05)))
    assert "**Nearly the same whatever the target style.**" in text
    assert "differ by 0.120 on average" in text and "less than colour transfer's tints differ (0.150" in text
    assert "does not change the texture more than a tint does" in text and "about as much as" in text
    assert "not blurred" in text and "**blurred**" not in text
    assert "a crude but real" not in text  # near-identical outputs are no real style change
    straddling = impressions(judged_spread=spread(rgb_gap=(0.01, -0.01, 0.03)))
    assert "**Nearly the same whatever the target style.**" in straddling and "no more than colour" in straddling


def test_own_style_and_photograph_rules():
    assert not part3_generator.verdict(summary(own=(0.5, 0.3, 0.6)), judge_accuracy=0.3).own_style_easier
    assert part3_generator.verdict(summary(), 0.3).photo_layout_survives is None  # no photograph painted


def test_generator_settings_take_overrides_then_keywords():
    profile = config.get_profile("smoke")
    plain = part3_generator.generator_settings(profile)
    assert plain == {"weight_decay": 0.0, **profile.generator}
    changed = part3_generator.generator_settings(profile, {"lr": 1e-4, "batch_size": None, "weight_decay": 0.1},
                                                 epochs=7, style_weight=None)
    assert changed["lr"] == 1e-4 and changed["weight_decay"] == 0.1 and changed["epochs"] == 7
    assert changed["batch_size"] == profile.generator["batch_size"]  # None keeps the profile's
    assert changed["style_weight"] == profile.generator["style_weight"]
    assert part3_generator.generator_settings(profile, {"epochs": 3}, epochs=5)["epochs"] == 5  # the keyword wins


# --------------------------------------------------------------------------- bonus B


def test_loss_summary_quotes_the_mean_of_the_last_tenth():
    losses = [1.0] + [0.5] * 9 + [0.2] * 9 + [0.1]
    assert bonus_b.loss_summary(losses) == {"first": 1.0, "last_mean": pytest.approx(0.15), "last_steps": 2}
    assert bonus_b.loss_summary([0.7, 0.3]) == {"first": 0.7, "last_mean": 0.3, "last_steps": 1}


@pytest.mark.parametrize("verdict, difference, words", [
    ("better", 0.125, "the LoRA raises the style hit rate by 12.5 points"),
    ("worse", -0.05, "the LoRA lowers the style hit rate by 5.0 points"),
    ("no clear difference", 0.01, "no clear difference in style hit rate between the LoRA and the base model"),
])
def test_hit_rate_words_follow_the_paired_bootstrap(verdict, difference, words):
    sentence = bonus_b.hit_rate_words({"verdict": verdict, "difference": difference, "low": -0.02, "high": 0.2,
                                       "confidence": 0.95})
    assert sentence.startswith(words) and "95% interval -2.0 to 20.0 points" in sentence
