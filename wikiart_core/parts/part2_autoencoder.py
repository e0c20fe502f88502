"""Part 2 (notebook 03): the autoencoder run and the representations that are clustered."""
from __future__ import annotations

from wikiart_core.experiment import RunSpec


def autoencoder_spec(profile, seed: int = 0, device: str = "auto", ssim_weight: float = 0.0) -> RunSpec:
    """The ConvAutoencoder run of the profile (``profile.autoencoder``): plain MSE by
    default (the loss PSNR measures), flips only, no weight decay."""
    settings = profile.autoencoder
    return RunSpec(name="autoencoder", task="reconstruct", model="ConvAutoencoder",
                   model_args={key: settings[key] for key in ("base_channels", "depth", "latent_channels")},
                   epochs=settings["epochs"], lr=settings["lr"], batch_size=settings["batch_size"],
                   weight_decay=0.0, warmup_epochs=0.5, ssim_weight=ssim_weight, seed=seed, device=device)


def load_or_train_style_cnn(splits, profile, paths, seed: int = 0, device: str = "auto", log=print):
    """The StyleCNN that notebook 01 saved (``outputs/01_bonusA/stylecnn.pt``) when it
    was trained on the same dataset, profile, image size and classes; otherwise one
    trained here through the runner with the same specification. Returns (model, where)."""
    from wikiart_core import checkpoint, experiment
    from wikiart_core.parts import bonus_a

    saved = bonus_a.style_cnn_path(paths)
    if saved.is_file():
        model, meta = checkpoint.load_checkpoint(saved, device="cpu")
        if (meta.get("profile") == profile.name and meta.get("dataset") == paths.dataset
                and meta.get("image_size") == splits.image_size and meta.get("classes") == splits.classes):
            return model, f"loaded from {saved.relative_to(paths.outputs_dir.parent)} (trained by notebook 01)"
    spec = bonus_a.classifier_specs(profile, seed, device)["StyleCNN"]
    log(f"{saved.name} missing or from another setup: training StyleCNN here")
    chosen, _ = experiment.learning_rate_search(spec, splits, profile.lr_grid, log=log)
    return chosen.model, "trained here (notebook 01's checkpoint was missing or from another setup)"
