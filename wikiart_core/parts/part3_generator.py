"""Part 3 (notebook 04, ``python -m wikiart_core style``): a style-conditioned generator,
trained with a frozen StyleCNN's style loss and judged by a different StyleCNN.

The steps, each a function the notebook and the command line call in this order:

    train_classifier(...)    the StyleCNN inside the style loss (or a given checkpoint)
    style targets            style.style_targets on the training split
    train_generator(...)     cin and concat generators, through engine.fit (best.pt on validation)
    train_plain_autoencoder  the baseline that ignores the style (Part 2's autoencoder)
    train_classifier(...)    another StyleCNN (other seed and width): the independent judge
    judge_methods(...)       every method on the whole test split, mismatched and matched pairs
    summarise(...)           hit rates and content scores with bootstrap intervals
    style_spread(...)        how much the target style changes the output (pixel distances)
    summarise_spread(...)    the same with bootstrap intervals, cin against colour transfer
    verdict(...)             the rules the conclusions follow from
    impression_lines(...)    the measured impressions, one sentence per number
    save_generators(...)     generator.pt (cin) and generator_concat.pt, for ``paint``
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from wikiart_core import colour_transfer, stats, style

CONDITIONINGS = ("cin", "concat")
# Target styles of the grids, when the data has them: far apart in time, palette and
# brushwork. Missing names are replaced by evenly spaced other styles.
CONTRASTING_STYLES = ("Impressionism", "Cubism", "Pop_Art", "Ukiyo_e", "Color_Field_Painting", "Baroque")
METHODS = ("plain autoencoder", "colour transfer", "concat", "cin")


# --------------------------------------------------------------------------- the networks


def classifier_spec(profile, role: str = "loss network", seed: int = 0, device: str = "auto"):
    """The RunSpec of one of Part 3's two StyleCNNs, trained at the generator's image size
    with the profile's epochs and the middle learning rate of its grid:

    - ``"loss network"``: ``profile.generator["loss_network"]``, seed ``seed``; its
      features define the style loss;
    - ``"judge"``: the same with ``judge_width`` channels and seed ``seed + 1``; it scores
      the generator and never takes part in training it."""
    from wikiart_core.experiment import RunSpec

    if role not in ("loss network", "judge"):
        raise ValueError(f"role must be 'loss network' or 'judge', got {role!r}")
    arguments = dict(profile.generator["loss_network"])
    if role == "judge":
        width = int(profile.generator["judge_width"])
        arguments["width"] = width if width != arguments["width"] else width + 8  # always another width
    return RunSpec(name=f"{role} (StyleCNN)", model="stylecnn", model_args=arguments, epochs=profile.epochs,
                   batch_size=profile.batch_size, lr=profile.lr_grid[len(profile.lr_grid) // 2],
                   seed=seed + (1 if role == "judge" else 0), device=device)


def train_classifier(splits, profile, role: str, seed: int = 0, device: str = "auto", log=None,
                     checkpoint_dir: str | Path | None = None, resume: str = "auto"):
    """Train the loss network or the judge (:func:`classifier_spec`) through the runner;
    its test split is scored once, so the table can say how good a judge it is.
    ``checkpoint_dir``: its last.pt/best.pt; a re-run continues the same run from there
    (``resume``: "auto", or "continue" to refuse a last.pt of other settings; see ``engine.fit``).
    Returns the :class:`~wikiart_core.experiment.RunResult` (``.model``, ``.test``)."""
    from wikiart_core import experiment

    return experiment.run(classifier_spec(profile, role, seed, device), splits, log=log,
                          checkpoint_dir=checkpoint_dir, resume=resume)


def load_loss_network(path, splits):
    """A StyleCNN classifier checkpoint (``train --model stylecnn``) as the loss network;
    its styles must be those of ``splits``. Returns the model."""
    from wikiart_core import checkpoint

    model, meta = checkpoint.load_checkpoint(path, device="cpu")
    if type(model).__name__ != "StyleCNN":
        raise checkpoint.CheckpointError(f"{path} holds a {type(model).__name__}; the style loss needs a "
                                         f"StyleCNN. Fix: pass a checkpoint of `train --model stylecnn`.")
    checkpoint.check_classes(meta.get("classes") or [], splits.classes)
    return model


def train_plain_autoencoder(splits, profile, seed: int = 0, device: str = "auto", log=None,
                            checkpoint_dir: str | Path | None = None, resume: str = "auto"):
    """Part 2's convolutional autoencoder (its profile settings): the baseline whose
    output cannot depend on the target style. ``checkpoint_dir`` and ``resume`` as in
    :func:`train_classifier`. Returns its RunResult."""
    from wikiart_core import experiment
    from wikiart_core.parts import part2_autoencoder

    return experiment.run(part2_autoencoder.autoencoder_spec(profile, seed=seed, device=device), splits, log=log,
                          checkpoint_dir=checkpoint_dir, resume=resume)


def build_generator(splits, profile, conditioning: str, seed: int = 0, **overrides):
    """A fresh :class:`~wikiart_core.models.StyleConditionedAutoencoder` for ``splits``
    (its styles and image size), sized by ``profile.generator`` (``overrides`` win)."""
    from wikiart_core import models

    settings = {**profile.generator, **overrides}
    torch.manual_seed(seed)
    return models.StyleConditionedAutoencoder(
        n_styles=len(splits.classes), image_size=splits.image_size, base_channels=settings["base_channels"],
        depth=settings["depth"], embedding_dim=settings["embedding_dim"], conditioning=conditioning)


def generator_settings(profile, overrides: dict | None = None, *, epochs: int | None = None,
                       style_weight: float | None = None) -> dict:
    """The generators' settings: ``profile.generator`` with ``overrides`` (e.g. {"lr": 1e-3,
    "batch_size": 16, "epochs": 3, "weight_decay": 0.01} from the command line; a value of
    None keeps the profile's), then ``epochs`` and ``style_weight`` when given.
    ``weight_decay`` is 0.0 unless overridden."""
    given = {**(overrides or {}), "epochs": epochs, "style_weight": style_weight}
    return {"weight_decay": 0.0, **profile.generator,
            **{key: value for key, value in given.items() if value is not None}}


def train_generator(splits, profile, loss_net, targets, conditioning: str = "cin", *, seed: int = 0,
                    device: str = "auto", epochs: int | None = None, style_weight: float | None = None,
                    content_weight: float = 0.0, overrides: dict | None = None,
                    checkpoint_dir: str | Path | None = None, resume: str | Path | None = None,
                    meta: dict | None = None, progress: bool = False, on_epoch_end: Callable | None = None,
                    log=print):
    """Train one generator with the shared engine: the :class:`~wikiart_core.style.StyleTransfer`
    task, AdamW with warm-up and cosine decay, best.pt chosen on the validation objective.
    Its settings are :func:`generator_settings` (``overrides``, ``epochs``, ``style_weight``).

    Returns (model, engine.History). ``targets``: ``style.style_targets`` of the training split."""
    from wikiart_core import engine

    settings = generator_settings(profile, overrides, epochs=epochs, style_weight=style_weight)
    model = build_generator(splits, profile, conditioning, seed, **settings)
    task = style.StyleTransfer(loss_net, targets, style_weight=settings["style_weight"],
                               content_weight=content_weight, validation_seed=seed)
    config = engine.TrainConfig(epochs=settings["epochs"], lr=settings["lr"], batch_size=settings["batch_size"],
                                weight_decay=settings["weight_decay"], warmup_epochs=0.5, seed=seed, device=device)
    history = engine.fit(model, task, splits.train, splits.validation, config, checkpoint_dir=checkpoint_dir,
                         resume=resume, meta={**(meta or {}), "conditioning": conditioning,
                                              "validation_files": splits.validation_files()},
                         progress=progress, on_epoch_end=on_epoch_end, log=log)
    return model, history


# --------------------------------------------------------------------------- painting


def colour_targets(dataset, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Each style's average lαβ mean and standard deviation over ``dataset`` (the training
    split): the colour-transfer baseline's targets, ((n_styles, 3), (n_styles, 3))."""
    from wikiart_core import evaluate

    batches = ((inputs, labels) for inputs, labels, _ in
               evaluate.forward_batches(lambda x: x, dataset, batch_size=batch_size, device="cpu"))
    return colour_transfer.style_statistics(batches, len(dataset.classes))


def painters(generators: dict, autoencoder, colours: tuple[torch.Tensor, torch.Tensor],
             device: str | torch.device = "cpu") -> dict[str, Callable]:
    """name -> paint(images (B, 3, S, S) in [0, 1], target styles (B,)) -> (B, 3, S, S), for
    every method judged: the plain autoencoder (ignores the style), colour transfer, and
    each generator in ``generators`` ({"cin": model, "concat": model}). The models are
    moved to ``device`` and put in eval mode."""
    from wikiart_core.device import pick_device

    device = pick_device(device)
    target_means, target_stds = colours

    def colour(images, targets):
        return colour_transfer.transfer(images, target_means[targets.cpu()], target_stds[targets.cpu()])

    def generator_painter(model):
        model.to(device).eval()
        return lambda images, targets: model(images, targets)

    autoencoder.to(device).eval()
    methods = {"plain autoencoder": lambda images, targets: autoencoder(images), "colour transfer": colour}
    for name, generator in generators.items():
        methods[name] = generator_painter(generator)
    return methods


def contrasting_styles(classes: Sequence[str], available: Sequence[int], count: int = 6) -> list[int]:
    """``count`` fixed target styles: those of :data:`CONTRASTING_STYLES` present in
    ``classes`` (and with training images), then evenly spaced others."""
    available = [int(i) for i in available]
    chosen = [classes.index(name) for name in CONTRASTING_STYLES
              if name in classes and classes.index(name) in available]
    others = [i for i in available if i not in chosen]
    spaced = [others[int(round(k))] for k in np.linspace(0, len(others) - 1, num=min(len(others), count))]
    return (chosen + [i for i in spaced if i not in chosen])[:count]


@torch.no_grad()
def paint_image(generator, image: torch.Tensor, style_index: int, second_style: int | None = None,
                mix: float = 0.0) -> torch.Tensor:
    """One picture painted by ``generator``: image (3, S, S) in [0, 1] -> (3, S, S) in [0, 1].
    With ``second_style``, the style vector is ``(1 - mix) * e[style] + mix * e[second]``."""
    device = next(generator.parameters()).device
    generator.eval()
    indices = torch.tensor([style_index] + ([second_style] if second_style is not None else []), device=device)
    vectors = generator.style_vectors(indices)
    vector = vectors[:1] if second_style is None else (1 - mix) * vectors[:1] + mix * vectors[1:]
    return generator(image[None].to(device), vector)[0].clamp(0, 1).cpu()


def load_picture(path, image_size: int) -> torch.Tensor:
    """Any picture file -> (3, image_size, image_size) floats in [0, 1]: the central square,
    resized (as the data layer prepares paintings).

    Raises:
        data.DataError: the file is missing or not a picture Pillow can decode (names it)."""
    from wikiart_core import data

    try:
        return torch.from_numpy(data.decode_image(path, image_size)).float().div(255.0)
    except data.ImageRefused as reason:
        raise data.DataError(f"{path}: {reason}. Fix: give a picture file (JPEG, PNG, WebP, ...).") from None


def interpolation_strip(generator, image: torch.Tensor, style_a: int, style_b: int, steps: int = 7) -> np.ndarray:
    """(steps, 3, S, S): ``image`` painted with the style vector moving from ``style_a`` to ``style_b``."""
    return np.stack([paint_image(generator, image, style_a, style_b, mix).numpy()
                     for mix in np.linspace(0.0, 1.0, steps)])


# --------------------------------------------------------------------------- judging


@dataclass
class Judgement:
    """What :func:`judge_methods` measured on the test split, one entry per item.

    targets: (N,) the mismatched target style of each test image; labels: (N,) its own;
    n_styles: how many styles there are (chance is 1 / n_styles).
    predictions: method -> (N,) the judge's labels for the mismatched outputs.
    matched_predictions: method -> (N,) for outputs under the image's own style, plus
        "input" (the judge on the unchanged test images: its own test accuracy).
    content: method -> {"ssim", "psnr", "code_distance"} -> (N,), output against input;
        "unrelated image" is the floor: an image of the target style against the input.
    """

    targets: np.ndarray
    labels: np.ndarray
    n_styles: int
    predictions: dict
    matched_predictions: dict
    content: dict


def _unrelated_images(splits, targets: np.ndarray, seed: int) -> torch.Tensor:
    """(N, 3, S, S) uint8: for each target style, a random test image of that style
    (a training image when the test split has none of it)."""
    rng = np.random.default_rng(seed)
    # Each style's images, looked up once: the test split's, else the training split's.
    members = {}
    for dataset in (splits.train, splits.test):  # the test split overrides
        labels = np.asarray(dataset.targets)
        members.update({int(style): (dataset, np.flatnonzero(labels == style)) for style in np.unique(labels)})
    rows = []
    for target in targets:
        if int(target) not in members:
            raise ValueError(f"no image of style {target} in the test or training split")
        dataset, candidates = members[int(target)]
        rows.append((dataset, int(rng.choice(candidates))))
    images = torch.empty((len(rows), 3, splits.image_size, splits.image_size), dtype=torch.uint8)
    for source in (splits.test, splits.train):
        where = [i for i, (dataset, _) in enumerate(rows) if dataset is source]
        if where:
            images[where] = source.get_batch([rows[i][1] for i in where])[0]
    return images


def _code_distance(encoder: Callable, outputs: torch.Tensor, inputs: torch.Tensor) -> np.ndarray:
    """(B,) relative distance of content codes: |E(out) - E(in)| / |E(in)|."""
    a, b = encoder(outputs).flatten(1), encoder(inputs).flatten(1)
    return ((a - b).norm(dim=1) / b.norm(dim=1).clamp_min(1e-8)).cpu().numpy()


@torch.no_grad()
def judge_methods(methods: dict[str, Callable], splits, judge, loss_net, content_encoder, *, seed: int = 0,
                  batch_size: int = 128, device: str = "auto", generators: Sequence[str] = CONDITIONINGS) -> Judgement:
    """Every method on the whole test split: each image is painted in a mismatched
    target style (seeded) and, for the generators, in its own style; the judge classifies
    every output; content is compared on low-pass luminance and on the content codes of
    ``content_encoder`` (the cin generator's ``encode``, on ``device``), against the floor
    of an unrelated image of the target style. ``methods``: from :func:`painters`.

    Raises :class:`~wikiart_core.style.JudgeError` when ``judge`` is the loss network."""
    from wikiart_core import evaluate
    from wikiart_core.device import pick_device

    style.check_independent_judge(judge, loss_net)
    device = pick_device(device)
    judge.to(device).eval()
    available = torch.as_tensor(sorted({int(t) for t in splits.train.targets}))
    generator = torch.Generator().manual_seed(seed)
    labels_all = np.asarray(splits.test.targets, dtype=np.int64)
    targets_all = style.mismatched_styles(torch.as_tensor(labels_all), available, generator).numpy()
    unrelated_all = _unrelated_images(splits, targets_all, seed)

    def predict(images):
        return judge(images).argmax(dim=1).cpu().numpy()

    predictions = {name: [] for name in methods}
    matched = {name: [] for name in ["input", *[g for g in generators if g in methods]]}
    content = {name: {"ssim": [], "psnr": [], "code_distance": []} for name in [*methods, "unrelated image"]}
    start = 0
    for images, labels, _ in evaluate.forward_batches(lambda x: x, splits.test, batch_size=batch_size, device=device):
        stop = start + len(labels)
        targets = torch.as_tensor(targets_all[start:stop], device=device)
        labels = labels.to(device)
        unrelated = unrelated_all[start:stop].to(device).float().div(255.0)
        outputs = {name: paint(images, targets).float().clamp(0, 1) for name, paint in methods.items()}
        outputs["unrelated image"] = unrelated
        for name, painted in outputs.items():
            if name in predictions:
                predictions[name].append(predict(painted))
            scores = style.content_scores(painted.cpu(), images.cpu())
            content[name]["ssim"].append(scores["ssim"])
            content[name]["psnr"].append(scores["psnr"])
            content[name]["code_distance"].append(_code_distance(content_encoder, painted, images))
        matched["input"].append(predict(images))
        for name in matched:
            if name != "input":
                matched[name].append(predict(methods[name](images, labels).float()))
        start = stop
    join = np.concatenate
    return Judgement(targets=targets_all, labels=labels_all, n_styles=len(splits.classes),
                     predictions={name: join(values) for name, values in predictions.items()},
                     matched_predictions={name: join(values) for name, values in matched.items()},
                     content={name: {key: join(values) for key, values in scores.items()}
                              for name, scores in content.items()})


def _renamed(result: dict, metric: str) -> dict:
    return {**result, "metric": metric}


def summarise(judgement: Judgement, n_resamples: int = 2000, seed: int = 0) -> dict:
    """Hit rates and content scores as means with 95% bootstrap intervals over the test
    images, and the paired comparisons the verdict rests on.

    Returns {"hit_rate": {method: interval}, "matched_hit_rate": {...}, "content":
    {method: {measure: interval}}, "cin_vs": {baseline: paired_bootstrap result},
    "content_vs_floor": {method: {measure: interval of (method - floor) per image}},
    "chance", "n_images"}. Rates are fractions; SSIM in [-1, 1]; PSNR in dB."""
    chance = 1.0 / judgement.n_styles
    hit = {name: stats.bootstrap_interval(judgement.targets, preds, metric="accuracy", n_resamples=n_resamples,
                                          seed=seed)
           for name, preds in judgement.predictions.items()}
    matched = {name: stats.bootstrap_interval(judgement.labels, preds, metric="accuracy", n_resamples=n_resamples,
                                              seed=seed)
               for name, preds in judgement.matched_predictions.items()}
    content = {name: {measure: stats.mean_interval(values, n_resamples, seed) for measure, values in scores.items()}
               for name, scores in judgement.content.items()}
    floor = judgement.content["unrelated image"]
    # Higher SSIM/PSNR and a lower code distance mean more content kept: the differences
    # are signed so that positive always means "kept more than the floor".
    sign = {"ssim": 1.0, "psnr": 1.0, "code_distance": -1.0}
    versus_floor = {name: {measure: stats.mean_interval(sign[measure] * (scores[measure] - floor[measure]),
                                                        n_resamples, seed)
                           for measure in sign}
                    for name, scores in judgement.content.items() if name != "unrelated image"}
    cin_vs = {}
    if "cin" in judgement.predictions:
        for name, preds in judgement.predictions.items():
            if name != "cin":
                cin_vs[name] = _renamed(stats.paired_bootstrap(judgement.targets, judgement.predictions["cin"], preds,
                                                               metric="accuracy", n_resamples=n_resamples, seed=seed),
                                        "style hit rate")
    return {"hit_rate": hit, "matched_hit_rate": matched, "content": content, "content_vs_floor": versus_floor,
            "cin_vs": cin_vs, "chance": chance, "n_images": int(len(judgement.targets))}


def results_table(summary: dict) -> str:
    """A Markdown table of :func:`summarise`: one row per method (the floor last)."""
    def cell(interval, scale=100.0, digits=1):
        return (f"{scale * interval['mean']:.{digits}f} "
                f"[{scale * interval['low']:.{digits}f}, {scale * interval['high']:.{digits}f}]")

    lines = ["| method | mismatched hit rate % | own-style hit rate % | low-pass SSIM | low-pass PSNR dB | "
             "content-code distance |", "|---|---|---|---|---|---|"]
    for name in [*summary["hit_rate"], "unrelated image"]:
        hit = cell(summary["hit_rate"][name]) if name in summary["hit_rate"] else "—"
        own = cell(summary["matched_hit_rate"][name]) if name in summary["matched_hit_rate"] else "—"
        scores = summary["content"][name]
        lines.append(f"| {name} | {hit} | {own} | {cell(scores['ssim'], 1, 3)} | {cell(scores['psnr'], 1, 1)} | "
                     f"{cell(scores['code_distance'], 1, 3)} |")
    judge_alone = cell(summary["matched_hit_rate"]["input"])
    lines.append(f"| judge on the unchanged test images | — | {judge_alone} | — | — | — |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- how much the style matters

# The views of a picture the spread is measured on: "rgb" (every colour), "luminance"
# (blurred brightness: layout and shading, no colour) and "detail" (brightness minus its
# blur: the fine texture a blur removes).
SPREAD_VIEWS = ("rgb", "luminance", "detail")
# The methods whose outputs depend on the target style (the plain autoencoder's do not).
SPREAD_METHODS = ("cin", "concat", "colour transfer")


def fine_detail(images: torch.Tensor) -> torch.Tensor:
    """(B, 3, S, S) RGB in [0, 1] -> (B, 1, S, S): luminance minus
    :func:`~wikiart_core.style.low_pass_luminance`, the fine texture a blur removes
    (values in [-1, 1], mean about 0)."""
    weights = torch.tensor([0.299, 0.587, 0.114], dtype=images.dtype, device=images.device)
    luminance = torch.einsum("c,bchw->bhw", weights, images)[:, None]
    return luminance - style.low_pass_luminance(images)


def _views(images: torch.Tensor) -> dict[str, torch.Tensor]:
    images = images.float()
    return {"rgb": images, "luminance": style.low_pass_luminance(images), "detail": fine_detail(images)}


def _mean_absolute(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) mean absolute difference over every axis but the first."""
    return (a - b).abs().flatten(1).mean(dim=1)


def output_distances(outputs: torch.Tensor, own: torch.Tensor | None = None, inputs: torch.Tensor | None = None,
                     own_target: torch.Tensor | None = None) -> dict:
    """How far apart one method's outputs of the same images are, per image.

    outputs: (N, T, 3, S, S) in [0, 1], image n painted in each of T >= 2 target styles.
    own: (N, 3, S, S), image n under its own style (None: no "from_own").
    inputs: (N, 3, S, S), the images themselves (None: no "detail_kept").
    own_target: (N, T) bool, True where target t is image n's own style; those pairs
        are left out of "from_own" (nan for an image whose every target is its own).

    Returns, each an (N,) float64 array, distances in the units of the view
    (mean absolute difference of values in [0, 1]; see :data:`SPREAD_VIEWS`):
    {"between_targets": {view: mean over the T(T-1)/2 pairs of target styles},
     "from_own": {view: mean over targets of the distance to the own-style output},
     "detail_kept": mean over targets of mean |detail(output)| / mean |detail(input)|}."""
    n, count = outputs.shape[:2]
    if count < 2:
        raise ValueError(f"output_distances needs at least two target styles, got {count}")
    per_target = [_views(outputs[:, t]) for t in range(count)]
    pairs = [(i, j) for i in range(count) for j in range(i + 1, count)]
    result = {"between_targets": {
        view: torch.stack([_mean_absolute(per_target[i][view], per_target[j][view]) for i, j in pairs], 1)
        .mean(dim=1).double().numpy() for view in SPREAD_VIEWS}}
    if own is not None:
        own_views = _views(own)
        keep = (torch.ones((n, count), dtype=torch.bool) if own_target is None
                else ~torch.as_tensor(own_target, dtype=torch.bool).cpu())
        result["from_own"] = {}
        for view in SPREAD_VIEWS:
            distances = torch.stack([_mean_absolute(per_target[t][view], own_views[view]) for t in range(count)], 1)
            kept = keep.to(distances.device)
            total = (distances * kept).sum(dim=1).double()
            result["from_own"][view] = (total / kept.sum(dim=1).double()).cpu().numpy()  # 0/0: nan
    if inputs is not None:
        reference = fine_detail(inputs.float()).abs().flatten(1).mean(dim=1).clamp_min(1e-8)
        amplitude = torch.stack([per_target[t]["detail"].abs().flatten(1).mean(dim=1) for t in range(count)], 1)
        result["detail_kept"] = (amplitude.mean(dim=1) / reference).double().cpu().numpy()
    return result


@torch.no_grad()
def style_spread(methods: dict[str, Callable], dataset, indices: Sequence[int], target_styles: Sequence[int], *,
                 batch_size: int = 64, device: str | torch.device = "cpu") -> dict:
    """How much the target style changes each method's output, on the images of
    ``dataset`` at ``indices`` (at least two), each painted in every one of
    ``target_styles`` (at least two) and in its own style.

    methods: name -> paint(images (B, 3, S, S) in [0, 1], styles (B,)) -> (B, 3, S, S)
        (e.g. :func:`spread_painters`, on ``device``: "auto", "cpu", "cuda", ...).

    Returns {"methods": {name: :func:`output_distances` (N,) arrays},
    "between_images": {view: (N,)}: image n against the next image of ``indices``
    (cyclically), the distance of two different pictures, for scale;
    "indices": [N], "target_styles": [T]}."""
    from wikiart_core.device import pick_device

    device = pick_device(device)
    indices = [int(i) for i in indices]
    targets = [int(t) for t in target_styles]
    if len(indices) < 2:
        raise ValueError("style_spread needs at least two images (the scale compares two of them)")
    partners = indices[1:] + indices[:1]
    parts = {name: [] for name in methods}
    scale = []
    for start in range(0, len(indices), batch_size):
        chunk = indices[start:start + batch_size]
        images, labels = dataset.get_batch(chunk)
        images = images.float().div(255.0).to(device)
        labels = torch.as_tensor(labels, dtype=torch.long).to(device)
        others = dataset.get_batch(partners[start:start + batch_size])[0].float().div(255.0).to(device)
        scale.append({view: _mean_absolute(a, b).double().cpu().numpy()
                      for (view, a), b in zip(_views(images).items(), _views(others).values())})
        own_target = torch.stack([labels == t for t in targets], dim=1).cpu()
        for name, paint in methods.items():
            painted = torch.stack([paint(images, torch.full_like(labels, t)).float().clamp(0, 1)
                                   for t in targets], dim=1).cpu()
            own = paint(images, labels).float().clamp(0, 1).cpu()
            parts[name].append(output_distances(painted, own, images.cpu(), own_target))

    def joined(pieces):
        if isinstance(pieces[0], dict):
            return {key: joined([piece[key] for piece in pieces]) for key in pieces[0]}
        return np.concatenate(pieces)

    return {"methods": {name: joined(pieces) for name, pieces in parts.items()}, "between_images": joined(scale),
            "indices": indices, "target_styles": targets}


def spread_painters(run: "Part3Run", device: str | torch.device = "cpu") -> dict[str, Callable]:
    """The painters of :data:`SPREAD_METHODS` for :func:`style_spread`, from a
    :func:`run_all` result (its generators are moved to ``device``)."""
    methods = painters(run.generators, run.autoencoder.model, run.colours, device=device)
    return {name: methods[name] for name in SPREAD_METHODS if name in methods}


def summarise_spread(spread: dict, n_resamples: int = 2000, seed: int = 0) -> dict:
    """:func:`style_spread` as means with 95% bootstrap intervals over the images.

    Returns {"methods": {name: {"between_targets": {view: interval}, "from_own": {view:
    interval}, "detail_kept": interval}}, "between_images": {view: interval},
    "cin_minus_colour_transfer": {view: interval of the per-image difference of
    "between_targets"} (when both were measured), "n_images", "target_styles"}.
    Intervals are :func:`~wikiart_core.stats.mean_interval` dicts (nan images left out)."""
    def interval(values):
        values = np.asarray(values, dtype=np.float64)
        return stats.mean_interval(values[np.isfinite(values)], n_resamples, seed)

    def summarised(tree):
        return {key: summarised(value) for key, value in tree.items()} if isinstance(tree, dict) else interval(tree)

    result = {"methods": summarised(spread["methods"]), "between_images": summarised(spread["between_images"]),
              "n_images": len(spread["indices"]), "target_styles": list(spread["target_styles"])}
    methods = spread["methods"]
    if "cin" in methods and "colour transfer" in methods:
        cin, colour = methods["cin"]["between_targets"], methods["colour transfer"]["between_targets"]
        result["cin_minus_colour_transfer"] = {view: interval(cin[view] - colour[view]) for view in SPREAD_VIEWS}
    return result


def spread_table(spread_summary: dict) -> str:
    """A Markdown table of :func:`summarise_spread`: one row per method, then the
    distance of two different test images for scale."""
    def cell(interval, digits=3):
        return f"{interval['mean']:.{digits}f} [{interval['low']:.{digits}f}, {interval['high']:.{digits}f}]"

    lines = ["| method | between two target styles, RGB | target style vs own style, RGB | "
             "between two target styles, blurred luminance | between two target styles, fine detail | "
             "fine detail kept (share of the input's) |", "|---|---|---|---|---|---|"]
    for name, measured in spread_summary["methods"].items():
        between, own = measured["between_targets"], measured["from_own"]
        lines.append(f"| {name} | {cell(between['rgb'])} | {cell(own['rgb'])} | {cell(between['luminance'])} | "
                     f"{cell(between['detail'])} | {cell(measured['detail_kept'], 2)} |")
    scale = spread_summary["between_images"]
    lines.append(f"| two different test images (for scale) | {cell(scale['rgb'])} | — | {cell(scale['luminance'])} | "
                 f"{cell(scale['detail'])} | — |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Verdict:
    """The rules Part 3's conclusions follow from (the notebook turns them into words).

    above_chance: the 95% interval of cin's mismatched hit rate lies above chance.
    beats: baseline -> cin's paired bootstrap against it says "better".
    keeps_content: cin keeps more low-pass SSIM than the unrelated-image floor (its
        per-image difference's interval lies above 0).
    varies_with_style: cin's outputs of one image differ between target styles (mean
        absolute RGB difference, :func:`summarise_spread`) more than colour transfer's:
        the interval of the per-image difference lies above 0. False when not measured.
    failed: the criteria above that are not met, in words (empty: all met).
    own_style_easier: cin's own-style hit rate is clearly above the judge's accuracy
        on the real test images (its interval's low end is higher).
    blurrier: cin's SSIM interval lies wholly below the plain autoencoder's.
    noise_like: cin keeps no more mean SSIM than an unrelated image of the target style.
    ignores_style: cin does not beat the plain autoencoder (which ignores the style).
    tint_like: cin does not beat colour transfer (a tint).
    near_identical: not varies_with_style: next to a tint, cin's outputs of one image
        look nearly the same whatever the target style.
    detail_varies: cin's fine detail (texture) differs between target styles more than
        colour transfer's (interval of the difference above 0); None when not measured.
    loses_detail: cin's outputs keep clearly less fine detail than their inputs (the
        interval of "detail_kept" lies below 1); None when not measured.
    real_style_change: none of noise_like, ignores_style, tint_like, near_identical.
    photo_layout_survives: the painted photograph keeps more mean SSIM than the floor
        (None when no photograph was painted).
    """

    above_chance: bool
    beats: dict
    keeps_content: bool
    varies_with_style: bool
    failed: list
    own_style_easier: bool
    blurrier: bool
    noise_like: bool
    ignores_style: bool
    tint_like: bool
    near_identical: bool
    real_style_change: bool
    detail_varies: bool | None = None
    loses_detail: bool | None = None
    photo_layout_survives: bool | None = None

    @property
    def criteria(self) -> dict:
        """{"above_chance", "beats", "keeps_content", "varies_with_style"}: what results.json records."""
        return {"above_chance": self.above_chance, "beats": self.beats, "keeps_content": self.keeps_content,
                "varies_with_style": self.varies_with_style}


VARIES_CRITERION = "outputs that differ between target styles more than colour transfer's"


def verdict(summary: dict, judge_accuracy: float, photo_ssim: float | None = None,
            spread: dict | None = None) -> Verdict:
    """The :class:`Verdict` of a :func:`summarise` summary. ``judge_accuracy``: the judge's
    accuracy (a fraction) on the unchanged test images; ``photo_ssim``: the mean low-pass
    SSIM of a photograph painted in the target styles to itself, if one was painted;
    ``spread``: :func:`summarise_spread` of cin and colour transfer on the test images
    (None: not measured, and the criterion "varies with the style" is not met)."""
    hit, content = summary["hit_rate"]["cin"], summary["content"]
    floor = content["unrelated image"]["ssim"]
    above_chance = hit["low"] > summary["chance"]
    beats = {name: result["verdict"] == "better" for name, result in summary["cin_vs"].items()}
    keeps_content = summary["content_vs_floor"]["cin"]["ssim"]["low"] > 0
    difference = (spread or {}).get("cin_minus_colour_transfer")
    varies_with_style = bool(difference is not None and difference["rgb"]["low"] > 0)
    failed = ([] if above_chance else ["above chance"]) + [f"above {name}" for name, ok in beats.items() if not ok]
    if not keeps_content:
        failed.append("content kept better than the unrelated-image floor")
    if not varies_with_style:
        failed.append(VARIES_CRITERION + ("" if difference is not None else " (not measured)"))
    noise_like = content["cin"]["ssim"]["mean"] <= floor["mean"]
    ignores_style = not beats.get("plain autoencoder", False)
    tint_like = not beats.get("colour transfer", False)
    cin_spread = (spread or {}).get("methods", {}).get("cin")
    return Verdict(above_chance=above_chance, beats=beats, keeps_content=keeps_content,
                   varies_with_style=varies_with_style, failed=failed,
                   own_style_easier=summary["matched_hit_rate"]["cin"]["low"] > judge_accuracy,
                   blurrier=content["cin"]["ssim"]["high"] < content["plain autoencoder"]["ssim"]["low"],
                   noise_like=noise_like, ignores_style=ignores_style, tint_like=tint_like,
                   near_identical=not varies_with_style,
                   real_style_change=not (noise_like or ignores_style or tint_like or not varies_with_style),
                   detail_varies=None if difference is None else bool(difference["detail"]["low"] > 0),
                   loses_detail=None if cin_spread is None else bool(cin_spread["detail_kept"]["high"] < 1),
                   photo_layout_survives=None if photo_ssim is None else photo_ssim > floor["mean"])


def _interval_words(interval: dict, higher: str, lower: str, same: str) -> str:
    """``higher`` when the interval lies above 0, ``lower`` below 0, else ``same``."""
    return higher if interval["low"] > 0 else lower if interval["high"] < 0 else same


def _difference(interval: dict, digits: int = 3) -> str:
    return (f"difference {interval['mean']:+.{digits}f}, 95% interval {interval['low']:+.{digits}f} to "
            f"{interval['high']:+.{digits}f}")


def verdict_words(judged: Verdict) -> str:
    """The verdict sentence of the notebook, from :func:`verdict` (Markdown)."""
    if not judged.failed:
        return ("the `cin` generator meets every criterion of this part: it paints the target style more often "
                "than chance, the plain autoencoder, colour transfer and the concat variant, its outputs of one "
                "image differ between target styles more than colour transfer's do, and it keeps the content.")
    return "the `cin` generator does **not** meet every criterion; it fails: " + "; ".join(judged.failed) + "."


def impression_lines(summary: dict, spread: dict, judged: Verdict, *, photo: dict | None = None,
                     grid_spread: dict | None = None) -> list[str]:
    """What the pictures show, in Markdown bullets that each state the numbers they rest on.

    summary: :func:`summarise`; spread: :func:`summarise_spread` on the test images (cin
    and colour transfer at least); judged: :func:`verdict` of both.
    photo: {"ssim": mean low-pass SSIM of the painted photograph to itself,
        "between_targets": its mean RGB distance between target styles,
        "n_styles": how many target styles it was painted in}, or None.
    grid_spread: :func:`summarise_spread` of the grid's rows, or None."""
    content, hit = summary["content"], summary["hit_rate"]
    cin, colour = spread["methods"]["cin"], spread["methods"]["colour transfer"]
    difference = spread["cin_minus_colour_transfer"]
    lines = []

    # Blur: structure kept (SSIM against the plain autoencoder) and fine detail kept.
    ssim_cin, ssim_plain = content["cin"]["ssim"]["mean"], content["plain autoencoder"]["ssim"]["mean"]
    kept, kept_colour = cin["detail_kept"]["mean"], colour["detail_kept"]["mean"]
    structure = ("keep less of their input's blurred structure than the plain autoencoder's reconstructions "
                 f"(low-pass SSIM {ssim_cin:.3f} against {ssim_plain:.3f}, intervals apart)" if judged.blurrier else
                 "do not keep clearly less of their input's blurred structure than the plain autoencoder's "
                 f"reconstructions (low-pass SSIM {ssim_cin:.3f} against {ssim_plain:.3f})")
    detail = (f"and keep {100 * kept:.0f}% of the input's fine detail (brightness minus its blur; colour transfer "
              f"keeps {100 * kept_colour:.0f}%)")
    blurred = (": they are **blurred**." if judged.loses_detail else
               ": by this measure they are not blurred.")
    lines.append(f"- The `cin` outputs {structure}, {detail}{blurred}")

    # Diversity across target styles.
    between, between_colour = cin["between_targets"]["rgb"]["mean"], colour["between_targets"]["rgb"]["mean"]
    scale = spread["between_images"]["rgb"]["mean"]
    measured = (f"two target styles' outputs of the same test image differ by {between:.3f} on average "
                f"(mean absolute difference of RGB values in [0, 1], over {spread['n_images']} test images and "
                f"every pair of the {len(spread['target_styles'])} target styles)")
    if judged.near_identical:
        than = _interval_words(difference["rgb"], "more than", "less than", "no more than")
        lines.append(f"- **Nearly the same whatever the target style.** For `cin`, {measured}, {than} colour "
                     f"transfer's tints differ ({between_colour:.3f}; {_difference(difference['rgb'])}). "
                     f"For scale, two different test images differ by {scale:.3f}.")
    else:
        lines.append(f"- **The outputs change with the target style, more than a tint does.** For `cin`, {measured}, "
                     f"against {between_colour:.3f} for colour transfer ({_difference(difference['rgb'])}). "
                     f"For scale, two different test images differ by {scale:.3f}.")
    own, own_colour = cin["from_own"]["rgb"]["mean"], colour["from_own"]["rgb"]["mean"]
    lines.append(f"- A target-style `cin` output differs from the same image's own-style output by {own:.3f} "
                 f"({own_colour:.3f} for colour transfer).")
    texture, texture_colour = cin["between_targets"]["detail"]["mean"], colour["between_targets"]["detail"]["mean"]
    than = _interval_words(difference["detail"], "more than", "less than", "about as much as")
    texture_end = (": the target style changes the fine detail too, not only the colours." if judged.detail_varies else
                   ": the target style does not change the texture more than a tint does.")
    lines.append(f"- On fine detail alone (the texture a blur removes), two target styles' `cin` outputs differ by "
                 f"{texture:.4f}, {than} colour transfer's ({texture_colour:.4f}; "
                 f"{_difference(difference['detail'], 4)}){texture_end}")
    if grid_spread is not None:
        rows = grid_spread["n_images"]
        lines.append(f"- In the grid's {rows} rows, two target styles' outputs differ by "
                     f"{grid_spread['methods']['cin']['between_targets']['rgb']['mean']:.3f} for `cin` and "
                     f"{grid_spread['methods']['colour transfer']['between_targets']['rgb']['mean']:.3f} for colour "
                     f"transfer.")

    # The photograph.
    floor = content["unrelated image"]["ssim"]["mean"]
    if photo is not None:
        survives = ("more than an unrelated image does: part of its layout survives" if judged.photo_layout_survives
                    else "no more than an unrelated image does: little of its layout survives")
        lines.append(f"- The photograph, painted in the {photo['n_styles']} target styles, keeps low-pass SSIM "
                     f"{photo['ssim']:.3f} to itself on average (test images: {ssim_cin:.3f}; an unrelated image: "
                     f"{floor:.3f}), {survives}; its versions differ from each other by "
                     f"{photo['between_targets']:.3f} (test images: {between:.3f}).")

    # What the judge's hit rates say.
    if judged.noise_like:
        lines.append(f"- The `cin` outputs keep no more of their input's structure than an unrelated image of the "
                     f"target style (low-pass SSIM {ssim_cin:.3f} against {floor:.3f}): at this budget they are "
                     f"not repainted images.")
    rate = {name: f"{100 * value['mean']:.1f}%" for name, value in hit.items()}
    if judged.ignores_style:
        lines.append(f"- The judge sees the target style in `cin` outputs {rate['cin']} of the time, not clearly more "
                     f"often than in the plain autoencoder's ({rate['plain autoencoder']}), which ignore the style: "
                     f"the style input **does not matter enough** yet.")
    if judged.tint_like and not judged.ignores_style:
        lines.append(f"- `cin`'s hit rate ({rate['cin']}) is not clearly above colour transfer's "
                     f"({rate['colour transfer']}): by the judge, it does no more than **a tint**.")
    if judged.real_style_change:
        texture_words = (", fine detail included" if judged.detail_varies else
                         ", though its fine detail changes no more than a tint's")
        lines.append(f"- The judge sees the target style in `cin` outputs more often than in a tint of the same image "
                     f"({rate['cin']} against {rate['colour transfer']}), and the outputs change with the target "
                     f"style more than a tint does{texture_words}: a crude but real style-conditioned generator "
                     f"on this data.")
    concat = summary["cin_vs"].get("concat")
    if concat is not None and "concat" in rate:
        words = {"better": "more often than", "worse": "less often than",
                 "no clear difference": "about as often as"}[concat["verdict"]]
        pays = "pays" if concat["verdict"] == "better" else "does not clearly pay"
        lines.append(f"- The `cin` generator hits the target style {words} the `concat` one ({rate['cin']} against "
                     f"{rate['concat']}): conditioning every normalisation layer {pays} here.")
    return lines


# --------------------------------------------------------------------------- the whole part


@dataclass
class Part3Run:
    """Everything one Part 3 run made (see :func:`run_all`)."""

    loss_net: torch.nn.Module
    loss_net_result: object  # its RunResult, or None when loaded from a checkpoint
    generators: dict
    histories: dict
    autoencoder: object
    judge: object
    colours: tuple
    judgement: Judgement
    summary: dict
    seconds: dict


def run_all(splits, profile, *, seed: int = 0, device: str = "auto", epochs: int | None = None,
            style_weight: float | None = None, content_weight: float = 0.0, overrides: dict | None = None,
            loss_net_checkpoint=None, checkpoint_dir: str | Path | None = None, resume: str = "auto",
            progress: bool = False, log=print) -> Part3Run:
    """The whole of Part 3, in the order of the module docstring, on ``splits`` decoded at
    ``profile.generator["image_size"]`` (or the size the caller chose: the generators are
    built for ``splits.image_size``). ``overrides``, ``epochs`` and ``style_weight``
    change the generators' settings (:func:`generator_settings`: lr, batch_size, epochs,
    weight_decay, ...); the StyleCNNs and the plain autoencoder keep the profile's.
    ``loss_net_checkpoint``: a StyleCNN checkpoint to use as the loss network instead of
    training one. ``checkpoint_dir``: each run's
    last.pt/best.pt go to ``checkpoint_dir/<conditioning>`` (generators) or
    ``checkpoint_dir/<role>`` (loss network, plain autoencoder, judge), and a second call
    with the same settings continues each run from there (``fit(resume="auto")``): an
    interrupted notebook or ``make report`` goes on instead of starting again; ``resume=
    "continue"`` (``style --resume``) refuses a last.pt of other settings instead.

    An interrupt stops the whole part: the run that was training goes back to its last
    finished epoch (saved), the finished ones stay saved, and nothing after it trains or
    is judged (``engine.RunInterrupted``, a KeyboardInterrupt naming that run).
    Returns a :class:`Part3Run`; ``seconds`` holds the time of each step."""
    import time

    from wikiart_core.engine import raise_if_interrupted

    seconds, clock = {}, time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = now - clock
        clock = now

    def folder(name):
        return Path(checkpoint_dir) / name if checkpoint_dir is not None else None

    if loss_net_checkpoint is not None:
        loss_net, loss_net_result = load_loss_network(loss_net_checkpoint, splits), None
    else:
        loss_net_result = train_classifier(splits, profile, "loss network", seed=seed, device=device,
                                           checkpoint_dir=folder("loss_network"), resume=resume)
        raise_if_interrupted(loss_net_result.history, "the loss network (StyleCNN)")
        loss_net = loss_net_result.model
    targets = style.style_targets(loss_net, splits.train, device=device)
    lap("loss network")
    generators, histories = {}, {}
    for conditioning in CONDITIONINGS:
        log(f"generator ({conditioning}):")
        generators[conditioning], histories[conditioning] = train_generator(
            splits, profile, loss_net, targets, conditioning, seed=seed, device=device, epochs=epochs,
            style_weight=style_weight, content_weight=content_weight, overrides=overrides,
            checkpoint_dir=folder(conditioning), resume=resume, progress=progress,
            meta={"profile": profile.name}, log=log)
        raise_if_interrupted(histories[conditioning], f"the {conditioning} generator")
        lap(f"generator {conditioning}")
    autoencoder = train_plain_autoencoder(splits, profile, seed=seed, device=device,
                                          checkpoint_dir=folder("plain_autoencoder"), resume=resume)
    raise_if_interrupted(autoencoder.history, "the plain autoencoder")
    lap("plain autoencoder")
    judge = train_classifier(splits, profile, "judge", seed=seed, device=device, checkpoint_dir=folder("judge"),
                             resume=resume)
    raise_if_interrupted(judge.history, "the judge (StyleCNN)")
    style.check_independent_judge(judge.model, loss_net)
    lap("judge")
    colours = colour_targets(splits.train)
    methods = painters(generators, autoencoder.model, colours, device=device)
    judgement = judge_methods(methods, splits, judge.model, loss_net, generators["cin"].encode, seed=seed,
                              device=device)
    summary = summarise(judgement, seed=seed)
    lap("judging")
    return Part3Run(loss_net=loss_net, loss_net_result=loss_net_result, generators=generators, histories=histories,
                    autoencoder=autoencoder, judge=judge, colours=colours, judgement=judgement, summary=summary,
                    seconds=seconds)


def save_generators(run: Part3Run, splits, profile, out_folder: str | Path, dataset: str | None = None,
                    seed: int = 0) -> dict[str, Path]:
    """Save each generator of ``run`` into ``out_folder`` as a checkpoint that ``paint``
    loads: ``generator.pt`` for cin, ``generator_<conditioning>.pt`` for the others, with
    the styles, image size, seed, profile, dataset and training history. Returns
    {conditioning: path written}."""
    from wikiart_core import checkpoint

    saved = {}
    for conditioning, generator in run.generators.items():
        name = "generator.pt" if conditioning == "cin" else f"generator_{conditioning}.pt"
        saved[conditioning] = checkpoint.save_checkpoint(
            Path(out_folder) / name, generator, task="style", classes=splits.classes, image_size=splits.image_size,
            seed=seed, profile=profile.name, dataset=dataset, history=run.histories[conditioning].to_dict())
    return saved


def example_grid_images(run: Part3Run, dataset, rows: int = 4, device: str = "cpu") -> dict:
    """The pictures of the grid: ``rows`` test images of contrasting styles, each
    reconstructed under its own style and painted in the six contrasting target styles
    by the cin generator and by colour transfer.

    Returns {"originals": (R, 3, S, S), "own": (R, 3, S, S), "painted": {name: (R, T, 3, S, S)},
    "row_styles": [R], "target_styles": [T], "indices": [R] (the rows' indices in ``dataset``)},
    floats in [0, 1]."""
    from wikiart_core.parts import part2_autoencoder

    # Styles with training images (their colour targets are defined).
    targets = contrasting_styles(dataset.classes, style.available_styles([run.colours[0]]).tolist())
    examples = part2_autoencoder.fixed_examples(dataset, per_style=1)
    example_styles = [int(dataset.targets[i]) for i in examples]
    # Rows: content styles spread over the label order, avoiding the target styles.
    candidates = [i for i, label in zip(examples, example_styles) if label not in targets] or list(examples)
    picked = [candidates[int(round(k))] for k in np.linspace(0, len(candidates) - 1, num=min(rows, len(candidates)))]
    images, labels = dataset.get_batch(picked)
    floats = images.float().div(255.0)
    generator = run.generators["cin"].to(device).eval()
    with torch.no_grad():
        own = generator(floats.to(device), labels.to(device)).cpu()
        painted = {"cin": [], "colour transfer": []}
        for target in targets:
            styles = torch.full((len(picked),), target, dtype=torch.long)
            painted["cin"].append(generator(floats.to(device), styles.to(device)).cpu())
            painted["colour transfer"].append(colour_transfer.transfer(floats, run.colours[0][styles],
                                                                       run.colours[1][styles]))
    return {"originals": floats.numpy(), "own": own.numpy(),
            "painted": {name: torch.stack(values, dim=1).numpy() for name, values in painted.items()},
            "row_styles": labels.tolist(), "target_styles": targets, "indices": [int(i) for i in picked]}
