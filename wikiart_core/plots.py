"""Figures for the notebooks and the report. Every function returns a matplotlib
Figure (never calls ``plt.show()``), so tests and notebooks use the same code.

Every figure is drawn at ``DPI`` (100) dots per inch with no text smaller than
``MIN_FONT_PT`` (8 pt, 11 px at 100 dpi), long style names wrapped rather than cut
(:func:`wrap_label`), legends outside the data and heatmaps of many classes without
cell numbers. :func:`legibility_problems` checks one figure; with the environment
variable ``WIKIART_CHECK_FIGURES=1`` (set by the tests' conftest.py, inherited by the
nbval kernels) every figure a notebook displays is checked and an illegible one fails
its cell with :class:`IllegibleFigureError`. Charts are shown as palette PNGs and
pictures as JPEGs, which keeps the committed notebooks light."""
from __future__ import annotations

import contextvars
import os
import textwrap
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine

DPI = 100
MIN_DPI = 100
MIN_FONT_PT = 8.0
# Sizes in points used below: ticks, legends and cell numbers at the minimum, axis
# labels and titles a little larger.
SMALL_PT = 8
LABEL_PT = 9
TITLE_PT = 10
CHECK_ENVIRONMENT_VARIABLE = "WIKIART_CHECK_FIGURES"


class IllegibleFigureError(ValueError):
    """A figure that :func:`legibility_problems` finds hard to read was about to be shown."""


def wrap_label(name: str, width: int = 14) -> str:
    """A style name as words on lines of at most ``width`` characters, broken at spaces
    and underscores (never inside a word, never cut): ``Abstract_Expressionism`` ->
    ``"Abstract\\nExpressionism"``."""
    words = " ".join(str(name).replace("_", " ").split())
    return textwrap.fill(words, width, break_long_words=False, break_on_hyphens=False) or words


def _words(name: str) -> str:
    return " ".join(str(name).replace("_", " ").split())


# --------------------------------------------------------------------------- legibility


def _drawn_texts(figure: Figure):
    """(renderer, [Text artists drawn]) after laying out and drawing ``figure`` without
    output (its constrained layout runs; only texts a real draw would show are listed)."""
    from matplotlib.backend_bases import _get_renderer
    from matplotlib.text import Text

    drawn = []
    original_draw = Text.draw

    def recording_draw(text, renderer):
        if text.get_visible() and text.get_text().strip():
            drawn.append(text)
        return original_draw(text, renderer)

    renderer = _get_renderer(figure)
    Text.draw = recording_draw
    try:
        with renderer._draw_disabled():
            figure.draw(renderer)
    finally:
        Text.draw = original_draw
    unique = list({id(text): text for text in drawn}.values())
    return renderer, unique


def _text_name(text) -> str:
    words = " ".join(text.get_text().split())
    return repr(words if len(words) <= 40 else words[:37] + "...")


def _axis_aligned(text) -> bool:
    return abs(text.get_rotation() % 90) < 1e-6


def _data_hits(axes, box, renderer) -> bool:
    """True when data drawn in ``axes`` (lines, bars, scatter points, error bars) lies
    inside ``box`` (display pixels)."""
    from matplotlib.collections import LineCollection, PathCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.path import Path

    inner = box.padded(-1.0)
    for artist in axes.get_children():
        if not artist.get_visible():
            continue
        if isinstance(artist, Line2D):
            path = artist.get_transform().transform_path(artist.get_path())
            if not len(path.vertices):
                continue
            if artist.get_linestyle() in ("None", "none", "", " "):  # markers only
                if inner.count_contains(path.vertices):
                    return True
            elif path.intersects_bbox(inner, filled=False):
                return True
        elif isinstance(artist, Rectangle) and artist is not axes.patch:  # bars
            extent = artist.get_window_extent(renderer)
            if extent.width > 0 and extent.height > 0 and extent.overlaps(inner):
                return True
        elif isinstance(artist, PathCollection):  # scatter points
            offsets = np.asarray(artist.get_offsets())
            if offsets.size and inner.count_contains(artist.get_offset_transform().transform(offsets)):
                return True
        elif isinstance(artist, LineCollection):  # error bars
            transform = artist.get_transform()
            for segment in artist.get_segments():
                if len(segment) > 1 and Path(transform.transform(segment)).intersects_bbox(inner, filled=False):
                    return True
    return False


def legibility_problems(figure: Figure, *, min_dpi: float = MIN_DPI, min_font_pt: float = MIN_FONT_PT,
                        overlaps: bool = True, cut: bool = True, legends: bool = True) -> list[str]:
    """What makes ``figure`` hard to read at the size it is shown, as sentences ([] when nothing).

    The figure is laid out and drawn (without output) at its own dpi, as the notebooks
    and ``files.save_figure`` save it. Checked:

    - ``figure.dpi`` (dots per inch) below ``min_dpi``;
    - every drawn text (titles, axis labels, tick labels, legend texts, annotations,
      colour-bar ticks) smaller than ``min_font_pt`` points (1 pt = 1/72 in, so 8 pt is
      11 px at 100 dpi);
    - ``overlaps``: two drawn texts whose boxes intersect by more than 1 px in both
      directions (overlapping tick labels, cell numbers, legend over title); texts turned
      by an angle that is not a multiple of 90 degrees are left out of this check;
    - ``cut``: a text that reaches more than 1 px beyond the figure's edge;
    - ``legends``: a legend box that covers data of any axes of the figure (a line, a
      bar, an error bar or a scatter point inside it).
    """
    problems = []
    if figure.dpi < min_dpi:
        problems.append(f"drawn at {figure.dpi:g} dpi, below {min_dpi:g} dpi")
    renderer, texts = _drawn_texts(figure)
    small = [text for text in texts if text.get_fontsize() < min_font_pt - 1e-6]
    # words (titles, labels, legends) before numbers (ticks, cell values): they say more about where
    small.sort(key=lambda text: text.get_text().replace(".", "").replace("−", "").replace("-", "").strip().isdigit())
    for text in small[:8]:
        problems.append(f"text {_text_name(text)} is {text.get_fontsize():g} pt, below {min_font_pt:g} pt")
    if len(small) > 8:
        problems.append(f"... and {len(small) - 8} more texts below {min_font_pt:g} pt")
    boxes = [text.get_window_extent(renderer) for text in texts]
    if cut:
        width, height = figure.bbox.width, figure.bbox.height
        for text, box in zip(texts, boxes):
            if box.x0 < -1 or box.y0 < -1 or box.x1 > width + 1 or box.y1 > height + 1:
                problems.append(f"text {_text_name(text)} is cut by the figure's edge "
                                f"(it spans x {box.x0:.0f}..{box.x1:.0f}, y {box.y0:.0f}..{box.y1:.0f} px "
                                f"of {width:.0f} x {height:.0f} px)")
    if overlaps:
        chosen = [index for index, text in enumerate(texts) if _axis_aligned(text)]
        if len(chosen) > 1:
            corners = np.array([[boxes[i].x0, boxes[i].y0, boxes[i].x1, boxes[i].y1] for i in chosen])
            dx = np.minimum(corners[:, None, 2], corners[None, :, 2]) - np.maximum(corners[:, None, 0],
                                                                                   corners[None, :, 0])
            dy = np.minimum(corners[:, None, 3], corners[None, :, 3]) - np.maximum(corners[:, None, 1],
                                                                                   corners[None, :, 1])
            pairs = np.argwhere(np.triu((dx > 1) & (dy > 1), k=1))
            for a, b in pairs[:10]:
                problems.append(f"texts {_text_name(texts[chosen[a]])} and {_text_name(texts[chosen[b]])} overlap")
            if len(pairs) > 10:
                problems.append(f"... and {len(pairs) - 10} more pairs of overlapping texts")
    if legends:
        found = [axes.get_legend() for axes in figure.axes] + list(figure.legends)
        for legend in [legend for legend in found if legend is not None and legend.get_visible()]:
            box = legend.get_window_extent(renderer)
            covered = [axes for axes in figure.axes if axes.bbox.overlaps(box) and _data_hits(axes, box, renderer)]
            if covered:
                entries = ", ".join(_text_name(text) for text in legend.get_texts()[:3])
                problems.append(f"the legend ({entries}{', ...' if len(legend.get_texts()) > 3 else ''}) "
                                f"covers data; place it outside the axes")
    return problems


def figure_name(figure: Figure) -> str:
    """The figure's suptitle, else its axes' titles, else "(untitled figure)"."""
    suptitle = getattr(figure, "_suptitle", None)
    if suptitle is not None and suptitle.get_text().strip():
        return " ".join(suptitle.get_text().split())
    titles = [" ".join(axes.get_title().split()) for axes in figure.axes if axes.get_title().strip()]
    return " | ".join(titles) if titles else "(untitled figure)"


def check_legible(figure: Figure) -> None:
    """Raise :class:`IllegibleFigureError` listing :func:`legibility_problems` when there are any."""
    problems = legibility_problems(figure)
    if problems:
        raise IllegibleFigureError(f"figure {figure_name(figure)!r} is hard to read:\n- " + "\n- ".join(problems))


def checking_figures() -> bool:
    """True when ``$WIKIART_CHECK_FIGURES`` asks for every displayed figure to be checked."""
    return os.environ.get(CHECK_ENVIRONMENT_VARIABLE, "").strip().lower() not in ("", "0", "false", "no")


# The figure being displayed by the checking display formatter: _render need not check it again.
_CHECKED = contextvars.ContextVar("wikiart_checked_figure", default=None)


def _is_picture(figure: Figure) -> bool:
    """True when the figure shows RGB images (photos compress badly as PNG)."""
    return any(image.get_array() is not None and image.get_array().ndim == 3
               for axes in figure.axes for image in axes.images)


def _palette_png(png: bytes) -> bytes:
    """The PNG ``png`` (a chart on white) with at most 256 colours, when that is smaller:
    charts have few colours, so this is lossless to the eye and about a third of the size."""
    import io

    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT,
                                                dither=Image.Dither.NONE)
    buffer = io.BytesIO()
    palette.save(buffer, format="png", optimize=True)
    return buffer.getvalue() if buffer.tell() < len(png) else png


def _render(figure: Figure, fmt: str) -> bytes:
    """The bytes of ``figure`` as ``fmt`` ("png" or "jpeg"), as the notebooks show it
    (tight box, white background, at the figure's dpi). With ``$WIKIART_CHECK_FIGURES``
    set, an illegible figure raises :class:`IllegibleFigureError` first."""
    import io

    if checking_figures() and _CHECKED.get() is not figure:
        check_legible(figure)
    buffer = io.BytesIO()
    extra = {"pil_kwargs": {"quality": 85}} if fmt == "jpeg" else {}
    figure.savefig(buffer, format=fmt, bbox_inches="tight", dpi=figure.dpi, facecolor="white", **extra)
    return _palette_png(buffer.getvalue()) if fmt == "png" else buffer.getvalue()


# Messages of the IllegibleFigureErrors raised while the current cell runs (see _after_cell).
_RAISED_IN_CELL: list[str] = []


def _checking_format(original):
    """``DisplayFormatter.format`` that first checks a Figure's legibility. IPython's
    formatters print an exception and carry on (``catch_format_error``; ipykernel marks
    the cell failed only when that happens in the cell's last expression), so raised in
    ``_render`` an illegible figure passed to ``display(...)`` would not fail the cell
    under nbclient. Raised here, before them, the exception reaches the code that displays
    the figure: the cell's last line or its ``display(...)`` call, which fails the cell."""
    def format(obj, include=None, exclude=None):
        if isinstance(obj, Figure) and checking_figures():
            try:
                check_legible(obj)
            except IllegibleFigureError as error:
                _RAISED_IN_CELL.append(str(error))
                raise
            token = _CHECKED.set(obj)
            try:
                return original(obj, include=include, exclude=exclude)
            finally:
                _CHECKED.reset(token)
        return original(obj, include=include, exclude=exclude)

    format.checks_figures = True
    return format


def _after_cell(result) -> None:
    """IPython ``post_run_cell`` hook: a cell that ran to its end although an illegible
    figure raised in it (code on the way caught the error: a widget callback shows it in
    its message line) still ends with the error. IPython reports an exception of this
    hook as an error output of the cell, which fails it under nbval."""
    raised = list(_RAISED_IN_CELL)
    _RAISED_IN_CELL.clear()
    if raised and result.success:
        raise IllegibleFigureError(f"{len(raised)} figure(s) shown in this cell were hard to read (the error was "
                                   f"caught before it reached the cell):\n{raised[0]}")


def _show_figures_inline() -> None:
    """In a Jupyter kernel, display returned Figures: charts as PNG, figures made of
    pictures (sample grids, reconstructions) as JPEG, which keeps the committed
    notebooks small; and check each one's legibility when ``$WIKIART_CHECK_FIGURES``
    asks (:func:`_checking_format`, :func:`_after_cell`). These functions never touch
    pyplot, so IPython would otherwise show only ``<Figure size ...>``."""
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
    if not getattr(shell.display_formatter.format, "checks_figures", False):  # once per kernel
        shell.display_formatter.format = _checking_format(shell.display_formatter.format)
        shell.events.register("post_run_cell", _after_cell)


_show_figures_inline()


def _figure(width: float, height: float) -> Figure:
    """A Figure of ``width`` x ``height`` inches at ``DPI``, constrained layout."""
    # Figure() instead of plt.figure(): no global pyplot state, no memory kept by pyplot.
    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def _text_width_px(text: str, size_pt: float) -> float:
    """Width in pixels at ``DPI`` of the widest line of ``text`` at ``size_pt`` points."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    renderer = RendererAgg(10, 10, DPI)
    prop = FontProperties(size=size_pt)
    return max(renderer.get_text_width_height_descent(line, prop, ismath=False)[0] for line in text.split("\n"))


class _LayoutAboveLegend(ConstrainedLayoutEngine):
    """Constrained layout of the panels inside ``rect``, leaving out ``legend`` (placed in
    the strip below the rect by :func:`_legend_below`). Outside the layout pass the legend
    counts as laid out again, so the tight box a figure is saved with keeps it."""

    def __init__(self, legend, **settings):
        super().__init__(**settings)
        self._legend = legend

    def execute(self, figure):
        self._legend.set_in_layout(False)
        try:
            return super().execute(figure)
        finally:
            self._legend.set_in_layout(True)


def _legend_below(figure: Figure, legend, panels_height: float) -> None:
    """Put ``legend`` (made with ``loc="lower center"``) under the panels at the figure's
    bottom, outside the data, and grow the figure by its height so no axes shrinks.
    ``panels_height``: the figure's height in inches before."""
    from matplotlib.backend_bases import _get_renderer

    legend_height = legend.get_window_extent(_get_renderer(figure)).height / figure.dpi + 0.1
    total = panels_height + legend_height
    figure.set_size_inches(figure.get_size_inches()[0], total)
    legend.set_bbox_to_anchor((0.5, 0.03 / total), transform=figure.transFigure)
    figure.set_layout_engine(_LayoutAboveLegend(legend, rect=(0, legend_height / total, 1, 1 - legend_height / total)))


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
    row = 0.3 if test_counts else 0.22  # inches per style: two 8 pt numbers need the taller rows
    figure = _figure(7.5, row * len(styles) + 1.6)
    axes = figure.add_subplot()
    positions = np.arange(len(styles))
    height = 0.4 if test_counts else 0.8
    shift = height / 2 if test_counts else 0
    axes.barh(positions - shift, values, height=height, color="#4c72b0", label="train")
    test_values = [max(test_counts.get(s, 0), 0) for s in styles] if test_counts else []
    if test_counts:
        axes.barh(positions + shift, test_values, height=height, color="#dd8452", label="test")
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=SMALL_PT, frameon=False)
    axes.set_xscale("log")
    axes.set_yticks(positions, [_words(s) for s in styles], fontsize=SMALL_PT)
    axes.tick_params(axis="x", labelsize=SMALL_PT)
    axes.set_ylim(len(styles) - 0.5, -0.5)  # largest first, no empty rows
    # room right of the longest bar for its number
    axes.set_xlim(right=max(values.max(), max(test_values, default=0)) * 3)
    axes.set_xlabel("images (log scale)", fontsize=LABEL_PT)
    share = values.max() / values.sum()
    axes.set_title(f"{title}\nmajority baseline: always '{_words(styles[0])}' = {share:.1%} of training images;\n"
                   f"chance balanced accuracy 1/{len(styles)} = {1 / len(styles):.1%}", fontsize=LABEL_PT)
    for position, value in zip(positions, values):
        axes.text(value * 1.05, position - shift, str(value), va="center", fontsize=SMALL_PT)
    for position, value in zip(positions, test_values):
        if value > 0:
            axes.text(value * 1.05, position + shift, str(value), va="center", fontsize=SMALL_PT, color="#a0522d")
    return figure


def sample_grid(images: np.ndarray | Sequence, labels: Sequence[int], classes: Sequence[str],
                per_style: int = 4, columns_of_styles: int = 3, tile_px: int = 32) -> Figure:
    """A montage of example images, ``per_style`` per style, styles in label order.

    The images are pasted into one picture (torchvision's ``make_grid``) at
    ``tile_px`` pixels each and drawn at one screen pixel per image pixel, which
    keeps the picture small; each block is named by its style at 8 pt, wrapped onto
    lines (the room left of the blocks is measured to fit the longest name).

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
    block_h, block_w = blocks[0].shape[1:]
    # two 8 pt lines (11 px each at 100 dpi, with line spacing) fit beside a block of 32 px tiles
    two_lines = block_h >= 2 * 1.2 * SMALL_PT / 72 * DPI
    names = {style: wrap_label(classes[style], 14) if two_lines else _words(classes[style]) for style in styles}
    label_px = int(np.ceil(max(_text_width_px(name, SMALL_PT) for name in names.values()))) + 12
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
        axes.text(column * (block_w + label_px) + label_px - 5, row * block_h + block_h / 2, names[style],
                  ha="right", va="center", fontsize=SMALL_PT, linespacing=1.0)
    return figure


def _cell_text_colours(table: np.ndarray, image) -> np.ndarray:
    """Black or white per heatmap cell, whichever stands out on the cell's colour."""
    rgba = image.cmap(image.norm(table))
    luminance = 0.299 * rgba[..., 0] + 0.587 * rgba[..., 1] + 0.114 * rgba[..., 2]
    return np.where(luminance > 0.5, "black", "white")


def label_mappings(mappings: Mapping[str, Mapping[str, int]], styles: Sequence[str]) -> Figure:
    """Heatmap of the label given to each style (rows) by each run (columns): a
    stable mapping is the same column repeated; the original one is not. Cells hold
    the label index (8 pt, rows tall enough for it), with a colour bar.

    Args:
        mappings: run name -> {style: label index} (-1 drawn for a style a run lacks).
        styles: the rows, in order.
    """
    runs = list(mappings)
    table = np.array([[mappings[run].get(style, -1) for run in runs] for style in styles])
    figure = _figure(3.4 + 0.8 * len(runs), 0.24 * len(styles) + 1.6)
    axes = figure.add_subplot()
    image = axes.imshow(table, cmap="viridis", aspect="auto")
    axes.set_xticks(range(len(runs)), [wrap_label(run, 10) for run in runs], fontsize=SMALL_PT)
    axes.set_yticks(range(len(styles)), [_words(s) for s in styles], fontsize=SMALL_PT)
    colours = _cell_text_colours(table, image)
    for (row, column), value in np.ndenumerate(table):
        axes.text(column, row, str(value), ha="center", va="center", fontsize=SMALL_PT, color=colours[row, column])
    colour_bar = figure.colorbar(image, ax=axes, shrink=0.6, pad=0.02)
    colour_bar.set_label("label index", fontsize=LABEL_PT)
    colour_bar.ax.tick_params(labelsize=SMALL_PT)
    axes.set_title("label index given to each style, per run", fontsize=LABEL_PT)
    return figure


# --------------------------------------------------------------------------- class imbalance (Part 1) and the training panel


def epoch_loss_curve(records: Sequence, epochs: int | None = None, title: str | None = None) -> Figure:
    """Training loss per epoch from ``History.records`` (objects with ``.epoch`` and
    ``.train_loss``), the x axis fixed to ``epochs`` so a live curve does not jump."""
    figure = _figure(4.5, 2.6)
    axes = figure.add_subplot()
    epochs_done = [record.epoch for record in records]
    axes.plot(epochs_done, [record.train_loss for record in records], marker="o", color="#4c72b0")
    axes.set_xlim(0.5, max(epochs or 1, max(epochs_done, default=1)) + 0.5)
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(labelsize=SMALL_PT)
    axes.set_xlabel("epoch", fontsize=LABEL_PT)
    axes.set_ylabel("training loss", fontsize=LABEL_PT)
    axes.grid(alpha=0.3)
    if title:
        axes.set_title(textwrap.fill(title, 60), fontsize=LABEL_PT)
    return figure


def method_comparison(summary: Mapping[str, Mapping[str, Mapping[str, float]]],
                      baselines: Mapping[str, Mapping] | None = None,
                      metrics: Sequence[str] = ("accuracy", "balanced_accuracy", "macro_f1")) -> Figure:
    """Mean and 95% interval per method (``ComparisonResult.summary()``: {method:
    {metric: {"mean", "low", "high"}}} as fractions), one panel per metric, with the
    baselines ({"majority", "colour_statistics", ...} metrics) as vertical lines,
    named in a legend under the panels."""
    methods = list(summary)
    panels_height = 0.32 * len(methods) + 1.3
    figure = _figure(3.0 * len(metrics) + 0.6, panels_height)
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
                axes.axvline(100 * baselines[key][metric], color=colour, linestyle=style, linewidth=1.2, label=label)
        axes.set_yticks(positions, methods if slot == 0 else [""] * len(methods), fontsize=SMALL_PT)
        axes.tick_params(axis="x", labelsize=SMALL_PT)
        axes.invert_yaxis()
        axes.set_xlabel(f"{metric.replace('_', ' ')} (%)", fontsize=LABEL_PT)
        axes.grid(axis="x", alpha=0.3)
    figure.suptitle("test metrics: mean over seeds, 95% bootstrap interval over images and seeds", fontsize=LABEL_PT)
    handles, labels = figure.axes[0].get_legend_handles_labels()
    if handles:
        legend = figure.axes[0].legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0),
                                       bbox_transform=figure.transFigure, ncols=len(handles), fontsize=SMALL_PT,
                                       frameon=False, title="baselines (test)", title_fontsize=SMALL_PT)
        _legend_below(figure, legend, panels_height)
    return figure


def per_class_recall(recalls: Mapping[str, Mapping[str, float]], train_counts: Mapping[str, int],
                     title: str = "Recall per style (test set)") -> Figure:
    """Grouped horizontal bars of recall per style for a few models
    (name -> {style: recall in [0, 1]}), styles ordered from most to fewest training
    images, with the training count written beside each style; the models are named
    in a legend under the axes."""
    names = list(recalls)
    styles = sorted(train_counts, key=lambda s: (-train_counts[s], s))
    panels_height = 0.26 * len(styles) + 1.2
    figure = _figure(7.0, panels_height)
    axes = figure.add_subplot()
    positions = np.arange(len(styles))
    height = 0.8 / max(len(names), 1)
    colours = ["#4c72b0", "#dd8452", "#55a868", "#c44e52"]
    for slot, name in enumerate(names):
        axes.barh(positions - 0.4 + height * (slot + 0.5), [100 * recalls[name].get(s, 0.0) for s in styles],
                  height=height, color=colours[slot % len(colours)], label=name)
    axes.set_yticks(positions, [f"{_words(s)} ({train_counts[s]})" for s in styles], fontsize=SMALL_PT)
    axes.tick_params(axis="x", labelsize=SMALL_PT)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("recall (%)  ·  style (training images)", fontsize=LABEL_PT)
    axes.grid(axis="x", alpha=0.3)
    axes.set_title(textwrap.fill(title, 80), fontsize=LABEL_PT)
    if names:
        legend = axes.legend(loc="lower center", bbox_to_anchor=(0.5, 0), bbox_transform=figure.transFigure,
                             ncols=min(len(names), 2), fontsize=SMALL_PT, frameon=False)
        _legend_below(figure, legend, panels_height)
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
    """Training loss per epoch (left) and validation PSNR in dB per epoch (right), from
    ``History.records`` of ``fit(task="reconstruct")`` (``.val``, the validation split's
    metrics, with ``"psnr"``), with the resize baseline's validation PSNR at the same
    compression ratio (``baseline_psnr``, dB) as a dashed line; the legend sits under
    the panels."""
    panels_height = 2.7
    figure = _figure(8.0, panels_height)
    loss_axes, psnr_axes = figure.add_subplot(1, 2, 1), figure.add_subplot(1, 2, 2)
    epochs = [record.epoch for record in records]
    loss_axes.plot(epochs, [record.train_loss for record in records], marker="o", color="#4c72b0")
    loss_axes.set_yscale("log")
    loss_axes.set_xlabel("epoch", fontsize=LABEL_PT)
    loss_axes.set_ylabel("training loss (log)", fontsize=LABEL_PT)
    psnr = [record.val.get("psnr", np.nan) for record in records]
    psnr_axes.plot(epochs, psnr, marker="o", color="#55a868", label="autoencoder")
    if baseline_psnr is not None:
        psnr_axes.axhline(baseline_psnr, color="#c44e52", linestyle="--", linewidth=1.2,
                          label="resize baseline, same size")
    psnr_axes.set_xlabel("epoch", fontsize=LABEL_PT)
    psnr_axes.set_ylabel("validation PSNR\n(dB, higher is better)", fontsize=LABEL_PT)
    from matplotlib.ticker import MaxNLocator

    for axes in (loss_axes, psnr_axes):
        axes.grid(alpha=0.3)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.tick_params(labelsize=SMALL_PT, which="both")
    figure.suptitle(title, fontsize=LABEL_PT)
    legend = psnr_axes.legend(loc="lower center", bbox_to_anchor=(0.5, 0), bbox_transform=figure.transFigure,
                              ncols=2, fontsize=SMALL_PT, frameon=False)
    _legend_below(figure, legend, panels_height)
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
    # 0.85 in per picture at 100 dpi: 85 px, so a 64 px image is shown at least at its
    # own size (blur is the autoencoder's, not the figure's); style names wrapped at 8 pt.
    figure = _figure(blocks * (columns * 0.85 + 1.1), rows * 0.85 + 0.5)
    grid = figure.add_gridspec(rows, blocks * columns)
    for index in range(n):
        block, row = divmod(index, rows)
        for column, (name, images) in enumerate(panels.items()):
            axes = figure.add_subplot(grid[row, block * columns + column])
            axes.imshow(_as_image(images[index]), interpolation="nearest")
            axes.set_xticks([])
            axes.set_yticks([])
            if row == 0:
                axes.set_title(wrap_label(name, 12), fontsize=SMALL_PT)
            if column == 0:
                axes.set_ylabel(wrap_label(classes[int(labels[index])], 13), fontsize=SMALL_PT, rotation=0,
                                ha="right", va="center", linespacing=1.0)
    figure.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.0, hspace=0.0)
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
    figure = _figure(max(columns * 0.95, 3.0), rows * 1.1 + 0.45)
    slot = 1
    if image is not None:
        axes = figure.add_subplot(rows, columns, slot)
        axes.imshow(_as_image(image))
        axes.set_title("image", fontsize=SMALL_PT)
        axes.set_axis_off()
        slot += 1
    for channel in range(channels):
        axes = figure.add_subplot(rows, columns, slot)
        axes.imshow(latent[channel], cmap="coolwarm", interpolation="nearest")
        axes.set_title(f"ch {channel}", fontsize=SMALL_PT)
        axes.set_axis_off()
        slot += 1
    text = title or f"latent {tuple(latent.shape)}: {channels} of {len(latent)} channels"
    figure.suptitle(textwrap.fill(_words(text), max(30, int(columns * 0.95 * 72 / (0.55 * LABEL_PT)))),
                    fontsize=LABEL_PT)
    return figure


def _legend_columns(labels: Sequence[str], width_in: float, size_pt: float = SMALL_PT) -> int:
    """How many legend columns of ``labels`` fit in ``width_in`` inches (marker and gaps included)."""
    entry_in = max(_text_width_px(label, size_pt) for label in labels) / DPI + 0.45
    return int(max(1, min(len(labels), (width_in - 0.2) // entry_in)))


def embedding_2d(points, labels: Sequence[int], classes: Sequence[str], assignments: Sequence[int] | None = None,
                 title: str = "", point_size: float = 14) -> Figure:
    """Points in 2D (PCA or t-SNE) coloured *and* shaped by their true style, with a
    legend under the panels (8 pt, as many columns as fit); beside it the same points
    coloured by KMeans cluster (when ``assignments`` are given). Every point is drawn
    exactly once per panel.

    Args:
        points: (N, 2); labels: (N,) true styles; classes: style names;
        assignments: (N,) cluster of each point.
    """
    points = np.asarray(points, dtype=np.float64)
    labels = np.asarray(labels)
    panels = 1 if assignments is None else 2
    width = 4.8 * panels + 0.4
    panels_height = 4.6
    figure = _figure(width, panels_height)
    style_axes = figure.add_subplot(1, panels, 1)
    for label in np.unique(labels):
        chosen = labels == label
        colour, marker = style_look(int(label))
        style_axes.scatter(points[chosen, 0], points[chosen, 1], s=point_size, c=colour, marker=marker,
                           linewidths=0.3, edgecolors="black", alpha=0.8,
                           label=f"{_words(classes[int(label)])} ({int(chosen.sum())})")
    style_axes.set_title("true style (colour + marker)", fontsize=LABEL_PT)
    if assignments is not None:
        assignments = np.asarray(assignments)
        cluster_axes = figure.add_subplot(1, panels, 2)
        cluster_axes.scatter(points[:, 0], points[:, 1], s=point_size, c=assignments,
                             cmap="tab20" if assignments.max(initial=0) < 20 else "nipy_spectral",
                             linewidths=0.3, edgecolors="black", alpha=0.8)
        cluster_axes.set_title(f"KMeans cluster (k = {len(np.unique(assignments))})", fontsize=LABEL_PT)
    for axes in figure.axes:
        axes.set_xticks([])
        axes.set_yticks([])
    if title:
        figure.suptitle(title, fontsize=TITLE_PT)
    handles, names = style_axes.get_legend_handles_labels()
    if handles:
        legend = style_axes.legend(handles, names, loc="lower center", bbox_to_anchor=(0.5, 0),
                                   bbox_transform=figure.transFigure, fontsize=SMALL_PT, frameon=False,
                                   ncols=_legend_columns(names, width), handletextpad=0.2, columnspacing=1.0,
                                   markerscale=1.3, title="true style (images)", title_fontsize=SMALL_PT)
        _legend_below(figure, legend, panels_height)
    return figure


# Above this many classes a heatmap's cells are too small for 8 pt numbers: the colour bar reads them.
MAX_CLASSES_WITH_CELL_NUMBERS = 12


def contingency_heatmap(labels: Sequence[int], assignments: Sequence[int], classes: Sequence[str],
                        title: str = "") -> Figure:
    """Clusters (rows) x styles (columns): how many images of each style fell in each
    cluster, with a colour bar. Each cluster row is ordered by its main style, so a style
    that clusters shows up as a bright diagonal cell; counts are written in the cells
    (8 pt) when there are at most ``MAX_CLASSES_WITH_CELL_NUMBERS`` styles and clusters."""
    labels = np.asarray(labels, dtype=np.int64)
    assignments = np.asarray(assignments, dtype=np.int64)
    clusters = np.unique(assignments)
    table = np.array([[np.sum((assignments == c) & (labels == s)) for s in range(len(classes))] for c in clusters])
    # Order clusters by the style they hold most of: the diagonal is then easy to read.
    order = np.lexsort((-table.max(axis=1), table.argmax(axis=1)))
    table, clusters = table[order], clusters[order]
    numbers = max(len(classes), len(clusters)) <= MAX_CLASSES_WITH_CELL_NUMBERS
    figure = _figure(min(0.3 * len(classes) + 2.8, 10.5), 0.24 * len(clusters) + 2.8)
    axes = figure.add_subplot()
    image = axes.imshow(table, cmap="Blues", aspect="auto")
    axes.set_xticks(range(len(classes)), [_words(c) for c in classes], fontsize=SMALL_PT, rotation=90)
    axes.set_yticks(range(len(clusters)), [str(c) for c in clusters], fontsize=SMALL_PT)
    axes.set_xlabel("true style", fontsize=LABEL_PT)
    axes.set_ylabel("cluster", fontsize=LABEL_PT)
    if numbers:
        colours = _cell_text_colours(table, image)
        for (row, column), value in np.ndenumerate(table):
            if value:
                axes.text(column, row, str(value), ha="center", va="center", fontsize=SMALL_PT,
                          color=colours[row, column])
    colour_bar = figure.colorbar(image, ax=axes, shrink=0.8, pad=0.02)
    from matplotlib.ticker import MaxNLocator

    colour_bar.locator = MaxNLocator(integer=True)
    colour_bar.update_ticks()
    colour_bar.set_label("images", fontsize=LABEL_PT)
    colour_bar.ax.tick_params(labelsize=SMALL_PT)
    axes.set_title(textwrap.fill(title or "images per cluster and style", 90), fontsize=LABEL_PT)
    return figure


def cluster_scores(results: Mapping[str, Mapping[str, float]],
                   metrics: Sequence[str] = ("nmi", "ari", "homogeneity", "completeness", "purity")) -> Figure:
    """Grouped bars: one group per clustering metric, one bar per representation
    (``results``: name -> {metric: score}), the legend right of the axes."""
    names = list(results)
    figure = _figure(7.5, 2.8)
    axes = figure.add_subplot()
    width = 0.8 / max(len(names), 1)
    positions = np.arange(len(metrics))
    colours = ["#8c8c8c", "#4c72b0", "#55a868", "#dd8452", "#c44e52"]
    for slot, name in enumerate(names):
        axes.bar(positions - 0.4 + width * (slot + 0.5), [results[name][m] for m in metrics], width=width,
                 color=colours[slot % len(colours)], label=name)
    axes.set_xticks(positions, [m.upper() if len(m) <= 3 else m for m in metrics], fontsize=SMALL_PT)
    axes.tick_params(axis="y", labelsize=SMALL_PT)
    axes.set_ylim(min(0.0, min(results[n][m] for n in names for m in metrics)), 1.0)
    axes.set_ylabel("score\n(1 = clusters are the styles)", fontsize=LABEL_PT)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=SMALL_PT, frameon=False)
    return figure


def loss_curves(runs: Mapping[str, Sequence], title: str | None = "Training loss per epoch") -> Figure:
    """Training loss per epoch of several runs on one axes: ``runs`` maps a run's name
    to its ``History.records`` (objects with ``.epoch`` and ``.train_loss``). The y axis
    is logarithmic so that runs with different loss scales stay readable; the legend is
    right of the axes."""
    figure = _figure(7.0, 2.8)
    axes = figure.add_subplot()
    for name, records in runs.items():
        axes.plot([r.epoch for r in records], [r.train_loss for r in records], marker="o", markersize=3,
                  label=name)
    axes.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(labelsize=SMALL_PT, which="both")
    axes.set_xlabel("epoch", fontsize=LABEL_PT)
    axes.set_ylabel("training loss (log scale)", fontsize=LABEL_PT)
    axes.grid(alpha=0.3, which="both")
    if runs:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=SMALL_PT, frameon=False)
    if title:
        axes.set_title(title, fontsize=LABEL_PT)
    return figure


def style_grid(grid: Mapping, classes: Sequence[str]) -> Figure:
    """Part 3's grid, from ``part3_generator.example_grid_images``: for each content image,
    one row per painter ("cin", "colour transfer"): the original, its reconstruction under
    its own style, then the same image in each target style (column titles). Style names
    are wrapped at 8 pt, never cut; each row of paintings is named by its painter.

    grid: {"originals": (R, 3, S, S), "own": (R, 3, S, S), "painted": {name: (R, T, 3, S, S)},
    "row_styles": [R], "target_styles": [T]}, floats in [0, 1]."""
    painters = list(grid["painted"])
    targets = list(grid["target_styles"])
    n_rows = len(grid["originals"]) * len(painters)
    columns = 2 + len(targets)
    figure = _figure(columns * 0.95 + 1.6, n_rows * 0.95 + 0.7)
    layout = figure.add_gridspec(n_rows, columns)
    titles = ["original", "own style\n(cin)", *[wrap_label(classes[int(t)], 11) for t in targets]]
    for image_index, content_style in enumerate(grid["row_styles"]):
        for painter_index, painter in enumerate(painters):
            row = image_index * len(painters) + painter_index
            panels = [grid["originals"][image_index] if painter_index == 0 else None,
                      grid["own"][image_index] if painter == "cin" else None,
                      *grid["painted"][painter][image_index]]
            for column, (panel, title) in enumerate(zip(panels, titles)):
                axes = figure.add_subplot(layout[row, column])
                axes.set_xticks([])
                axes.set_yticks([])
                if panel is None:
                    axes.axis("off")
                else:
                    axes.imshow(_as_image(panel), interpolation="nearest")
                if row == 0:
                    axes.set_title(title, fontsize=SMALL_PT, linespacing=1.0)
                if column == 0 and panel is not None:
                    axes.set_ylabel(wrap_label(classes[int(content_style)], 13), fontsize=SMALL_PT, rotation=0,
                                    ha="right", va="center", linespacing=1.0)
                if column == 2:
                    axes.set_ylabel(wrap_label(painter, 9), fontsize=SMALL_PT, linespacing=1.0)
    figure.get_layout_engine().set(w_pad=0.01, h_pad=0.01, wspace=0.0, hspace=0.0)
    return figure


def image_strip(images, titles: Sequence[str], title: str | None = None) -> Figure:
    """A row of pictures with a caption each (8 pt, wrapped at spaces and underscores):
    images (N, 3, S, S) floats in [0, 1] or uint8 (an interpolation between two styles,
    one photograph in several styles)."""
    images = list(images)
    panel = 1.1
    width = max(len(images) * panel + 0.2, 2.6)
    # characters of 8 pt text a panel's width holds (about 0.6 em each)
    captions = [wrap_label(caption, int((width - 0.2) / max(len(images), 1) * 72 / (0.6 * SMALL_PT)))
                for caption in titles]
    lines = max([caption.count("\n") + 1 for caption in captions], default=1)
    heading = textwrap.fill(_words(title), max(30, int(width * 72 / (0.55 * LABEL_PT)))) if title else None
    height = panel + 0.25 + 0.16 * lines + (0.18 * (heading.count("\n") + 1) + 0.05 if heading else 0)
    figure = _figure(width, height)
    for index, (image, caption) in enumerate(zip(images, captions)):
        axes = figure.add_subplot(1, len(images), index + 1)
        axes.imshow(_as_image(image), interpolation="nearest")
        axes.set_xticks([])
        axes.set_yticks([])
        axes.set_title(caption, fontsize=SMALL_PT, linespacing=1.0)
    if heading:
        figure.suptitle(heading, fontsize=LABEL_PT)
    return figure


def generator_curves(histories: Mapping[str, object]) -> Figure:
    """Part 3's training curves: per generator (name -> ``engine.History``), the training
    reconstruction loss (pixel MSE) and style loss (the loss network's feature statistics)
    per epoch (left), and the validation objective that picks best.pt, reconstruction +
    style_weight x style on fixed mismatched pairs (right); both on log axes, each with
    its legend right of it."""
    figure = _figure(10.0, 3.0)
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
    parts_axes.set_ylabel("training loss per image\n(reconstruction MSE, style loss)", fontsize=LABEL_PT)
    validation_axes.set_ylabel("validation objective\n(reconstruction + weight × style)", fontsize=LABEL_PT)
    from matplotlib.ticker import MaxNLocator

    for axes, title in ((parts_axes, "training losses"), (validation_axes, "validation objective (picks best.pt)")):
        axes.set_yscale("log")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.tick_params(labelsize=SMALL_PT, which="both")
        axes.set_xlabel("epoch", fontsize=LABEL_PT)
        axes.set_title(title, fontsize=LABEL_PT)
        axes.grid(alpha=0.3, which="both")
        if histories:
            axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=SMALL_PT, frameon=False)
    return figure


# --------------------------------------------------------------------------- hyperparameter search (search.py)


def study_history(study, metric: str = "balanced accuracy") -> Figure:
    """An Optuna study's optimisation history: each trial's validation score (completed
    trials as dots; pruned ones as crosses at their last reported epoch) and the best
    score so far as a step line, in percent, trials in order; the legend right of the axes."""
    import optuna

    figure = _figure(7.5, 2.8)
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
        axes.scatter(*zip(*pruned), color="#8c8c8c", marker="x", s=18, zorder=3,
                     label="pruned\n(last epoch reported)")
    if best_line:
        axes.step(*zip(*best_line), where="post", color="#c44e52", linewidth=1.2, label="best so far")
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.tick_params(labelsize=SMALL_PT)
    axes.set_xlabel("trial", fontsize=LABEL_PT)
    axes.set_ylabel(f"validation {metric} (%)", fontsize=LABEL_PT)
    axes.grid(alpha=0.3)
    if done or pruned:
        axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=SMALL_PT, frameon=False)
    axes.set_title(f"optimisation history of study {study.study_name!r} ({len(study.trials)} trials)",
                   fontsize=LABEL_PT)
    return figure


def study_importances(importances: Mapping[str, float] | None, note: str = "") -> Figure:
    """Parameter importances ({param: importance, summing to 1}, Optuna's default
    evaluator as run by ``search.param_importances``) as horizontal bars, largest first; with None,
    a figure that says why they could not be computed (``note``)."""
    figure = _figure(5.5, 0.35 * len(importances or {}) + 1.3 if importances else 1.4)
    axes = figure.add_subplot()
    if not importances:
        axes.axis("off")
        why = textwrap.fill(note or "no completed trials", 70)
        axes.text(0.5, 0.5, f"parameter importances not computed:\n{why}", ha="center", va="center",
                  fontsize=SMALL_PT, transform=axes.transAxes)
        return figure
    names = sorted(importances, key=lambda name: -importances[name])
    positions = np.arange(len(names))
    axes.barh(positions, [100 * importances[name] for name in names], color="#4c72b0", height=0.6)
    axes.set_yticks(positions, names, fontsize=SMALL_PT)
    axes.tick_params(axis="x", labelsize=SMALL_PT)
    axes.invert_yaxis()
    axes.set_xlabel("importance (%, the parameters' shares sum to 100)", fontsize=LABEL_PT)
    axes.grid(axis="x", alpha=0.3)
    axes.set_title("parameter importances (Optuna, completed trials)", fontsize=LABEL_PT)
    return figure
