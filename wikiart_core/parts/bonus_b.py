"""Bonus B (notebook 05): which pipeline the notebook fine-tunes, how its generations are
judged, and the words that follow from the numbers.

With weights under ``pretrained.stable_diffusion`` (data_paths.yaml) the notebook
fine-tunes the real model; without them it builds the tiny random pipeline and runs
the same recipe on it, as a check of the plumbing (its pictures are noise).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from wikiart_core import results, stats

NOTEBOOK = "05_bonusB"
# Styles shown in the before/after grid when present: common and rare, flat and textured.
SHOWCASE = ("Impressionism", "Cubism", "Ukiyo_e", "Pop_Art", "Baroque", "Color_Field_Painting")
STRIP_SCALES = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class PipelineChoice:
    """Where the pipeline comes from: ``source`` (a folder), ``tiny`` (True: the random
    stand-in), ``configured`` (the folder data_paths.yaml names, present or not)."""

    source: str
    tiny: bool
    configured: str | None
    profile_refuses: str | None = None


def choose_pipeline(paths, outputs: Path, classes: Sequence[str], resolution: int, seed: int = 0,
                    profile=None) -> PipelineChoice:
    """The real weights when ``pretrained.stable_diffusion`` points at a diffusers
    pipeline folder (and ``profile.lora["pretrained"]`` allows them: the test profiles
    ``smoke`` and ``rehearsal`` never fine-tune real weights on a CPU); otherwise a tiny
    random pipeline built (once) in ``outputs/tiny-pipeline`` at ``resolution`` px with the
    words of ``classes``. Nothing is ever written into the pretrained folder."""
    from wikiart_core.lora import pipeline as pipelines

    configured = paths.pretrained.get(pipelines.PRETRAINED_KEY)
    allowed = profile is None or profile.lora.get("pretrained", True)
    present = configured is not None and (Path(configured) / "model_index.json").is_file()
    if present and allowed:
        return PipelineChoice(source=str(configured), tiny=False, configured=str(configured))
    folder = pipelines.build_tiny_pipeline(Path(outputs) / "tiny-pipeline", resolution=resolution, styles=classes,
                                           seed=seed)
    return PipelineChoice(source=str(folder), tiny=True, configured=None if configured is None else str(configured),
                          profile_refuses=profile.name if present and not allowed else None)


def pipeline_note(choice: PipelineChoice, paths) -> str:
    """Markdown for the top of the notebook: what this run fine-tunes, said plainly."""
    from wikiart_core.lora import pipeline as pipelines

    if not choice.tiny:
        return (f"**This run fine-tunes the pre-trained model in `{results.shown_path(choice.source, paths)}`** "
                f"(`pretrained.{pipelines.PRETRAINED_KEY}` in `{paths.source.name}`).")
    where = f"`{results.shown_path(choice.configured, paths)}`" if choice.configured else "(the key is not set)"
    why = (f"The `{choice.profile_refuses}` profile is a test run and never fine-tunes the pre-trained weights in "
           f"{where}, so this run uses a *tiny " if choice.profile_refuses else
           f"No pre-trained weights were found where `{paths.source.name}` looks for them "
           f"(`pretrained.{pipelines.PRETRAINED_KEY}`: {where}), so this run uses a *tiny ")
    return (f"> **A plumbing check, not art.** {why}"
            f"pipeline with random weights* built from configs (same parts as Stable Diffusion, a few "
            f"thousand weights each). Every step of the recipe runs for real (captions, LoRA, training, "
            f"saving, reloading, painting, judging), but the pictures are noise and the hit rates say nothing "
            f"about art. To fine-tune the real model, fetch the weights (see *The recipe on the GPU server* "
            f"below) and run this notebook again: the same cells then train Stable Diffusion.")


def showcase_styles(classes: Sequence[str], count: int) -> list[str]:
    """Up to ``count`` styles for the before/after grid: ``SHOWCASE`` first (those that
    exist), then the other styles in label order."""
    chosen = [style for style in SHOWCASE if style in classes]
    chosen += [style for style in classes if style not in chosen]
    return chosen[:count]


def judge_grid(classifier, grid, classes: Sequence[str], image_size: int, device="cpu", seed: int = 0) -> dict:
    """The judge's verdict on a :class:`~wikiart_core.lora.generate.StyleGrid` with a LoRA.

    Returns:
        {"base": hit-rate dict, "lora": hit-rate dict (see ``judge.style_hit_rate``),
        "intervals": {"base", "lora"}: ``stats.bootstrap_interval`` of each hit rate
        (resampling the paintings), "comparison": ``stats.paired_bootstrap`` of the LoRA's
        hit rate minus the base model's (resampling prompts x seeds; the same images for
        both), "same_style": how many (prompt, seed) pairs the judge gave one style for
        both models, "distinct_styles": {"base", "lora"}: how many different styles the
        judge named for each model's paintings, "words": :func:`hit_rate_words`}.
    """
    from wikiart_core import stats
    from wikiart_core.lora import judge

    scores = {name: judge.style_hit_rate(classifier, images, grid.styles, classes, image_size, device=device)
              for name, images in (("base", grid.base), ("lora", grid.lora))}
    prompted = np.asarray(scores["lora"]["prompted_labels"])
    predicted = {name: np.asarray(scores[name]["predicted_labels"]) for name in ("base", "lora")}
    intervals = {name: stats.bootstrap_interval(prompted, predicted[name], metric="accuracy", seed=seed)
                 for name in ("base", "lora")}
    comparison = stats.paired_bootstrap(prompted, predicted["lora"], predicted["base"], metric="accuracy", seed=seed)
    return {**scores, "intervals": intervals, "comparison": comparison,
            "same_style": int((predicted["lora"] == predicted["base"]).sum()),
            "distinct_styles": {name: int(len(np.unique(labels))) for name, labels in predicted.items()},
            "words": hit_rate_words(comparison)}


def judge_test_scores(classifier, splits, device="auto", seed: int = 0) -> dict:
    """How good a judge ``classifier`` is on the test images of ``splits`` (the dataset's
    own paintings, never generated ones), beside the classification baselines.

    Measuring only: nothing is chosen on the test split.

    Returns:
        {"accuracy", "balanced_accuracy" (fractions), "intervals": {metric:
        ``stats.bootstrap_interval``} for both, "baselines": {"majority" (with its
        "style"), "stratified", "colour_statistics"}: each {"accuracy",
        "balanced_accuracy"} on the same test images (``tasks.classification_baselines``),
        "vs_colour_statistics": ``stats.paired_bootstrap`` of the judge's balanced
        accuracy minus the colour baseline's, "n_images"}.
    """
    from wikiart_core import evaluate, stats, tasks

    test_set = splits.test
    predictions = evaluate.predict(classifier, test_set, device=device)
    metrics = evaluate.classification_metrics(predictions.y_true, predictions.y_pred, test_set.classes)
    intervals = {metric: stats.bootstrap_interval(predictions.y_true, predictions.y_pred, metric, seed=seed)
                 for metric in ("accuracy", "balanced_accuracy")}
    tables = tasks.classification_baselines(splits)["test"]
    baselines = {name: {key: table[key] for key in ("style", "accuracy", "balanced_accuracy") if key in table}
                 for name, table in tables.items()}
    versus_colour = stats.paired_bootstrap(predictions.y_true, predictions.y_pred,
                                           tasks.colour_baseline_test_predictions(splits), metric="balanced_accuracy",
                                           seed=seed)
    return {"accuracy": metrics["accuracy"], "balanced_accuracy": metrics["balanced_accuracy"],
            "intervals": intervals, "baselines": baselines, "vs_colour_statistics": versus_colour,
            "n_images": int(len(predictions.y_true))}


def relation_words(interval: dict, reference: float) -> str:
    """Where a 95% interval ({"low", "high"}, fractions) lies against ``reference``:
    "above" (all of it higher), "below" (all lower) or "not distinguishable from"."""
    if interval["low"] > reference:
        return "above"
    if interval["high"] < reference:
        return "below"
    return "not distinguishable from"


def _interval_pct(interval: dict) -> str:
    level = f"{100 * interval.get('confidence', 0.95):g}%"
    return f"{level} interval {results.pct(interval['low'])} to {results.pct(interval['high'])}"


def judge_is_informative(judge: dict) -> bool:
    """True when the judge's test balanced accuracy is clearly (its interval's low end)
    above that of a guess that ignores the image (the stratified baseline: 1 / styles).
    The grid prompts every style equally often, so balanced accuracy is the score that
    carries over to it."""
    return judge["intervals"]["balanced_accuracy"]["low"] > judge["baselines"]["stratified"]["balanced_accuracy"]


def judge_words(judge: dict) -> str:
    """Markdown: the judge's own test scores with intervals, against the baselines, and
    what that allows the hit rates to say (``judge``: :func:`judge_test_scores`)."""
    from wikiart_core import stats

    pct = results.pct
    balanced, accuracy = judge["intervals"]["balanced_accuracy"], judge["intervals"]["accuracy"]
    guess = judge["baselines"]["stratified"]["balanced_accuracy"]
    majority = judge["baselines"]["majority"]
    colour = judge["baselines"].get("colour_statistics")
    text = (f"On the {judge['n_images']} test images the judge's balanced accuracy is "
            f"{pct(judge['balanced_accuracy'])} ({_interval_pct(balanced)}), {relation_words(balanced, guess)} the "
            f"{pct(guess)} of any guess that ignores the image; its accuracy, {pct(judge['accuracy'])} "
            f"({_interval_pct(accuracy)}), is "
            f"{relation_words(accuracy, majority['accuracy'])} the {pct(majority['accuracy'])} of always answering "
            f"{majority.get('style', 'the largest style').replace('_', ' ')}")
    if colour is not None and "vs_colour_statistics" in judge:
        text += (f"; against the colour-statistics baseline ({pct(colour['balanced_accuracy'])} balanced): "
                 f"{stats.verdict_words(judge['vs_colour_statistics'], 'the judge', 'colour statistics')}")
    if not judge_is_informative(judge):
        return text + (". **The judge does not tell the styles apart on the dataset's own paintings better than a "
                       "guess, so the hit rates below say nothing about the paintings' styles.**")
    return text + "."


def hit_rates_words(verdict: dict) -> str:
    """Markdown: both hit rates with intervals against chance, the LoRA-minus-base
    comparison, and how alike the judge's answers for the two models were
    (``verdict``: :func:`judge_grid`). Chance, 1 / styles, is the expected hit rate of
    any judge that ignores the image, since every style is prompted equally often."""
    pct = results.pct
    chance, n = verdict["lora"]["chance"], verdict["lora"]["n_images"]
    base, lora = verdict["intervals"]["base"], verdict["intervals"]["lora"]
    text = (f"the judge saw the prompted style in {pct(verdict['lora']['hit_rate'])} of the LoRA's {n} paintings "
            f"({_interval_pct(lora)}) and in {pct(verdict['base']['hit_rate'])} of the base model's "
            f"({_interval_pct(base)}). "
            f"Chance, the hit rate of any judge that ignores the image (every style is prompted equally often), is "
            f"{pct(chance)}: the LoRA's rate is {relation_words(lora, chance)} chance, the base model's "
            f"{relation_words(base, chance)} it. Paired over the same prompts and seeds, {verdict['words']}. The judge "
            f"named the same style for both models in {verdict['same_style']} of the {n} pairs")
    distinct = verdict.get("distinct_styles", {})
    single = [name for name in ("base", "lora") if distinct.get(name) == 1]
    if single:
        who = " and ".join({"base": "the base model's", "lora": "the LoRA's"}[name] for name in single)
        text += (f"; for {who} paintings it named a single style every time, and a judge that always names one "
                 f"style hits exactly chance here")
    return text + "."


def loss_summary(losses: Sequence[float]) -> dict:
    """The training loss in two numbers: {"first": the first step's, "last_mean": the mean
    of the last tenth of the steps (at least one; a single step is too noisy to quote),
    "last_steps": how many steps that mean covers}."""
    last_steps = max(1, len(losses) // 10)
    return {"first": float(losses[0]), "last_mean": float(sum(losses[-last_steps:]) / last_steps),
            "last_steps": last_steps}


def hit_rate_words(comparison: dict) -> str:
    """One sentence for the paired bootstrap of (LoRA hit rate - base hit rate); the
    interval is always of that signed difference, in percentage points."""
    points = stats.points
    level = f"{100 * comparison['confidence']:g}%"
    interval = (f"LoRA minus base model: {level} interval {points(comparison['low'])} to "
                f"{points(comparison['high'])} points")
    if comparison["verdict"] == "better":
        return f"the LoRA raises the style hit rate by {points(comparison['difference'])} points ({interval})"
    if comparison["verdict"] == "worse":
        return f"the LoRA lowers the style hit rate by {points(-comparison['difference'])} points ({interval})"
    return f"no clear difference in style hit rate between the LoRA and the base model ({interval})"


def balanced_draws_words(folder_counts: Mapping[str, int], lora_counts: Mapping[str, int], data_words: str,
                         images_per_style: int | None) -> str:
    """Markdown: what drawing batches in proportion to the images would give, on the real
    WikiArt split (``wikiart_facts``) and on the data of this run, and what the balanced
    draws give instead.

    Args:
        folder_counts: {style: images} of the training folder in use
            (``data.folder_counts(paths.train, classes)``).
        lora_counts: {style: images} the LoRA trains on (``CaptionedImages.class_counts()``).
        data_words: which data this is (``results.which_data(paths)``).
        images_per_style: the profile's cap on the LoRA's images per style (None: none).
    """
    from wikiart_core import wikiart_facts as facts

    pct, words = results.pct, facts.style_words

    def extremes(counts):
        present = {style: count for style, count in counts.items() if count > 0}
        return max(present, key=present.get), min(present, key=present.get), sum(present.values()), len(present)

    here_large, here_small, here_total, _ = extremes(folder_counts)
    lora_large, lora_small, lora_total, lora_styles = extremes(lora_counts)
    real = facts.TRAIN_COUNTS
    cap = f"at most {images_per_style} per style" if images_per_style else "every training image"
    if lora_counts[lora_large] == lora_counts[lora_small]:
        inside = f"{lora_counts[lora_large]:,} of every style, so the cap already makes the styles the same size there"
    else:
        inside = (f"{lora_counts[lora_large]:,} of {words(lora_large)} and {lora_counts[lora_small]:,} of "
                  f"{words(lora_small)}, still {lora_counts[lora_large] / lora_counts[lora_small]:.1f} times more")
    return (f"**Balanced draws, in numbers.** Drawn in proportion to the images, a batch follows the image counts. "
            f"On the real WikiArt split (its train folders, from `wikiart_facts`), {words(facts.LARGEST_STYLE)} has "
            f"{real[facts.LARGEST_STYLE]:,} of the {facts.TRAIN_IMAGES:,} train images "
            f"({pct(real[facts.LARGEST_STYLE] / facts.TRAIN_IMAGES)}) and {words(facts.SMALLEST_STYLE)} "
            f"{real[facts.SMALLEST_STYLE]:,}. In the training folder of the data this run uses, {data_words}, "
            f"{words(here_large)} has {folder_counts[here_large]:,} of {here_total:,} "
            f"({pct(folder_counts[here_large] / here_total)}) and {words(here_small)} {folder_counts[here_small]:,}. "
            f"The LoRA of this run trains on {lora_total:,} of them ({cap}): {inside}. With balanced "
            f"draws each of the {lora_styles} styles fills {pct(1 / lora_styles)} of the draws, whatever its count.")


def memory_words(peak_memory_bytes: int | None) -> str:
    """'peak GPU memory 9.81 GiB' or 'CPU run'."""
    if peak_memory_bytes is None:
        return "CPU run (no GPU memory to report)"
    return f"peak GPU memory {peak_memory_bytes / 2**30:.2f} GiB"


def sd15_lora_size(rank: int) -> dict:
    """What a rank-``rank`` LoRA on Stable Diffusion 1.5's UNet attention projections
    holds: the UNet is built from SD 1.5's configuration on the ``meta`` device (no
    memory, no weights needed) and the adapters counted. Returns {"lora_parameters",
    "unet_parameters", "share", "file_megabytes"} (float32 file, 1 MB = 10^6 bytes)."""
    import torch
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel

    from wikiart_core.lora import train

    with init_empty_weights():
        unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
        total_before = sum(p.numel() for p in unet.parameters())
        with torch.device("meta"):
            trainable = train.add_lora(unet, rank)
    lora = sum(p.numel() for p in trainable)
    return {"lora_parameters": lora, "unet_parameters": total_before + lora, "share": lora / (total_before + lora),
            "file_megabytes": lora * 4 / 1e6}


def grid_rows(grid, styles: Sequence[str]):
    """The rows of ``grid`` (a StyleGrid) for ``styles``, as a smaller StyleGrid."""
    from dataclasses import replace

    rows = [grid.styles.index(style) for style in styles]
    return replace(grid, styles=[grid.styles[r] for r in rows], prompts=[grid.prompts[r] for r in rows],
                   base=grid.base[rows], lora=None if grid.lora is None else grid.lora[rows])


# Estimates for Stable Diffusion 1.5 on one data-centre GPU (A100 / H100 class), for the
# recipe text: NOT measurements of this project. benchmarks/lora_gpu_check.py measures
# the CUDA path; a real run reports its own time and peak memory in results.json.
SERVER_ESTIMATES = {
    "gpu_memory_gib": (12, 24),  # batch 8 at 512 px, bf16 frozen weights, PyTorch SDPA attention
    "images_per_second": (10, 25),  # forward + backward of the UNet, batch 8, bf16
}


def server_recipe(profile, paths) -> str:
    """Markdown: the exact recipe for the GPU server (model, weights, fetch command,
    settings of ``profile.lora``, commands, and what to expect), from the code's own
    constants and the profile, so it cannot drift from what the notebook runs."""
    from wikiart_core.lora import pipeline as pipelines

    settings = profile.lora
    size = sd15_lora_size(settings["rank"])
    images = settings["steps"] * settings["batch_size"] * settings["gradient_accumulation"]
    low_rate, high_rate = SERVER_ESTIMATES["images_per_second"]
    low_mem, high_mem = SERVER_ESTIMATES["gpu_memory_gib"]
    folder = results.shown_path(paths.pretrained.get(pipelines.PRETRAINED_KEY, "models/stable-diffusion-v1-5"), paths)
    cap = settings["images_per_style"]
    images_per_style = f"at most {cap} training images per style" if cap else "all the training images"
    launch = f"WIKIART_PROFILE={profile.name} accelerate launch --multi_gpu --num_processes 4 -m wikiart_core lora"
    return f"""
**Model.** Stable Diffusion 1.5 (`{pipelines.DEFAULT_HUB_ID}` on the Hugging Face hub), saved as a
diffusers folder. **Where.** `pretrained.{pipelines.PRETRAINED_KEY}` in `{paths.source.name}`, now
`{folder}`. **Fetch** it on a machine with a network, then copy the folder to the server:

    {pipelines.FETCH_COMMAND}

**Settings** (profile `{profile.name}`): {settings['steps']} steps of {settings['batch_size']} images x
{settings['gradient_accumulation']} accumulation steps = {settings['batch_size'] * settings['gradient_accumulation']}
images per step per GPU, learning rate {settings['lr']:g} (AdamW, constant), LoRA rank {settings['rank']} on
`to_q`, `to_k`, `to_v`, `to_out.0`, the pipeline's own resolution (512 px for SD 1.5),
{images_per_style}, drawn class-balanced, bf16 autocast.
The LoRA then holds {size['lora_parameters']:,} parameters ({100 * size['share']:.3f}% of the UNet's
{size['unet_parameters']:,}): a float32 file of about {size['file_megabytes']:.1f} MB (counted from SD 1.5's
configuration, not measured).

**Run** it (in tmux) with one GPU, or with several (data parallel; the effective batch grows with the GPUs):

    WIKIART_PROFILE={profile.name} python -m wikiart_core lora --out outputs/lora
    {launch} --out outputs/lora
    python -m wikiart_core generate --lora outputs/lora --style Cubism Ukiyo_e --seeds 0 1 2 --out outputs/lora/paint

or run this notebook with `PROFILE = "{profile.name}"`. **Expect** (estimates for an A100/H100-class GPU, not
measurements): {low_mem}-{high_mem} GiB of GPU memory, and at {low_rate}-{high_rate} images a second,
{images / high_rate / 3600:.1f}-{images / low_rate / 3600:.1f} hours for the {images:,} images of the run. If memory
runs out, halve `--batch-size` and double `--gradient-accumulation` (same effective batch).
`benchmarks/lora_gpu_check.py` measures the CUDA path (bf16, peak memory, step time) on the tiny pipeline.
"""
