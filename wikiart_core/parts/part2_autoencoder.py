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
