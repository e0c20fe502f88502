"""Command line for long runs without a notebook (e.g. in tmux on the GPU server).

    python -m wikiart_core synth --out data/synthart --scale 0.25 --size 128 --seed 0
    python -m wikiart_core info                      # what data_paths.yaml points at
    python -m wikiart_core train --model stylecnn --imbalance logit_adjust --epochs 30 --out outputs/stylecnn
    python -m wikiart_core train ... --out outputs/stylecnn --resume     # after Ctrl-C: continue the run in --out
    python -m wikiart_core evaluate --checkpoint outputs/stylecnn/best.pt
    python -m wikiart_core search --trials 20 --out outputs/search    # Optuna study; again: 20 more trials
    python -m wikiart_core fetch-weights resnet50 --out models/backbones          # once, on a machine with internet
    python -m wikiart_core train --model resnet50 --finetune linear --out outputs/resnet50   # ImageNet-pretrained
    python -m wikiart_core autoencode --epochs 20 --out outputs/ae          # part 2: autoencoder
    python -m wikiart_core cluster --representation autoencoder --checkpoint outputs/ae/autoencoder.pt --out outputs/ae/cluster
    python -m wikiart_core style --epochs 30 --out outputs/style                 # part 3: the generator, judged
    python -m wikiart_core paint --checkpoint outputs/style/generator.pt --image photo.jpg --style Cubism --out cubist.png
    python -m wikiart_core lora --steps 3000 --rank 4 --out outputs/lora     # bonus B (also: accelerate launch -m wikiart_core lora ...)
    python -m wikiart_core generate --lora outputs/lora --style Cubism --seeds 0 1 2 --out outputs/lora/paint

Every sub-command that reads data takes the same data options (``--paths``/``--dataset``,
or ``--train``/``--test`` folders; ``--profile``; ``--validation-fraction``) and the same
run options (``--seed``, ``--device``, ``--quiet``), defined once as parent parsers.
Training goes through ``experiment.run``: fit sees the train and validation splits,
best.pt is chosen on validation, and the test split is scored once at the end.
Each sub-command is one small function; argparse stays at the edge.

Ctrl-C (SIGINT) stops every training command on the first press with exit 130: the run
goes back to its last finished epoch (saved), nothing unfinished is written as a
result, and the same command with ``--resume`` continues to the weights an
uninterrupted run would have (``style`` keeps its finished models and continues the one
that was training). Without ``--resume`` a command refuses to start afresh over a run
saved in its ``--out``. Every mistake a user can make (a flag out of range, a file that
is not what it should be, a full disk) ends in one ``error:`` line naming the flag or
file and the fix, exit 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import cli_options, config, files
from .cli_options import (UsageError, count, fraction, image_side, non_negative_float, positive_float,
                          positive_int, run_overrides, splits_from_args, checked_spec)
from .models.backbones import BACKBONES, WeightsError
from .checkpoint import CheckpointError
from .data import DataError
from .device import DeviceError
from .engine import CONTINUE_RESUME, TrainingError
from .files import DiskFullError
from .lora import LoraError
from .search import SearchError


def _refuse_overwriting(last_files: list[Path], resume) -> None:
    """Before a fresh start into --out: refuse when a run there already saved a last.pt,
    so that re-running a command never restarts hours of training from epoch 0."""
    existing = [path for path in last_files if path.is_file()]
    if existing and not resume:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise UsageError(f"{existing[0]}{more} holds an earlier run in this --out. Fix: add --resume to continue it "
                         f"(finished runs are kept as they are), or write to another --out.")


def cmd_synth(args: argparse.Namespace) -> int:
    """Write the embedded procedural dataset (27 style folders, real imbalance)."""
    from . import synth

    out = synth.generate(args.out, scale=args.scale, size=args.size, seed=args.seed,
                         test_fraction=args.test_fraction, workers=args.workers, progress=cli_options.progress_wanted(args))
    train_counts, test_counts = synth.split_counts(args.scale, args.test_fraction)
    print(f"wrote {sum(train_counts.values())} train + {sum(test_counts.values())} test images "
          f"({args.size}px, seed {args.seed}) to {out}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Print the resolved data_paths.yaml entry and the profile."""
    paths = config.load_paths(args.paths, args.dataset)
    profile = config.get_profile(args.profile)
    print(f"paths file : {paths.source}")
    print(f"dataset    : {paths.dataset}{' (embedded synthetic data, not WikiArt)' if paths.synth else ''}")
    print(f"train      : {paths.train}")
    print(f"test       : {paths.test}")
    print(f"cache_dir  : {paths.cache_dir}")
    print(f"outputs_dir: {paths.outputs_dir}")
    for name, folder in paths.pretrained.items():
        print(f"pretrained : {name} = {folder}{'' if Path(folder).exists() else ' (missing)'}")
    print(f"profile    : {profile}")
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    """Generate the embedded dataset named in data_paths.yaml if it is missing."""
    from . import data

    paths = config.load_paths(args.paths, args.dataset)
    data.ensure_dataset(paths, progress=cli_options.progress_wanted(args))
    print(f"dataset {paths.dataset!r} ready: {paths.train}, {paths.test}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Execute the notebooks and export HTML + Markdown into --out."""
    from . import report

    if args.sync_only:
        for script in sorted(args.notebooks.glob(report.NOTEBOOK_PATTERN)):
            print(f"synced {report.update_inputs(script)} (outputs of unchanged code cells kept)")
        return 0
    cell_timeout = "default" if args.cell_timeout is None else (None if args.cell_timeout <= 0 else args.cell_timeout)
    report.build_report(args.notebooks, args.out, execute=not args.no_execute, only=args.only, readme=args.readme,
                        cell_timeout=cell_timeout, with_code=args.with_code, pdf=not args.no_pdf)
    return 0


def cmd_regress(args: argparse.Namespace) -> int:
    """Strict nbval on the committed notebooks, each in the profile that made its outputs."""
    from . import regress

    try:
        return regress.run(args.notebooks, args.names, outputs=args.outputs)
    except regress.RegressError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def _write_json(path: Path, values: dict) -> None:
    files.write_json(path, values)


def _classification_summary(result, profile_name: str, dataset: str) -> dict:
    """metrics.json of a classifier: test scores at the top (accuracy, balanced_accuracy,
    macro_f1, top3_accuracy, per_class_recall, the baselines), validation beside them, then the whole run."""
    test, baselines = result.test or {}, result.baselines.get("test", {})
    return {"accuracy": test.get("accuracy"), "balanced_accuracy": test.get("balanced_accuracy"),
            "macro_f1": test.get("macro_f1"), "top3_accuracy": test.get("top3_accuracy"),
            "per_class_recall": test.get("per_class_recall"),
            "majority_baseline": baselines.get("majority"), "stratified_baseline": baselines.get("stratified"),
            "colour_statistics_baseline": baselines.get("colour_statistics"),
            "validation_metrics": result.validation, "seed": result.spec.seed, "profile": profile_name,
            "dataset": dataset, **result.to_dict()}


def _print_run_table(result) -> None:
    from . import evaluate, experiment

    print(evaluate.results_table(experiment.results_rows([result]), result.baselines or None))


def _train_spec(args: argparse.Namespace, profile):
    """The RunSpec of ``train``: ``--model`` with its defaults (StyleCNN
    ``config.TRAIN_STYLE_CNN``'s capacity, measured, or a test profile's own, and the profile's lr; a pretrained backbone, torchvision
    or timm, its local weights file (--pretrained, else the pretrained.backbones folder of
    data_paths.yaml, else weights a package ships), --finetune, --backbone-lr-scale and
    ``backbones.DEFAULT_LR``), the profile's epochs and batch size, then every flag that
    was given (--width, --depth, --model-arg too). Weights are looked up and the spec
    checked (``RunSpec.problems``) before any data is read, so a mistake stops the run at
    once."""
    from . import experiment, models
    from .models import backbones, timm_backbones

    model = args.model or experiment.RunSpec.model
    try:
        model_class, _ = models.resolve(model)
    except ValueError as error:
        raise UsageError(str(error)) from None
    given_args = cli_options.model_args_from(args)
    if issubclass(model_class, backbones.PretrainedClassifier):
        paths = None if args.pretrained is not None else config.load_paths(args.paths, args.dataset)
        if model_class is timm_backbones.TimmClassifier:
            weights = timm_backbones.find_timm_weights(model, args.pretrained, paths)
        else:
            weights = backbones.find_weights(model.lower(), args.pretrained, paths)
        model_args = {"weights": str(weights), "finetune": args.finetune, "backbone_lr_scale": args.backbone_lr_scale,
                      **given_args}
        label, lr = f"{model} ({args.finetune})", backbones.DEFAULT_LR
    elif args.pretrained is not None:
        raise UsageError(f"--pretrained is for pretrained backbones ({', '.join(BACKBONES)} or a timm "
                         f"architecture); {model} trains from scratch")
    else:
        defaults = (profile.command_style_cnn or config.TRAIN_STYLE_CNN) if model_class.__name__ == "StyleCNN" else {}
        label, lr, model_args = model, profile.lr, {**defaults, **given_args}
    task_flags = {key: getattr(args, key) for key in ("imbalance", "label_smoothing", "mixup", "augment")
                  if getattr(args, key) is not None}
    input_size = (args.image_size or profile.image_size) if args.cache_margin > 1 else None
    spec = experiment.RunSpec(name=label, model=model, model_args=model_args, epochs=profile.epochs, lr=lr,
                              batch_size=profile.batch_size, input_size=input_size)
    return checked_spec(spec.replace(**run_overrides(args), **task_flags))


def _backbone_image_size(spec) -> int | None:
    """The side to decode images at for a pretrained backbone when --image-size is not
    given: its input side over its crop fraction (256 px for a 224 px model with crop
    0.875), so the model's own central crop and resize see what its evaluation transform
    would. None for other models (the profile's size)."""
    from . import models
    from .models import backbones

    model_class, _ = models.resolve(spec.model)
    if not issubclass(model_class, backbones.PretrainedClassifier):
        return None
    return models.build(spec.model, **{**spec.model_args, "n_classes": 2}).decode_side


def cmd_train(args: argparse.Namespace) -> int:
    """Train a classifier; write --out/last.pt, best.pt (best validation score) and
    metrics.json (the final model on validation and, once, on test, beside the baselines)."""
    from . import experiment

    spec = _train_spec(args, config.get_profile(args.profile))
    profile, splits, dataset = splits_from_args(args, None if args.image_size else _backbone_image_size(spec))
    # Embeddings of a linear probe are cached beside the decoded images.
    cache_dir = args.cache_dir if args.train is not None else config.load_paths(args.paths, args.dataset).cache_dir
    out = Path(args.out)
    _refuse_overwriting([out / "last.pt"], args.resume)
    # --resume alone continues --out's own run; --resume FILE starts from that last.pt.
    resume = CONTINUE_RESUME if str(args.resume) == CONTINUE_RESUME else args.resume
    result = experiment.run(spec, splits, checkpoint_dir=out, resume=resume, progress=cli_options.progress_wanted(args),
                            meta={"profile": profile.name, "dataset": dataset}, log=print, cache_dir=cache_dir)
    print(result.history.table())
    if result.interrupted:
        print(f"interrupted: no metrics.json written; resume with --resume {result.history.checkpoint}",
              file=sys.stderr)
        return 130
    _write_json(out / "metrics.json", _classification_summary(result, profile.name, dataset))
    _print_run_table(result)
    print(f"wrote {out / 'last.pt'}, {out / 'best.pt'} and {out / 'metrics.json'}")
    return 0


def cmd_convert_weights(args: argparse.Namespace) -> int:
    """Write --out: ``source`` renamed into timm's --architecture (``models.convert``),
    checked to load with no missing or unexpected key."""
    from .models import convert, timm_backbones

    source = args.source or timm_backbones.bundled_file(args.architecture)
    if source is None:
        raise UsageError(f"no source file given and no installed package ships {args.architecture} weights "
                         f"(known: {sorted(timm_backbones.BUNDLED)})")
    if not Path(source).is_file():
        raise UsageError(f"{source} does not exist")
    out = convert.convert_file(source, args.out, args.architecture, naming=args.naming)
    print(f"wrote {out} ({args.architecture}, converted from {args.naming} names); use it with "
          f"`train --model {args.architecture} --pretrained {out}` or put it in the pretrained.backbones folder")
    return 0


def cmd_fetch_weights(args: argparse.Namespace) -> int:
    """Download a backbone's ImageNet weights (the one command that uses the network)."""
    from .models import backbones

    path = backbones.fetch_weights(args.model, args.out, progress=cli_options.progress_wanted(args))
    print(f"wrote {path}; point data_paths.yaml at its folder (`{backbones.CONFIG_KEY}: {args.out}` under "
          f"`pretrained:`) or pass --pretrained {path}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    """An Optuna study over lr, weight decay, width, augmentation and imbalance method,
    chosen on validation; its best trial retrained (--out/best/) and scored once on test;
    --out/search.json, optimisation_history.png and param_importances.png."""
    from . import experiment, plots, search

    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"--out {out}: cannot create that folder ({error.strerror}). Fix: choose a folder you "
                         f"can write.") from None
    storage = args.storage or f"sqlite:///{(out / 'study.db').resolve()}"
    search.check_storage(storage)  # a bad --storage is named before any data is decoded
    profile = config.get_profile(args.profile)
    settings = profile.search
    trials = settings["trials"] if args.trials is None else args.trials
    # The searched dimensions (lr, weight decay, width, augmentation, imbalance) are set per
    # trial; the flags set the rest of the base run, and the searched ones where no trial does.
    model = args.model or experiment.RunSpec.model
    spec = checked_spec(experiment.RunSpec(
        name="search", model=model, model_args=profile.style_cnn if model.lower() == "stylecnn" else {},
        epochs=settings["epochs"], batch_size=profile.batch_size,
        input_size=(args.image_size or profile.image_size) if args.cache_margin > 1 else None,
    ).replace(**run_overrides(args)))
    profile, splits, dataset = splits_from_args(args)

    def again(more: str) -> str:
        return (f"python -m wikiart_core search --storage {search.redact_password(search.storage_url(storage))} "
                f"--study-name {args.study_name} --trials {more} --out {out} (and the same data and run options)")

    try:
        result = search.run_study(spec, splits, trials=trials, storage=storage, study_name=args.study_name,
                                  seed=args.seed if args.sampler_seed is None else args.sampler_seed,
                                  startup_trials=settings["startup_trials"], min_epochs=settings["min_epochs"],
                                  checkpoint_dir=out / "best", meta={"profile": profile.name, "dataset": dataset},
                                  log=print)
    except KeyboardInterrupt:
        print(f"interrupted: the finished trials are stored; continue the study with\n  {again('N')}", file=sys.stderr)
        return 130
    print(result.table())
    if result.best.interrupted:
        print(f"interrupted while retraining the best trial; to retrain it: {again('0')}",
              file=sys.stderr)
        return 130
    _print_run_table(result.best)
    history = plots.study_history(result.study)
    importances = plots.study_importances(result.importances, result.importances_note)
    files.save_figure(history, out / "optimisation_history.png")
    files.save_figure(importances, out / "param_importances.png")
    if result.importances is None:
        print(f"parameter importances not computed: {result.importances_note}")
    _write_json(out / "best" / "metrics.json", _classification_summary(result.best, profile.name, dataset))
    _write_json(out / "search.json", {**result.to_dict(), "profile": profile.name, "dataset": dataset,
                                      "split": splits.describe()})
    print(f"wrote {out / 'search.json'}, optimisation_history.png, param_importances.png and best/ "
          f"(the retrained best trial); continue the study with\n  {again('N')}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Re-evaluate a classifier checkpoint on a test split built with its own class list."""
    from . import checkpoint, data, evaluate
    from .device import pick_device

    model, meta = checkpoint.load_checkpoint(args.checkpoint, device=pick_device(args.device))
    if meta.get("task", "classify") != "classify":
        raise UsageError(f"{args.checkpoint} holds a {meta.get('task')} model; evaluate scores classifiers")
    if args.test is not None:
        test_root = Path(args.test)
    else:
        paths = config.load_paths(args.paths, args.dataset)
        data.ensure_dataset(paths, progress=cli_options.progress_wanted(args))
        test_root = paths.test
    if not Path(test_root).is_dir():
        raise FileNotFoundError(f"test folder {test_root} does not exist")
    # The styles must be the same (their order comes from the checkpoint): a test split
    # with other styles cannot be scored by this model's outputs.
    checkpoint.check_classes(meta["classes"], data.list_style_folders(Path(test_root)), order_matters=False)
    image_size = data.check_image_size(meta.get("image_size"), f"{args.checkpoint} (its recorded image_size)")
    test_set = data.WikiArtDataset(test_root, image_size=image_size, classes=meta["classes"],
                                   cache_dir=args.cache_dir, progress=cli_options.progress_wanted(args))
    predictions = evaluate.predict(model, test_set, batch_size=args.batch_size, device=args.device)
    metrics = evaluate.classification_metrics(predictions.y_true, predictions.y_pred, test_set.classes,
                                              predictions.probabilities)
    train_counts = meta.get("train_counts") or {style: 1 for style in meta["classes"]}
    baselines = evaluate.baselines(train_counts, predictions.y_true, test_set.classes)
    report = {"accuracy": metrics["accuracy"], "balanced_accuracy": metrics["balanced_accuracy"],
              "macro_f1": metrics["macro_f1"], "top3_accuracy": metrics["top3_accuracy"],
              "n_test": metrics["n_samples"],
              "per_class_recall": {style: values["recall"] for style, values in metrics["per_class"].items()},
              "majority_baseline": baselines["majority"], "stratified_baseline": baselines["stratified"],
              "checkpoint": str(args.checkpoint), "test": str(test_root), "model": meta["model_class"],
              "init_args": meta["init_args"], "seed": meta.get("seed"), "profile": meta.get("profile"),
              "image_size": meta["image_size"], "epoch": meta.get("epoch")}
    checkpoint_path = Path(args.checkpoint)
    out = Path(args.out) if args.out else checkpoint_path.with_name(f"{checkpoint_path.stem}.metrics.json")
    _write_json(out, report)
    print(evaluate.results_table({f"{meta['model_class']} ({checkpoint_path.name})": {"test": report}},
                                 {"test": baselines}))
    print(f"wrote {out}")
    return 0


def cmd_autoencode(args: argparse.Namespace) -> int:
    """Train a ConvAutoencoder (validation PSNR picks best.pt); write autoencoder.pt,
    figures and metrics.json (MSE and PSNR on validation and test, beside the resize
    baseline at the same compression ratio)."""
    from . import checkpoint, experiment, plots
    from .parts import part2_autoencoder

    # --image-size None: the profile's image size.
    profile, splits, dataset = splits_from_args(args, image_size=getattr(args, "image_size", None))
    spec = part2_autoencoder.autoencoder_spec(profile, seed=args.seed, device=args.device,
                                              ssim_weight=args.ssim_weight)
    architecture = {name: getattr(args, name) for name in ("base_channels", "depth", "latent_channels")
                    if getattr(args, name, None) is not None}
    spec = spec.replace(**run_overrides(args), model_args={**spec.model_args, **architecture})
    out = Path(args.out)
    _refuse_overwriting([out / "run" / "last.pt"], args.resume)
    result = experiment.run(spec, splits, checkpoint_dir=out / "run", progress=cli_options.progress_wanted(args),
                            resume=CONTINUE_RESUME if args.resume else None,
                            meta={"profile": profile.name, "dataset": dataset}, log=print)
    print(result.history.table())
    if result.interrupted:
        print(f"interrupted: no autoencoder.pt or metrics.json written; {out / 'run' / 'last.pt'} holds the last "
              f"finished epoch. Continue with the same command and --resume.", file=sys.stderr)
        return 130
    model = result.model
    saved = checkpoint.save_checkpoint(out / "autoencoder.pt", model, task="reconstruct", classes=splits.classes,
                                       image_size=splits.image_size, seed=args.seed, profile=profile.name,
                                       history=result.history.to_dict(), spec=spec.to_dict())
    examples = part2_autoencoder.reconstruction_examples(model, splits.test)
    figures = {"curves.png": plots.reconstruction_curves(result.history.records,
                                                         result.baselines["validation"]["resize"]["psnr"]),
               "reconstructions.png": plots.reconstruction_grid(examples["images"], examples["reconstructions"],
                                                                examples["labels"], splits.test.classes),
               "latent.png": plots.latent_channels(examples["latent"], examples["images"][0])}
    for name, figure in figures.items():
        files.save_figure(figure, out / name)
    baseline = result.baselines["test"]["resize"]
    summary = {"mse": result.test["mse"], "psnr": result.test["psnr"], "baseline": baseline,
               "beats_baseline": result.test["psnr"] > baseline["psnr"],
               "compression_ratio": model.compression_ratio,
               "latent_shape": [model.latent_channels, model.latent_size, model.latent_size],
               "init_args": model.init_args, "profile": profile.name, "dataset": dataset,
               "checkpoint": str(saved), "figures": sorted(figures), **result.to_dict()}
    _write_json(out / "metrics.json", summary)
    print(f"test PSNR {result.test['psnr']:.2f} dB (validation {result.validation['psnr']:.2f} dB) vs resize "
          f"baseline {baseline['psnr']:.2f} dB at compression ratio {model.compression_ratio:g}; wrote {out}")
    return 0


def cmd_style(args: argparse.Namespace) -> int:
    """Part 3: train the style-conditioned generators (cin and concat), the plain
    autoencoder and an independent judge; judge every method on the test split; write
    generator.pt (cin), generator_concat.pt, the figures and metrics.json into --out."""
    from . import plots
    from .parts import part3_generator

    out = Path(args.out)
    _refuse_overwriting(sorted((out / "runs").glob("*/last.pt")), args.resume)
    # --image-size None: the generator's image size of the profile.
    image_size = getattr(args, "image_size", None) or config.get_profile(args.profile).generator["image_size"]
    profile, splits, dataset = splits_from_args(args, image_size=image_size)
    # The generators' settings given on the command line (seed and device go on their own).
    overrides = {name: value for name, value in run_overrides(args).items() if name not in ("seed", "device")}
    # An interrupt raises engine.RunInterrupted (a KeyboardInterrupt naming the run): main()
    # exits 130 before anything below writes a generator or a metric of an unfinished run.
    run = part3_generator.run_all(splits, profile, seed=args.seed, device=args.device, overrides=overrides,
                                  style_weight=args.style_weight, content_weight=args.content_weight,
                                  loss_net_checkpoint=args.loss_net, checkpoint_dir=out / "runs",
                                  resume=CONTINUE_RESUME if args.resume else "auto", progress=cli_options.progress_wanted(args))
    part3_generator.save_generators(run, splits, profile, out, dataset=dataset, seed=args.seed)
    grid = part3_generator.example_grid_images(run, splits.test)
    files.save_figure(plots.style_grid(grid, splits.classes), out / "grid.png")
    files.save_figure(plots.generator_curves(run.histories), out / "curves.png")
    print(part3_generator.results_table(run.summary))
    summary = {"summary": run.summary, "judge_test": run.judge.test,
               "loss_network_test": run.loss_net_result.test if run.loss_net_result else str(args.loss_net),
               "seconds": run.seconds, "profile": profile.name, "dataset": dataset, "seed": args.seed,
               "split": splits.describe()}
    _write_json(out / "metrics.json", summary)
    print(f"wrote {out}/generator.pt, grid.png, curves.png and metrics.json")
    return 0


def _picture_format(out: Path) -> str:
    """The Pillow format that --out's suffix names (PNG, JPEG, WebP, TIFF, ...), checked
    before any work; UsageError for a suffix Pillow cannot write."""
    from PIL import Image

    writable = {suffix: name for suffix, name in Image.registered_extensions().items() if name in Image.SAVE}
    file_format = writable.get(out.suffix.lower())
    if file_format is None:
        raise UsageError(f"--out {out}: Pillow cannot write {out.suffix or 'files without a suffix'}. "
                         f"Fix: end the name in .png (lossless), .jpg or .webp.")
    return file_format


def _load_generator(path: Path, device: str):
    """(generator, classes, image side) from a checkpoint that ``style`` wrote; UsageError
    naming the file when it holds another model, DataError for an implausible image size."""
    from . import checkpoint, data

    generator, meta = checkpoint.load_checkpoint(path, device=device)
    if not callable(getattr(generator, "style_vectors", None)):
        raise UsageError(f"{path} holds a {type(generator).__name__} (task {meta.get('task', '?')!r}), not a "
                         f"style-conditioned generator. Fix: pass the generator.pt that "
                         f"`python -m wikiart_core style --out DIR` wrote into DIR.")
    size = data.check_image_size(meta.get("image_size"), f"{path} (its recorded image_size)")
    built_for = data.check_image_size(generator.init_args.get("image_size", size), f"{path} (the generator's init_args)")
    if size != built_for:
        raise DataError(f"{path}: its recorded image_size {size} differs from the generator's own ({built_for}). "
                        f"The file was edited or damaged. Fix: use a generator.pt as `style` wrote it.")
    classes = list(meta.get("classes") or [])
    if len(classes) != generator.init_args.get("n_styles", len(classes)):
        raise DataError(f"{path}: it lists {len(classes)} styles for a generator of "
                        f"{generator.init_args.get('n_styles')}. Fix: use a generator.pt as `style` wrote it.")
    return generator, classes, size


def cmd_paint(args: argparse.Namespace) -> int:
    """Paint one picture in a style with a saved generator (``style`` writes generator.pt)."""
    from PIL import Image

    from .parts import part3_generator

    out = Path(args.out)
    file_format = _picture_format(out)
    generator, classes, size = _load_generator(args.checkpoint, args.device)

    def style_index(name: str) -> int:
        wanted = name.replace(" ", "_").lower()
        for index, style_name in enumerate(classes):
            if style_name.lower() == wanted:
                return index
        raise UsageError(f"unknown style {name!r}; {args.checkpoint} knows: {', '.join(classes)}")

    first = style_index(args.style)
    second = style_index(args.mix_with) if args.mix_with else None
    picture = part3_generator.load_picture(args.image, size)
    painted = part3_generator.paint_image(generator, picture, first, second, args.mix)
    pixels = (painted.permute(1, 2, 0).numpy() * 255).round().astype("uint8")
    files.atomic_write(out, lambda handle: Image.fromarray(pixels).save(handle, format=file_format))
    print(f"wrote {out} ({args.style}{f' mixed {args.mix:g} with {args.mix_with}' if second is not None else ''})")
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    """Extract one representation of a split, cluster it with KMeans, score the clusters
    against the styles; write features.npz, figures and metrics.json."""
    from . import checkpoint, data, plots
    from .parts import part2_autoencoder

    model, image_size = None, None
    if args.representation != "pixels":
        if args.checkpoint is None:
            raise UsageError(f"--representation {args.representation} needs --checkpoint FILE "
                             f"(from `autoencode --out DIR` or `train --out DIR`)")
        model, meta = checkpoint.load_checkpoint(args.checkpoint)
        expected = "ConvAutoencoder" if args.representation == "autoencoder" else "StyleCNN"
        if type(model).__name__ != expected:
            raise UsageError(f"{args.checkpoint} holds a {type(model).__name__}, not a {expected}: "
                             f"--representation {args.representation} needs a {expected} checkpoint")
        image_size = data.check_image_size(meta.get("image_size"), f"{args.checkpoint} (its recorded image_size)")
    profile, splits, dataset = splits_from_args(args, image_size)
    chosen = {"test": splits.test, "validation": splits.validation, "train": splits.train}[args.split]
    chosen = chosen.subset(part2_autoencoder.subsample(len(chosen), args.max_items, args.seed))
    out = Path(args.out)
    source = model if model is not None else part2_autoencoder.pixel_features(args.pixel_side)
    features, labels = part2_autoencoder.extract(source, chosen, device=args.device,
                                                 save_to=out / f"features_{args.representation}.npz")
    result = part2_autoencoder.cluster_metrics(features, labels, k=args.k, seed=args.seed)
    cohesion = part2_autoencoder.style_cohesion(labels, result["assignments"], chosen.classes)
    title = f"{args.representation} ({features.shape[1]} dims), {args.split} split"
    figures = {"embedding_pca.png": plots.embedding_2d(part2_autoencoder.embed_2d(features, "pca", args.seed),
                                                       labels, chosen.classes, result["assignments"],
                                                       f"PCA: {title}"),
               "contingency.png": plots.contingency_heatmap(labels, result["assignments"], chosen.classes, title)}
    if not args.no_tsne:
        points = part2_autoencoder.embed_2d(features, "tsne", args.seed)
        figures["embedding_tsne.png"] = plots.embedding_2d(points, labels, chosen.classes, result["assignments"],
                                                           f"t-SNE: {title}")
    for name, figure in figures.items():
        files.save_figure(figure, out / name)
    scores = {key: value for key, value in result.items() if key != "assignments"}
    _write_json(out / "metrics.json", {
        "representation": args.representation, "checkpoint": None if args.checkpoint is None else str(args.checkpoint),
        "split": args.split, "feature_dims": int(features.shape[1]), **scores,
        "styles_that_cluster": [row["style"] for row in cohesion if row["clusters"]],
        "styles_that_do_not": [row["style"] for row in cohesion if not row["clusters"]],
        "cohesion": cohesion, "seed": args.seed, "profile": profile.name, "dataset": dataset,
        "figures": sorted(figures)})
    print(part2_autoencoder.metrics_table({args.representation: scores}))
    print(f"wrote {out}")
    return 0


# --------------------------------------------------------------------------- the parser


def build_parser() -> argparse.ArgumentParser:
    from . import augment, imbalance

    parser = argparse.ArgumentParser(prog="python -m wikiart_core", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    data_options, run_options, training_options = (cli_options.data_options(), cli_options.run_options(),
                                                     cli_options.training_options())

    synth = commands.add_parser("synth", help="generate the embedded synthetic dataset")
    synth.add_argument("--out", type=Path, default=Path("data/synthart"), help="output folder (gets train/ and test/)")
    synth.add_argument("--scale", type=positive_float, default=0.25, help="fraction of the real train counts (min 3 per style)")
    synth.add_argument("--size", type=image_side, default=128, help="image side, pixels")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--test-fraction", type=non_negative_float, default=0.15, help="test images per train image")
    synth.add_argument("--workers", type=positive_int, default=None, help="processes (default: all cores)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(run=cmd_synth)

    info = commands.add_parser("info", parents=[data_options], help="show what data_paths.yaml and the profile resolve to")
    info.set_defaults(run=cmd_info)

    prepare = commands.add_parser("prepare", parents=[data_options], help="generate the embedded dataset if missing")
    prepare.add_argument("--quiet", action="store_true", help="no progress bar")
    prepare.set_defaults(run=cmd_prepare)

    report = commands.add_parser("report", help="execute the notebooks and export the report")
    report.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    report.add_argument("--out", type=Path, default=Path("reports"))
    report.add_argument("--readme", type=Path, help="README whose results table is rewritten from results.json")
    report.add_argument("--only", help="execute only notebooks whose name contains this (export all)")
    report.add_argument("--no-execute", action="store_true", help="export the notebooks as they are")
    report.add_argument("--cell-timeout", type=int, metavar="SECONDS",
                        help="per-cell limit (0: none; default: none in the full profile, 3600 s otherwise)")
    report.add_argument("--with-code", action="store_true",
                        help="keep every code cell in the report (default: only the cells tagged show-code)")
    report.add_argument("--no-pdf", action="store_true", help="do not print REPORT.pdf (needs Debian's chromium)")
    report.add_argument("--sync-only", action="store_true",
                        help="only write each .py's cells into its .ipynb, keeping outputs of unchanged code cells")
    report.set_defaults(run=cmd_report)

    regress = commands.add_parser("regress", help="re-run the committed notebooks in their recorded profile and "
                                                   "compare every cell's output (strict nbval)")
    regress.add_argument("names", nargs="*", help="notebooks to check (e.g. 05 or 05_bonusB; default: all); "
                                                  "the notebooks they depend on run first")
    regress.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    regress.add_argument("--outputs", type=Path, help="outputs folder to use (default: a temporary one, removed after)")
    regress.set_defaults(run=cmd_regress)

    training = commands.add_parser("train", parents=[data_options, run_options, training_options],
                                   help="train a classifier, write last.pt, best.pt and metrics.json")
    training.add_argument("--model",
                          help="a class in models.MODELS: stylecnn (the default) or seedcnn (from scratch), or a "
                               "pretrained backbone: resnet50, convnext_tiny, efficientnet_b0, resnet18 "
                               "(torchvision) or any timm architecture (tf_efficientnet_lite0, "
                               "vit_base_patch14_dinov2.lvd142m, timm/convnext_tiny, ...)")
    training.add_argument("--width", type=positive_int, help="StyleCNN/SeedCNN: channels of the first stage")
    training.add_argument("--depth", type=positive_int, help="StyleCNN: stages (convolution blocks)")
    training.add_argument("--model-arg", action="append", type=cli_options.model_argument, metavar="KEY=VALUE",
                          help="any other constructor argument of the model, e.g. stem_stride=1 or input_side=160 "
                               "(repeat the flag for more)")
    training.add_argument("--imbalance", choices=list(imbalance.METHODS),
                          help="class-imbalance method (default: none)")
    training.add_argument("--label-smoothing", type=fraction, help="default: none")
    training.add_argument("--mixup", type=non_negative_float, help="Beta(a, a) mixup strength (default: off)")
    training.add_argument("--augment", choices=sorted(augment.PRESETS), help="augmentation recipe (default: art)")
    training.add_argument("--out", type=Path, required=True, help="folder for last.pt, best.pt, metrics.json")
    training.add_argument("--resume", nargs="?", const=CONTINUE_RESUME, metavar="LAST_PT",
                          help="continue --out's run (or the run of this last.pt) after an interrupt; "
                               "the same model and settings")
    training.add_argument("--pretrained", type=Path,
                          help="backbone weights: a .pth or .safetensors file, or a folder holding it (default: "
                               "the pretrained.backbones folder of data_paths.yaml)")
    training.add_argument("--finetune", choices=("linear", "full"), default="linear",
                          help="backbones: linear probe (frozen backbone, a logistic regression on cached "
                               "embeddings, C chosen on validation) or full fine-tuning (the engine)")
    training.add_argument("--backbone-lr-scale", type=non_negative_float, default=0.1,
                          help="backbones, --finetune full: the backbone's learning rate is --lr times this")
    training.set_defaults(run=cmd_train)

    fetching = commands.add_parser("fetch-weights", help="download a backbone's ImageNet weights (needs internet)")
    fetching.add_argument("model", choices=list(BACKBONES))
    fetching.add_argument("--out", type=Path, default=Path("models/backbones"), help="folder for <model>.pth")
    fetching.add_argument("--quiet", action="store_true", help="no download progress bar")
    fetching.set_defaults(run=cmd_fetch_weights)

    converting = commands.add_parser("convert-weights",
                                     help="rename an efficientnet_pytorch state dict into a timm architecture's names")
    converting.add_argument("source", nargs="?", type=Path,
                            help="the state dict (default: the weights a package ships for --architecture)")
    converting.add_argument("--architecture", default="tf_efficientnet_lite0", help="the timm architecture")
    converting.add_argument("--naming", default="efficientnet_pytorch", help="the names the source uses")
    converting.add_argument("--out", type=Path, required=True, help="the .safetensors file to write")
    converting.set_defaults(run=cmd_convert_weights)

    searching = commands.add_parser("search", parents=[data_options, run_options, training_options],
                                    help="an Optuna study chosen on validation; the best trial retrained, tested once")
    searching.add_argument("--trials", type=count, help="trials to add to the study (default: the profile's)")
    searching.add_argument("--storage", help="Optuna storage URL shared by every worker of the study: "
                                             "sqlite:///path.db (one machine), postgresql://... (several); "
                                             "default: sqlite:///OUT/study.db")
    searching.add_argument("--study-name", default="search", help="the study inside the storage")
    searching.add_argument("--sampler-seed", type=int,
                           help="seed of the TPE sampler (default: --seed); give each worker its own")
    searching.add_argument("--model", help="a class in models.MODELS: stylecnn (the default) or seedcnn")
    searching.add_argument("--out", type=Path, required=True,
                           help="folder for search.json, the figures, study.db and best/ (the retrained best trial)")
    searching.set_defaults(run=cmd_search)

    evaluating = commands.add_parser("evaluate", parents=[data_options, run_options],
                                     help="re-evaluate a classifier checkpoint on the test split")
    evaluating.add_argument("--checkpoint", type=Path, required=True)
    evaluating.add_argument("--out", type=Path, help="metrics file (default: <checkpoint>.metrics.json beside it)")
    evaluating.add_argument("--batch-size", type=positive_int, default=128)
    evaluating.set_defaults(run=cmd_evaluate)

    autoencode = commands.add_parser("autoencode", parents=[data_options, run_options, training_options],
                                     help="train the convolutional autoencoder (part 2)")
    autoencode.add_argument("--out", type=Path, required=True, help="folder for autoencoder.pt, figures, metrics.json")
    autoencode.add_argument("--base-channels", type=positive_int, help="default: the profile's")
    autoencode.add_argument("--depth", type=positive_int, help="halvings: the latent side is image_size / 2**depth")
    autoencode.add_argument("--latent-channels", type=positive_int, help="default: the profile's")
    autoencode.add_argument("--ssim-weight", type=fraction, default=0.0, help="weight of 1 - SSIM in the loss (0-1)")
    autoencode.add_argument("--resume", action="store_true",
                            help="continue the run in --out after an interrupt (the same settings)")
    autoencode.set_defaults(run=cmd_autoencode)

    clustering = commands.add_parser("cluster", parents=[data_options, run_options],
                                     help="cluster a representation and score it against the styles")
    clustering.add_argument("--representation", choices=("autoencoder", "pixels", "stylecnn"), default="autoencoder")
    clustering.add_argument("--checkpoint", type=Path, help="ConvAutoencoder or StyleCNN checkpoint (not for pixels)")
    clustering.add_argument("--out", type=Path, required=True, help="folder for features, figures, metrics.json")
    clustering.add_argument("--split", choices=("test", "validation", "train"), default="test")
    clustering.add_argument("--k", type=positive_int, help="clusters (default: the number of styles present)")
    clustering.add_argument("--max-items", type=positive_int, default=1500, help="images clustered at most (random, seeded)")
    clustering.add_argument("--pixel-side", type=positive_int, default=16, help="side of the downscaled pixels representation")
    clustering.add_argument("--no-tsne", action="store_true", help="skip the t-SNE drawing (slow on many points)")
    clustering.set_defaults(run=cmd_cluster)

    styling = commands.add_parser("style", parents=[data_options, run_options, training_options],
                                  help="part 3: train and judge the style-conditioned generator")
    styling.add_argument("--out", type=Path, required=True, help="folder for generator.pt, figures, metrics.json")
    styling.add_argument("--style-weight", type=non_negative_float, help="weight of the style loss (default: the profile's)")
    styling.add_argument("--content-weight", type=non_negative_float, default=0.0, help="weight of a deep-feature content loss")
    styling.add_argument("--loss-net", type=Path,
                         help="StyleCNN checkpoint that defines the style loss (default: train one)")
    styling.add_argument("--resume", action="store_true",
                         help="after an interrupt: keep the finished models in --out/runs and continue the one "
                              "that was training (the same settings)")
    styling.set_defaults(run=cmd_style)

    painting = commands.add_parser("paint", help="paint one picture in a style with a saved generator")
    painting.add_argument("--checkpoint", type=Path, required=True, help="generator.pt written by `style`")
    painting.add_argument("--image", type=Path, required=True, help="any picture (JPEG, PNG, ...)")
    painting.add_argument("--style", required=True, help="a style name, e.g. Cubism or 'Pop Art'")
    painting.add_argument("--mix-with", help="a second style to mix in")
    painting.add_argument("--mix", type=fraction, default=0.5, help="weight of --mix-with (0-1)")
    painting.add_argument("--out", type=Path, required=True, help="the picture to write (.png, .jpg, .webp, ...)")
    painting.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    painting.set_defaults(run=cmd_paint)

    from .lora import cli as lora_cli  # imports diffusers only when its commands run

    lora_cli.add_commands(commands, data_options, run_options)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (config.ConfigError, DataError, CheckpointError, TrainingError, DeviceError, UsageError,
            LoraError, WeightsError, SearchError, DiskFullError, FileNotFoundError) as exc:
        # The project's own errors already say what to do; a traceback would bury that.
        # Anything else (a bug, a library error) keeps its traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        # Training runs save their last finished epoch before this arrives here
        # (engine.RunInterrupted names which); nothing unfinished was written as a result.
        said = f": {exc}" if str(exc) else ""
        print(f"interrupted{said}. Nothing unfinished was reported. Run the same command again with --resume "
              f"to continue (finished runs are kept).", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
