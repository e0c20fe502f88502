"""Notebook 01's "Beyond from scratch": what pretrained weights add, measured.

Bonus A itself must train from scratch; this is a separate comparison. The profile's
``probe`` settings name the backbones to try (``backbones``, in order: the first whose
weights are found locally runs), the side images are resized to for the backbone
(``input_side``; None: the weights' own) and the epochs of a full fine-tune
(``finetune_epochs``; 0: none). ``demo`` runs a linear probe of timm's
``tf_efficientnet_lite0`` with the ImageNet weights a pip package ships (converted
once, ``models.timm_backbones.BUNDLED``); ``full`` tries a foundation model first
(DINOv2, when its weights are in the ``pretrained.backbones`` folder of
data_paths.yaml). The linear probe is a logistic regression on cached embeddings
(``probe``), its regularisation chosen on validation; the fine-tune trains on the
engine. Both are scored once on test, beside the from-scratch run and the colour
baseline, with bootstrap intervals.
"""
from __future__ import annotations

import os
from pathlib import Path

# When a profile names none: the torchvision backbones, then the weights a package ships.
DEFAULT_BACKBONES = ("resnet50", "convnext_tiny", "efficientnet_b0", "tf_efficientnet_lite0")


def probe_settings(profile) -> dict:
    """The profile's ``probe`` settings with their defaults filled in."""
    return {"backbones": DEFAULT_BACKBONES, "input_side": None, "finetune_epochs": 0, **(profile.probe or {})}


def find_backbone_weights(name: str, paths) -> Path:
    """The local weights of backbone ``name`` (torchvision or timm); raises
    ``backbones.MissingWeightsError`` saying where it looked and how to get them."""
    from wikiart_core import models
    from wikiart_core.models import backbones, timm_backbones

    if models.model_class(name) is timm_backbones.TimmClassifier:
        return timm_backbones.find_timm_weights(name, paths=paths)
    return backbones.find_weights(name, paths=paths)


def plan(profile, paths, seed: int = 0, device: str = "auto", candidates: tuple[str, ...] | None = None) -> dict:
    """What the section runs: a linear probe of the first backbone in ``candidates``
    (default: the profile's) whose weights are found, and, when the profile gives
    ``finetune_epochs``, a full fine-tune of it.

    Returns {"model": name, "weights": Path or None, "missing": why none (None when found),
    "specs": {label: RunSpec}}; with no weights the specs show what would run."""
    from wikiart_core.experiment import RunSpec
    from wikiart_core.models import backbones

    settings = probe_settings(profile)
    candidates = tuple(candidates or settings["backbones"])
    model, weights, missing = candidates[0], None, None
    for name in candidates:
        try:
            weights = find_backbone_weights(name, paths)
            model = name
            break
        except backbones.MissingWeightsError as error:
            missing = missing or error
    if weights is not None:
        missing = None
    common = dict(model=model, batch_size=profile.batch_size, seed=seed, device=device, lr=backbones.DEFAULT_LR)
    weights_arg = None if weights is None else str(weights)
    side = {"input_side": settings["input_side"]} if settings["input_side"] else {}
    specs = {f"{model} linear probe": RunSpec(name=f"{model} linear probe", epochs=1,
                                              model_args={"weights": weights_arg, "finetune": "linear", **side},
                                              **common)}
    if settings["finetune_epochs"]:
        specs[f"{model} fine-tuned"] = RunSpec(
            name=f"{model} fine-tuned", epochs=int(settings["finetune_epochs"]),
            model_args={"weights": weights_arg, "finetune": "full",
                        "backbone_lr_scale": backbones.DEFAULT_BACKBONE_LR_SCALE, **side}, **common)
    return {"model": model, "weights": weights, "missing": missing, "specs": specs}


def _where_backbones_are(paths) -> str:
    """Where the plan looked, in words that do not depend on the machine."""
    from wikiart_core.models import backbones

    folder = paths.pretrained.get(backbones.CONFIG_KEY)
    source = Path(paths.source)
    if folder is None:
        return f"{source.name} has no `pretrained.{backbones.CONFIG_KEY}` entry"
    shown = os.path.relpath(folder, source.parent) if Path(folder).is_absolute() else str(folder)
    state = "holds none of their weights" if Path(folder).is_dir() else "does not exist"
    return f"`pretrained.{backbones.CONFIG_KEY}` in {source.name} points at {shown}, which {state}"


def _describe_spec(spec) -> str:
    if spec.model_args["finetune"] == "linear":
        return "backbone frozen, a logistic regression on its embeddings, regularisation chosen on validation"
    return (f"every layer, {spec.epochs} epoch(s), head lr {spec.lr:g}, backbone lr "
            f"{spec.lr * spec.model_args['backbone_lr_scale']:g}")


def intervals(results: dict, from_scratch, splits, seed: int = 0) -> dict:
    """Test-split bootstrap intervals: each run's balanced accuracy and accuracy, the
    colour baseline's, and paired differences of every pretrained run against the
    from-scratch run and the colour baseline (balanced accuracy). All runs must have been
    scored on the same test images in the same order."""
    from wikiart_core import experiment, stats, tasks

    y_true, scratch_predictions = experiment.predictions_matrix([from_scratch])
    colour = tasks.colour_baseline_test_predictions(splits)
    rows = {from_scratch.name: scratch_predictions, "colour statistics": colour}
    rows.update({label: experiment.predictions_matrix([result])[1] for label, result in results.items()})
    for label, result in results.items():
        if result.y_true["test"] != from_scratch.y_true["test"]:
            raise ValueError(f"{label} and {from_scratch.name} were scored on different test images")
    scores = {name: {metric: stats.bootstrap_interval(y_true, predictions, metric, seed=seed)
                     for metric in ("balanced_accuracy", "accuracy")} for name, predictions in rows.items()}
    differences = {}
    for label in results:
        for other, other_predictions in ((from_scratch.name, scratch_predictions), ("colour statistics", colour)):
            differences[f"{label} vs {other}"] = stats.paired_bootstrap(y_true, rows[label], other_predictions,
                                                                        metric="balanced_accuracy", seed=seed)
    return {"scores": scores, "differences": differences}


def beyond_from_scratch(splits, profile, paths, from_scratch, seed: int = 0, device: str = "auto",
                        candidates: tuple[str, ...] | None = None, log=None) -> dict:
    """Notebook 01's "Beyond from scratch" section: pretrained backbones (not allowed for
    Bonus A itself) beside the from-scratch ``from_scratch`` run.

    With weights found, runs :func:`plan`'s specs through ``experiment.run`` on the same
    files decoded at the backbone's ``decode_side`` (embeddings cached in ``paths.cache_dir``), and
    tabulates validation and test scores with the baselines and test intervals. Without
    them, nothing runs: the text says, from the config, what would run and how to enable it.

    Returns {"ran": bool, "text": str, "results": {label: RunResult}, "plan": the plan,
    "intervals": :func:`intervals` (when it ran), "model_description": one line}."""
    from wikiart_core import evaluate, experiment, models
    from wikiart_core.models import backbones
    from wikiart_core.tasks import classification_baselines

    the_plan = plan(profile, paths, seed, device, candidates)
    model = the_plan["model"]
    lines = [f"  {label}: {_describe_spec(spec)}" for label, spec in the_plan["specs"].items()]
    if the_plan["weights"] is None:
        text = "\n".join([
            f"Beyond from scratch: not run, no pretrained weights here ({', '.join(candidates or probe_settings(profile)['backbones'])} "
            f"looked for).",
            f"  {_where_backbones_are(paths)}.",
            f"With weights this section runs, on the same splits, beside the from-scratch {from_scratch.name}:",
            *lines,
            "To enable it, on a machine with internet run",
            f"  {backbones.fetch_command(model)}",
            f"then add `{backbones.CONFIG_KEY}: {backbones.DEFAULT_FOLDER}` under `pretrained:` in "
            f"{Path(paths.source).name} and re-run this notebook.",
        ])
        return {"ran": False, "text": text, "results": {}, "plan": the_plan}
    first_spec = next(iter(the_plan["specs"].values()))
    side = models.build(first_spec.model, **{**first_spec.model_args, "n_classes": 2}).decode_side
    probe_splits = splits.at_size(side, cache_dir=paths.cache_dir)
    results = {label: experiment.run(spec, probe_splits, log=log, cache_dir=paths.cache_dir)
               for label, spec in the_plan["specs"].items()}
    description = results[next(iter(results))].model.describe()
    table = evaluate.results_table(experiment.results_rows([from_scratch, *results.values()]),
                                   classification_baselines(splits))
    measured = intervals(results, from_scratch, splits, seed)
    text = "\n".join([f"Beyond from scratch: {description}.",
                      f"The same files, decoded at {side} px (the from-scratch run: {splits.image_size} px):",
                      *lines, "", table])
    return {"ran": True, "text": text, "results": results, "plan": the_plan, "intervals": measured,
            "model_description": description, "decode_side": side}
