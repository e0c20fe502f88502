"""Widget panels for the notebooks: thin views over the package.

The training panel: pick the hyperparameters, press Train, watch the loss curve, read
the *validation* scores next to the baselines. It builds an ``experiment.RunSpec`` and
calls ``experiment.run`` without scoring the test split: tuning by hand with live
test scores would be choosing on test.

    panel = widgets.training_panel(splits, RunSpec(model="stylecnn", epochs=3))
    display(panel.widget)
    panel.train()          # what the Train button does; run headless, it trains the spec it started from
    panel.last_result      # the RunResult, for the next cell

The panel starts from a ``RunSpec`` and returns one (``panel.spec()``): the controls
change its model, learning rate, batch size, epochs, imbalance method and seed, and every
other field stays as given. Invalid values are refused with the message of
``RunSpec.problems`` (the same check the command line and ``engine.fit`` make), plus a
batch size larger than the training set, and nothing is trained. Another image size re-decodes the same files (same styles, same splits) at
that size, once per size (``Splits.at_size``).
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import ipywidgets as ipw
from IPython.display import display

from wikiart_core import evaluate, experiment, imbalance, plots

MODEL_CHOICES = ("stylecnn", "seedcnn")
IMAGE_SIZES = (32, 48, 64, 96, 128, 224, 416)


def _show_in(output: ipw.Output, items) -> None:
    """Make ``output`` show ``items`` (figures or other displayable objects; a str is
    shown as printed text), replacing what it showed, by setting its ``outputs`` once.

    Why not ``output.clear_output(wait=True)`` and ``with output: display(...)``: run
    under nbclient (``nbconvert --execute``, papermill), every output captured by ``with
    output`` is handed to nbclient's stand-in for the Output widget, which sends the new
    state back to the kernel on the *shell* channel (``OutputWidget.output`` ->
    ``sync_state`` -> ``shell_channel.send`` in nbclient/output_widget.py) while the same
    client waits for the cell's execute_reply on that socket (``_async_poll_for_reply``).
    ``Session.send`` writes through a plain shadow of the asyncio socket, so when the
    reply has just come in, libzmq's send consumes the socket's edge-triggered wake-up
    and pyzmq's pending poll never hears of the reply: the cell waits out its whole
    timeout and only then finds the reply (jupyter/nbclient#312; notebook 03's explorer
    cell, whose captured figure and table come right before the reply). Setting
    ``outputs`` from the kernel is one comm update on IOPub, which nbclient records in
    the widget state and never answers, so nothing is sent on the shell channel."""
    import base64

    from IPython import get_ipython

    shell = get_ipython()
    outputs = []
    for item in items:
        if isinstance(item, str):
            outputs.append({"output_type": "stream", "name": "stdout",
                            "text": item if item.endswith("\n") else item + "\n"})
            continue
        if shell is not None:
            data, metadata = shell.display_formatter.format(item)
        else:  # headless (tests, scripts): nothing renders it, a text stand-in is enough
            data, metadata = {"text/plain": repr(item)}, {}
        # the widget state is JSON: binary formats (a PNG as bytes) go in as base64 text
        data = {kind: base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value
                for kind, value in data.items()}
        outputs.append({"output_type": "display_data", "data": data, "metadata": metadata})
    output.outputs = tuple(outputs)


@dataclass
class TrainingPanel:
    """The controls, the Train button, a message line and an Output, plus the last result.

    Attributes:
        widget: the VBox to display.
        model, image_size, learning_rate, batch_size, epochs, imbalance_method, seed:
            the ipywidgets controls (set ``.value`` to change them from code).
        train_button, message, output: the button, the one-line status/refusal
            message (``message.value``) and the Output holding the curve and table.
        last_result: the ``experiment.RunResult`` of the last training (validation
            scores and baselines; the test split is not scored by the panel).
        last_error: the traceback of a failed training (None when it worked).
        last_outputs: the last curve (Figure) and table (str), for :func:`static_copy`.
    """

    splits: Any
    base_spec: experiment.RunSpec
    other_model_args: dict[str, dict]
    cache_dir: Any
    run_fn: Callable
    model: ipw.Dropdown
    image_size: ipw.Dropdown
    learning_rate: ipw.FloatText
    batch_size: ipw.IntText
    epochs: ipw.IntText
    imbalance_method: ipw.Dropdown
    seed: ipw.IntText
    train_button: ipw.Button
    message: ipw.HTML
    output: ipw.Output
    widget: ipw.VBox
    last_result: Any = None
    last_error: str | None = None
    last_outputs: list = field(default_factory=list)
    _splits_by_size: dict[int, Any] = field(default_factory=dict)

    def settings(self) -> dict[str, Any]:
        """The current control values."""
        return {"model": self.model.value, "image_size": int(self.image_size.value),
                "lr": float(self.learning_rate.value), "batch_size": int(self.batch_size.value),
                "epochs": int(self.epochs.value), "imbalance": self.imbalance_method.value,
                "seed": int(self.seed.value)}

    def problems(self) -> list[str]:
        """Why the current values cannot be trained (empty: they can): ``RunSpec.problems``
        of :meth:`spec`, and a batch larger than the training set."""
        spec = self.spec()
        found = spec.problems()
        if spec.batch_size > len(self.splits.train):
            found.append(f"batch size {spec.batch_size} is larger than the training set "
                         f"({len(self.splits.train)} images)")
        return found

    def spec(self) -> experiment.RunSpec:
        """The run the current controls describe: the panel's starting spec with the
        controls' values (a model other than the spec's gets ``other_model_args``)."""
        chosen = self.settings()
        same_model = chosen["model"] == self.base_spec.model.lower()
        model_args = self.base_spec.model_args if same_model else self.other_model_args.get(chosen["model"], {})
        return self.base_spec.replace(
            name=f"{chosen['model']} ({chosen['imbalance']}, {chosen['epochs']} epochs, seed {chosen['seed']})",
            model=chosen["model"], model_args=dict(model_args), imbalance=chosen["imbalance"],
            epochs=chosen["epochs"], lr=chosen["lr"], batch_size=chosen["batch_size"], seed=chosen["seed"])

    def splits_at(self, image_size: int):
        """The panel's splits at ``image_size`` (decoded once per size)."""
        if image_size not in self._splits_by_size:
            if image_size != self.splits.image_size:
                self.message.value = f"Decoding the images at {image_size} px (once per size)…"
            self._splits_by_size[image_size] = self.splits.at_size(image_size, self.cache_dir)
        return self._splits_by_size[image_size]

    def train(self) -> None:
        """Validate the values, train through ``experiment.run`` (redrawing the loss curve
        after each epoch), then show the validation scores next to the baselines."""
        found = self.problems()
        if found:
            self.message.value = "<b>Not trained:</b> " + "; ".join(found) + "."
            return
        self.train_button.disabled = True
        self.last_error = None
        try:
            self._train()  # its curve and table go to the panel through _show_in, not `with self.output:`
        except Exception as error:  # shown in the panel: callbacks outside a kernel swallow exceptions
            self.last_error = "".join(traceback.format_exception(error))
            self.message.value = f"<b>Training failed:</b> {type(error).__name__}: {error}"
            _show_in(self.output, [self.last_error])
        finally:
            self.train_button.disabled = False

    def _on_click(self, _button) -> None:
        self.train()

    def _train(self) -> None:
        spec = self.spec()
        splits = self.splits_at(int(self.image_size.value))
        records: list[Any] = []
        self.last_outputs = []

        def on_epoch_end(record) -> None:
            records.append(record)
            figure = plots.epoch_loss_curve(records, epochs=spec.epochs, title=spec.name)
            self.last_outputs = [figure]
            _show_in(self.output, [figure])
            self.message.value = (f"Training… epoch {record.epoch}/{spec.epochs}, validation balanced accuracy "
                                  f"{record.val.get('balanced_accuracy', float('nan')):.1%}")

        self.message.value = f"Training {spec.name}…"
        result = self.run_fn(spec, splits, score_test_split=False, on_epoch_end=on_epoch_end)
        self.last_result = result
        table = evaluate.results_table(experiment.results_rows([result]),
                                       {"validation": result.baselines.get("validation", {})})
        self.last_outputs = [*self.last_outputs[:1], table]
        _show_in(self.output, self.last_outputs)
        self.message.value = (f"Done: validation accuracy {result.validation['accuracy']:.1%}, balanced accuracy "
                              f"{result.validation['balanced_accuracy']:.1%}, macro-F1 "
                              f"{result.validation['macro_f1']:.1%} (the test split is scored only by the "
                              f"notebook's finished runs).")


def training_panel(splits, spec: experiment.RunSpec | None = None, *, image_size: int | None = None,
                   other_model_args: dict[str, dict] | None = None, cache_dir=None,
                   run_fn: Callable | None = None) -> TrainingPanel:
    """Build a :class:`TrainingPanel` on ``data.Splits``, starting from ``spec``.

    Args:
        spec: the run the controls start from (default: ``RunSpec()``, every default in
            one place); its model must be one of ``MODEL_CHOICES``. Fields without a
            control (device, warm-up, augmentation, ...) stay as given.
        image_size: the image size control's start (px; default the splits').
        other_model_args: constructor arguments of the models the spec does not name
            ({"seedcnn": {...}}; default: the model's own defaults).
        cache_dir: decode cache for other image sizes.
        run_fn: the runner (default ``experiment.run``); tests pass a fake.
    """
    spec = spec if spec is not None else experiment.RunSpec()
    if spec.model.lower() not in MODEL_CHOICES:
        raise ValueError(f"the panel trains {MODEL_CHOICES}; the spec's model is {spec.model!r}")
    # A batch cannot hold more images than there are: start from one that fits, so a tiny
    # training set (the tests' rehearsal of `full`) trains on the same path as a big one.
    spec = spec.replace(batch_size=max(1, min(spec.batch_size, len(splits.train))))
    found = spec.problems()
    if found:
        raise ValueError("the panel's starting spec cannot run: " + "; ".join(found))
    chosen = {"model": spec.model.lower(), "image_size": image_size or splits.image_size, "lr": spec.lr,
              "batch_size": spec.batch_size, "epochs": spec.epochs, "imbalance": spec.imbalance, "seed": spec.seed}
    sizes = sorted(set(IMAGE_SIZES) | {int(splits.image_size), int(chosen["image_size"])})
    style = {"description_width": "110px"}
    layout = ipw.Layout(width="300px")
    controls = dict(
        model=ipw.Dropdown(options=list(MODEL_CHOICES), value=chosen["model"], description="model", style=style,
                           layout=layout),
        image_size=ipw.Dropdown(options=sizes, value=int(chosen["image_size"]), description="image size (px)",
                                style=style, layout=layout),
        learning_rate=ipw.FloatText(value=chosen["lr"], description="learning rate", style=style, layout=layout),
        batch_size=ipw.IntText(value=chosen["batch_size"], description="batch size", style=style, layout=layout),
        epochs=ipw.IntText(value=chosen["epochs"], description="epochs", style=style, layout=layout),
        imbalance_method=ipw.Dropdown(options=list(imbalance.METHODS), value=chosen["imbalance"],
                                      description="imbalance", style=style, layout=layout),
        seed=ipw.IntText(value=chosen["seed"], description="seed", style=style, layout=layout),
    )
    button = ipw.Button(description="Train", button_style="primary", icon="play")
    message = ipw.HTML(value="Set the values and press Train (scores shown on the validation split).")
    output = ipw.Output()
    left = ipw.VBox([controls["model"], controls["image_size"], controls["learning_rate"], controls["batch_size"]])
    right = ipw.VBox([controls["epochs"], controls["imbalance_method"], controls["seed"], button])
    box = ipw.VBox([ipw.HBox([left, right]), message, output])
    panel = TrainingPanel(splits=splits, base_spec=spec, other_model_args=dict(other_model_args or {}),
                          cache_dir=cache_dir, run_fn=run_fn or experiment.run, train_button=button,
                          message=message, output=output, widget=box, **controls)
    button.on_click(panel._on_click)
    return panel


# --------------------------------------------------------------------------- part 2: the cluster explorer


@dataclass
class ClusterExplorer:
    """Pick a representation, a 2D method and k, press Redraw: KMeans with that k is
    scored against the styles and the points are drawn coloured by style and by cluster.

    Attributes:
        widget: the VBox to display.
        representation, method, k: the controls (set ``.value`` from code).
        redraw_button, message, output: the button, a one-line status and the Output.
        last_result: the scores of the last redraw (``part2_autoencoder.cluster_metrics`` without
            the assignments) plus ``representation`` and ``method``; None before.
        last_error: the traceback of a failed redraw (None when it worked).
        last_outputs: the last drawing (Figure) and score table (str), for :func:`static_copy`.
    """

    representations: dict[str, Any]
    labels: Any
    classes: list[str]
    seed: int
    tsne_max_iter: int
    representation: ipw.Dropdown
    method: ipw.ToggleButtons
    k: ipw.IntSlider
    redraw_button: ipw.Button
    message: ipw.HTML
    output: ipw.Output
    widget: ipw.VBox
    last_result: dict[str, Any] | None = None
    last_error: str | None = None
    last_outputs: list = field(default_factory=list)
    _points: dict[tuple[str, str], Any] = field(default_factory=dict)

    def redraw(self) -> None:
        """What the Redraw button does (t-SNE drawings are kept per representation)."""
        from wikiart_core.parts import part2_autoencoder

        name, method, k = self.representation.value, self.method.value, int(self.k.value)
        self.last_error = None
        self.message.value = f"Clustering {name} with k = {k}…"
        try:
            features = self.representations[name]
            result = part2_autoencoder.cluster_metrics(features, self.labels, k=k, seed=self.seed)
            if (name, method) not in self._points:
                self._points[name, method] = part2_autoencoder.embed_2d(features, method, self.seed,
                                                                        max_iter=self.tsne_max_iter)
            figure = plots.embedding_2d(self._points[name, method], self.labels, self.classes, result["assignments"],
                                        title=f"{name} ({features.shape[1]} dims), {method.upper()}, k = {k}")
            scores = {key: value for key, value in result.items() if key != "assignments"}
            table = part2_autoencoder.metrics_table({name: scores})
            _show_in(self.output, [figure, table])  # not `with self.output:`, see _show_in
            self.last_outputs = [figure, table]
            self.last_result = {**scores, "representation": name, "method": method}
            self.message.value = f"{name}: NMI {scores['nmi']:.3f}, ARI {scores['ari']:.3f}, purity {scores['purity']:.3f}"
        except Exception as error:  # shown in the panel: callbacks outside a kernel swallow exceptions
            self.last_error = "".join(traceback.format_exception(error))
            self.message.value = f"<b>Redraw failed:</b> {type(error).__name__}: {error}"

    def _on_click(self, _button) -> None:
        self.redraw()


def cluster_explorer(representations: dict[str, Any], labels, classes, *, seed: int = 0, k: int | None = None,
                     method: str = "pca", tsne_max_iter: int = 500) -> ClusterExplorer:
    """Build a :class:`ClusterExplorer`.

    Args:
        representations: name → (N, D) features of the same N images (e.g. from
            ``part2_autoencoder.extract``), such as {"autoencoder": ..., "pixels": ..., "stylecnn": ...}.
        labels: (N,) true styles; classes: style names.
        k: starting number of clusters (default: the number of styles present).
        method: starting 2D method, "pca" or "tsne".
    """
    import numpy as np

    labels = np.asarray(labels)
    if not representations:
        raise ValueError("representations is empty: pass at least one name -> (N, D) features")
    for name, features in representations.items():
        if len(features) != len(labels):
            raise ValueError(f"representation {name!r} has {len(features)} rows but there are {len(labels)} labels")
    present = len(np.unique(labels))
    style = {"description_width": "110px"}
    controls = dict(
        representation=ipw.Dropdown(options=list(representations), description="representation", style=style),
        method=ipw.ToggleButtons(options=[("PCA", "pca"), ("t-SNE", "tsne")], value=method, description="2D method",
                                 style=style),
        k=ipw.IntSlider(value=k or present, min=2, max=max(2, min(60, len(labels) - 1)), description="k (clusters)",
                        style=style),
    )
    button = ipw.Button(description="Redraw", button_style="primary", icon="refresh")
    message = ipw.HTML(value="Choose and press Redraw.")
    output = ipw.Output()
    box = ipw.VBox([ipw.HBox([controls["representation"], controls["k"]]), ipw.HBox([controls["method"], button]),
                    message, output])
    explorer = ClusterExplorer(representations=dict(representations), labels=labels, classes=list(classes), seed=seed,
                               tsne_max_iter=tsne_max_iter, redraw_button=button, message=message, output=output,
                               widget=box, **controls)
    button.on_click(explorer._on_click)
    return explorer


@dataclass
class StylePainter:
    """Part 3's painter: pick a content image (from the test split, or upload a picture),
    a target style, and optionally a second style with a mixing weight; the painting
    appears at once (the generator is only run, never retrained).

    Attributes:
        widget: the VBox to display.
        image, upload, style, second_style, mix: the controls (set ``.value`` from code).
        output, message: where the picture and a one-line status go.
        last_painting: (3, S, S) floats in [0, 1] of the last repaint; None before.
        last_error: the traceback of a failed repaint (None when it worked).
        last_outputs: the last picture (Figure), for :func:`static_copy`.
    """

    generator: Any
    dataset: Any
    classes: list[str]
    image: ipw.Dropdown
    upload: ipw.FileUpload
    style: ipw.Dropdown
    second_style: ipw.Dropdown
    mix: ipw.FloatSlider
    message: ipw.HTML
    output: ipw.Output
    widget: ipw.VBox
    uploaded: Any = None
    last_painting: Any = None
    last_error: str | None = None
    last_outputs: list = field(default_factory=list)

    def content(self):
        """The content picture, (3, S, S) floats in [0, 1]: the upload if any, else the chosen test image."""
        if self.uploaded is not None:
            return self.uploaded
        images, _ = self.dataset.get_batch([int(self.image.value)])
        return images[0].float() / 255.0

    def repaint(self, _change=None) -> None:
        """Paint the content picture with the chosen style(s) and show it beside the original."""
        from wikiart_core.parts import part3_generator

        self.last_error = None
        try:
            picture = self.content()
            second = None if self.second_style.value < 0 else int(self.second_style.value)
            painted = part3_generator.paint_image(self.generator, picture, int(self.style.value), second,
                                                  float(self.mix.value))
            name = self.classes[int(self.style.value)].replace("_", " ")
            if second is not None:
                name += f" + {self.mix.value:.2f} {self.classes[second].replace('_', ' ')}"
            figure = plots.image_strip([picture.numpy(), painted.numpy()], ["content", name])
            _show_in(self.output, [figure])  # not `with self.output:`, see _show_in
            self.last_painting = painted
            self.last_outputs = [figure]
            self.message.value = f"painted in {name}"
        except Exception as error:  # shown in the panel: callbacks outside a kernel swallow exceptions
            self.last_error = "".join(traceback.format_exception(error))
            self.message.value = f"<b>Painting failed:</b> {type(error).__name__}: {error}"

    def use_upload(self, change=None) -> None:
        """Read the uploaded picture (any format Pillow reads) at the generator's image size."""
        import tempfile
        from pathlib import Path

        from wikiart_core.parts import part3_generator

        files = self.upload.value
        if not files:
            return
        content = bytes(files[0]["content"])
        try:
            with tempfile.TemporaryDirectory() as folder:
                path = Path(folder) / files[0]["name"]
                path.write_bytes(content)
                self.uploaded = part3_generator.load_picture(path, self.generator.image_size)
        except Exception as error:
            self.uploaded = None
            self.message.value = f"<b>Cannot read {files[0]['name']}:</b> {error}"
            return
        self.repaint()


def style_painter(generator, dataset, *, examples=None, start_style: int | None = None) -> StylePainter:
    """Build a :class:`StylePainter` over ``generator`` (a StyleConditionedAutoencoder)
    and the images of ``dataset`` (e.g. the test split, at the generator's image size).

    examples: indices of ``dataset`` offered as content (default: one per style)."""
    from wikiart_core.parts import part2_autoencoder

    classes = list(dataset.classes)
    examples = list(part2_autoencoder.fixed_examples(dataset, per_style=1) if examples is None else examples)
    names = [(f"{classes[int(dataset.targets[i])].replace('_', ' ')} #{int(i)}", int(i)) for i in examples]
    styles = [(name.replace("_", " "), index) for index, name in enumerate(classes)]
    width = {"description_width": "90px"}
    painter = StylePainter(
        generator=generator, dataset=dataset, classes=classes,
        image=ipw.Dropdown(options=names, description="content", style=width),
        upload=ipw.FileUpload(accept="image/*", multiple=False, description="or upload"),
        style=ipw.Dropdown(options=styles, value=start_style if start_style is not None else styles[0][1],
                           description="style", style=width),
        second_style=ipw.Dropdown(options=[("none", -1)] + styles, value=-1, description="mix with", style=width),
        mix=ipw.FloatSlider(value=0.5, min=0.0, max=1.0, step=0.05, description="mix weight", style=width),
        message=ipw.HTML(), output=ipw.Output(), widget=ipw.VBox([]))
    painter.widget.children = [ipw.HBox([painter.image, painter.upload]),
                               ipw.HBox([painter.style, painter.second_style, painter.mix]),
                               painter.message, painter.output]

    def content_changed(_change):
        painter.uploaded = None
        painter.repaint()

    painter.image.observe(content_changed, names="value")
    for control in (painter.style, painter.second_style, painter.mix):
        control.observe(painter.repaint, names="value")
    painter.upload.observe(painter.use_upload, names="value")
    painter.repaint()
    return painter


def static_copy(panel) -> None:
    """Display the panel's last state (its ``last_outputs``: figures and tables) as plain
    outputs under a one-line caption. A saved notebook or an exported HTML page cannot run
    a widget, so without this a reader of the report sees nothing where the panel was;
    in JupyterLab the live panel above stays the one to use."""
    from IPython.display import Markdown

    if not panel.last_outputs:
        display(Markdown("*An interactive panel sits above in JupyterLab (it needs a running kernel); it has not "
                         "been used in this run, so there is no result of it to copy here.*"))
        return
    display(Markdown("*What the panel above shows, copied as a picture and text for the saved notebook and "
                     "the exported report (the live panel needs a running kernel).*"))
    for item in panel.last_outputs:
        if isinstance(item, str):
            print(item)
        else:
            display(item)
