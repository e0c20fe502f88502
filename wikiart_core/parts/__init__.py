"""Part-specific code, one module per notebook: ``bonus_a`` (01, the label-mapping bug),
``part1_imbalance`` (02), ``part2_autoencoder`` (03), ``part3_generator`` (04),
``bonus_b`` (05). Notebooks and the command line both call these; the generic pieces
(data, engine, tasks, experiment, evaluate, ...) live one level up.

Every notebook opens with :func:`setup`:

    book = parts.setup(PROFILE, DATASET, "03_part2_autoencoder")
    profile, paths, splits, outputs = book.profile, book.paths, book.splits, book.outputs
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


class PrerequisiteError(RuntimeError):
    """A notebook needs what another notebook makes (e.g. notebook 01's StyleCNN) and it
    is not there for this profile and dataset; the message names the notebook to run."""


@dataclass
class Workbook:
    """What a notebook works with: ``profile`` (``config.Profile``), ``paths``
    (``config.DataPaths``), ``splits`` (``data.Splits``: train, validation, test),
    ``outputs`` (this notebook's folder under ``outputs/<dataset>/<profile>/``, not yet
    created) and ``settings`` (the profile's section for this notebook, e.g.
    ``profile.generator``; None without one)."""

    profile: Any
    paths: Any
    splits: Any
    outputs: Path
    settings: dict | None = None

    def dataset_line(self) -> str:
        """``dataset 'synthart' (synthetic, not WikiArt); profile 'demo'``."""
        synthetic = " (synthetic, not WikiArt)" if self.paths.synth else ""
        return f"dataset {self.paths.dataset!r}{synthetic}; profile {self.profile.name!r}"


def setup(profile_name: str, dataset: str | None, notebook: str, section: str | None = None, *,
          progress: bool = False) -> Workbook:
    """The one setup call at the top of every notebook: the profile, the resolved
    ``data_paths.yaml`` entry (``dataset`` None: the file's own), the splits with the
    profile's validation share and caps, and the notebook's outputs folder. Prints the
    dataset line and the split sizes.

    section: the profile section whose ``image_size`` the splits are decoded at (e.g.
        "generator" for notebook 04); None: ``profile.image_size``.
    """
    from wikiart_core import config, data

    profile = config.get_profile(profile_name)
    paths = config.load_paths(dataset=dataset)
    settings = getattr(profile, section) if section else None
    image_size = settings["image_size"] if settings and "image_size" in settings else None
    splits = data.load_profile_splits(paths, profile, image_size, progress=progress)
    book = Workbook(profile=profile, paths=paths, splits=splits, outputs=paths.notebook_outputs(profile, notebook),
                    settings=settings)
    print(book.dataset_line())
    print(splits.summary())
    return book
