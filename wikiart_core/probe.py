"""Linear probes the standard way: frozen-backbone embeddings, computed once, and a
scikit-learn logistic regression fitted on them.

This is how probes of foundation models (DINOv2, CLIP) are reported, and it is far
cheaper than epochs of SGD through a frozen network: every image goes through the
backbone once, on the device, in batches; the embeddings are cached on disk, keyed by
the weights' SHA-256, the preparation of the input (side, crop, statistics) and the
images' files and decoded size, so a second probe on the same split reads them back.
The regularisation strength C is chosen on the validation split (the run's headline
metric, balanced accuracy); the test split is never seen here.

The fitted regression becomes the model's ``head`` (the feature standardisation folded
into its weights), so the result is an ordinary classifier: ``experiment.run`` scores it
like any other, and its checkpoint (the head and buffers; the backbone comes from the
weights file again) reloads with ``checkpoint.load_checkpoint`` and ``evaluate``.

``experiment.run`` calls :func:`fit` instead of ``engine.fit`` for a model whose
``linear_probe`` is True (``finetune="linear"`` backbones).
"""
from __future__ import annotations

import hashlib
import json
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from . import checkpoint as checkpoints
from . import engine, evaluate, files
from .device import pick_device

# Inverse regularisation strengths tried, strongest regularisation first (warm starts
# go from simple to complex). On standardised features, 1e-4 keeps nearly nothing and
# 10 nearly no regularisation; CLIP's probes swept a wider grid on more data.
DEFAULT_C_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)
MAX_ITER = 1000
EMBEDDING_FORMAT = 1
# The imbalance methods a probe can honour: a logistic regression takes class weights,
# and "balanced" is formula (1), N / (n_c C).
CLASS_WEIGHT = {"none": None, "class_weights": "balanced"}


class ProbeError(ValueError):
    """A run the linear probe cannot do (an imbalance method it has no equivalent for)."""


# --------------------------------------------------------------------------- embeddings


def embedding_key(model, dataset, input_size: int | None = None) -> str:
    """The cache key of ``model``'s embeddings of ``dataset``: architecture, the weights'
    SHA-256, input side, crop, interpolation and statistics, the decoded image size, the
    central ``input_size`` crop taken first (None: none) and every file (path, size,
    modification time) in order. 20 hex digits."""
    digest = hashlib.sha256()
    digest.update(json.dumps([EMBEDDING_FORMAT, getattr(model, "architecture", type(model).__name__),
                              model.init_args.get("weights_sha256"), model.input_side, model.preprocess.to_dict(),
                              int(dataset.image_size), input_size], sort_keys=True, default=str).encode())
    for path in dataset.paths:
        stat = os.stat(path)
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def embeddings(model, dataset, *, batch_size: int = 64, device: str | torch.device = "auto",
               cache_dir: str | os.PathLike | None = None, progress: bool = False, input_size: int | None = None,
               log: Callable[[str], Any] | None = None) -> np.ndarray:
    """The backbone's (N, D) float32 features of every image of ``dataset``, in order.

    Batches of ``batch_size`` go through ``model.embed`` on ``device`` under inference
    mode, each image first cut to its central ``input_size`` crop when given (what the
    task's scoring does with a cache decoded larger). With ``cache_dir`` the array is read
    from / written to ``cache_dir/embeddings/<architecture>-<side>px-<key>.npy``
    (:func:`embedding_key`). Only a frozen backbone loaded from a weights file is cached: a
    random one has no hash, and a trained one no longer matches its file's."""
    weights_hash = model.init_args.get("weights_sha256")
    cache_file = None
    if cache_dir is not None and weights_hash is not None and getattr(model, "linear_probe", False):
        name = (f"{getattr(model, 'architecture', 'model')}-{model.input_side}px-"
                f"{embedding_key(model, dataset, input_size)}.npy")
        cache_file = Path(cache_dir) / "embeddings" / name
        if cache_file.is_file():
            try:
                cached = np.load(cache_file, allow_pickle=False)
                if cached.shape == (len(dataset), model.embedding_dim):
                    return cached
            except (OSError, ValueError):
                pass  # a damaged cache file is computed again and replaced
    started = time.perf_counter()
    from tqdm.auto import tqdm

    features = np.zeros((len(dataset), model.embedding_dim), dtype=np.float32)
    bar = tqdm(total=len(dataset), desc="embedding", unit="img", disable=not progress, leave=False)
    row = 0
    for _, _, batch_features in evaluate.forward_batches(model, dataset, batch_size=batch_size, device=device,
                                                         function=model.embed, input_size=input_size):
        features[row:row + len(batch_features)] = batch_features.float().cpu().numpy()
        row += len(batch_features)
        bar.update(len(batch_features))
    bar.close()
    seconds = time.perf_counter() - started
    if log is not None and len(dataset):
        log(f"embedded {len(dataset)} images at {model.input_side} px in {seconds:.1f} s "
            f"({1000 * seconds / len(dataset):.1f} ms per image)")
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        files.atomic_write(cache_file, lambda handle: np.save(handle, features, allow_pickle=False))
    return features


# --------------------------------------------------------------------------- the regression


@dataclass
class ProbeFit:
    """A fitted probe. ``C``: the chosen inverse regularisation strength; ``rows``: one per
    C tried ({"C", validation metrics, "chosen"}); ``weight`` (n_classes, D) and ``bias``
    (n_classes,): the head on *raw* features (standardisation folded in); ``train_loss``:
    the regression's mean log-loss on the training embeddings."""

    C: float
    rows: list[dict]
    weight: np.ndarray = field(repr=False)
    bias: np.ndarray = field(repr=False)
    train_loss: float = float("nan")


def _head_from(estimator, scaler, n_classes: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """logits = W ((x - mu) / sigma) + b  ==  (W / sigma) x + (b - W mu / sigma), with rows
    for styles absent from the training data set to a bias far below the others."""
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    coef = estimator.coef_ / scale
    intercept = estimator.intercept_ - coef @ scaler.mean_
    if coef.shape[0] == 1:  # two classes: sklearn keeps one row (the positive class)
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    weight = np.zeros((n_classes, dim), dtype=np.float64)
    bias = np.full(n_classes, intercept.min() - 1e4 if len(intercept) else 0.0)
    weight[estimator.classes_] = coef
    bias[estimator.classes_] = intercept
    return weight.astype(np.float32), bias.astype(np.float32)


def fit_logistic(train_x: np.ndarray, train_y: Sequence[int], val_x: np.ndarray, val_y: Sequence[int],
                 classes: Sequence[str], *, c_grid: Sequence[float] = DEFAULT_C_GRID,
                 metric: str = "balanced_accuracy", class_weight: str | None = None,
                 log: Callable[[str], Any] | None = None) -> ProbeFit:
    """Fit a multinomial logistic regression (L2, lbfgs) on standardised ``train_x`` (N, D)
    for each C of ``c_grid``, score each on ``val_x`` with ``metric`` and keep the best
    (ties: the stronger regularisation). Labels index ``classes``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss
    from sklearn.preprocessing import StandardScaler

    train_y, val_y = np.asarray(train_y), np.asarray(val_y)
    if len(np.unique(train_y)) < 2:
        raise ProbeError("a linear probe needs training images of at least two styles")
    scaler = StandardScaler().fit(train_x)
    train_z, val_z = scaler.transform(train_x), scaler.transform(val_x)
    estimator = LogisticRegression(max_iter=MAX_ITER, class_weight=class_weight, warm_start=True)
    rows, best = [], None
    for C in sorted(float(c) for c in c_grid):
        estimator.set_params(C=C)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # reported below, as one line
            estimator.fit(train_z, train_y)
        converged = bool(np.all(estimator.n_iter_ < MAX_ITER))
        predicted = estimator.predict(val_z)
        scores = evaluate.classification_metrics(val_y, predicted, classes)
        row = {"C": C, **{key: scores[key] for key in ("accuracy", "balanced_accuracy", "macro_f1")},
               "converged": converged, "chosen": False}
        rows.append(row)
        if best is None or row[metric] > best[0][metric]:
            best = (row, _head_from(estimator, scaler, len(classes), train_x.shape[1]),
                    float(log_loss(train_y, estimator.predict_proba(train_z), labels=estimator.classes_)))
        if log is not None:
            log(f"probe C={C:g}: validation {metric} {row[metric]:.3f}{'' if converged else ' (not converged)'}")
    chosen, (weight, bias), train_loss = best
    chosen["chosen"] = True
    return ProbeFit(C=chosen["C"], rows=rows, weight=weight, bias=bias, train_loss=train_loss)


def set_head(model, weight: np.ndarray, bias: np.ndarray) -> None:
    """Copy a fitted (n_classes, D) weight and (n_classes,) bias into ``model.head``."""
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(weight))
        model.head.bias.copy_(torch.from_numpy(bias))


# --------------------------------------------------------------------------- engine.fit's stand-in


def fit(model, task, train_data, val_data, config, *, sampler=None, checkpoint_dir: str | os.PathLike | None = None,
        resume=None, meta: dict | None = None, on_epoch_end: Callable | None = None, progress: bool = False,
        log: Callable[[str], Any] = print, cache_dir: str | os.PathLike | None = None,
        c_grid: Sequence[float] = DEFAULT_C_GRID) -> engine.History:
    """Fit ``model``'s head as a linear probe; ``engine.fit``'s signature and result.

    Embeds ``train_data`` and ``val_data`` (the validation split) once each
    (:func:`embeddings`, cached in ``cache_dir``), fits :func:`fit_logistic` with C chosen
    on validation, sets the head and returns a one-record :class:`~engine.History` (train
    loss: the regression's log-loss; val: the chosen C's validation scores). With
    ``checkpoint_dir`` writes best.pt and last.pt (the same file: there is one fit).
    ``config.imbalance`` "none" or "class_weights" (:data:`CLASS_WEIGHT`); augmentation,
    mixup and label smoothing do not apply to a probe. ``sampler``, ``resume`` and
    ``on_epoch_end`` are accepted for the signature; re-running recomputes the fit from
    the cached embeddings (seconds)."""
    imbalance = getattr(config, "imbalance", "none")
    if imbalance not in CLASS_WEIGHT:
        raise ProbeError(f"the linear probe has no equivalent of imbalance method {imbalance!r}; use one of "
                         f"{sorted(CLASS_WEIGHT)}, or --finetune full (the engine) for the others")
    if val_data is None or len(val_data) == 0:
        raise ProbeError("a linear probe chooses its regularisation on the validation split, which is empty")
    device = pick_device(config.device)
    log(f"linear probe of {model.describe()} on {device}")
    started = time.perf_counter()
    # The central crop the task scores with, so the regression is fitted on what it will be scored on.
    embed = dict(batch_size=max(config.batch_size, 64), device=device, cache_dir=cache_dir, progress=progress,
                 input_size=getattr(task, "input_size", None), log=log)
    train_x = embeddings(model, train_data, **embed)
    val_x = embeddings(model, val_data, **embed)
    probe = fit_logistic(train_x, train_data.targets, val_x, val_data.targets, train_data.classes,
                         c_grid=c_grid, metric=task.best_metric, class_weight=CLASS_WEIGHT[imbalance], log=log)
    set_head(model, probe.weight, probe.bias)
    model.to(device)
    chosen = next(row for row in probe.rows if row["chosen"])
    record = engine.EpochRecord(epoch=1, train_loss=probe.train_loss,
                                val={key: chosen[key] for key in ("accuracy", "balanced_accuracy", "macro_f1")},
                                parts={"C": probe.C}, seconds=time.perf_counter() - started,
                                images_per_s=len(train_data) / max(time.perf_counter() - started, 1e-9))
    history = engine.History(records=[record], device=str(device))
    log(f"probe: chose C={probe.C:g} on validation ({task.best_metric} {chosen[task.best_metric]:.3f})")
    if on_epoch_end is not None:
        on_epoch_end(record)
    if checkpoint_dir is not None:
        state = {**engine.checkpoint_meta(meta, task, config, train_data), "epoch": 1,
                 "best_score": chosen[task.best_metric], "history": history.to_dict(),
                 "probe": {"C": probe.C, "c_grid": list(c_grid), "rows": probe.rows, "solver": "lbfgs",
                           "class_weight": CLASS_WEIGHT[imbalance]}}
        folder = Path(checkpoint_dir)
        for name in ("best.pt", "last.pt"):
            history.checkpoint = checkpoints.save_checkpoint(folder / name, model, **state)
    return history
