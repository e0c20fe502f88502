"""Command line for long runs without a notebook (e.g. in tmux on the GPU server).

    python -m wikiart_core synth --out data/synthart --scale 0.25 --size 128 --seed 0
    python -m wikiart_core info                      # what data_paths.yaml points at
    python -m wikiart_core train --model stylecnn --imbalance logit_adjust --epochs 30 --out outputs/stylecnn
    python -m wikiart_core train ... --out outputs/stylecnn --resume outputs/stylecnn/last.pt   # after an interrupt
    python -m wikiart_core evaluate --checkpoint outputs/stylecnn/best.pt
    python -m wikiart_core autoencode --epochs 20 --out outputs/ae          # part 2: autoencoder
    python -m wikiart_core cluster --representation autoencoder --checkpoint outputs/ae/autoencoder.pt --out outputs/ae/cluster

Each sub-command is one small function; argparse stays at the edge.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import config


def cmd_synth(args: argparse.Namespace) -> int:
    """Write the embedded procedural dataset (27 style folders, real imbalance)."""
    from . import synth

    out = synth.generate(args.out, scale=args.scale, size=args.size, seed=args.seed,
                         test_fraction=args.test_fraction, workers=args.workers, progress=not args.quiet)
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
    data.ensure_dataset(paths, progress=not args.quiet)
    print(f"dataset {paths.dataset!r} ready: {paths.train}, {paths.test}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Execute the notebooks and export HTML + Markdown into --out."""
    from . import report

    if args.sync_only:
        for script in sorted(args.notebooks.glob(report.NOTEBOOK_PATTERN)):
            print(f"synced {report.update_inputs(script)} (outputs of unchanged code cells kept)")
        return 0
    report.build_report(args.notebooks, args.out, execute=not args.no_execute, only=args.only)
    return 0


def _load_data_for(args: argparse.Namespace, image_size: int | None = None):
    """(profile, paths, train, test) for a sub-command with the common data arguments."""
    from . import data

    paths = config.load_paths(args.paths, args.dataset)
    profile = config.get_profile(args.profile)
    size = image_size or getattr(args, "image_size", None) or profile.image_size
    train, test = data.load_splits(paths, size, max_train_per_class=profile.max_train_per_class,
                                   max_test_per_class=profile.max_test_per_class, seed=args.seed,
                                   progress=not args.quiet)
    return profile, paths, train, test


def _write_json(path: Path, values: dict) -> None:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values, indent=2) + "\n", encoding="utf-8")


def cmd_autoencode(args: argparse.Namespace) -> int:
    """Train a ConvAutoencoder; write autoencoder.pt, figures and metrics.json (MSE and
    PSNR on the test split, next to the resize baseline at the same compression ratio)."""
    import torch

    from . import cluster, evaluate, models, plots, train

    profile, paths, train_set, test_set = _load_data_for(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(args.seed)
    model = models.ConvAutoencoder(image_size=train_set.image_size, base_channels=args.base_channels,
                                   depth=args.depth, latent_channels=args.latent_channels)
    history = train.fit(model, train_set, test_set, task="reconstruct", epochs=args.epochs, lr=args.lr,
                        batch_size=args.batch_size, weight_decay=args.weight_decay,
                        loss=models.reconstruction_loss(args.ssim_weight), seed=args.seed, device=args.device,
                        progress=not args.quiet, profile=profile)
    print(history.table())
    metrics = evaluate.reconstruction_metrics(model, test_set, device=args.device)
    baseline = cluster.resize_baseline_metrics(test_set, model.compression_ratio)
    checkpoint = train.save_checkpoint(out / "autoencoder.pt", model, task="reconstruct", classes=train_set.classes,
                                       image_size=train_set.image_size, seed=args.seed, profile=profile.name,
                                       epochs=args.epochs, history=history.to_dict(), metrics=metrics)
    model.to("cpu").eval()
    examples = cluster.fixed_examples(test_set, per_style=1)
    images, labels = test_set.get_batch(examples)
    with torch.inference_mode():
        floats = images.float() / 255
        reconstructions = {"autoencoder": model(floats).numpy(),
                           "resize baseline": cluster.ResizeBaseline(train_set.image_size,
                                                                     model.compression_ratio)(floats).numpy()}
        latent = model.encode(floats[:1])[0].numpy()
    figures = {"curves.png": plots.reconstruction_curves(history.records, baseline["psnr"]),
               "reconstructions.png": plots.reconstruction_grid(images.numpy(), reconstructions, labels.numpy(),
                                                                test_set.classes),
               "latent.png": plots.latent_channels(latent, images[0].numpy())}
    for name, figure in figures.items():
        figure.savefig(out / name)
    summary = {"mse": metrics["mse"], "psnr": metrics["psnr"], "baseline": baseline,
               "beats_baseline": metrics["psnr"] > baseline["psnr"], "compression_ratio": model.compression_ratio,
               "latent_shape": [model.latent_channels, model.latent_size, model.latent_size],
               "init_args": model.init_args, "epochs": args.epochs, "seed": args.seed, "profile": profile.name,
               "dataset": paths.dataset, "synthetic_data": paths.synth is not None,
               "n_train": len(train_set), "n_test": len(test_set), "checkpoint": str(checkpoint),
               "history": history.to_dict()["records"], "figures": sorted(figures)}
    _write_json(out / "metrics.json", summary)
    print(f"test PSNR {metrics['psnr']:.2f} dB (MSE {metrics['mse']:.5f}) vs resize baseline "
          f"{baseline['psnr']:.2f} dB at compression ratio {model.compression_ratio:g}; wrote {out}")
    return 0


def cmd_cluster(args: argparse.Namespace) -> int:
    """Extract one representation of a split, cluster it with KMeans, score the clusters
    against the styles; write features.npz, figures and metrics.json."""
    from . import cluster, plots, train

    model, image_size = None, None
    if args.representation != "pixels":
        if args.checkpoint is None:
            raise ValueError(f"--representation {args.representation} needs --checkpoint FILE "
                             f"(from `autoencode --out DIR` or `train --out DIR`)")
        model, meta = train.load_checkpoint(args.checkpoint)
        expected = "ConvAutoencoder" if args.representation == "autoencoder" else "StyleCNN"
        if type(model).__name__ != expected:
            raise ValueError(f"{args.checkpoint} holds a {type(model).__name__}, not a {expected}: "
                             f"--representation {args.representation} needs a {expected} checkpoint")
        image_size = meta.get("image_size")
    profile, paths, train_set, test_set = _load_data_for(args, image_size)
    dataset = test_set if args.split == "test" else train_set
    dataset = dataset.subset(cluster.subsample(len(dataset), args.max_items, args.seed))
    out = Path(args.out)
    source = model if model is not None else cluster.pixel_features(args.pixel_side)
    features, labels = cluster.extract(source, dataset, device=args.device,
                                       save_to=out / f"features_{args.representation}.npz")
    result = cluster.cluster_metrics(features, labels, k=args.k, seed=args.seed)
    cohesion = cluster.style_cohesion(labels, result["assignments"], dataset.classes)
    title = f"{args.representation} ({features.shape[1]} dims), {args.split} split"
    figures = {"embedding_pca.png": plots.embedding_2d(cluster.embed_2d(features, "pca", args.seed), labels,
                                                       dataset.classes, result["assignments"], f"PCA: {title}"),
               "contingency.png": plots.contingency_heatmap(labels, result["assignments"], dataset.classes, title)}
    if not args.no_tsne:
        figures["embedding_tsne.png"] = plots.embedding_2d(cluster.embed_2d(features, "tsne", args.seed), labels,
                                                           dataset.classes, result["assignments"], f"t-SNE: {title}")
    for name, figure in figures.items():
        figure.savefig(out / name)
    scores = {key: value for key, value in result.items() if key != "assignments"}
    _write_json(out / "metrics.json", {
        "representation": args.representation, "checkpoint": None if args.checkpoint is None else str(args.checkpoint),
        "split": args.split, "feature_dims": int(features.shape[1]), **scores,
        "styles_that_cluster": [row["style"] for row in cohesion if row["clusters"]],
        "styles_that_do_not": [row["style"] for row in cohesion if not row["clusters"]],
        "cohesion": cohesion, "seed": args.seed, "profile": profile.name, "dataset": paths.dataset,
        "synthetic_data": paths.synth is not None, "figures": sorted(figures)})
    print(cluster.metrics_table({args.representation: scores}))
    print(f"wrote {out}")
    return 0


def _classification_splits(args: argparse.Namespace, image_size: int, profile):
    """(train, test, dataset name) from --train/--test, else from data_paths.yaml; the
    test split always uses the train split's class list."""
    from . import data

    if (args.train is None) != (args.test is None):
        raise ValueError("give both --train and --test, or neither (then data_paths.yaml decides)")
    if args.train is not None:
        train_set = data.WikiArtDataset(args.train, image_size=image_size, cache_dir=args.cache_dir,
                                        progress=not args.quiet)
        test_set = data.WikiArtDataset(args.test, image_size=image_size, classes=train_set.classes,
                                       cache_dir=args.cache_dir, progress=not args.quiet)
        # Data subsets are picked with seed 0 whatever --seed is: seeds compare training, not data.
        return (train_set.limit_per_class(profile.max_train_per_class, 0),
                test_set.limit_per_class(profile.max_test_per_class, 0), str(Path(args.train).resolve().parent))
    paths = config.load_paths(args.paths, args.dataset)
    train_set, test_set = data.load_splits(paths, image_size, max_train_per_class=profile.max_train_per_class,
                                           max_test_per_class=profile.max_test_per_class, seed=0,
                                           progress=not args.quiet)
    return train_set, test_set, paths.dataset


def _classification_report(model, train_counts: dict, test_set, device, batch_size: int) -> dict:
    """Test metrics, per-class recall and the baselines, as written to metrics.json."""
    from . import evaluate

    predictions = evaluate.predict(model, test_set, batch_size=batch_size, device=device)
    metrics = evaluate.classification_metrics(predictions.y_true, predictions.y_pred, test_set.classes)
    baselines = evaluate.baselines(train_counts, predictions.y_true, test_set.classes)
    return {
        "accuracy": metrics["accuracy"], "balanced_accuracy": metrics["balanced_accuracy"],
        "macro_f1": metrics["macro_f1"], "n_test": metrics["n_samples"],
        "majority_baseline": baselines["majority"], "stratified_baseline": baselines["stratified"],
        "per_class_recall": {style: scores["recall"] for style, scores in metrics["per_class"].items()},
        "per_class": metrics["per_class"],
    }


def cmd_train(args: argparse.Namespace) -> int:
    """Train a classifier; write --out/last.pt, best.pt and metrics.json (scores of the
    final model on the test split, next to the baselines)."""
    import inspect

    from . import evaluate, imbalance, models, train
    from .device import DeviceError

    profile = config.get_profile(args.profile)
    image_size = args.image_size or profile.image_size
    epochs = args.epochs or profile.epochs
    batch_size = args.batch_size or profile.batch_size
    train_set, test_set, dataset_name = _classification_splits(args, image_size, profile)
    init_args = {"n_classes": len(train_set.classes)}
    model_class = models.MODELS.get(args.model) or {k.lower(): v for k, v in models.MODELS.items()}.get(
        args.model.lower())
    if model_class is not None and "image_size" in inspect.signature(model_class).parameters:
        init_args["image_size"] = image_size  # SeedCNN's layer sizes depend on it
    model = _seeded(args.seed, lambda: models.build(args.model, **init_args))
    loss, sampler = imbalance.configure(args.imbalance, train_set.class_counts(), train_set.targets, seed=args.seed,
                                        label_smoothing=args.label_smoothing)
    out = Path(args.out)
    try:
        history = train.fit(model, train_set, test_set, epochs=epochs, lr=args.lr, batch_size=batch_size,
                            weight_decay=args.weight_decay, loss=loss, sampler=sampler,
                            label_smoothing=args.label_smoothing, mixup=args.mixup, seed=args.seed,
                            device=args.device, checkpoint_dir=out, resume=args.resume, progress=not args.quiet,
                            profile=profile)
    except (train.TrainingError, DeviceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(history.table())
    if history.interrupted:
        print(f"interrupted: no metrics.json written; resume with --resume {history.checkpoint}", file=sys.stderr)
        return 130
    report = _classification_report(model, train_set.class_counts(), test_set, args.device, batch_size)
    report.update({"model": args.model, "init_args": model.init_args, "imbalance": args.imbalance,
                   "seed": args.seed, "profile": profile.name, "dataset": dataset_name, "image_size": image_size,
                   "epochs": epochs, "batch_size": batch_size, "lr": args.lr, "checkpoint": str(out / "last.pt"),
                   "history": history.to_dict()["records"]})
    _write_json(out / "metrics.json", report)
    print(evaluate.results_table({args.model: report}, {"majority": report["majority_baseline"],
                                                        "stratified": report["stratified_baseline"]}))
    print(f"wrote {out / 'last.pt'} and {out / 'metrics.json'}")
    return 0


def _seeded(seed: int, build):
    """``build()`` with torch's RNG seeded first, so --seed also fixes the initial weights."""
    import torch

    torch.manual_seed(seed)
    return build()


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Re-evaluate a classifier checkpoint on a test split built with its own class list."""
    from . import data, evaluate, train
    from .device import DeviceError, pick_device

    try:
        model, meta = train.load_checkpoint(args.checkpoint, device=pick_device(args.device))
    except DeviceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if meta.get("task", "classify") != "classify":
        raise ValueError(f"{args.checkpoint} holds a {meta.get('task')} model; evaluate scores classifiers")
    if args.test is not None:
        test_root = Path(args.test)
    else:
        paths = config.load_paths(args.paths, args.dataset)
        data.ensure_dataset(paths, progress=not args.quiet)
        test_root = paths.test
    if not Path(test_root).is_dir():
        raise FileNotFoundError(f"test folder {test_root} does not exist")
    # The styles must be the same (their order comes from the checkpoint): a test split
    # with other styles cannot be scored by this model's outputs.
    train.check_classes(meta["classes"], data.list_style_folders(Path(test_root)), order_matters=False)
    test_set = data.WikiArtDataset(test_root, image_size=meta["image_size"], classes=meta["classes"],
                                   cache_dir=args.cache_dir, progress=not args.quiet)
    train.check_classes(meta["classes"], test_set.classes)
    train_counts = meta.get("train_counts") or {style: 1 for style in meta["classes"]}
    report = _classification_report(model, train_counts, test_set, args.device, args.batch_size)
    report.update({"checkpoint": str(args.checkpoint), "test": str(test_root), "model": meta["model_class"],
                   "init_args": meta["init_args"], "seed": meta.get("seed"), "profile": meta.get("profile"),
                   "image_size": meta["image_size"], "epoch": meta.get("epoch")})
    checkpoint = Path(args.checkpoint)
    out = Path(args.out) if args.out else checkpoint.with_name(f"{checkpoint.stem}.metrics.json")
    _write_json(out, report)
    print(evaluate.results_table({f"{meta['model_class']} ({checkpoint.name})": report},
                                 {"majority": report["majority_baseline"],
                                  "stratified": report["stratified_baseline"]}))
    print(f"wrote {out}")
    return 0


def add_common_data_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--paths", help="data_paths.yaml to use (default: $WIKIART_PATHS or ./data_paths.yaml)")
    parser.add_argument("--dataset", help="dataset entry in data_paths.yaml (default: $WIKIART_DATASET or the file's)")
    parser.add_argument("--profile", choices=sorted(config.PROFILES), help="run size (default: $WIKIART_PROFILE or demo)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m wikiart_core", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser("synth", help="generate the embedded synthetic dataset")
    synth.add_argument("--out", type=Path, default=Path("data/synthart"), help="output folder (gets train/ and test/)")
    synth.add_argument("--scale", type=float, default=0.25, help="fraction of the real train counts (min 3 per style)")
    synth.add_argument("--size", type=int, default=128, help="image side, pixels")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--test-fraction", type=float, default=0.15, help="test images per train image")
    synth.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(run=cmd_synth)

    info = commands.add_parser("info", help="show what data_paths.yaml and the profile resolve to")
    add_common_data_arguments(info)
    info.set_defaults(run=cmd_info)

    prepare = commands.add_parser("prepare", help="generate the embedded dataset if it is missing")
    add_common_data_arguments(prepare)
    prepare.add_argument("--quiet", action="store_true", help="no progress bar")
    prepare.set_defaults(run=cmd_prepare)

    report = commands.add_parser("report", help="execute the notebooks and export the report")
    report.add_argument("--notebooks", type=Path, default=Path("notebooks"))
    report.add_argument("--out", type=Path, default=Path("reports"))
    report.add_argument("--only", help="execute only notebooks whose name contains this (export all)")
    report.add_argument("--no-execute", action="store_true", help="export the notebooks as they are")
    report.add_argument("--sync-only", action="store_true",
                        help="only write each .py's cells into its .ipynb, keeping outputs of unchanged code cells")
    report.set_defaults(run=cmd_report)

    autoencode = commands.add_parser("autoencode", help="train the convolutional autoencoder (part 2)")
    add_common_data_arguments(autoencode)
    autoencode.add_argument("--epochs", type=int, default=10)
    autoencode.add_argument("--out", type=Path, required=True, help="folder for autoencoder.pt, figures, metrics.json")
    autoencode.add_argument("--image-size", type=int, help="pixels (default: the profile's)")
    autoencode.add_argument("--base-channels", type=int, default=16)
    autoencode.add_argument("--depth", type=int, default=2, help="halvings: the latent side is image_size / 2**depth")
    autoencode.add_argument("--latent-channels", type=int, default=3)
    autoencode.add_argument("--ssim-weight", type=float, default=0.0, help="weight of 1 - SSIM in the loss (0-1)")
    autoencode.add_argument("--lr", type=float, default=2e-3)
    autoencode.add_argument("--weight-decay", type=float, default=0.0, help="AdamW decoupled weight decay")
    autoencode.add_argument("--batch-size", type=int, default=32)
    autoencode.add_argument("--seed", type=int, default=0)
    autoencode.add_argument("--device", default="auto")
    autoencode.add_argument("--quiet", action="store_true", help="no progress bar")
    autoencode.set_defaults(run=cmd_autoencode)

    clustering = commands.add_parser("cluster", help="cluster a representation and score it against the styles")
    add_common_data_arguments(clustering)
    clustering.add_argument("--representation", choices=("autoencoder", "pixels", "stylecnn"), default="autoencoder")
    clustering.add_argument("--checkpoint", type=Path, help="ConvAutoencoder or StyleCNN checkpoint (not for pixels)")
    clustering.add_argument("--out", type=Path, required=True, help="folder for features, figures, metrics.json")
    clustering.add_argument("--split", choices=("test", "train"), default="test")
    clustering.add_argument("--k", type=int, help="clusters (default: the number of styles present)")
    clustering.add_argument("--max-items", type=int, default=1500, help="images clustered at most (random, seeded)")
    clustering.add_argument("--pixel-side", type=int, default=16, help="side of the downscaled pixels representation")
    clustering.add_argument("--no-tsne", action="store_true", help="skip the t-SNE drawing (slow on many points)")
    clustering.add_argument("--seed", type=int, default=0)
    clustering.add_argument("--device", default="auto")
    clustering.add_argument("--quiet", action="store_true", help="no progress bar")
    clustering.set_defaults(run=cmd_cluster)
    training = commands.add_parser("train", help="train a classifier, write last.pt, best.pt and metrics.json")
    add_common_data_arguments(training)
    training.add_argument("--model", default="stylecnn", help="a class in models.MODELS: stylecnn or seedcnn")
    training.add_argument("--imbalance", default="none",
                          help="class-imbalance method (wikiart_core.imbalance.METHODS), e.g. logit_adjust")
    training.add_argument("--epochs", type=int, help="default: the profile's")
    training.add_argument("--image-size", type=int, help="pixels (default: the profile's)")
    training.add_argument("--batch-size", type=int, help="default: the profile's")
    training.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (AdamW, warm-up + cosine)")
    training.add_argument("--weight-decay", type=float, default=0.05)
    training.add_argument("--label-smoothing", type=float, default=0.0)
    training.add_argument("--mixup", type=float, default=0.0, help="Beta(a, a) mixup strength (0: off)")
    training.add_argument("--seed", type=int, default=0)
    training.add_argument("--out", type=Path, required=True, help="folder for last.pt, best.pt, metrics.json")
    training.add_argument("--train", type=Path, help="train split folder (instead of data_paths.yaml)")
    training.add_argument("--test", type=Path, help="test split folder (with --train)")
    training.add_argument("--cache-dir", type=Path, help="decode cache for --train/--test (default: none)")
    training.add_argument("--resume", type=Path, help="continue from this last.pt (same model and settings)")
    training.add_argument("--device", default="auto", help="auto (CUDA, MPS, CPU), cuda, cuda:1, mps or cpu")
    training.add_argument("--quiet", action="store_true", help="no progress bars")
    training.set_defaults(run=cmd_train)

    evaluating = commands.add_parser("evaluate", help="re-evaluate a classifier checkpoint on the test split")
    add_common_data_arguments(evaluating)
    evaluating.add_argument("--checkpoint", type=Path, required=True)
    evaluating.add_argument("--test", type=Path, help="test split folder (default: data_paths.yaml's)")
    evaluating.add_argument("--out", type=Path, help="metrics file (default: <checkpoint>.metrics.json beside it)")
    evaluating.add_argument("--cache-dir", type=Path, help="decode cache (default: none)")
    evaluating.add_argument("--batch-size", type=int, default=128)
    evaluating.add_argument("--device", default="auto")
    evaluating.add_argument("--quiet", action="store_true", help="no progress bars")
    evaluating.set_defaults(run=cmd_evaluate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (config.ConfigError, FileNotFoundError, ValueError) as exc:
        # Our errors already say what to do; a traceback would bury that.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
