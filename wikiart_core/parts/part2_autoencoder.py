"""Part 2 (notebook 03, ``python -m wikiart_core autoencode`` and ``cluster``): the
autoencoder run, its reconstructions, and the representations that are clustered.

The question "do art styles cluster?" is answered with numbers here, not by eye:

1. :func:`extract` turns every image of a dataset into a vector: autoencoder
   latents (``model.encode``, flattened: the spatial grid, layout included), the
   latent pooled to per-channel statistics (:class:`PooledLatent`: layout removed),
   a classifier's embedding (``model.embed``), or any function of the image batch,
   such as :func:`pixel_features` (raw downscaled pixels, the floor every learned
   representation must beat).
2. :func:`cluster_metrics` standardises the vectors, reduces them with PCA and runs
   scikit-learn ``KMeans`` (over several KMeans seeds with ``kmeans_seeds``); the
   clusters are scored against the true styles with NMI, ARI, homogeneity,
   completeness and purity. :func:`bootstrap_clusterings` gives NMI and ARI
   intervals over the test images and KMeans seeds, and paired differences between
   representations.
3. :func:`style_cohesion` says, style by style, whether its images land together in
   a cluster of their own, so an answer can name the styles that cluster.

The reference for the autoencoder's reconstructions is ``evaluate.ResizeBaseline``:
shrink the image to as many numbers as the latent has and blow it back up.
:func:`training_convergence` reads the validation curve and says whether training
had levelled off when it stopped.
"""
from __future__ import annotations

from pathlib import Path
import math
from statistics import NormalDist
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from wikiart_core import evaluate, stats
from wikiart_core.experiment import RunSpec

# Principal components kept before KMeans and t-SNE (fewer when there are fewer items or features).
PCA_DIMS = 50
# A style "clusters" when at least this share of it sits in one cluster that is at least this much it.
COHESION_THRESHOLD = 0.5
# KMeans seeds per representation in the notebook: the scores are means over them, and the
# intervals of :func:`bootstrap_clusterings` resample them with the test images.
KMEANS_SEEDS = 5
# The clustering scores that get bootstrap intervals.
INTERVAL_METRICS = ("nmi", "ari")
# Training had "levelled off" when its last TAIL_FRACTION of epochs added less than
# LEVELLED_OFF_SHARE of the gain since the first epoch (see :func:`training_convergence`).
TAIL_FRACTION = 0.25
LEVELLED_OFF_SHARE = 0.1

# --------------------------------------------------------------------------- the autoencoder


def autoencoder_spec(profile, seed: int = 0, device: str = "auto", ssim_weight: float = 0.0) -> RunSpec:
    """The ConvAutoencoder run of the profile (``profile.autoencoder``): plain MSE by
    default (the loss PSNR measures), flips only, no weight decay."""
    settings = profile.autoencoder
    return RunSpec(name="autoencoder", task="reconstruct", model="ConvAutoencoder",
                   model_args={key: settings[key] for key in ("base_channels", "depth", "latent_channels")},
                   epochs=settings["epochs"], lr=settings["lr"], batch_size=settings["batch_size"],
                   weight_decay=0.0, warmup_epochs=0.5, ssim_weight=ssim_weight, seed=seed, device=device)


def load_style_cnn(splits, profile, paths):
    """The StyleCNN that notebook 01 saved for this dataset and profile
    (``outputs/<dataset>/<profile>/01_bonusA/stylecnn.pt``). Returns (model, where it came from).

    A later notebook never retrains it quietly: a different StyleCNN would change every
    number that depends on it, and the dependency would be invisible.

    Raises:
        PrerequisiteError: the file is missing, or was trained on other data, at another
            image size or with other classes; the message says to run notebook 01 first.
    """
    from wikiart_core import checkpoint, results
    from wikiart_core.parts import PrerequisiteError, bonus_a

    saved = bonus_a.style_cnn_path(paths, profile)
    fix = (f"Fix: run notebook 01_bonusA first with PROFILE = {profile.name!r} on dataset {paths.dataset!r} "
           f"(the same outputs folder), then this notebook.")
    if not saved.is_file():
        raise PrerequisiteError(f"{saved} is missing: this notebook uses the StyleCNN that notebook 01_bonusA "
                                f"chooses on validation and saves there. {fix}")
    model, meta = checkpoint.load_checkpoint(saved, device="cpu")
    expected = {"profile": profile.name, "dataset": paths.dataset, "image_size": splits.image_size}
    differs = [f"{key} {meta.get(key)!r} (here {value!r})" for key, value in expected.items() if meta.get(key) != value]
    if meta.get("classes") != list(splits.classes):
        differs.append("its classes differ from this dataset's")
    if differs:
        raise PrerequisiteError(f"{saved} was made for another setup: " + "; ".join(differs) + f". {fix}")
    return model, f"loaded from {results.shown_path(saved, paths)} (chosen and saved by notebook 01)"


def reconstruction_examples(model: nn.Module, dataset, per_style: int = 1) -> dict:
    """The fixed example reconstructions of notebook 03 and ``autoencode``: the first
    ``per_style`` images of each style of ``dataset`` (:func:`fixed_examples`), painted
    back by ``model`` (a ConvAutoencoder; moved to the CPU and left in eval mode) and by
    ``evaluate.ResizeBaseline`` at the model's compression ratio.

    Returns {"images": (N, 3, S, S) uint8, "labels": (N,) int64, "reconstructions":
    {"autoencoder": (N, 3, S, S), "resize baseline": (N, 3, S, S)} float32 in [0, 1],
    "latent": (C, s, s) float32, the latent of the first example, "baseline": the
    ResizeBaseline used}, numpy arrays.
    """
    images, labels = dataset.get_batch(fixed_examples(dataset, per_style=per_style))
    baseline = evaluate.ResizeBaseline(dataset.image_size, model.compression_ratio)
    model.to("cpu").eval()
    with torch.inference_mode():
        floats = images.float() / 255
        reconstructions = {"autoencoder": model(floats).numpy(), "resize baseline": baseline(floats).numpy()}
        latent = model.encode(floats[:1])[0].numpy()
    return {"images": images.numpy(), "labels": labels.numpy(), "reconstructions": reconstructions,
            "latent": latent, "baseline": baseline}


def training_convergence(values: Sequence[float], *, tail_fraction: float = TAIL_FRACTION,
                         levelled_share: float = LEVELLED_OFF_SHARE) -> dict:
    """Had training levelled off when it stopped? Read from one validation score per
    epoch, higher is better (e.g. PSNR in dB: ``run.history.column("psnr")``).

    The last ``k = ceil(n * tail_fraction)`` epochs (at least 1, at most n - 1) are the
    tail. Training was **still improving** when the tail's gain (last value minus the
    value k epochs before it) is at least ``levelled_share`` of the total gain (last
    minus first) and the best epoch lies inside the tail; otherwise it had **levelled
    off** (also when the last epoch is no better than the first). One epoch cannot tell.

    Returns:
        {"epochs": n, "first", "best", "last" (values, the metric's unit), "best_epoch"
        (1-based), "tail_epochs": k, "tail_gain", "total_gain" (unit of the values),
        "tail_share" (tail_gain / total_gain, None when total_gain <= 0 or n < 2),
        "state": "still improving" | "levelled off" | "one epoch"}.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise ValueError(f"training_convergence needs one finite score per epoch, got {values.tolist()}")
    if not 0.0 < tail_fraction < 1.0:
        raise ValueError(f"tail_fraction must be between 0 and 1, got {tail_fraction}")
    n = int(values.size)
    best_epoch = int(np.argmax(values)) + 1  # the first epoch that reached the best value
    result = {"epochs": n, "first": float(values[0]), "best": float(values.max()), "last": float(values[-1]),
              "best_epoch": best_epoch, "tail_epochs": 0, "tail_gain": 0.0, "total_gain": 0.0,
              "tail_share": None, "state": "one epoch"}
    if n < 2:
        return result
    tail = min(n - 1, max(1, math.ceil(n * tail_fraction)))
    tail_gain = float(values[-1] - values[-1 - tail])
    total_gain = float(values[-1] - values[0])
    share = tail_gain / total_gain if total_gain > 0 else None
    improving = share is not None and share >= levelled_share and best_epoch > n - tail
    return {**result, "tail_epochs": tail, "tail_gain": tail_gain, "total_gain": total_gain, "tail_share": share,
            "state": "still improving" if improving else "levelled off"}


def convergence_words(result: Mapping, *, metric: str = "validation PSNR", unit: str = "dB",
                      subject: str = "the autoencoder") -> str:
    """A :func:`training_convergence` result as one sentence, the curve first → best →
    last, then the verdict, e.g. "validation PSNR went 21.40 dB (epoch 1) → 23.97 dB
    (best and last, epoch 5); the last 2 of 5 epochs added +1.41 dB, 55% of the +2.57 dB
    gained since the first epoch: the autoencoder was still improving when training
    stopped; more epochs would likely raise it"."""
    def value(number: float) -> str:
        return f"{number:.2f} {unit}".strip()

    n = result["epochs"]
    if result["state"] == "one epoch":
        return (f"{metric} was {value(result['last'])} after the single epoch {subject} trained; one epoch cannot "
                f"tell whether training had levelled off")
    curve = f"{metric} went {value(result['first'])} (epoch 1) → {value(result['best'])} "
    if result["best_epoch"] == n:
        curve += f"(best and last, epoch {n})"
    else:
        curve += f"(best, epoch {result['best_epoch']}) → {value(result['last'])} (last, epoch {n})"
    tail = (f"the last {result['tail_epochs']} of {n} epochs" if result["tail_epochs"] > 1
            else "the last epoch")
    if result["tail_share"] is None:
        gain = f"the last epoch is no better than the first ({result['total_gain']:+.2f} {unit})"
    else:
        gain = (f"{tail} added {result['tail_gain']:+.2f} {unit}, {100 * result['tail_share']:.0f}% of the "
                f"{result['total_gain']:+.2f} {unit} gained since the first epoch")
    if result["state"] == "still improving":
        verdict = f"{subject} was still improving when training stopped; more epochs would likely raise it"
    else:
        verdict = f"{subject} had levelled off"
    return f"{curve}; {gain}: {verdict}"


# --------------------------------------------------------------------------- representations


def pixel_features(side: int = 16) -> Callable[[torch.Tensor], torch.Tensor]:
    """The floor: a function (B, 3, S, S) in [0, 1] → (B, 3 * side**2), the image
    shrunk to ``side`` x ``side`` (bilinear, antialiased) and flattened."""

    def pixels(images: torch.Tensor) -> torch.Tensor:
        small = nn.functional.interpolate(images, size=(side, side), mode="bilinear", antialias=True,
                                          align_corners=False)
        return small.flatten(1)

    pixels.__name__ = f"pixels_{side}px"
    return pixels


def latent_statistics(latent: torch.Tensor) -> torch.Tensor:
    """(B, C, h, w) latent grid → (B, 2C): per channel, the mean over the h x w
    positions (columns 0..C-1), then their standard deviation (population, columns
    C..2C-1). Where on the grid a value sits no longer matters: the layout is gone,
    how much of each latent channel there is and how much it varies stay."""
    if latent.ndim != 4:
        raise ValueError(f"latent must be (B, C, h, w), got shape {tuple(latent.shape)}")
    flat = latent.flatten(2)
    return torch.cat([flat.mean(dim=2), flat.std(dim=2, unbiased=False)], dim=1)


class PooledLatent(nn.Module):
    """An autoencoder's encoder seen through :func:`latent_statistics`: ``embed`` (and
    ``forward``) map (B, 3, S, S) images in [0, 1] to (B, 2 * latent_channels)
    layout-free statistics of the latent, for :func:`extract`. It shares the
    autoencoder's weights (nothing is trained) and starts in the autoencoder's
    train/eval mode, so ``extract`` leaves the autoencoder in the mode it found it."""

    def __init__(self, autoencoder: nn.Module):
        super().__init__()
        self.autoencoder = autoencoder
        self.train(autoencoder.training)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        return latent_statistics(self.autoencoder.encode(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.embed(images)


def representation_of(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """What :func:`extract` takes from a model: ``encode`` (flattened latent) if it has
    one, else ``embed``, else the flattened output of ``forward``."""
    for method in ("encode", "embed"):
        if callable(getattr(model, method, None)):
            function = getattr(model, method)
            return lambda images: function(images).flatten(1)
    return lambda images: model(images).flatten(1)


def extract(model_or_fn: nn.Module | Callable[[torch.Tensor], torch.Tensor], dataset, *, batch_size: int = 256,
            device: str | torch.device = "auto", save_to: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Every image of ``dataset`` (a ``WikiArtDataset``) as a vector, in dataset order.

    Args:
        model_or_fn: a model (its ``encode`` latent flattened, else its ``embed``, else
            its output; run in eval mode, moved to ``device``, mode restored after) or a
            function from a float batch (B, 3, S, S) in [0, 1] on ``device`` to (B, D).
        save_to: if given, a ``.npz`` path (e.g. under ``paths.outputs_dir``) that gets
            ``features``, ``labels`` and ``classes``; read it back with :func:`load_features`.

    Returns:
        features (N, D) float32 and labels (N,) int64. Deterministic: fixed order, eval
        mode, no augmentation, so two calls give the same array.
    """
    function = representation_of(model_or_fn) if isinstance(model_or_fn, nn.Module) else model_or_fn
    features, labels = [], []
    for _, batch_labels, batch_features in evaluate.forward_batches(model_or_fn, dataset, batch_size=batch_size,
                                                                     device=device, function=function):
        features.append(batch_features.float().cpu().numpy())
        labels.append(batch_labels.numpy())
    features_array = np.concatenate(features).astype(np.float32) if features else np.zeros((0, 0), np.float32)
    labels_array = np.concatenate(labels).astype(np.int64) if labels else np.zeros(0, np.int64)
    if save_to is not None:
        save_to = Path(save_to)
        save_to.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(save_to, features=features_array, labels=labels_array,
                            classes=np.asarray(list(getattr(dataset, "classes", [])), dtype=str))
    return features_array, labels_array


def load_features(path: str | Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a file written by ``extract(..., save_to=path)``: (features, labels, classes)."""
    with np.load(path) as stored:
        return stored["features"], stored["labels"], [str(c) for c in stored["classes"]]


# --------------------------------------------------------------------------- clustering and its scores


def purity(labels: Sequence[int], assignments: Sequence[int]) -> float:
    """Cluster purity in [0, 1]: each cluster is credited with its most common true
    style; the share of all items that are credited. 1 when every cluster holds a
    single style (also trivially when every item is its own cluster)."""
    from sklearn.metrics.cluster import contingency_matrix

    table = contingency_matrix(labels, assignments)  # styles x clusters
    return float(table.max(axis=0).sum() / table.sum())


def reduce(features: np.ndarray, pca_dims: int = PCA_DIMS, seed: int = 0) -> np.ndarray:
    """Standardise each feature (zero mean, unit variance: no feature dominates by
    its units) and project onto the first ``min(pca_dims, N - 1, D)`` principal
    components. Returns (N, d) float64."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    features = np.asarray(features, dtype=np.float64)
    scaled = StandardScaler().fit_transform(features)
    dims = max(1, min(pca_dims, features.shape[0] - 1, features.shape[1]))
    return PCA(n_components=dims, random_state=seed).fit_transform(scaled)


def _scores(labels: np.ndarray, assignments: np.ndarray) -> dict:
    """The :data:`METRIC_NAMES` scores of one clustering (N,) against the labels (N,)."""
    from sklearn.metrics import (adjusted_rand_score, completeness_score, homogeneity_score,
                                 normalized_mutual_info_score)

    return {"nmi": float(normalized_mutual_info_score(labels, assignments)),
            "ari": float(adjusted_rand_score(labels, assignments)),
            "homogeneity": float(homogeneity_score(labels, assignments)),
            "completeness": float(completeness_score(labels, assignments)),
            "purity": purity(labels, assignments)}


def cluster_metrics(features: np.ndarray, labels: Sequence[int], k: int | None = None, seed: int = 0,
                    pca_dims: int = PCA_DIMS, kmeans_seeds: int = 1) -> dict:
    """Cluster ``features`` (N, D) without looking at ``labels`` (N,), then score the
    clusters against them.

    Standardise → PCA (≤ ``pca_dims`` dims, ≤ N - 1) → ``KMeans(k, n_init="auto",
    random_state=s)`` for each of the ``kmeans_seeds`` seeds s = seed, seed + 1, ...;
    ``k`` defaults to the number of distinct labels.

    Returns a dict: ``nmi``, ``ari``, ``homogeneity`` (each cluster holds one style),
    ``completeness`` (each style sits in one cluster), ``purity`` (all in [0, 1],
    ARI can dip below 0; 1 is a perfect match; the mean over the KMeans seeds),
    ``k``, ``n_samples``, ``pca_dims``, ``kmeans_seeds`` and ``assignments`` ((N,) int
    cluster of each item under the first seed). With ``kmeans_seeds > 1`` also
    ``assignments_by_seed`` ((kmeans_seeds, N) int, for :func:`bootstrap_clusterings`).
    """
    from sklearn.cluster import KMeans

    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(features):
        raise ValueError(f"{len(features)} feature rows but {len(labels)} labels")
    k = int(k) if k is not None else int(len(np.unique(labels)))
    if not 1 <= k <= len(labels):
        raise ValueError(f"k must be between 1 and the number of items ({len(labels)}), got {k}")
    if int(kmeans_seeds) < 1:
        raise ValueError(f"kmeans_seeds must be >= 1, got {kmeans_seeds}")
    reduced = reduce(features, pca_dims, seed)
    with threadpool_limits(1):  # small matrices: BLAS threads cost more than they save
        by_seed = np.stack([KMeans(n_clusters=k, n_init="auto", random_state=seed + offset).fit_predict(reduced)
                            for offset in range(int(kmeans_seeds))]).astype(np.int64)
    per_seed = [_scores(labels, assignments) for assignments in by_seed]
    result = {name: float(np.mean([scores[name] for scores in per_seed])) for name in METRIC_NAMES}
    result.update(k=k, n_samples=int(len(labels)), pca_dims=int(reduced.shape[1]), kmeans_seeds=int(kmeans_seeds),
                  assignments=by_seed[0])
    if kmeans_seeds > 1:
        result["assignments_by_seed"] = by_seed
    return result


METRIC_NAMES = ("nmi", "ari", "homogeneity", "completeness", "purity")
METRIC_LABELS = {"nmi": "NMI", "ari": "ARI", "homogeneity": "homogeneity", "completeness": "completeness",
                 "purity": "purity"}


def scores_only(result: Mapping) -> dict:
    """A :func:`cluster_metrics` result without its per-item arrays (for tables and JSON)."""
    return {key: value for key, value in result.items() if key not in ("assignments", "assignments_by_seed")}


# --------------------------------------------------------------------------- intervals


def _xlogx(values: np.ndarray) -> np.ndarray:
    """x log x elementwise, 0 where x is 0."""
    positive = values > 0
    return np.where(positive, values * np.log(np.where(positive, values, 1.0)), 0.0)


def resampled_cluster_scores(labels, assignments, weights) -> dict[str, np.ndarray]:
    """NMI and ARI of clusterings against ``labels`` on weighted resamples, vectorised.

    Args:
        labels: (N,) true styles.
        assignments: (S, N) cluster of each item under each of S clusterings (KMeans
            seeds), or (N,) for one.
        weights: (B, N) non-negative integer counts, weights[b, i] = how many times item i
            is drawn in resample b; (N,) for one resample. All ones: the data as it is.

    Returns:
        {"nmi": (B, S), "ari": (B, S)} float64. On a resample, equal to scikit-learn's
        ``normalized_mutual_info_score`` (arithmetic mean) and ``adjusted_rand_score``
        on the drawn items with their repetitions (both are functions of the weighted
        contingency table).
    """
    labels = np.asarray(labels)
    assignments = np.asarray(assignments)
    if assignments.ndim == 1:
        assignments = assignments[None, :]
    weights = np.asarray(weights, dtype=np.float64)
    if weights.ndim == 1:
        weights = weights[None, :]
    if labels.ndim != 1 or assignments.ndim != 2 or assignments.shape[1] != len(labels):
        raise ValueError(f"labels must be (N,) and assignments (S, N) with the same N, got {labels.shape} and "
                         f"{assignments.shape}")
    if weights.ndim != 2 or weights.shape[1] != len(labels):
        raise ValueError(f"weights must be (B, N) with N = {len(labels)}, got shape {weights.shape}")
    n_resamples, n_items = weights.shape
    _, label_code = np.unique(labels, return_inverse=True)
    n_labels = int(label_code.max()) + 1
    nmi = np.empty((n_resamples, len(assignments)))
    ari = np.empty_like(nmi)
    for s, clustering in enumerate(assignments):
        _, cluster_code = np.unique(clustering, return_inverse=True)
        n_clusters = int(cluster_code.max()) + 1
        cells = n_labels * n_clusters
        # One bincount fills every resample's contingency table: resample b uses slots b * cells + code.
        offsets = (np.arange(n_resamples, dtype=np.int64) * cells)[:, None]
        codes = label_code * n_clusters + cluster_code
        table = np.bincount((offsets + codes[None, :]).ravel(), weights.ravel(),  # weights: the resample counts
                            minlength=n_resamples * cells).reshape(n_resamples, n_labels, n_clusters)
        n = table.sum(axis=(1, 2))
        rows, columns = table.sum(axis=2), table.sum(axis=1)
        # NMI = MI / mean(H(labels), H(clusters)), from counts: H = log n - sum a log a / n.
        log_n = np.log(np.maximum(n, 1.0))
        cells_term, rows_term, columns_term = (_xlogx(x).sum(axis=tuple(range(1, x.ndim))) / np.maximum(n, 1.0)
                                               for x in (table, rows, columns))
        mutual = np.clip(cells_term - rows_term - columns_term + log_n, 0.0, None)
        h_labels, h_clusters = log_n - rows_term, log_n - columns_term
        normaliser = np.maximum((h_labels + h_clusters) / 2, np.finfo(np.float64).eps)
        one_each = ((rows > 0).sum(axis=1) == 1) & ((columns > 0).sum(axis=1) == 1)
        nmi[:, s] = np.where(one_each, 1.0, np.where(mutual > 0, mutual / normaliser, 0.0))
        # ARI from the pair confusion matrix (scikit-learn's formula).
        squares = (table ** 2).sum(axis=(1, 2))
        true_positive = squares - n
        false_positive = (columns ** 2).sum(axis=1) - squares
        false_negative = (rows ** 2).sum(axis=1) - squares
        true_negative = n ** 2 - false_positive - false_negative - squares
        denominator = ((true_positive + false_negative) * (false_negative + true_negative)
                       + (true_positive + false_positive) * (false_positive + true_negative))
        agree = (false_positive == 0) & (false_negative == 0)
        ari[:, s] = np.where(agree, 1.0, 2.0 * (true_positive * true_negative - false_negative * false_positive)
                             / np.where(agree, 1.0, denominator))
    return {"nmi": nmi, "ari": ari}


def bootstrap_clusterings(labels, assignments: Mapping[str, np.ndarray], *, compare: Sequence[tuple[str, str]] = (),
                          metrics: Sequence[str] = INTERVAL_METRICS, n_resamples: int = 2000, seed: int = 0,
                          confidence: float = 0.95) -> dict:
    """Bootstrap intervals of clustering scores over test images and KMeans seeds,
    paired across representations (the resampling of the ``stats`` module).

    Args:
        labels: (N,) true styles of the clustered images.
        assignments: representation name → (S, N) cluster of each image under each of S
            KMeans seeds (``cluster_metrics(..., kmeans_seeds=S)["assignments_by_seed"]``),
            or (N,) for one seed; the same S for every representation.
        compare: (a, b) pairs of names whose difference a - b is bootstrapped.
        metrics: of "nmi", "ari".
        n_resamples, seed, confidence: resamples B, seed of the resampling, coverage.

    Each resample draws N images and S seeds with replacement, the same draws for every
    representation; a score is the mean over the drawn seeds of the metric on the drawn
    images. The clusterings are not refitted: an interval says how much a score depends
    on which test images and KMeans seeds happened to be used.

    The intervals are score ± z * (standard deviation of the resampled scores), z the
    normal quantile of ``confidence``, not percentiles: NMI and ARI are not averages
    over images, and a resample with repeated images scores higher than the data it was
    drawn from (repeats agree with themselves; NMI's upward bias grows as the distinct
    images get fewer), so the resampled scores are shifted upwards while their spread
    still measures the sampling error. Paired differences shift far less.

    Returns:
        {"intervals": {name: {metric: {"mean", "low", "high", "se"}}}, "differences":
        {"a - b": {metric: {"a", "b", "difference", "low", "high", "se", "verdict"}}},
        "confidence", "n_resamples", "n_images", "n_seeds"}. "mean" is the mean over
        seeds on all images (the :func:`cluster_metrics` score); verdict is "better"
        (low > 0), "worse" (high < 0) or "no clear difference".
    """
    unknown = [metric for metric in metrics if metric not in INTERVAL_METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {INTERVAL_METRICS}")
    labels = np.asarray(labels)
    stacked = {name: np.atleast_2d(np.asarray(values)) for name, values in assignments.items()}
    if not stacked:
        raise ValueError("bootstrap_clusterings needs at least one representation")
    n_seeds = {values.shape[0] for values in stacked.values()}
    if len(n_seeds) != 1:
        raise ValueError(f"every representation needs the same number of KMeans seeds, got {sorted(n_seeds)}")
    (n_seeds,) = n_seeds
    missing = sorted({name for pair in compare for name in pair} - set(stacked))
    if missing:
        raise ValueError(f"compare names {missing} that are not in assignments")
    if int(n_resamples) < 1 or not 0.0 < confidence < 1.0:
        raise ValueError(f"need n_resamples >= 1 and 0 < confidence < 1, got {n_resamples} and {confidence}")
    n_items = len(labels)
    rng = np.random.default_rng(seed)
    seed_counts = stats._draw_counts(rng, int(n_resamples), n_seeds, n_seeds)           # (B, S)
    image_counts = stats._draw_counts(rng, int(n_resamples), n_items, n_items)           # (B, N)
    resampled, full = {}, {}
    for name, values in stacked.items():
        scores = resampled_cluster_scores(labels, values, image_counts)
        resampled[name] = {m: (scores[m] * seed_counts).sum(axis=1) / n_seeds for m in metrics}
        everything = resampled_cluster_scores(labels, values, np.ones(n_items))
        full[name] = {m: float(everything[m].mean()) for m in metrics}
    z = NormalDist().inv_cdf(0.5 + confidence / 2)

    def interval(centre: float, resampled_values: np.ndarray) -> dict:
        spread = float(np.std(resampled_values, ddof=1)) if len(resampled_values) > 1 else 0.0
        return {"low": centre - z * spread, "high": centre + z * spread, "se": spread}

    intervals = {name: {m: {"mean": full[name][m], **interval(full[name][m], resampled[name][m])} for m in metrics}
                 for name in stacked}
    differences = {}
    for a, b in compare:
        differences[f"{a} - {b}"] = {}
        for m in metrics:
            difference = full[a][m] - full[b][m]
            bounds = interval(difference, resampled[a][m] - resampled[b][m])
            verdict = "better" if bounds["low"] > 0 else "worse" if bounds["high"] < 0 else "no clear difference"
            differences[f"{a} - {b}"][m] = {"a": full[a][m], "b": full[b][m], "difference": difference, **bounds,
                                            "verdict": verdict}
    return {"intervals": intervals, "differences": differences, "confidence": confidence,
            "n_resamples": int(n_resamples), "n_images": int(n_items), "n_seeds": int(n_seeds)}


def difference_words(difference: Mapping, name_a: str, name_b: str, *, metric: str = "nmi",
                     confidence: float = 0.95) -> str:
    """One :func:`bootstrap_clusterings` difference (``result["differences"]["a - b"][metric]``)
    in words, e.g. "autoencoder, pooled clusters closer to the styles than autoencoder
    (NMI 0.312 vs 0.283, difference +0.029, 95% interval +0.010 to +0.047)"."""
    label = METRIC_LABELS.get(metric, metric)
    numbers = (f"({label} {difference['a']:.3f} vs {difference['b']:.3f}, difference {difference['difference']:+.3f}, "
               f"{100 * confidence:g}% interval {difference['low']:+.3f} to {difference['high']:+.3f})")
    if difference["verdict"] == "better":
        return f"{name_a} clusters closer to the styles than {name_b} {numbers}"
    if difference["verdict"] == "worse":
        return f"{name_a} clusters further from the styles than {name_b} {numbers}"
    return f"no clear difference between {name_a} and {name_b} {numbers}"


def metrics_table(results: Mapping[str, Mapping[str, float]], intervals: Mapping | None = None) -> str:
    """A plain-text table, one row per representation, of the :data:`METRIC_NAMES` scores;
    with ``intervals`` (``bootstrap_clusterings(...)["intervals"]``) the NMI and ARI
    columns show each score's interval beside it."""
    width = max([22] + [len(name) + 2 for name in results])
    columns = []
    for metric in METRIC_NAMES:
        columns.append(metric)
        if intervals is not None and any(metric in intervals.get(name, {}) for name in results):
            columns.append(f"{metric} interval")
    widths = [16 if column.endswith(" interval") else 13 for column in columns]
    header = f"{'representation':<{width}}" + "".join(f"{column:>{w}}" for column, w in zip(columns, widths))
    lines = [header, "-" * len(header)]
    for name, metrics in results.items():
        cells = []
        for column in columns:
            if column.endswith(" interval"):
                interval = (intervals or {}).get(name, {}).get(column.split()[0])
                cells.append(f"{interval['low']:.3f} to {interval['high']:.3f}" if interval else "")
            else:
                cells.append(f"{metrics[column]:.3f}")
        lines.append(f"{name:<{width}}" + "".join(f"{cell:>{w}}" for cell, w in zip(cells, widths)))
    return "\n".join(lines)


def style_cohesion(labels: Sequence[int], assignments: Sequence[int], classes: Sequence[str],
                   min_images: int = 5, threshold: float = COHESION_THRESHOLD) -> list[dict]:
    """Which styles cluster: for each style with at least ``min_images`` items,

    - ``cluster``: the cluster holding most of its images;
    - ``share``: the fraction of the style's images in that cluster (recall-like);
    - ``cluster_purity``: the fraction of that cluster that is this style (precision-like);
    - ``cohesion``: share x cluster_purity;
    - ``clusters``: True when both share and cluster_purity reach ``threshold``, i.e.
      most of the style sits together in a cluster that is mostly that style.

    Rows come sorted by cohesion, best first. Styles with fewer images are left out:
    with 2 images "all in one cluster" means nothing.
    """
    labels = np.asarray(labels, dtype=np.int64)
    assignments = np.asarray(assignments, dtype=np.int64)
    rows = []
    for label, style in enumerate(classes):
        members = assignments[labels == label]
        if len(members) < min_images:
            continue
        cluster = int(np.bincount(members).argmax())
        share = float((members == cluster).mean())
        cluster_purity = float((labels[assignments == cluster] == label).mean())
        rows.append({"style": style, "n": int(len(members)), "cluster": cluster, "share": share,
                     "cluster_purity": cluster_purity, "cohesion": share * cluster_purity,
                     "clusters": bool(share >= threshold and cluster_purity >= threshold)})
    return sorted(rows, key=lambda row: (-row["cohesion"], row["style"]))


def cohesion_table(rows: Sequence[Mapping]) -> str:
    """:func:`style_cohesion` rows as plain text."""
    lines = [f"{'style':<28}{'n':>5}{'cluster':>8}{'share':>8}{'purity':>8}{'clusters?':>10}"]
    for row in rows:
        lines.append(f"{row['style']:<28}{row['n']:>5}{row['cluster']:>8}{row['share']:>8.2f}"
                     f"{row['cluster_purity']:>8.2f}{'yes' if row['clusters'] else 'no':>10}")
    return "\n".join(lines)


def embed_2d(features: np.ndarray, method: str = "pca", seed: int = 0, *, perplexity: float = 30.0,
             max_iter: int = 750, pca_dims: int = PCA_DIMS) -> np.ndarray:
    """(N, D) features → (N, 2) points for drawing.

    ``method="pca"``: the first two principal components of the standardised
    features. ``method="tsne"``: t-SNE (scikit-learn, PCA initialisation, seeded) on
    the ≤ ``pca_dims`` PCA dims; ``perplexity`` is lowered to (N - 1) / 3 for small N
    (it must stay below N). t-SNE keeps neighbourhoods, not distances: gaps between
    groups in its picture are not measurements.
    """
    if method not in ("pca", "tsne"):
        raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")
    if method == "pca":
        points = reduce(features, 2, seed)
        if points.shape[1] < 2:  # one feature or two points: pad so the caller always gets (N, 2)
            points = np.pad(points, ((0, 0), (0, 2 - points.shape[1])))
        return points
    from sklearn.manifold import TSNE

    reduced = reduce(features, pca_dims, seed)
    n = len(reduced)
    if n < 4:
        raise ValueError(f"t-SNE needs at least 4 points, got {n}")
    perplexity = float(min(perplexity, max(1.0, (n - 1) / 3)))
    with threadpool_limits(1):
        return TSNE(n_components=2, perplexity=perplexity, init="pca", max_iter=max_iter,
                    random_state=seed).fit_transform(reduced)


def fixed_examples(dataset, per_style: int = 1) -> np.ndarray:
    """Indices of the first ``per_style`` items of each style, in label order: the same
    images in every run (the dataset's order is its sorted file list)."""
    targets = np.asarray(dataset.targets)
    chosen = [np.flatnonzero(targets == label)[:per_style] for label in range(len(dataset.classes))]
    return np.concatenate(chosen).astype(np.int64) if chosen else np.zeros(0, np.int64)


def subsample(n: int, max_items: int | None, seed: int = 0) -> np.ndarray:
    """Sorted indices of at most ``max_items`` of ``n`` items, picked at random with ``seed``
    (all of them when ``max_items`` is None or ≥ n)."""
    if max_items is None or max_items >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).permutation(n)[:max_items])
