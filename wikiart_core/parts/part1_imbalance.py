"""Part 1 (notebook 02): the class-imbalance comparison as the notebook runs it.

Every method of ``imbalance.METHODS`` is trained with the same small StyleCNN, the
same epochs and learning rate (``profile.imbalance``) over ``profile.seeds`` seeds;
what differs between the runs of one seed is only the method.
"""
from __future__ import annotations

from wikiart_core import imbalance
from wikiart_core.experiment import RunSpec


def base_spec(profile, device: str = "auto") -> RunSpec:
    """The run every method shares (the method and seed are set per run)."""
    settings = profile.imbalance
    return RunSpec(name="imbalance", model="stylecnn",
                   model_args=dict(width=settings["width"], depth=settings["depth"]),
                   epochs=settings["epochs"], lr=settings["lr"], batch_size=64, warmup_epochs=0.5, device=device)


def run_comparison(splits, profile, device: str = "auto", progress: bool = True, log=print):
    """``imbalance.compare`` over every method and ``profile.seed_list``; splits at
    ``profile.imbalance["image_size"]`` px. Returns the ComparisonResult."""
    return imbalance.compare(list(imbalance.METHODS), profile.seed_list, splits, base_spec(profile, device),
                             progress=progress, log=log)
