"""The embedded stand-in for WikiArt: a procedural dataset with the real folder
names and the real class imbalance.

The real images live on the GPU server only. So that every notebook runs
anywhere, this subpackage paints a dataset with the same 27 style folders, the
same ratios between their sizes, and one visual grammar per style taken from the
movement (pointillist dots, cubist facets, drips and splatters, ...).

What the data is, and is not:

* every image gets the same nuisance (a random crop, a flip, a wrap-around
  shift that moves the horizon and the figures anywhere, a hue and saturation
  change, a tone curve, a colour cast, an illumination ramp and vignette,
  noise), so fixed positions give little away;
* palettes overlap between styles and the nuisance randomises colour, but colour
  still carries part of the style: a linear classifier on per-channel means and
  standard deviations reaches about 33 % test balanced accuracy at 64 px, its
  regularisation chosen on validation (chance: 3.7 %), so
  every classification table reports a colour-statistics baseline;
* the nuisance ranges were tuned so that the in-class SeedCNN, trained as in class
  (3 epochs at lr 1e-3), lands near the majority baseline as it did on real WikiArt;
  how SeedCNN fares here is by construction, not evidence about the model (see
  ``NUISANCE``; trained longer with a learning rate chosen on validation it does better);
* a dataset is byte-identical for a seed whatever the number of worker processes.

Modules: :mod:`.canvas` (colours, the drawing canvas, strokes, shared motifs),
:mod:`.grammars` (the 27 per-style painters, ``GRAMMARS``), :mod:`.nuisance`
(``NUISANCE`` and the shared variation), :mod:`.writer` (counts, :func:`render`,
:func:`generate`, :func:`ensure`, the ``synth.json`` manifest and the on-disk
layout).
"""

from .canvas import MIN_MARK
from .grammars import GRAMMARS
from .nuisance import NUISANCE
from .writer import (MANIFEST, REAL_TRAIN_COUNTS, SPLITS, STYLES, SYNTH_VERSION, ensure, generate,
                     read_manifest, render, split_counts)

__all__ = [
    "GRAMMARS", "MANIFEST", "MIN_MARK", "NUISANCE", "REAL_TRAIN_COUNTS", "SPLITS", "STYLES",
    "SYNTH_VERSION", "ensure", "generate", "read_manifest", "render", "split_counts",
]
