"""Bonus A (notebook 01): the label-mapping bug of the course code, reproduced.

The course code built its style -> label mapping with ``list(set(...))`` over an
``os.walk``. A set of strings iterates in an order that depends on the string hashes,
and Python draws a new hash seed for every process: training and testing ran in
different processes, so the same style got different labels. These functions rebuild
that mapping (in fresh processes with chosen hash seeds) so the notebook can show it,
and relabel a dataset the way such a process would have.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


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

    sorted_mapping = dict(test_set.class_to_idx)
    # The style the model means by output k is sorted style k; a process with mapping M
    # calls that style M[style]. Scoring "model trained under A, tested under B" is the
    # same as relabelling the model's outputs through A and the truth through B.
    scores = {}
    predictions = evaluate.predict(model, test_set, device=device)
    styles = test_set.classes
    for key, truth_mapping in (("fixed", mapping_at_training), ("bug", mapping_at_testing)):
        predicted = [mapping_at_training[styles[label]] for label in predictions.y_pred]
        truth = [truth_mapping[styles[label]] for label in predictions.y_true]
        order = sorted(sorted_mapping, key=lambda style: mapping_at_training[style])
        metrics = evaluate.classification_metrics(truth, predicted, order)
        scores[key] = {k: metrics[k] for k in ("accuracy", "balanced_accuracy", "macro_f1")}
    return scores


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
