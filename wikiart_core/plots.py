"""Figures for the notebooks and the report. Every function returns a matplotlib
Figure (never calls ``plt.show()``), so tests and notebooks use the same code.
Figures are drawn small (``dpi`` below) to keep the committed notebooks light."""
from __future__ import annotations

from typing import Mapping, Sequence


import numpy as np
from matplotlib.figure import Figure

DPI = 72


def _is_picture(figure: Figure) -> bool:
    """True when the figure shows RGB images (photos compress badly as PNG)."""
    return any(image.get_array() is not None and image.get_array().ndim == 3
               for axes in figure.axes for image in axes.images)


def _render(figure: Figure, fmt: str) -> bytes:
    import io

    buffer = io.BytesIO()
    extra = {"pil_kwargs": {"quality": 85}} if fmt == "jpeg" else {}
    figure.savefig(buffer, format=fmt, bbox_inches="tight", dpi=figure.dpi, facecolor="white", **extra)
    return buffer.getvalue()


def _show_figures_inline() -> None:
    """In a Jupyter kernel, display returned Figures: charts as PNG, figures made of
    pictures (sample grids, reconstructions) as JPEG, which keeps the committed
    notebooks small. These functions never touch pyplot, so IPython would otherwise
    show only ``<Figure size ...>``."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or type(shell).__name__ != "ZMQInteractiveShell":
        return
    formatters = shell.display_formatter.formatters
    formatters["image/png"].for_type(Figure, lambda f: None if _is_picture(f) else _render(f, "png"))
    formatters["image/jpeg"].for_type(Figure, lambda f: _render(f, "jpeg") if _is_picture(f) else None)


_show_figures_inline()


def _figure(width: float, height: float) -> Figure:
    # Figure() instead of plt.figure(): no global pyplot state, no memory kept by pyplot.
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return figure


def class_counts(counts: Mapping[str, int], title: str = "Training images per style", *,
                 test_counts: Mapping[str, int] | None = None) -> Figure:
    """Horizontal bars of images per style on a log scale, largest first, with the
    share of the largest style written as the majority baseline.

    Args:
        counts: style → number of training images.
        test_counts: optional style → number of test images, drawn beside them.
    """
    styles = sorted(counts, key=lambda s: (-counts[s], s))
    values = np.array([counts[s] for s in styles])
    figure = _figure(7.5, 0.22 * len(styles) + 1.4)
    axes = figure.add_subplot()
    positions = np.arange(len(styles))
    height = 0.4 if test_counts else 0.8
    axes.barh(positions - (height / 2 if test_counts else 0), values, height=height, color="#4c72b0", label="train")
    if test_counts:
        axes.barh(positions + height / 2, [max(test_counts.get(s, 0), 0) for s in styles], height=height,
                  color="#dd8452", label="test")
        axes.legend(loc="lower right")
    axes.set_xscale("log")
    axes.set_yticks(positions, [s.replace("_", " ") for s in styles], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("images (log scale)")
    share = values.max() / values.sum()
    axes.set_title(f"{title}\nmajority baseline: always '{styles[0]}' = {share:.1%} of training images; "
                   f"chance balanced accuracy 1/{len(styles)} = {1 / len(styles):.1%}", fontsize=9)
    for position, value in zip(positions, values):
        axes.text(value * 1.05, position - (height / 2 if test_counts else 0), str(value), va="center", fontsize=6)
    return figure


def sample_grid(images: np.ndarray | Sequence, labels: Sequence[int], classes: Sequence[str],
                per_style: int = 4, columns_of_styles: int = 3, tile_px: int = 32) -> Figure:
    """A montage of example images, ``per_style`` per style, styles in label order.

    The images are pasted into one picture (torchvision's ``make_grid``) at
    ``tile_px`` pixels each and drawn at one screen pixel per image pixel, which
    keeps the PNG small.

    Args:
        images: (N, 3, H, W) uint8 array or tensor.
        labels: (N,) style indices.
        classes: style names in label order.
    """
    import torch
    from torchvision.utils import make_grid

    images = torch.as_tensor(np.asarray(images))
    labels = np.asarray(labels)
    tiles = torch.nn.functional.interpolate(images.float(), size=(tile_px, tile_px), mode="bilinear",
                                            antialias=True, align_corners=False).clamp(0, 255).to(torch.uint8)
    styles = [c for c in range(len(classes)) if (labels == c).any()]
    blank = torch.full((3, tile_px, tile_px), 255, dtype=torch.uint8)
    blocks = []
    for style in styles:
        members = list(np.flatnonzero(labels == style)[:per_style])
        row = [tiles[i] for i in members] + [blank] * (per_style - len(members))
        blocks.append(make_grid(torch.stack(row), nrow=per_style, padding=2, pad_value=255))
    while len(blocks) % columns_of_styles:
        blocks.append(torch.full_like(blocks[0], 255))
    label_px = 120  # room on the left of each block for the style name
    block_h, block_w = blocks[0].shape[1:]
    rows = len(blocks) // columns_of_styles
    canvas = torch.full((3, rows * block_h, columns_of_styles * (block_w + label_px)), 255, dtype=torch.uint8)
    for slot, block in enumerate(blocks):
        row, column = divmod(slot, columns_of_styles)
        left = column * (block_w + label_px) + label_px
        canvas[:, row * block_h:(row + 1) * block_h, left:left + block_w] = block
    height_px, width_px = canvas.shape[1:]
    figure = Figure(figsize=(width_px / DPI, height_px / DPI), dpi=DPI)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(canvas.permute(1, 2, 0).numpy(), interpolation="nearest")
    axes.set_axis_off()
    for slot, style in enumerate(styles):
        row, column = divmod(slot, columns_of_styles)
        axes.text(column * (block_w + label_px) + label_px - 4, row * block_h + block_h / 2,
                  classes[style].replace("_", " "), ha="right", va="center", fontsize=7)
    return figure


def label_mappings(mappings: Mapping[str, Mapping[str, int]], styles: Sequence[str]) -> Figure:
    """Heatmap of the label given to each style (rows) by each run (columns): a
    stable mapping is the same column repeated; the original one is not."""
    runs = list(mappings)
    table = np.array([[mappings[run].get(style, -1) for run in runs] for style in styles])
    figure = _figure(1.2 + 0.75 * len(runs), 0.2 * len(styles) + 1.2)
    axes = figure.add_subplot()
    axes.imshow(table, cmap="viridis", aspect="auto")
    axes.set_xticks(range(len(runs)), runs, fontsize=7, rotation=30, ha="right")
    axes.set_yticks(range(len(styles)), [s.replace("_", " ") for s in styles], fontsize=6)
    for (row, column), value in np.ndenumerate(table):
        axes.text(column, row, str(value), ha="center", va="center", fontsize=5, color="white")
    axes.set_title("label index given to each style, per run", fontsize=9)
    return figure


# --------------------------------------------------------------------------- class imbalance (Part 1) and the training panel


def epoch_loss_curve(records: Sequence, epochs: int | None = None, title: str | None = None) -> Figure:
    """Training loss per epoch from ``History.records`` (objects with ``.epoch`` and
    ``.train_loss``), the x axis fixed to ``epochs`` so a live curve does not jump."""
    figure = _figure(4.5, 2.4)
    axes = figure.add_subplot()
    epochs_done = [record.epoch for record in records]
    axes.plot(epochs_done, [record.train_loss for record in records], marker="o", color="#4c72b0")
    axes.set_xlim(0.5, max(epochs or 1, max(epochs_done, default=1)) + 0.5)
    axes.set_xlabel("epoch")
    axes.set_ylabel("training loss")
    axes.grid(alpha=0.3)
    if title:
        axes.set_title(title, fontsize=9)
    return figure


def method_comparison(summary: Mapping[str, Mapping[str, Mapping[str, float]]],
                      baselines: Mapping[str, Mapping] | None = None,
                      metrics: Sequence[str] = ("accuracy", "balanced_accuracy", "macro_f1")) -> Figure:
    """Mean and 95% interval per method (``ComparisonResult.summary()``: {method:
    {metric: {"mean", "low", "high"}}} as fractions), one panel per metric, with the
    baselines ({"majority", "colour_statistics", ...} metrics) as vertical lines."""
    methods = list(summary)
    figure = _figure(3.0 * len(metrics), 0.28 * len(methods) + 1.5)
    lines = {"majority": ("#c44e52", "--", "always the largest style"),
             "colour_statistics": ("#55a868", ":", "colour statistics")}
    for slot, metric in enumerate(metrics):
        axes = figure.add_subplot(1, len(metrics), slot + 1)
        means = np.array([100 * summary[m][metric]["mean"] for m in methods])
        errors = np.array([[100 * (summary[m][metric]["mean"] - summary[m][metric]["low"]) for m in methods],
                           [100 * (summary[m][metric]["high"] - summary[m][metric]["mean"]) for m in methods]])
        positions = np.arange(len(methods))
        axes.barh(positions, means, xerr=np.clip(errors, 0, None), color="#4c72b0", ecolor="black", capsize=2,
                  height=0.7)
        for key, (colour, style, label) in lines.items():
            if baselines and key in baselines:
                axes.axvline(100 * baselines[key][metric], color=colour, linestyle=style, linewidth=1, label=label)
        axes.set_yticks(positions, methods if slot == 0 else [""] * len(methods), fontsize=8)
        axes.invert_yaxis()
        axes.set_xlabel(f"{metric.replace('_', ' ')} (%)", fontsize=8)
        axes.grid(axis="x", alpha=0.3)
    if baselines:
        figure.axes[0].legend(loc="lower right", fontsize=6)
    figure.suptitle("test metrics: mean over seeds, 95% bootstrap interval over images and seeds", fontsize=9)
    return figure


def per_class_recall(recalls: Mapping[str, Mapping[str, float]], train_counts: Mapping[str, int],
                     title: str = "Recall per style (test set)") -> Figure:
    """Grouped horizontal bars of recall per style for a few models
    (name -> {style: recall in [0, 1]}), styles ordered from most to fewest training
    images, with the training count written beside each style."""
    names = list(recalls)
    styles = sorted(train_counts, key=lambda s: (-train_counts[s], s))
    figure = _figure(6.5, 0.24 * len(styles) + 1.2)
    axes = figure.add_subplot()
    positions = np.arange(len(styles))
    height = 0.8 / max(len(names), 1)
    colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
    for slot, name in enumerate(names):
        axes.barh(positions - 0.4 + height * (slot + 0.5), [100 * recalls[name].get(s, 0.0) for s in styles],
                  height=height, color=colours[slot % len(colours)], label=name)
    axes.set_yticks(positions, [f"{s.replace('_', ' ')} ({train_counts[s]})" for s in styles], fontsize=7)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("recall (%)  ·  style (training images)", fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower right", fontsize=7)
    axes.set_title(title, fontsize=9)
    return figure


# --------------------------------------------------------------------------- autoencoder and clustering (Part 2)

# 27 styles must stay distinguishable: colour and marker change together (10 colours x
# 9 markers: no two of the first 90 labels share both).
STYLE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf")
STYLE_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<")


def style_look(label: int) -> tuple[str, str]:
    """(colour, marker) of a style label in every scatter plot."""
    return STYLE_COLOURS[label % len(STYLE_COLOURS)], STYLE_MARKERS[label % len(STYLE_MARKERS)]


def _as_image(image) -> np.ndarray:
    """(3, H, W) uint8 or float in [0, 1] → (H, W, 3) float for imshow."""
    image = np.asarray(image)
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    return np.clip(image.transpose(1, 2, 0), 0.0, 1.0)


def reconstruction_curves(records: Sequence, baseline_psnr: float | None = None,
                          title: str = "autoencoder training") -> Figure:
    """Training loss per epoch (left) and held-out PSNR in dB per epoch (right), from
    ``History.records`` of ``fit(task="reconstruct")`` (``.val`` with ``"psnr"``), with
    the resize baseline's PSNR at the same compression ratio as a dashed line."""
    figure = _figure(7.5, 2.6)
    loss_axes, psnr_axes = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    epochs = [record.epoch for record in records]
    loss_axes.plot(epochs, [record.train_loss for record in records], marker="o", color="#4c72b0")
    loss_axes.set_yscale("log")
    loss_axes.set_xlabel("epoch")
    loss_axes.set_ylabel("training loss (log)")
    psnr = [record.val.get("psnr", np.nan) for record in records]
    psnr_axes.plot(epochs, psnr, marker="o", color="#55a868", label="autoencoder")
    if baseline_psnr is not None:
        psnr_axes.axhline(baseline_psnr, color="#c44e52", linestyle="--", linewidth=1,
                          label="resize baseline, same size")
    psnr_axes.set_xlabel("epoch")
    psnr_axes.set_ylabel("test PSNR (dB, higher is better)")
    psnr_axes.legend(fontsize=7, loc="lower right")
    for axes in (loss_axes, psnr_axes):
        axes.grid(alpha=0.3)
        axes.set_xticks(epochs)
    figure.suptitle(title, fontsize=9)
    return figure


def reconstruction_grid(originals, reconstructions: Mapping[str, np.ndarray] | np.ndarray, labels: Sequence[int],
                        classes: Sequence[str], rows_per_figure_column: int = 14) -> Figure:
    """One row per image (one image per style in label order, e.g. from
    ``part2_autoencoder.fixed_examples``): the original, then each reconstruction side by side.

    Args:
        originals: (N, 3, S, S) uint8 or floats in [0, 1].
        reconstructions: name → (N, 3, S, S) floats in [0, 1] (e.g. {"autoencoder": ...,
            "resize baseline": ...}), or one array (named "reconstruction").
        labels: (N,) style of each row; classes: style names.
        rows_per_figure_column: rows before the grid wraps into a second block of columns.
    """
    if not isinstance(reconstructions, Mapping):
        reconstructions = {"reconstruction": reconstructions}
    originals = np.asarray(originals)
    panels = {"original": originals, **{name: np.asarray(images) for name, images in reconstructions.items()}}
    n = len(originals)
    blocks = max(1, int(np.ceil(n / rows_per_figure_column)))
    rows = int(np.ceil(n / blocks))
    columns = len(panels)
    # 1.15 in per picture at 72 dpi: about 80 px, so a 64 px image is shown at least at
    # its own size (blur is the autoencoder's, not the figure's); names at 9 pt = 9 px.
    figure = _figure(blocks * (columns * 1.15 + 1.4), rows * 1.1 + 0.5)
    grid = figure.add_gridspec(rows, blocks * columns, wspace=0.03, hspace=0.03)
    for index in range(n):
        block, row = divmod(index, rows)
        for column, (name, images) in enumerate(panels.items()):
            axes = figure.add_subplot(grid[row, block * columns + column])
            axes.imshow(_as_image(images[index]), interpolation="nearest")
            axes.set_xticks([])
            axes.set_yticks([])
            if row == 0:
                axes.set_title(name, fontsize=9)
            if column == 0:
                axes.set_ylabel(classes[int(labels[index])].replace("_", " ")[:20], fontsize=9, rotation=0,
                                ha="right", va="center")
    return figure


def latent_channels(latent, image=None, max_channels: int = 16, title: str | None = None) -> Figure:
    """The latent of one image, one small heatmap per channel (each on its own colour
    scale), after the image itself when given.

    Args:
        latent: (C, h, w) array (``model.encode(x)[0]``).
        image: optional (3, S, S) uint8 or float image it encodes.
    """
    latent = np.asarray(latent, dtype=np.float32)
    channels = min(len(latent), max_channels)
    panels = channels + (image is not None)
    columns = min(panels, 9)
    rows = int(np.ceil(panels / columns))
    figure = _figure(columns * 0.95, rows * 1.05 + 0.35)
    slot = 1
    if image is not None:
        axes = figure.add_subplot(rows, columns, slot)
        axes.imshow(_as_image(image))
        axes.set_title("image", fontsize=6)
        axes.set_axis_off()
        slot += 1
    for channel in range(channels):
        axes = figure.add_subplot(rows, columns, slot)
        axes.imshow(latent[channel], cmap="coolwarm", interpolation="nearest")
        axes.set_title(f"ch {channel}", fontsize=6)
        axes.set_axis_off()
        slot += 1
    figure.suptitle(title or f"latent {tuple(latent.shape)}: {channels} of {len(latent)} channels", fontsize=8)
    return figure


def embedding_2d(points, labels: Sequence[int], classes: Sequence[str], assignments: Sequence[int] | None = None,
                 title: str = "", point_size: float = 14) -> Figure:
    """Points in 2D (PCA or t-SNE) coloured *and* shaped by their true style, with a
    legend outside the axes; beside it the same points coloured by KMeans cluster
    (when ``assignments`` are given). Every point is drawn exactly once per panel.

    Args:
        points: (N, 2); labels: (N,) true styles; classes: style names;
        assignments: (N,) cluster of each point.
    """
    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    panels = 1 if assignments is None else 2
    figure = _figure(5.2 * panels + 2.6, 4.6)
    style_axes = figure.add_subplot(1, panels, 1)
    for label in np.unique(labels):
        chosen = labels == label
        colour, marker = style_look(int(label))
        style_axes.scatter(points[chosen, 0], points[chosen, 1], s=point_size, c=colour, marker=marker,
                           linewidths=0.3, edgecolors="black", alpha=0.8,
                           label=f"{classes[int(label)].replace('_', ' ')} ({int(chosen.sum())})")
    style_axes.set_title("true style (colour + marker)", fontsize=9)
    style_axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=6, frameon=False,
                      ncols=1 if len(np.unique(labels)) <= 16 else 2, handletextpad=0.2, columnspacing=0.6)
    if assignments is not None:
        assignments = np.asarray(assignments)
        cluster_axes = figure.add_subplot(1, panels, 2)
        cluster_axes.scatter(points[:, 0], points[:, 1], s=point_size, c=assignments,
                             cmap="tab20" if assignments.max(initial=0) < 20 else "nipy_spectral",
                             linewidths=0.3, edgecolors="black", alpha=0.8)
        cluster_axes.set_title(f"KMeans cluster (k = {len(np.unique(assignments))})", fontsize=9)
    for axes in figure.axes:
        axes.set_xticks([])
        axes.set_yticks([])
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


def contingency_heatmap(labels: Sequence[int], assignments: Sequence[int], classes: Sequence[str],
                        title: str = "") -> Figure:
    """Clusters (rows) x styles (columns): how many images of each style fell in each
    cluster. Each cluster row is ordered by its main style, so a style that clusters
    shows up as a bright diagonal cell; counts are written in the cells."""
    labels = np.asarray(labels, dtype=np.int64)
    assignments = np.asarray(assignments, dtype=np.int64)
    clusters = np.unique(assignments)
    table = np.array([[np.sum((assignments == c) & (labels == s)) for s in range(len(classes))] for c in clusters])
    # Order clusters by the style they hold most of: the diagonal is then easy to read.
    order = np.lexsort((-table.max(axis=1), table.argmax(axis=1)))
    table, clusters = table[order], clusters[order]
    figure = _figure(0.26 * len(classes) + 2.0, 0.22 * len(clusters) + 2.2)
    axes = figure.add_subplot()
    axes.imshow(table, cmap="Blues", aspect="auto")
    axes.set_xticks(range(len(classes)), [c.replace("_", " ") for c in classes], fontsize=6, rotation=90)
    axes.set_yticks(range(len(clusters)), [str(c) for c in clusters], fontsize=6)
    axes.set_xlabel("true style")
    axes.set_ylabel("cluster")
    threshold = table.max(initial=0) / 2
    for (row, column), value in np.ndenumerate(table):
        if value:
            axes.text(column, row, str(value), ha="center", va="center", fontsize=5,
                      color="white" if value > threshold else "black")
    axes.set_title(title or "images per cluster and style", fontsize=9)
    return figure


def cluster_scores(results: Mapping[str, Mapping[str, float]],
                   metrics: Sequence[str] = ("nmi", "ari", "homogeneity", "completeness", "purity")) -> Figure:
    """Grouped bars: one group per clustering metric, one bar per representation."""
    names = list(results)
    figure = _figure(6.5, 2.6)
    axes = figure.add_subplot()
    width = 0.8 / max(len(names), 1)
    positions = np.arange(len(metrics))
    colours = ["#8c8c8c", "#4c72b0", "#55a868", "#dd8452", "#c44e52"]
    for slot, name in enumerate(names):
        axes.bar(positions - 0.4 + width * (slot + 0.5), [results[name][m] for m in metrics], width=width,
                 color=colours[slot % len(colours)], label=name)
    axes.set_xticks(positions, [m.upper() if len(m) <= 3 else m for m in metrics], fontsize=8)
    axes.set_ylim(min(0.0, min(results[n][m] for n in names for m in metrics)), 1.0)
    axes.set_ylabel("score (1 = clusters are the styles)", fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize=7, loc="upper right")
    return figure


def loss_curves(runs: Mapping[str, Sequence], title: str | None = "Training loss per epoch") -> Figure:
    """Training loss per epoch of several runs on one axes: ``runs`` maps a run's name
    to its ``History.records`` (objects with ``.epoch`` and ``.train_loss``). The y axis
    is logarithmic so that runs with different loss scales stay readable."""
    figure = _figure(6.0, 2.8)
    axes = figure.add_subplot()
    for name, records in runs.items():
        axes.plot([r.epoch for r in records], [r.train_loss for r in records], marker="o", markersize=3,
                  label=name)
    axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("training loss (log scale)")
    axes.grid(alpha=0.3, which="both")
    axes.legend(fontsize=7)
    if title:
        axes.set_title(title, fontsize=9)
    return figure


def style_grid(grid: Mapping, classes: Sequence[str]) -> Figure:
    """Part 3's grid, from ``part3_generator.example_grid_images``: for each content image,
    one row per painter ("cin", "colour transfer"): the original, its reconstruction under
    its own style, then the same image in each target style (column titles).

    grid: {"originals": (R, 3, S, S), "own": (R, 3, S, S), "painted": {name: (R, T, 3, S, S)},
    "row_styles": [R], "target_styles": [T]}, floats in [0, 1]."""
    painters = list(grid["painted"])
    targets = list(grid["target_styles"])
    n_rows = len(grid["originals"]) * len(painters)
    columns = 2 + len(targets)
    figure = _figure(columns * 0.95 + 1.2, n_rows * 0.95 + 0.5)
    layout = figure.add_gridspec(n_rows, columns, wspace=0.03, hspace=0.05)

    def name(label: int) -> str:
        return classes[int(label)].replace("_", " ")[:16]

    for image_index, content_style in enumerate(grid["row_styles"]):
        for painter_index, painter in enumerate(painters):
            row = image_index * len(painters) + painter_index
            panels = [grid["originals"][image_index] if painter_index == 0 else None,
                      grid["own"][image_index] if painter == "cin" else None,
                      *grid["painted"][painter][image_index]]
            titles = ["original", "own style (cin)", *[name(t) for t in targets]]
            for column, (panel, title) in enumerate(zip(panels, titles)):
                axes = figure.add_subplot(layout[row, column])
                axes.set_xticks([])
                axes.set_yticks([])
                if panel is None:
                    axes.axis("off")
                else:
                    axes.imshow(_as_image(panel), interpolation="nearest")
                if row == 0:
                    axes.set_title(title, fontsize=6)
                if column == 0 and panel is not None:
                    axes.set_ylabel(name(content_style), fontsize=6, rotation=0, ha="right", va="center")
                if column == 2:
                    axes.text(-0.08, 0.5, painter, transform=axes.transAxes, fontsize=6, rotation=90,
                              ha="right", va="center")
    return figure


def image_strip(images, titles: Sequence[str], title: str | None = None) -> Figure:
    """A row of pictures with a caption each: images (N, 3, S, S) floats in [0, 1] or uint8
    (an interpolation between two styles, one photograph in several styles)."""
    images = list(images)
    figure = _figure(len(images) * 1.1 + 0.2, 1.45 if title else 1.25)
    for index, (image, caption) in enumerate(zip(images, titles)):
        axes = figure.add_subplot(1, len(images), index + 1)
        axes.imshow(_as_image(image), interpolation="nearest")
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(caption, fontsize=6)
    if title:
        figure.suptitle(title, fontsize=8)
    return figure


def generator_curves(histories: Mapping[str, object]) -> Figure:
    """Part 3's training curves: per generator (name -> ``engine.History``), the training
    reconstruction and style losses per epoch (left) and the validation objective that
    picks best.pt (right), both on log axes."""
    figure = _figure(8.0, 2.8)
    parts_axes, validation_axes = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    for index, (name, history) in enumerate(histories.items()):
        records = history.records
        epochs = [record.epoch for record in records]
        colour = f"C{index}"
        for part, line in (("reconstruction", "-"), ("style", "--")):
            parts_axes.plot(epochs, [record.parts.get(part, np.nan) for record in records], line, color=colour,
                            marker="o", markersize=3, label=f"{name}: {part}")
        validation_axes.plot(epochs, [record.val.get("objective", np.nan) for record in records], color=colour,
                             marker="o", markersize=3, label=name)
    for axes, title in ((parts_axes, "training losses"), (validation_axes, "validation objective (picks best.pt)")):
        axes.set_yscale("log")
        axes.set_xlabel("epoch")
        axes.set_title(title, fontsize=9)
        axes.grid(alpha=0.3, which="both")
        axes.legend(fontsize=7)
    return figure


# --------------------------------------------------------------------------- hyperparameter search (search.py)


def study_history(study, metric: str = "balanced accuracy") -> Figure:
    """An Optuna study's optimisation history: each trial's validation score (completed
    trials as dots; pruned ones as crosses at their last reported epoch) and the best
    score so far as a step line, in percent, trials in order."""
    import optuna

    figure = _figure(5.5, 2.8)
    axes = figure.add_subplot()
    done, pruned, best_line = [], [], []
    best = None
    for trial in study.trials:
        if trial.state == optuna.trial.TrialState.COMPLETE and trial.value is not None:
            done.append((trial.number, 100 * trial.value))
            best = trial.value if best is None else max(best, trial.value)
        elif trial.state == optuna.trial.TrialState.PRUNED and trial.intermediate_values:
            pruned.append((trial.number, 100 * trial.intermediate_values[max(trial.intermediate_values)]))
        if best is not None:
            best_line.append((trial.number, 100 * best))
    if done:
        axes.scatter(*zip(*done), color="#4c72b0", s=18, zorder=3, label="completed trial")
    if pruned:
        axes.scatter(*zip(*pruned), color="#8c8c8c", marker="x", s=18, zorder=3, label="pruned (last epoch reported)")
    if best_line:
        axes.step(*zip(*best_line), where="post", color="#c44e52", linewidth=1.2, label="best so far")
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("trial")
    axes.set_ylabel(f"validation {metric} (%)", fontsize=8)
    axes.grid(alpha=0.3)
    if done or pruned:
        axes.legend(fontsize=7, loc="best")
    axes.set_title(f"optimisation history of study {study.study_name!r} ({len(study.trials)} trials)", fontsize=9)
    return figure


def study_importances(importances: Mapping[str, float] | None, note: str = "") -> Figure:
    """Parameter importances ({param: importance, summing to 1}, Optuna's default
    evaluator as run by ``search.param_importances``) as horizontal bars, largest first; with None,
    a figure that says why they could not be computed (``note``)."""
    figure = _figure(5.0, 0.35 * len(importances or {}) + 1.2 if importances else 1.4)
    axes = figure.add_subplot()
    if not importances:
        axes.axis("off")
        import textwrap

        why = textwrap.fill(note or "no completed trials", 70)
        axes.text(0.5, 0.5, f"parameter importances not computed:\n{why}", ha="center", va="center", fontsize=8,
                  transform=axes.transAxes)
        return figure
    names = sorted(importances, key=lambda name: -importances[name])
    positions = np.arange(len(names))
    axes.barh(positions, [100 * importances[name] for name in names], color="#4c72b0", height=0.6)
    axes.set_yticks(positions, names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("importance (%, the parameters' shares sum to 100)", fontsize=8)
    axes.grid(axis="x", alpha=0.3)
    axes.set_title("parameter importances (Optuna, completed trials)", fontsize=9)
    return figure
