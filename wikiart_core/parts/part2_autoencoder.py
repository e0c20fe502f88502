"""Part 2 (notebook 03, ``python -m wikiart_core autoencode`` and ``cluster``): the
autoencoder run, its reconstructions, and the representations that are clustered.

The question "do art styles cluster?" is answered with numbers here, not by eye:

1. :func:`extract` turns every image of a dataset into a vector: autoencoder
   latents (``model.encode``, flattened), a classifier's embedding (``model.embed``),
   or any function of the image batch, such as :func:`pixel_features` (raw
   downscaled pixels, the floor every learned representation must beat).
2. :func:`cluster_metrics` standardises the vectors, reduces them with PCA and runs
   scikit-learn ``KMeans``; the clusters are scored against the true styles with
   NMI, ARI, homogeneity, completeness and purity.
3. :func:`style_cohesion` says, style by style, whether its images land together in
   a cluster of their own, so an answer can name the styles that cluster.

The reference for the autoencoder's reconstructions is ``evaluate.ResizeBaseline``:
shrink the image to as many numbers as the latent has and blow it back up.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch
from threadpoolctl import threadpool_limits
from torch import nn

from wikiart_core import evaluate
from wikiart_core.experiment import RunSpec

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


def reduce(features: np.ndarray, pca_dims: int = 50, seed: int = 0) -> np.ndarray:
    """Standardise each feature (zero mean, unit variance: no feature dominates by
    its units) and project onto the first ``min(pca_dims, N - 1, D)`` principal
    components. Returns (N, d) float64."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    features = np.asarray(features, dtype=np.float64)
    scaled = StandardScaler().fit_transform(features)
    dims = max(1, min(pca_dims, features.shape[0] - 1, features.shape[1]))
    return PCA(n_components=dims, random_state=seed).fit_transform(scaled)


def cluster_metrics(features: np.ndarray, labels: Sequence[int], k: int | None = None, seed: int = 0,
                    pca_dims: int = 50) -> dict:
    """Cluster ``features`` (N, D) without looking at ``labels`` (N,), then score the
    clusters against them.

    Standardise → PCA (≤ ``pca_dims`` dims, ≤ N - 1) → ``KMeans(k, n_init="auto",
    random_state=seed)``; ``k`` defaults to the number of distinct labels.

    Returns a dict: ``nmi``, ``ari``, ``homogeneity`` (each cluster holds one style),
    ``completeness`` (each style sits in one cluster), ``purity`` (all in [0, 1],
    ARI can dip below 0; 1 is a perfect match), ``k``, ``n_samples``, ``pca_dims``
    and ``assignments`` ((N,) int cluster of each item).
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import (adjusted_rand_score, completeness_score, homogeneity_score,
                                 normalized_mutual_info_score)

    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) != len(features):
        raise ValueError(f"{len(features)} feature rows but {len(labels)} labels")
    k = int(k) if k is not None else int(len(np.unique(labels)))
    if not 1 <= k <= len(labels):
        raise ValueError(f"k must be between 1 and the number of items ({len(labels)}), got {k}")
    reduced = reduce(features, pca_dims, seed)
    with threadpool_limits(1):  # small matrices: BLAS threads cost more than they save
        assignments = KMeans(n_clusters=k, n_init="auto", random_state=seed).fit_predict(reduced)
    return {
        "nmi": float(normalized_mutual_info_score(labels, assignments)),
        "ari": float(adjusted_rand_score(labels, assignments)),
        "homogeneity": float(homogeneity_score(labels, assignments)),
        "completeness": float(completeness_score(labels, assignments)),
        "purity": purity(labels, assignments),
        "k": k,
        "n_samples": int(len(labels)),
        "pca_dims": int(reduced.shape[1]),
        "assignments": assignments.astype(np.int64),
    }


METRIC_NAMES = ("nmi", "ari", "homogeneity", "completeness", "purity")


def metrics_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """A plain-text table, one row per representation, of the :data:`METRIC_NAMES` scores."""
    header = f"{'representation':<22}" + "".join(f"{name:>13}" for name in METRIC_NAMES)
    lines = [header, "-" * len(header)]
    for name, metrics in results.items():
        lines.append(f"{name:<22}" + "".join(f"{metrics[m]:>13.3f}" for m in METRIC_NAMES))
    return "\n".join(lines)


def style_cohesion(labels: Sequence[int], assignments: Sequence[int], classes: Sequence[str],
                   min_images: int = 5, threshold: float = 0.5) -> list[dict]:
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
             max_iter: int = 750, pca_dims: int = 50) -> np.ndarray:
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
