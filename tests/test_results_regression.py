"""Results regression: each notebook's headline numbers in the `smoke` profile, computed
by the package exactly as the notebook computes them (the runner, not the notebook's
printed text), against the values stored in tests/expected/smoke_results.json.

A change to training, data or evaluation that moves a result fails here until the
expected file is updated on purpose:

    WIKIART_UPDATE_EXPECTED=1 .venv/bin/python -m pytest tests/test_results_regression.py

Tolerances allow for float differences between CPUs (a prediction or two), not for a
changed method: test-split metrics 0.02, validation metrics 0.04 (27 images there),
PSNR 0.15 dB, clustering scores 0.03 (Part 3's hit rates and SSIM: 0.02, test-split
values); learning-rate choices must match exactly.
"""
import json
import os
from pathlib import Path

import pytest

from wikiart_core import config, data, experiment, tasks
from wikiart_core.parts import bonus_a, part1_imbalance, part2_autoencoder, part3_generator

EXPECTED = Path(__file__).parent / "expected" / "smoke_results.json"
PROFILE = config.get_profile("smoke")

pytestmark = pytest.mark.usefixtures("single_torch_thread")


def _splits(image_size: int):
    # the notebooks' own call: the profile's validation share and caps
    return data.load_profile_splits(config.load_paths(dataset="synthart"), PROFILE, image_size)


def _metrics(values: dict, prefix: str) -> dict:
    return {f"{prefix}.{key}": float(values[key]) for key in ("accuracy", "balanced_accuracy", "macro_f1")}


def bonus_a_results() -> dict:
    splits = _splits(PROFILE.image_size)
    found = {}
    for name, entry in bonus_a.train_classifiers(splits, PROFILE, seed=0, device="cpu", log=None).items():
        result = entry["result"]
        found[f"01.{name}.lr"] = result.spec.lr
        found.update(_metrics(result.validation, f"01.{name}.validation"))
        found.update(_metrics(result.test, f"01.{name}.test"))
    found.update(_metrics(tasks.classification_baselines(splits)["test"]["colour_statistics"],
                          "01.colour_statistics.test"))
    return found


def imbalance_results() -> dict:
    splits = _splits(PROFILE.imbalance["image_size"])
    comparison = part1_imbalance.run_comparison(splits, PROFILE, device="cpu", progress=False, log=None)
    found = {"02.best_on_validation": comparison.best("balanced_accuracy")}
    for method, values in comparison.summary("test").items():
        for metric, interval in values.items():
            found[f"02.{method}.test.{metric}"] = interval["mean"]
    return found


def autoencoder_results() -> dict:
    splits = _splits(PROFILE.image_size)
    run = experiment.run(part2_autoencoder.autoencoder_spec(PROFILE, seed=0, device="cpu"), splits)
    found = {"03.autoencoder.validation.psnr": run.validation["psnr"], "03.autoencoder.test.psnr": run.test["psnr"],
             "03.resize.test.psnr": run.baselines["test"]["resize"]["psnr"]}
    features, labels = part2_autoencoder.extract(run.model, splits.test, device="cpu")
    found["03.autoencoder.nmi"] = part2_autoencoder.cluster_metrics(features, labels, seed=0)["nmi"]
    pixels, labels = part2_autoencoder.extract(part2_autoencoder.pixel_features(16), splits.test, device="cpu")
    found["03.pixels.nmi"] = part2_autoencoder.cluster_metrics(pixels, labels, seed=0)["nmi"]
    return found


def generator_results() -> dict:
    splits = _splits(PROFILE.generator["image_size"])
    run = part3_generator.run_all(splits, PROFILE, seed=0, device="cpu", log=lambda *_: None)
    found = {f"04.{name}.test.hit_rate": interval["mean"] for name, interval in run.summary["hit_rate"].items()}
    found.update({f"04.{name}.test.ssim": scores["ssim"]["mean"] for name, scores in run.summary["content"].items()})
    found["04.judge.test.balanced_accuracy"] = run.judge.test["balanced_accuracy"]
    return found


def tolerance(key: str) -> float:
    if key.endswith(".lr"):
        return 0.0
    if key.endswith("psnr"):
        return 0.15
    if key.endswith("nmi"):
        return 0.03
    return 0.04 if ".validation." in key else 0.02


def moved_results(computed: dict, expected: dict) -> list[str]:
    """One line per result outside its tolerance (or a changed set of results)."""
    if sorted(computed) != sorted(expected):
        return [f"the set of results changed: added {sorted(set(computed) - set(expected))}, "
                f"removed {sorted(set(expected) - set(computed))}"]
    moved = []
    for key, value in expected.items():
        if isinstance(value, str):
            if computed[key] != value:
                moved.append(f"{key}: expected {value!r}, got {computed[key]!r}")
        elif abs(computed[key] - value) > tolerance(key):
            moved.append(f"{key}: expected {value:.4f}, got {computed[key]:.4f} (tolerance {tolerance(key)})")
    return moved


def test_moved_results_notices_a_shift_beyond_tolerance_only():
    expected = {"01.StyleCNN.test.balanced_accuracy": 0.30, "01.StyleCNN.lr": 0.003, "02.best_on_validation": "none"}
    assert moved_results(dict(expected), expected) == []
    assert moved_results({**expected, "01.StyleCNN.test.balanced_accuracy": 0.31}, expected) == []
    assert len(moved_results({**expected, "01.StyleCNN.test.balanced_accuracy": 0.35}, expected)) == 1
    assert len(moved_results({**expected, "01.StyleCNN.lr": 0.001}, expected)) == 1
    assert len(moved_results({**expected, "02.best_on_validation": "logit_adjust"}, expected)) == 1


def test_smoke_results_match_the_stored_expectations():
    computed = {**bonus_a_results(), **imbalance_results(), **autoencoder_results(), **generator_results()}
    if os.environ.get("WIKIART_UPDATE_EXPECTED"):
        EXPECTED.parent.mkdir(exist_ok=True)
        EXPECTED.write_text(json.dumps(computed, indent=1, sort_keys=True) + "\n")
        pytest.skip(f"wrote {EXPECTED}; review the diff and commit it")
    assert EXPECTED.is_file(), (f"{EXPECTED} is missing. Fix: WIKIART_UPDATE_EXPECTED=1 .venv/bin/python -m pytest "
                                f"{Path(__file__).name}, then review and commit it.")
    moved = moved_results(computed, json.loads(EXPECTED.read_text()))
    assert not moved, ("results moved (update tests/expected/smoke_results.json on purpose if intended):\n"
                       + "\n".join(moved))
