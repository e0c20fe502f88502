"""Bonus A (notebook 01): the label-mapping bug of the course code, reproduced.

The course code built its style -> label mapping with ``list(set(...))`` over an
``os.walk``. A set of strings iterates in an order that depends on the string hashes,
and Python draws a new hash seed for every process: training and testing ran in
different processes, so the same style got different labels. These functions rebuild
that mapping (in fresh processes with chosen hash seeds) so the notebook can show it,
and relabel a dataset the way such a process would have.

The rest is notebook 01's logic: the three classifiers trained with one budget, the
in-class recipe (:data:`IN_CLASS_EPOCHS` at :data:`IN_CLASS_LR`) trained with consistent
labels so that the bug and the short training can be told apart (:func:`bug_and_recipe`),
the words for what a score means against the majority baseline, and whether a learning
rate chosen at the edge of the grid is worth a warning (:func:`grid_shape`).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np


def original_label_mapping(root: str | os.PathLike) -> dict[str, int]:
    """The course code's label mapping, kept to show the bug: ``list(set(...))`` over
    an ``os.walk``. The style -> index map changes between Python processes. Do not use."""
    styles = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for _filename in filenames:
            styles.append(os.path.basename(dirpath))
    return {style: index for index, style in enumerate(list(set(styles)))}


def label_mapping_in_subprocess(root: str | os.PathLike, hash_seed: int, method: str = "original") -> dict[str, int]:
    """Build a style -> label map in a fresh Python process with ``PYTHONHASHSEED=hash_seed``.

    ``method="original"`` uses :func:`original_label_mapping`; ``method="fixed"`` uses
    ``WikiArtDataset`` (sorted folders). Each run of a notebook or script is a new
    process with a new hash seed, which is how the original mapping changed between
    training and testing."""
    if method not in ("original", "fixed"):
        raise ValueError("method must be 'original' or 'fixed'")
    env = dict(os.environ, PYTHONHASHSEED=str(hash_seed))
    package_parent = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = package_parent + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run([sys.executable, "-m", "wikiart_core.parts.bonus_a", method, str(root)], env=env,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"building the {method} mapping failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _print_mapping(method: str, root: str) -> None:
    """What the subprocess runs: print the mapping as JSON."""
    if method == "original":
        mapping = original_label_mapping(root)
    else:
        from wikiart_core.data import WikiArtDataset

        mapping = WikiArtDataset(root, image_size=8, progress=False).class_to_idx
    print(json.dumps(mapping))


if __name__ == "__main__":
    import warnings

    warnings.simplefilter("ignore")
    _print_mapping(sys.argv[1], sys.argv[2])


# --------------------------------------------------------------------------- the models of notebook 01

CLASSIFIERS = {
    # name: (model, extra constructor arguments); StyleCNN's come from the profile.
    "SeedCNN": ("seedcnn", {"variant": "original"}),
    "SeedCNN avgpool+sigmoid": ("seedcnn", {"variant": "avgpool_sigmoid"}),
    "StyleCNN": ("stylecnn", None),
}


def classifier_specs(profile, seed: int = 0, device: str = "auto") -> dict:
    """The three classifiers of notebook 01 as ``experiment.RunSpec``s, with the same
    budget (the profile's epochs and batch size); the learning rate is chosen per model
    on validation by :func:`train_classifiers` from ``profile.lr_grid``."""
    from wikiart_core.experiment import RunSpec

    specs = {}
    for name, (model, arguments) in CLASSIFIERS.items():
        specs[name] = RunSpec(name=name, model=model,
                              model_args=dict(profile.style_cnn if arguments is None else arguments),
                              epochs=profile.epochs, batch_size=profile.batch_size, seed=seed, device=device)
    return specs


def train_classifiers(splits, profile, seed: int = 0, device: str = "auto", log=print) -> dict:
    """Train every classifier of :func:`classifier_specs` once per learning rate of
    ``profile.lr_grid``, keep each model's best on validation and score its test split once.

    Returns {name: {"result": RunResult, "lr_rows": [one row per learning rate]}}."""
    from wikiart_core import experiment

    trained = {}
    for name, spec in classifier_specs(profile, seed, device).items():
        chosen, rows = experiment.learning_rate_search(spec, splits, profile.lr_grid, log=log)
        trained[name] = {"result": chosen, "lr_rows": rows}
    return trained


def mapping_bug_scores(model, test_set, mapping_at_training: dict, mapping_at_testing: dict,
                       device: str = "auto") -> dict:
    """One trained model scored against two answer keys for the same test images: the
    labels of the process that trained it (``mapping_at_training``, the fix) and those
    that another process builds (``mapping_at_testing``, the bug). The model was trained
    with the sorted mapping; relabelling both keys from it replays the bug exactly.

    Returns {"fixed": metrics, "bug": metrics} (accuracy, balanced_accuracy, macro_f1)."""
    from wikiart_core import evaluate

    predictions = evaluate.predict(model, test_set, device=device)
    keyed = relabel_for_bug(predictions.y_true, predictions.y_pred, test_set.classes, mapping_at_training,
                            mapping_at_testing)
    return {key: _point_metrics(truth, predicted) for key, (truth, predicted) in keyed.items()}


def relabel_for_bug(y_true, y_pred, classes, mapping_at_training: dict, mapping_at_testing: dict) -> dict:
    """Replay the bug on predictions of a model trained with the sorted labels.

    Args:
        y_true, y_pred: (N,) sorted-order labels (index into ``classes``) of the test
            images and of the model's answers.
        classes: the sorted style list, K styles.
        mapping_at_training / mapping_at_testing: {style: label} of the process that
            trained the model and of the one that tests it.

    The style the model means by output k is ``classes[k]``; the training process calls
    it ``mapping_at_training[classes[k]]``. With the fix the test key uses the same
    names; with the bug it uses ``mapping_at_testing``.

    Returns {"fixed": (truth, predicted), "bug": (truth, predicted)}, (N,) int64 arrays
    of labels in 0..K-1."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    training = np.array([mapping_at_training[style] for style in classes], dtype=np.int64)
    testing = np.array([mapping_at_testing[style] for style in classes], dtype=np.int64)
    predicted = training[y_pred]
    return {"fixed": (training[y_true], predicted), "bug": (testing[y_true], predicted)}


def _point_metrics(truth, predicted) -> dict:
    """accuracy, balanced_accuracy, macro_f1 (fractions) of (N,) label arrays."""
    from wikiart_core import stats

    ones = np.ones(len(truth))
    return {metric: float(stats.resampled_metric(truth, predicted, ones, metric)[0, 0])
            for metric in ("accuracy", "balanced_accuracy", "macro_f1")}


# --------------------------------------------------------------------------- the in-class recipe

# How the classifier was trained in class: SeedCNN for this many epochs at this peak
# learning rate. In a profile with fewer epochs (smoke) the profile's epochs cap it.
IN_CLASS_EPOCHS = 3
IN_CLASS_LR = 1e-3


def in_class_spec(profile, seed: int = 0, device: str = "auto"):
    """``SeedCNN`` with the in-class recipe: ``min(IN_CLASS_EPOCHS, profile.epochs)``
    epochs at ``IN_CLASS_LR``, everything else (batch size, runner, augmentation, image
    size) as the notebook's own ``SeedCNN`` run. Labels are the sorted list, as always."""
    spec = classifier_specs(profile, seed, device)["SeedCNN"]
    return spec.replace(name="SeedCNN, in-class recipe", epochs=min(IN_CLASS_EPOCHS, profile.epochs),
                        lr=IN_CLASS_LR)


def train_in_class(splits, profile, seed: int = 0, device: str = "auto", log=None):
    """Train :func:`in_class_spec` once through ``experiment.run`` (nothing is chosen, so
    its test split is scored once at the end). Returns the ``RunResult``."""
    from wikiart_core import experiment

    return experiment.run(in_class_spec(profile, seed, device), splits, log=log)


def bug_and_recipe(runs: dict, classes, mapping_at_training: dict, mapping_at_testing: dict, majority_style: str,
                   seed: int = 0, n_resamples: int = 2000) -> dict:
    """Each run scored on its test images with two answer keys, against the majority baseline.

    Args:
        runs: {name: RunResult} of models trained with the sorted labels, test split scored.
        classes: the sorted style list.
        mapping_at_training / mapping_at_testing: as in :func:`relabel_for_bug`.
        majority_style: the largest training style ("always answer it" is the baseline,
            named with the same key as the truth, so it scores its share of the test set).
        seed, n_resamples: of the bootstrap (the same resampled images for every score).

    Returns {name: {"fixed": entry, "bug": entry}}, entry = accuracy, balanced_accuracy,
    macro_f1 (fractions), "accuracy_interval" (``stats.bootstrap_interval``) and
    "vs_majority" (``stats.paired_bootstrap`` of accuracy, model minus always answering
    ``majority_style``; its verdict "better" / "worse" / "no clear difference")."""
    from wikiart_core import stats

    table = {}
    for name, result in runs.items():
        keyed = relabel_for_bug(result.y_true["test"], result.predictions["test"], classes, mapping_at_training,
                                mapping_at_testing)
        table[name] = {}
        for key, (truth, predicted) in keyed.items():
            truth_mapping = mapping_at_training if key == "fixed" else mapping_at_testing
            majority = np.full_like(truth, truth_mapping[majority_style])
            table[name][key] = {
                **_point_metrics(truth, predicted),
                "accuracy_interval": stats.bootstrap_interval(truth, predicted, metric="accuracy",
                                                              n_resamples=n_resamples, seed=seed),
                "vs_majority": stats.paired_bootstrap(truth, predicted, majority, metric="accuracy",
                                                      n_resamples=n_resamples, seed=seed),
            }
    return table


def against_majority(entry: dict) -> str:
    """'above', 'below' or 'level with': where the paired interval of an entry of
    :func:`bug_and_recipe` puts the model against always answering the majority style."""
    return {"better": "above", "worse": "below"}.get(entry["vs_majority"]["verdict"], "level with")


def bug_meaning_words(bug: dict, fixed: dict, majority_style: str) -> str:
    """What a score under the bug means, from the paired interval against the majority
    baseline (``bug`` and ``fixed``: the two entries of one run in :func:`bug_and_recipe`).

    Below (the whole interval of the difference below zero): worse than one constant
    answer, so not the "as good as the majority" symptom; if the same weights beat the
    majority with their own labels, they learned something and the bug permutes the
    names of their answers. Level with it: no more useful than the constant answer.
    Above: useful even with the permuted names (the permutation left enough in place)."""
    where = against_majority(bug)
    style = majority_style.replace("_", " ")
    difference = bug["vs_majority"]
    gap = (f"{100 * -difference['difference']:.1f} points below it, 95% interval of the gap "
           f"{100 * -difference['high']:.1f} to {100 * -difference['low']:.1f}")
    if where == "below":
        if against_majority(fixed) == "above":
            cause = ("the weights did learn something (with the labels they were trained with they score "
                     f"{100 * fixed['accuracy']:.1f}%), but at test time their answers are read with another "
                     "process's names for the styles")
        else:
            cause = (f"with their own labels the same weights score {100 * fixed['accuracy']:.1f}%, "
                     f"{against_majority(fixed)} that baseline, so they learned little, and the permuted names "
                     "make it worse")
        return (f"below always answering {style} ({gap}): worse than one constant answer, so this is not the "
                f"\"as good as always answering {style}\" symptom; {cause}")
    if where == "level with":
        return (f"level with always answering {style} (95% interval of the difference "
                f"{100 * difference['low']:.1f} to {100 * difference['high']:.1f} points): on these labels the model "
                "is no more useful than that one constant answer")
    return (f"above always answering {style} even with the permuted labels (95% interval of the difference "
            f"{100 * difference['low']:.1f} to {100 * difference['high']:.1f} points): the permutation left "
            "enough styles with their own names")


def labels_alone_words(entry: dict, majority_style: str) -> str:
    """Whether the in-class recipe with consistent labels (the "fixed" entry of
    :func:`bug_and_recipe`) clears the majority baseline, from the paired interval."""
    from wikiart_core import stats

    where = against_majority(entry)
    style = majority_style.replace("_", " ")
    sentence = stats.verdict_words(entry["vs_majority"], "the in-class recipe", f"always answering {style}")
    if where == "above":
        return f"fixing the labels alone lifts it above the majority baseline; {sentence}"
    if where == "level with":
        return f"fixing the labels alone does not lift it clear of the majority baseline; {sentence}"
    return f"fixing the labels alone leaves it below the majority baseline; {sentence}"


def recipe_steps(in_class, seed_cnn, style_cnn, seed: int = 0, n_resamples: int = 2000) -> dict:
    """The gain from the in-class recipe to the notebook's models, step by step, on test
    accuracy with the consistent labels: paired bootstraps (``stats.paired_bootstrap``)
    of ``seed_cnn`` minus ``in_class`` (the training: epochs and learning rate) and of
    ``style_cnn`` minus ``seed_cnn`` (the architecture). Arguments: ``RunResult``s scored
    on the same test images. Returns {"training": result, "architecture": result}."""
    from wikiart_core import experiment, stats

    y_true, in_class_predictions = experiment.predictions_matrix([in_class])
    seed_predictions = experiment.predictions_matrix([seed_cnn])[1]
    style_predictions = experiment.predictions_matrix([style_cnn])[1]
    options = dict(metric="accuracy", n_resamples=n_resamples, seed=seed)
    return {"training": stats.paired_bootstrap(y_true, seed_predictions, in_class_predictions, **options),
            "architecture": stats.paired_bootstrap(y_true, style_predictions, seed_predictions, **options)}


# --------------------------------------------------------------------------- the learning-rate grid

Z_95 = 1.959963984540054  # two-sided 95% normal quantile


def validation_noise(score: float, class_counts, metric: str = "balanced_accuracy") -> float:
    """Standard error of one validation score (a fraction), from the validation set's size.

    ``class_counts``: validation images per style ({style: n} or a sequence). A score p
    measured on n images: ``accuracy`` has SE sqrt(p (1 - p) / n); ``balanced_accuracy``
    is the mean of K per-style recalls, so with every recall taken as p its SE is
    sqrt(p (1 - p) * sum_k 1 / n_k) / K over the styles with n_k > 0 (small styles make it
    large). p is kept at least one image away from 0 and 1, so the noise is never 0."""
    counts = np.asarray(list(class_counts.values()) if isinstance(class_counts, dict) else list(class_counts),
                        dtype=np.float64)
    counts = counts[counts > 0]
    if counts.size == 0:
        raise ValueError("validation_noise needs at least one validation image")
    n = counts.sum()
    p = min(max(float(score), 1.0 / n), 1.0 - 1.0 / n) if n > 1 else 0.5
    if metric == "accuracy":
        return float(np.sqrt(p * (1 - p) / n))
    if metric == "balanced_accuracy":
        return float(np.sqrt(p * (1 - p) * (1.0 / counts).sum()) / counts.size)
    raise ValueError(f"validation_noise knows accuracy and balanced_accuracy, not {metric!r}")


def grid_shape(rows, class_counts, metric: str = "balanced_accuracy", z: float = Z_95) -> dict:
    """Is the learning rate chosen on validation at the edge of the grid, and does it matter?

    Args:
        rows: one model's rows of ``experiment.learning_rate_search`` (lr, the validation
            metrics or "diverged", "chosen").
        class_counts: the validation images per style (for :func:`validation_noise`).
        metric: the score the choice used.
        z: the margin is z standard errors of one validation score (1.96: the half-width
            of its 95% interval). A lead within it is no evidence of a slope.

    Returns {"where", "lr", "score", "margin", "neighbour_lr", "lead", "spread"}; where:
        "flat": every rate that trained scores within the margin of the best, the choice
            hardly matters (wherever the best is);
        "edge": the best is the smallest or largest rate of the grid and beats its
            neighbour by more than the margin: a wider grid might do better;
        "edge, level": at the edge, but within the margin of its neighbour;
        "inside": the best has tried rates on both sides;
        "single": only one rate trained.
    Scores, margin, lead (best minus neighbour) and spread (best minus worst) are fractions."""
    trained = sorted((row for row in rows if "diverged" not in row), key=lambda row: row["lr"])
    if not trained:
        raise ValueError("no learning rate of the grid trained (all diverged)")
    chosen = next((row for row in trained if row.get("chosen")), None) or max(trained, key=lambda row: row[metric])
    best = chosen[metric]
    margin = z * validation_noise(best, class_counts, metric)
    shape = {"lr": chosen["lr"], "score": best, "margin": margin, "neighbour_lr": None, "lead": None,
             "spread": best - min(row[metric] for row in trained), "metric": metric}
    if len(trained) == 1:
        return {**shape, "where": "single"}
    grid = [row["lr"] for row in rows]
    position = trained.index(chosen)
    at_edge = chosen["lr"] in (min(grid), max(grid))
    if at_edge:
        neighbour = trained[1] if position == 0 else trained[-2]
        shape.update(neighbour_lr=neighbour["lr"], lead=best - neighbour[metric])
    if shape["spread"] <= margin:
        return {**shape, "where": "flat"}
    if not at_edge:
        return {**shape, "where": "inside"}
    return {**shape, "where": "edge" if shape["lead"] > margin else "edge, level"}


def grid_words(name: str, shape: dict) -> str:
    """A short phrase for a :func:`grid_shape` result, in points (percentage points) of
    its validation metric; "noise" is its margin."""
    lr, margin = f"{shape['lr']:g}", f"{100 * shape['margin']:.1f}"
    if shape["where"] == "single":
        return f"{name} {lr}, the only rate that trained"
    if shape["where"] == "flat":
        return (f"{name} {lr}, but the grid is flat for it (every rate within {100 * shape['spread']:.1f} points of "
                f"the best, noise {margin}): the choice hardly matters")
    if shape["where"] == "inside":
        return f"{name} {lr}, inside the grid"
    side = "smaller" if shape["lr"] < shape["neighbour_lr"] else "larger"
    if shape["where"] == "edge":
        return (f"{name} {lr}, the {side.replace('er', 'est')} rate of the grid, {100 * shape['lead']:.1f} points "
                f"above lr {shape['neighbour_lr']:g} (noise {margin}): a {side} rate might do better")
    return (f"{name} {lr}, at the edge of the grid but within the noise of lr {shape['neighbour_lr']:g} "
            f"({100 * shape['lead']:.1f} points, noise {margin}): no sign that a {side} rate would help")


def style_cnn_path(paths, profile):
    """Where notebook 01 saves its chosen StyleCNN for this dataset and profile
    (notebooks 03 and 05 load it from there)."""
    return paths.notebook_outputs(profile, "01_bonusA") / "stylecnn.pt"


def save_style_cnn(result, splits, profile, paths):
    """Save the chosen StyleCNN with what notebook 03 checks before reusing it."""
    from wikiart_core import checkpoint

    return checkpoint.save_checkpoint(
        style_cnn_path(paths, profile), result.model, task="classify", classes=splits.classes, image_size=splits.image_size,
        profile=profile.name, dataset=paths.dataset, seed=result.spec.seed, spec=result.spec.to_dict(),
        validation_files=result.split.get("validation_files"), validation=result.validation, test=result.test)
