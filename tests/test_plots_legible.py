"""Every figure the notebooks make is readable at the size it is shown (issue #21):
drawn at 100 dpi or more, no text under 8 pt, no overlapping or cut texts, legends off
the data. Each public plotting function of ``plots`` is called with inputs shaped like
the notebooks' (the 27 real WikiArt style names, long ones included), and the check
that fails an nbval cell on an illegible figure is shown to work through a kernel."""
import inspect
import io
import textwrap

import numpy as np
import pytest
from matplotlib.figure import Figure
from PIL import Image

from wikiart_core import plots
from wikiart_core.engine import EpochRecord, History
from wikiart_core.wikiart_facts import TRAIN_COUNTS

STYLES = sorted(TRAIN_COUNTS)  # label order: sorted folder names, as WikiArtDataset gives them
RNG_SEED = 0
# A notebook column shows a picture at its own size up to about this width (wider ones shrink, and their text with them).
MAX_WIDTH_PX = 1100
MAX_CHART_PNG_BYTES = 150_000


def records(epochs: int = 5, **val) -> list[EpochRecord]:
    return [EpochRecord(epoch=e, train_loss=1.0 / e, val={key: value + e for key, value in val.items()},
                        parts={"reconstruction": 0.05 / e, "style": 0.3 / e}) for e in range(1, epochs + 1)]


def images(n: int, side: int = 64, dtype=np.uint8, seed: int = RNG_SEED) -> np.ndarray:
    rng = np.random.default_rng(seed)
    values = rng.random((n, 3, side, side))
    return (values * 255).astype(np.uint8) if dtype == np.uint8 else values.astype(np.float32)


def summary_of(methods) -> dict:
    rng = np.random.default_rng(RNG_SEED)
    summary = {}
    for method in methods:
        summary[method] = {}
        for metric in ("accuracy", "balanced_accuracy", "macro_f1"):
            mean = rng.uniform(0.2, 0.5)
            summary[method][metric] = {"mean": mean, "low": mean - 0.04, "high": mean + 0.05}
    return summary


def study(n_trials: int = 8):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    result = optuna.create_study(study_name="part1_imbalance", direction="maximize",
                                 sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial):
        value = trial.suggest_float("lr", 1e-3, 3e-2, log=True)
        trial.report(value * 10, step=1)
        if trial.number % 3 == 2:
            raise optuna.TrialPruned()
        return value * 10 + trial.suggest_float("weight_power", 0.0, 1.0) / 10

    result.optimize(objective, n_trials=n_trials)
    return result


def figure_makers() -> dict:
    """name -> a function making one figure, as the notebooks and widgets call them."""
    rng = np.random.default_rng(RNG_SEED)
    n_styles = len(STYLES)
    test_counts = {style: max(1, count // 20) for style, count in TRAIN_COUNTS.items()}
    mapping = {style: index for index, style in enumerate(STYLES)}
    shuffled = {style: int(index) for style, index in zip(STYLES, rng.permutation(n_styles))}
    runs = {**{f"original, run {seed}": shuffled for seed in (1, 2, 3)},
            **{f"fixed, run {seed}": mapping for seed in (1, 2, 3)}}
    labels = np.repeat(np.arange(n_styles), 6)
    points = rng.normal(size=(len(labels), 2)) + labels[:, None] * 0.1
    assignments = rng.integers(0, n_styles, len(labels))
    methods = ("none", "class_weights", "effective_number", "balanced_sampler", "logit_adjust")
    baselines = {"majority": {"accuracy": 0.17, "balanced_accuracy": 0.037, "macro_f1": 0.011},
                 "colour_statistics": {"accuracy": 0.31, "balanced_accuracy": 0.36, "macro_f1": 0.25},
                 "stratified": {"accuracy": 0.07, "balanced_accuracy": 0.04, "macro_f1": 0.04}}
    recall = {"none (unweighted)": {style: rng.random() for style in STYLES},
              "effective_number (best validation balanced accuracy)": {style: rng.random() for style in STYLES}}
    metric_names = ("nmi", "ari", "homogeneity", "completeness", "purity")
    clusterings = {name: {metric: rng.uniform(0.0, 0.6) for metric in metric_names}
                   for name in ("pixels", "colour statistics", "autoencoder", "StyleCNN")}
    targets = [STYLES.index(name) for name in ("Impressionism", "Cubism", "Pop_Art", "Ukiyo_e",
                                               "Color_Field_Painting", "Baroque")]
    rows = [STYLES.index(name) for name in ("Abstract_Expressionism", "Mannerism_Late_Renaissance",
                                            "Naive_Art_Primitivism", "Action_painting")]
    grid = {"originals": images(4, 32, np.float32), "own": images(4, 32, np.float32, seed=1),
            "painted": {"cin": images(4 * 6, 32, np.float32).reshape(4, 6, 3, 32, 32),
                        "colour transfer": images(4 * 6, 32, np.float32, seed=2).reshape(4, 6, 3, 32, 32)},
            "row_styles": rows, "target_styles": targets}
    histories = {name: History(records=records(4, objective=0.5, psnr=18.0)) for name in ("concat", "cin")}
    return {
        "class_counts (01, train and test)": lambda: plots.class_counts(TRAIN_COUNTS, test_counts=test_counts),
        "class_counts (02)": lambda: plots.class_counts(TRAIN_COUNTS),
        "sample_grid (01)": lambda: plots.sample_grid(images(4 * n_styles, 32), np.repeat(np.arange(n_styles), 4),
                                                      STYLES, per_style=4),
        "label_mappings (01)": lambda: plots.label_mappings(runs, STYLES),
        "loss_curves (01)": lambda: plots.loss_curves({"SeedCNN": records(), "SeedCNN avgpool+sigmoid": records(),
                                                       "StyleCNN": records()}),
        "loss_curves (01, smoke: one epoch)": lambda: plots.loss_curves({"SeedCNN": records(1),
                                                                        "StyleCNN": records(1)}),
        "epoch_loss_curve (training panel)": lambda: plots.epoch_loss_curve(records(3), epochs=10,
                                                                            title="stylecnn, lr 0.01, 10 epochs"),
        "method_comparison (02)": lambda: plots.method_comparison(summary_of(methods), baselines),
        "per_class_recall (02)": lambda: plots.per_class_recall(
            recall, TRAIN_COUNTS, title="Recall per style, mean over 5 seeds (test set)"),
        "study_history (02)": lambda: plots.study_history(study()),
        "study_importances (02)": lambda: plots.study_importances({"lr": 0.7, "weight_power": 0.3}),
        "study_importances (02, none)": lambda: plots.study_importances(
            None, "Optuna needs at least two completed trials with different values"),
        "reconstruction_curves (03)": lambda: plots.reconstruction_curves(
            records(5, psnr=17.0), 19.5, title="autoencoder, compression ratio 16 (validation)"),
        "reconstruction_grid (03)": lambda: plots.reconstruction_grid(
            images(n_styles), {"autoencoder": images(n_styles, dtype=np.float32),
                               "resize baseline": images(n_styles, dtype=np.float32, seed=1)},
            np.arange(n_styles), STYLES),
        "latent_channels (03)": lambda: plots.latent_channels(rng.normal(size=(3, 16, 16)), images(1)[0],
                                                              title="Abstract_Expressionism: latent (3, 16, 16)"),
        "latent_channels (03, many channels)": lambda: plots.latent_channels(rng.normal(size=(12, 8, 8)),
                                                                             images(1)[0]),
        "cluster_scores (03)": lambda: plots.cluster_scores(clusterings),
        "embedding_2d (03, PCA with clusters)": lambda: plots.embedding_2d(points, labels, STYLES, assignments,
                                                                           title="autoencoder latents, PCA"),
        "embedding_2d (styles only)": lambda: plots.embedding_2d(points, labels, STYLES),
        "contingency_heatmap (03)": lambda: plots.contingency_heatmap(
            labels, assignments, STYLES, title="autoencoder latents: images per cluster (rows) and style (columns)"),
        "contingency_heatmap (few classes)": lambda: plots.contingency_heatmap(
            labels % 5, assignments % 4, STYLES[:5]),
        "generator_curves (04)": lambda: plots.generator_curves(histories),
        "generator_curves (04, smoke: one epoch)": lambda: plots.generator_curves(
            {name: History(records=records(1, objective=0.5)) for name in ("concat", "cin")}),
        "style_grid (04)": lambda: plots.style_grid(grid, STYLES),
        "image_strip (04, interpolation)": lambda: plots.image_strip(
            images(7, 32, np.float32), [f"{w:.2f}" for w in np.linspace(0, 1, 7)],
            title="Impressionism → Color_Field_Painting (mixing weight)"),
        "image_strip (04, photo)": lambda: plots.image_strip(
            images(7, 32, np.float32), ["photo", *[STYLES[t] for t in targets]]),
        "image_strip (style painter)": lambda: plots.image_strip(
            images(2, 32, np.float32), ["content", "Mannerism Late Renaissance + 0.50 Color Field Painting"]),
    }


@pytest.fixture(scope="module")
def makers():
    return figure_makers()


def test_every_public_plotting_function_is_checked(makers):
    public = {name for name, function in inspect.getmembers(plots, inspect.isfunction)
              if not name.startswith("_") and function.__module__ == plots.__name__
              and inspect.signature(function).return_annotation in (Figure, "Figure")}
    covered = {name.split(" ")[0] for name in makers}
    assert public - covered == set(), f"plotting functions without a legibility test: {sorted(public - covered)}"


@pytest.mark.parametrize("name", list(figure_makers()))
def test_figure_is_legible(makers, name):
    figure = makers[name]()
    assert figure.dpi >= 100
    assert plots.legibility_problems(figure) == []
    png = plots._render(figure, "jpeg" if plots._is_picture(figure) else "png")
    with Image.open(io.BytesIO(png)) as shown:
        assert shown.width <= MAX_WIDTH_PX, f"{shown.width} px wide: a notebook column would shrink it"
    if not plots._is_picture(figure):
        assert len(png) < MAX_CHART_PNG_BYTES, f"{len(png) / 1e3:.0f} kB"


def test_wrap_label_breaks_at_spaces_and_underscores_and_never_cuts():
    assert plots.wrap_label("Abstract_Expressionism") == "Abstract\nExpressionism"
    assert plots.wrap_label("Mannerism_Late_Renaissance", 14) == "Mannerism Late\nRenaissance"
    for style in STYLES:
        assert plots.wrap_label(style, 8).replace("\n", " ") == style.replace("_", " ")


def bad_figure() -> Figure:
    figure = Figure(figsize=(3, 2), dpi=72)
    axes = figure.add_subplot()
    axes.plot([1, 2, 3], [1, 2, 3], label="data")
    axes.set_title("tiny", fontsize=5)
    axes.tick_params(labelsize=5)
    axes.legend(loc="center", fontsize=8)
    return figure


def test_an_illegible_figure_is_reported():
    problems = plots.legibility_problems(bad_figure())
    assert any("72 dpi" in problem for problem in problems)
    assert any("'tiny' is 5 pt" in problem for problem in problems)
    assert any("covers data" in problem for problem in problems)
    with pytest.raises(plots.IllegibleFigureError, match="'tiny' is hard to read"):
        plots.check_legible(bad_figure())


def test_overlapping_and_cut_texts_are_reported():
    figure = Figure(figsize=(4, 3), dpi=100)
    axes = figure.add_subplot()
    axes.set_xlim(0, 4)
    axes.set_xticks(range(5), [f"a long tick label {i}" for i in range(5)], fontsize=9)
    axes.text(3.5, 0.5, "a note that runs off the figure's right edge", fontsize=9)
    problems = plots.legibility_problems(figure)
    assert any("overlap" in problem for problem in problems)
    assert any("cut by the figure's edge" in problem for problem in problems)


def test_the_notebook_pictures_stay_jpeg_and_charts_png(makers):
    assert plots._is_picture(makers["style_grid (04)"]())
    assert plots._is_picture(makers["sample_grid (01)"]())
    assert not plots._is_picture(makers["contingency_heatmap (03)"]())


# --------------------------------------------------------------------------- enforcement in a kernel

CELL_SETUP = "from wikiart_core import plots\nfrom matplotlib.figure import Figure\n"

ILLEGIBLE_CELL = textwrap.dedent("""\
    figure = Figure(figsize=(3, 2), dpi=72)
    axes = figure.add_subplot()
    axes.plot([1, 2, 3], [1, 3, 2])
    axes.set_title("too small", fontsize=5)
    figure
    """)

LEGIBLE_CELL = "plots.loss_curves({'run': [type('R', (), {'epoch': 1, 'train_loss': 1.0})()]})\n"

DISPLAYED_CELL = "from IPython.display import display\ndisplay(" + LEGIBLE_CELL.strip() + ")\n" + \
    ILLEGIBLE_CELL.replace("figure\n", "display(figure)\n")

# What a widget callback does with a figure it cannot show: it catches the error and carries on.
SWALLOWED_CELL = ILLEGIBLE_CELL.replace("figure\n", textwrap.dedent("""\
    try:
        get_ipython().display_formatter.format(figure)
    except Exception as error:
        print("caught:", type(error).__name__)
    """))


def notebook_of(*cells: str):
    import nbformat

    return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CELL_SETUP),
                                           *[nbformat.v4.new_code_cell(cell) for cell in cells]])


def kernel_environment(check: str | None) -> dict:
    import os

    environment = dict(os.environ)
    environment.pop(plots.CHECK_ENVIRONMENT_VARIABLE, None)
    if check is not None:
        environment[plots.CHECK_ENVIRONMENT_VARIABLE] = check
    return environment


def run_notebook(*cells: str, check: str | None = "1"):
    """Execute a notebook of ``cells`` in a fresh kernel through nbclient (as ``make
    report`` does), ``$WIKIART_CHECK_FIGURES`` set to ``check``; the executed notebook."""
    from nbclient import NotebookClient

    notebook = notebook_of(*cells)
    NotebookClient(notebook, timeout=120, kernel_name="python3").execute(env=kernel_environment(check))
    return notebook


def test_an_illegible_figure_fails_its_cell_in_a_kernel():
    from nbclient.exceptions import CellExecutionError

    with pytest.raises(CellExecutionError, match="IllegibleFigureError") as raised:
        run_notebook(ILLEGIBLE_CELL)
    assert "'too small' is hard to read" in str(raised.value) and "72 dpi" in str(raised.value)
    with pytest.raises(CellExecutionError, match="IllegibleFigureError"):
        run_notebook(DISPLAYED_CELL)  # display(...) fails too, after showing the legible figure
    # caught on the way, as a widget does: the cell still ends with the error as an output
    swallowed = run_notebook(SWALLOWED_CELL).cells[-1].outputs
    assert [output.get("ename") for output in swallowed if output["output_type"] == "error"] == \
        ["IllegibleFigureError"]


def test_a_legible_figure_passes_in_a_kernel_and_checks_can_be_off():
    notebook = run_notebook(LEGIBLE_CELL)
    shown = notebook.cells[-1].outputs
    assert [output["output_type"] for output in shown] == ["execute_result"]
    assert "image/png" in shown[0]["data"]
    unchecked = run_notebook(ILLEGIBLE_CELL, check=None)  # without the variable a person's kernel just shows it
    assert "image/png" in unchecked.cells[-1].outputs[0]["data"]


def test_nbval_fails_a_notebook_with_an_illegible_figure(tmp_path):
    """The way ``make test`` runs the notebooks: pytest --nbval-lax --nbval-current-env."""
    import subprocess
    import sys

    import nbformat

    for name, cell in {"legible": LEGIBLE_CELL, "illegible": ILLEGIBLE_CELL, "displayed": DISPLAYED_CELL,
                       "swallowed": SWALLOWED_CELL}.items():
        nbformat.write(notebook_of(cell), tmp_path / f"{name}.ipynb")
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-p",
                          "no:cacheprovider", "-rA", "--color=no", "legible.ipynb", "illegible.ipynb",
                          "displayed.ipynb", "swallowed.ipynb"], cwd=tmp_path, env=kernel_environment("1"),
                         capture_output=True, text=True, timeout=300)
    # the summary's lines: "PASSED legible.ipynb::Cell 1", "FAILED illegible.ipynb::Cell 1 - ..."
    verdicts = {line.split()[1].split("::")[0]: line.split()[0] for line in run.stdout.splitlines()
                if line.startswith(("PASSED ", "FAILED ")) and "::Cell 1" in line}
    assert verdicts == {"legible.ipynb": "PASSED", "illegible.ipynb": "FAILED", "displayed.ipynb": "FAILED",
                        "swallowed.ipynb": "FAILED"}, run.stdout[-3000:]
    assert "IllegibleFigureError" in run.stdout
