"""The nuisance every synthetic painting gets, whatever its style.

After a grammar has painted a picture, :func:`apply_nuisance` crops it, turns it,
scrambles its layout and changes its colours, tone and lighting, with the same
distribution of changes for every style. The ranges are in ``NUISANCE``.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

# The luminance and chroma axes of YIQ: hue rotations and saturation changes act on
# the two chroma coordinates and leave the luminance alone. (RGB in [0, 1].)
TO_YIQ = np.array([[0.299, 0.587, 0.114],
                   [0.596, -0.274, -0.322],
                   [0.211, -0.523, 0.312]], np.float32)
FROM_YIQ = np.linalg.inv(TO_YIQ).astype(np.float32)

# The 8 symmetries of the square as PIL transposes (None: the identity): the two
# upright views and the six others.
UPRIGHT = (None, Image.FLIP_LEFT_RIGHT)
TURNED = (Image.FLIP_TOP_BOTTOM, Image.ROTATE_90, Image.ROTATE_180, Image.ROTATE_270,
          Image.TRANSPOSE, Image.TRANSVERSE)

# The ranges of the shared nuisance (see apply_nuisance).
#
# Design decision, with a consequence for every reading of the results: these
# ranges were tuned until the in-class model, SeedCNN, trained as in class (3 epochs
# at lr 1e-3), did on this data what it did on the real WikiArt images, i.e. scored
# close to the majority baseline. How SeedCNN fares on the synthetic data is therefore
# built in by that tuning; it is not evidence about the model. (With more epochs and a
# learning rate chosen on validation it does better: see notebook 01.)
#
# Recorded in synth.json: changing them regenerates the data.
NUISANCE = {
    "crop": (0.7, 0.9),        # crop side, as a fraction of the painted canvas
    "upright": 1.0,            # probability of an upright (or mirrored) view, else turned
    "hue_turn": 0.0,           # probability of a uniformly random hue rotation
    "noise": (1.0, 5.0),       # pixel-noise standard deviation range (0-255 scale)
    "gamma": 0.3,              # the stretch's gamma is exp(uniform(-gamma, gamma))
    "roll": 1.0,               # probability of a random circular shift (wrap-around)
    "stretch": 1.0,            # probability of the luminance stretch onto a random range
    "light": 0.2,              # largest amplitude of the illumination ramp and vignette
}


def apply_nuisance(img: Image.Image, rng: np.random.Generator, size: int) -> Image.Image:
    """The per-image variation every style shares: ``img`` (the painted square, any
    side in pixels) becomes a ``size`` x ``size`` RGB image.

    The distribution of the changes is the same for every style, but it does not
    wipe out colour as a cue (see :func:`wikiart_core.synth.render`).

    Ranges come from ``NUISANCE``. Geometry: a random crop (``crop``: fraction of
    the side) at a random place, resized to ``size`` with LANCZOS; an upright or
    mirrored view with probability ``upright``, else one of the six other
    symmetries of the square; a wrap-around shift by a random offset with
    probability ``roll`` (local texture survives, but the horizon, dark lower
    half or central figure land anywhere, which defeats position-specific
    models). Colour: a hue rotation of the whole palette by a random angle with
    probability ``hue_turn`` (else a small one) and a saturation change; with
    probability ``stretch`` the luminance is stretched to its 1-99 % range,
    bent by a random gamma and mapped onto a random output range; a colour
    cast; an illumination ramp and vignette (amplitude up to ``light``); and
    pixel noise of random strength (``noise``, 0-255 scale).
    """
    painted_side = img.size[0]
    crop_side = rng.uniform(*NUISANCE["crop"]) * painted_side
    x0, y0 = rng.uniform(0, painted_side - crop_side), rng.uniform(0, painted_side - crop_side)
    img = img.resize((size, size), Image.LANCZOS, box=(x0, y0, x0 + crop_side, y0 + crop_side))
    if rng.random() < NUISANCE["upright"]:
        op = UPRIGHT[rng.integers(2)]
    else:
        op = TURNED[rng.integers(len(TURNED))]
    if op is not None:
        img = img.transpose(op)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    if rng.random() < NUISANCE["roll"]:  # wrap-around shift: textures intact, layout scrambled
        arr = np.roll(arr, (int(rng.integers(size)), int(rng.integers(size))), axis=(0, 1))
    # hue rotation and saturation in YIQ
    if rng.random() < NUISANCE["hue_turn"]:
        theta = rng.uniform(0, 2 * math.pi)
    else:
        theta = rng.normal(0.0, 0.15)
    sat = rng.uniform(0.45, 1.35)
    cos, sin = math.cos(theta) * sat, math.sin(theta) * sat
    rot = np.array([[1, 0, 0], [0, cos, -sin], [0, sin, cos]], np.float32)
    arr = arr @ (FROM_YIQ @ rot @ TO_YIQ).T
    # tone: stretch the luminance to its 1-99 % range, random gamma, random output range
    if rng.random() < NUISANCE["stretch"]:
        lum = arr @ TO_YIQ[0]
        lo, hi = np.percentile(lum, (1, 99))
        arr = np.clip((arr - lo) / max(hi - lo, 0.05), 0.0, 1.0)
        arr = arr ** math.exp(rng.uniform(-NUISANCE["gamma"], NUISANCE["gamma"]))
        out_lo, out_hi = rng.uniform(0.0, 0.3), rng.uniform(0.7, 1.0)
        arr = out_lo + (out_hi - out_lo) * arr
    arr = arr * rng.uniform(0.85, 1.15, 3)  # colour cast
    # illumination: a linear ramp in a random direction and a vignette
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / max(size - 1, 1) - 0.5
    phi = rng.uniform(0, 2 * math.pi)
    ramp = 1.0 + rng.uniform(0.0, NUISANCE["light"]) * (xx * math.cos(phi) + yy * math.sin(phi))
    vignette = 1.0 - rng.uniform(0.0, NUISANCE["light"]) * (xx * xx + yy * yy) * 2.0
    arr = arr * (ramp * vignette)[..., None]
    arr = arr * 255.0 + rng.normal(0, rng.uniform(*NUISANCE["noise"]), arr.shape)
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")
