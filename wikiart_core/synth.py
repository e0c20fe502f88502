"""The embedded stand-in for WikiArt: a procedural dataset with the real folder
names and the real class imbalance.

The real images live on the GPU server only. So that every notebook runs
anywhere, this module paints a dataset with the same 27 style folders, the same
ratios between their sizes, and one visual grammar per style taken from the
movement (pointillist dots, cubist facets, drips and splatters, ...).

Three things are deliberate:

* palettes overlap between styles and every image gets the same nuisance (a
  random crop, a flip, a random wrap-around shift that moves the horizon and
  the figures anywhere, a colour cast, an illumination ramp and vignette, noise;
  see ``NUISANCE``), so fixed positions give little away and a model has to look
  at texture and structure;
* some styles are close pairs or triples (Impressionism / Post_Impressionism,
  Analytical / Synthetic Cubism, the three Renaissances, Realism /
  Contemporary_Realism), so the task is learnable but not trivial;
* every image has its own random generator seeded from
  ``(seed, split, style, index)``, so a dataset is byte-identical for a seed
  whatever the number of worker processes.

Layout written by :func:`generate` (the ImageFolder layout the real data uses)::

    out_dir/train/<Style>/<Style>_00000.jpg
    out_dir/test/<Style>/<Style>_00000.jpg
    out_dir/synth.json          parameters, counts, "complete": true when done
"""

from __future__ import annotations

import colorsys
import json
import math
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# Bump when the grammars change, so ensure() regenerates stale folders.
SYNTH_VERSION = 3

# The thinnest line or outline, as a fraction of the canvas side, so marks survive
# the downsampling to 64 px.
MIN_MARK = 0.008

REAL_TRAIN_COUNTS: dict[str, int] = {
    "Impressionism": 2269,
    "Realism": 1712,
    "Romanticism": 1157,
    "Expressionism": 1127,
    "Post_Impressionism": 946,
    "Baroque": 721,
    "Art_Nouveau_Modern": 688,
    "Symbolism": 679,
    "Abstract_Expressionism": 449,
    "Northern_Renaissance": 413,
    "Cubism": 390,
    "Naive_Art_Primitivism": 373,
    "Rococo": 369,
    "Color_Field_Painting": 268,
    "Mannerism_Late_Renaissance": 246,
    "Early_Renaissance": 246,
    "Pop_Art": 244,
    "Minimalism": 212,
    "High_Renaissance": 198,
    "Ukiyo_e": 197,
    "Fauvism": 163,
    "Contemporary_Realism": 91,
    "Pointillism": 80,
    "New_Realism": 41,
    "Synthetic_Cubism": 38,
    "Action_painting": 18,
    "Analytical_Cubism": 15,
}

STYLES: list[str] = sorted(REAL_TRAIN_COUNTS)

SPLITS = ("train", "test")
MANIFEST = "synth.json"

# The parameters that decide the pixels; ensure() compares exactly these.
_CONTENT_PARAMS = ("scale", "size", "seed", "test_fraction", "quality")


# ---------------------------------------------------------------------------
# Counts
# ---------------------------------------------------------------------------

def split_counts(scale: float, test_fraction: float = 0.15, min_train: int = 3,
                 min_test: int = 1) -> tuple[dict[str, int], dict[str, int]]:
    """Images per style for a dataset ``scale`` times the real train split.

    Train: ``max(min_train, round(real * scale))``; test:
    ``max(min_test, round(train * test_fraction))``, so the test split is
    imbalanced like the train split (as the real one is). Returns
    ``(train_counts, test_counts)``, both keyed by style name.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    train = {s: max(min_train, int(round(REAL_TRAIN_COUNTS[s] * scale))) for s in STYLES}
    test = {s: max(min_test, int(round(train[s] * test_fraction))) for s in STYLES}
    return train, test


# ---------------------------------------------------------------------------
# Drawing helpers. Coordinates are pixels on the S x S drawing canvas
# (S = 2 * size: we draw at twice the size and downsample with LANCZOS).
# ---------------------------------------------------------------------------

def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))
    return int(r * 255 + 0.5), int(g * 255 + 0.5), int(b * 255 + 0.5)


def _pick(rng, hues, sat, val, jitter=0.03):
    """A colour from a palette family: one of ``hues`` (+- jitter), s and v in ranges."""
    h = hues[rng.integers(len(hues))] + rng.uniform(-jitter, jitter)
    return _hsv(h, rng.uniform(*sat), rng.uniform(*val))


def _mix(a, b, t):
    return tuple(int(a[i] + (b[i] - a[i]) * t + 0.5) for i in range(3))


def _shade(c, f):
    return tuple(int(min(255, max(0, x * f))) for x in c)


def _vgrad(S, stops):
    """S x S x 3 float array, a vertical gradient through ``[(y_fraction, rgb), ...]``."""
    ys = np.linspace(0.0, 1.0, S)
    pos = [p for p, _ in stops]
    col = np.array([c for _, c in stops], dtype=np.float32)
    rows = np.stack([np.interp(ys, pos, col[:, k]) for k in range(3)], axis=1)
    return np.broadcast_to(rows[:, None, :], (S, S, 3)).astype(np.float32)


def _lowfreq(rng, S, cells):
    """Smooth noise in [0, 1], S x S, with about ``cells`` blobs across."""
    small = (rng.random((cells, cells)) * 255).astype(np.uint8)
    return np.asarray(Image.fromarray(small).resize((S, S), Image.BICUBIC), np.float32) / 255.0


class _Canvas:
    """An RGB image being painted, with the few primitives the grammars share."""

    def __init__(self, rng, S, ground=(255, 255, 255)):
        self.rng, self.S = rng, S
        if isinstance(ground, np.ndarray):
            ground = Image.fromarray(np.clip(ground, 0, 255).astype(np.uint8))
        self.img = ground if isinstance(ground, Image.Image) else Image.new("RGB", (S, S), ground)
        self.draw = ImageDraw.Draw(self.img)

    # pixel helpers
    def w(self, frac):
        """A width in pixels, ``frac`` of the canvas side, at least one pixel."""
        return max(1, int(round(max(frac, MIN_MARK) * self.S)))

    def line(self, pts, fill, width):
        self.draw.line([tuple(map(float, p)) for p in pts], fill=fill, width=max(1, int(width)),
                       joint="curve" if len(pts) > 2 else None)

    def ellipse(self, cx, cy, rx, ry, fill=None, outline=None, width=1):
        self.draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=fill, outline=outline,
                          width=max(1, int(width)))

    def poly(self, pts, fill=None, outline=None, width=1):
        pts = [tuple(map(float, p)) for p in pts]
        self.draw.polygon(pts, fill=fill)
        if outline is not None:
            self.line(pts + [pts[0]], outline, width)

    def rect(self, x0, y0, x1, y1, fill=None, outline=None, width=1):
        self.draw.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], fill=fill,
                            outline=outline, width=max(1, int(width)))

    # whole-image operations
    def array(self):
        return np.asarray(self.img, dtype=np.float32)

    def set_array(self, arr):
        self.img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        self.draw = ImageDraw.Draw(self.img)

    def blur(self, radius):
        if radius > 0:
            self.img = self.img.filter(ImageFilter.GaussianBlur(radius))
            self.draw = ImageDraw.Draw(self.img)

    def soft(self, kind, coords, fill, blur, alpha=1.0):
        """A soft-edged shape: drawn on a quarter-resolution mask, blurred, composited."""
        q = 4
        m = Image.new("L", (self.S // q, self.S // q), 0)
        md = ImageDraw.Draw(m)
        a = int(255 * alpha)
        if kind == "ellipse":
            md.ellipse([c / q for c in coords], fill=a)
        elif kind == "rectangle":
            x0, y0, x1, y1 = (v / q for v in coords)
            md.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], fill=a)
        else:
            md.polygon([(x / q, y / q) for x, y in coords], fill=a)
        if blur > 0:
            m = m.filter(ImageFilter.GaussianBlur(max(0.5, blur / q)))
        m = m.resize((self.S, self.S), Image.BILINEAR)
        self.img = Image.composite(Image.new("RGB", (self.S, self.S), fill), self.img, m)
        self.draw = ImageDraw.Draw(self.img)

    def glow(self, cx, cy, r, fill, strength=1.0):
        """Pull pixels toward ``fill`` with a Gaussian falloff of radius r."""
        yy, xx = np.ogrid[:self.S, :self.S]
        t = strength * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (r * r))[..., None]
        a = self.array()
        self.set_array(a + (np.array(fill, np.float32) - a) * t)

    def texture(self, amount, cells=24):
        """Multiply by smooth noise: paint and canvas unevenness."""
        if amount > 0:
            n = _lowfreq(self.rng, self.S, cells)
            self.set_array(self.array() * (1.0 + amount * (n[..., None] - 0.5)))


def _walk(rng, x, y, n, step, turn, angle=None):
    """A smooth random walk of n points: a brush gesture, a drip, a wave crest."""
    a = rng.uniform(0, 2 * math.pi) if angle is None else angle
    pts = [(x, y)]
    for _ in range(n - 1):
        a += rng.normal(0.0, turn)
        x += step * math.cos(a)
        y += step * math.sin(a)
        pts.append((x, y))
    return pts


def _strokes(c, n, length, width, colour_at, angle_at, curve=0.0, segments=1):
    """``n`` brush strokes at random places; colour and direction depend on the place."""
    rng, S = c.rng, c.S
    xs, ys = rng.uniform(0, S, n), rng.uniform(0, S, n)
    ls, ws = rng.uniform(*length, n) * S, rng.uniform(*width, n) * S
    for x, y, ln, wd in zip(xs, ys, ls, ws):
        a = angle_at(x, y)
        pts = [(x, y)]
        for _ in range(segments):
            a += rng.normal(0, curve)
            x += ln / segments * math.cos(a)
            y += ln / segments * math.sin(a)
            pts.append((x, y))
        c.line(pts, colour_at(pts[0][0], pts[0][1]), wd)


def _sample(arr, S):
    """Colour lookup into an S x S x 3 array, clamped to the canvas."""
    def at(x, y):
        px = arr[min(S - 1, max(0, int(y))), min(S - 1, max(0, int(x)))]
        return int(px[0]), int(px[1]), int(px[2])
    return at


def _jitter_colour(rng, rgb, dh, ds, dv, sat_gain=1.0):
    h, s, v = colorsys.rgb_to_hsv(*(x / 255.0 for x in rgb))
    return _hsv(h + rng.uniform(-dh, dh), s * sat_gain + rng.uniform(-ds, ds),
                v + rng.uniform(-dv, dv))


def _landscape(rng, S, sat, val, sky_hues=(0.55, 0.6, 0.08), ground_hues=(0.12, 0.22, 0.3),
               blobs=(3, 8)):
    """A flat landscape plan (sky, hills, ground, trees, maybe water) as an Image."""
    hz = rng.uniform(0.3, 0.65)
    sky_hi = _pick(rng, sky_hues, sat, val)
    sky_lo = _mix(sky_hi, (255, 255, 255), rng.uniform(0.1, 0.5))
    g_hi = _pick(rng, ground_hues, sat, val)
    g_lo = _shade(_pick(rng, ground_hues, sat, val), rng.uniform(0.6, 0.95))
    c = _Canvas(rng, S, _vgrad(S, [(0, sky_hi), (hz, sky_lo), (hz + 1e-3, g_hi), (1, g_lo)]))
    # distant hills
    if rng.random() < 0.7:
        amp, ph, fr = rng.uniform(0.03, 0.12) * S, rng.uniform(0, 6.3), rng.uniform(1, 4)
        pts = [(x, hz * S - amp * (1 + math.sin(ph + fr * x / S * 3.0)) / 2)
               for x in np.linspace(0, S, 24)]
        c.poly(pts + [(S, hz * S + 2), (0, hz * S + 2)],
               fill=_mix(_pick(rng, ground_hues + (0.6,), sat, val), sky_lo, 0.4))
    # water
    if rng.random() < 0.35:
        y0 = rng.uniform(hz + 0.05, 0.85) * S
        c.rect(0, y0, S, y0 + rng.uniform(0.1, 0.3) * S, fill=_mix(sky_hi, g_hi, 0.25))
    # trees, haystacks, houses
    for _ in range(rng.integers(*blobs)):
        x, y = rng.uniform(0, S), rng.uniform(hz, 0.95) * S
        r = rng.uniform(0.03, 0.12) * S
        col = _shade(_pick(rng, ground_hues + (0.05,), sat, val), rng.uniform(0.5, 0.9))
        c.ellipse(x, y - r, r * rng.uniform(0.6, 1.2), r, fill=col)
    return c.img


# ---------------------------------------------------------------------------
# The 27 grammars. Each takes (rng, S) and returns an S x S RGB Image.
# ---------------------------------------------------------------------------

def _impressionism(rng, S):
    # Light pastel landscape broken into short, mostly horizontal dabs.
    plan = np.asarray(_landscape(rng, S, (0.15, 0.45), (0.72, 0.98)), np.float32)
    c = _Canvas(rng, S, plan)
    c.blur(S * 0.01)
    at = _sample(plan, S)
    _strokes(c, int(rng.integers(900, 1400)), (0.015, 0.04), (0.012, 0.022),
             lambda x, y: _jitter_colour(rng, at(x, y), 0.06, 0.12, 0.12),
             lambda x, y: rng.normal(0, 0.5) + (math.pi if rng.random() < 0.5 else 0))
    c.texture(0.12)
    return c.img


def _post_impressionism(rng, S):
    # Like Impressionism but bolder: longer curved strokes, stronger colours,
    # swirls (van Gogh) or parallel hatching (Cezanne), and some dark outlines.
    plan = np.asarray(_landscape(rng, S, (0.4, 0.85), (0.45, 0.95)), np.float32)
    c = _Canvas(rng, S, plan)
    at = _sample(plan, S)
    if rng.random() < 0.6:
        cx, cy = rng.uniform(0.2, 0.8) * S, rng.uniform(0.1, 0.5) * S
        angle = lambda x, y: math.atan2(y - cy, x - cx) + math.pi / 2 + rng.normal(0, 0.25)
        curve, segs = 0.35, 3
    else:
        base = rng.uniform(-1.2, -0.4)
        angle = lambda x, y: base + rng.normal(0, 0.15)
        curve, segs = 0.05, 1
    for (x, y), r in zip(rng.uniform(0.1, 0.9, (rng.integers(1, 4), 2)) * S,
                         rng.uniform(0.05, 0.15, 3) * S):
        c.ellipse(x, y, r, r * rng.uniform(0.6, 1.3),
                  fill=_jitter_colour(rng, at(x, y), 0.05, 0.1, 0.1),
                  outline=_hsv(0.62, 0.6, 0.25), width=c.w(0.01))
    _strokes(c, int(rng.integers(300, 500)), (0.04, 0.09), (0.012, 0.022),
             lambda x, y: _jitter_colour(rng, at(x, y), 0.05, 0.1, 0.15, sat_gain=1.15),
             angle, curve=curve, segments=segs)
    c.texture(0.15)
    return c.img


def _pointillism(rng, S):
    # Dense dots of pure saturated colour on a light ground; the hue follows the plan.
    plan = np.asarray(_landscape(rng, S, (0.35, 0.75), (0.75, 1.0)), np.float32)
    c = _Canvas(rng, S, plan * 0.4 + 255 * 0.6)
    at = _sample(plan, S)
    n = int(rng.integers(700, 1000))
    xs, ys = rng.uniform(0, S, n), rng.uniform(0, S, n)
    r = rng.uniform(0.011, 0.016) * S
    for x, y in zip(xs, ys):
        h, s, v = colorsys.rgb_to_hsv(*(k / 255.0 for k in at(x, y)))
        if rng.random() < 0.15:
            h += 0.5  # complementary dots, as in Seurat
        c.ellipse(x, y, r, r, fill=_hsv(h + rng.uniform(-0.04, 0.04), rng.uniform(0.75, 1.0),
                                         rng.uniform(0.8, 1.0)))
    return c.img


_CUBIST_HUES = (0.07, 0.1, 0.12, 0.58)


def _facet_shading(c, n, strength):
    """Cubist facets: darken one side of random lines, fading away from the line."""
    rng, S = c.rng, c.S
    a = c.array()
    yy, xx = np.mgrid[:S, :S].astype(np.float32)
    shade = np.ones((S, S), np.float32)
    for _ in range(n):
        x0, y0, th = rng.uniform(0, S), rng.uniform(0, S), rng.uniform(0, math.pi)
        d = (xx - x0) * math.sin(th) - (yy - y0) * math.cos(th)
        w = rng.uniform(0.03, 0.12) * S
        shade *= np.where(d > 0, 1 - strength * np.exp(-d / w), 1.0)
    c.set_array(a * shade[..., None])


def _random_poly(rng, cx, cy, r, k):
    angles = np.sort(rng.uniform(0, 2 * math.pi, k))
    rads = r * rng.uniform(0.5, 1.0, k)
    return [(cx + rr * math.cos(t), cy + rr * math.sin(t)) for t, rr in zip(angles, rads)]


def _cubism(rng, S):
    c = _Canvas(rng, S, _pick(rng, _CUBIST_HUES[:3], (0.2, 0.5), (0.45, 0.75)))
    for _ in range(rng.integers(25, 45)):
        grey = rng.random() < 0.3
        col = _pick(rng, _CUBIST_HUES, (0.0, 0.1) if grey else (0.15, 0.55), (0.25, 0.85))
        pts = _random_poly(rng, rng.uniform(0, S), rng.uniform(0, S),
                           rng.uniform(0.08, 0.28) * S, int(rng.integers(3, 5)))
        c.poly(pts, fill=col, outline=(40, 30, 25) if rng.random() < 0.5 else None,
               width=c.w(0.006))
    _facet_shading(c, int(rng.integers(8, 15)), 0.35)
    for _ in range(rng.integers(3, 8)):
        x, y, a = rng.uniform(0, S), rng.uniform(0, S), rng.uniform(0, math.pi)
        ln = rng.uniform(0.2, 0.6) * S
        c.line([(x, y), (x + ln * math.cos(a), y + ln * math.sin(a))], (35, 28, 22), c.w(0.005))
    c.texture(0.1)
    return c.img


def _analytical_cubism(rng, S):
    # Many small facets of one muted hue, crowded toward a central oval.
    hue = _CUBIST_HUES[rng.integers(3)] if rng.random() < 0.8 else 0.55
    sat = rng.uniform(0.05, 0.3)
    c = _Canvas(rng, S, _hsv(hue, sat, rng.uniform(0.4, 0.65)))
    cx, cy = rng.uniform(0.4, 0.6) * S, rng.uniform(0.4, 0.6) * S
    for _ in range(rng.integers(90, 160)):
        x, y = rng.normal(cx, 0.22 * S), rng.normal(cy, 0.28 * S)
        pts = _random_poly(rng, x, y, rng.uniform(0.03, 0.09) * S, int(rng.integers(3, 5)))
        c.poly(pts, fill=_hsv(hue + rng.uniform(-0.02, 0.02), sat, rng.uniform(0.2, 0.85)),
               outline=(30, 25, 20) if rng.random() < 0.3 else None, width=1)
    _facet_shading(c, int(rng.integers(20, 30)), 0.25)
    for _ in range(rng.integers(10, 25)):  # the scaffolding of short vertical/horizontal lines
        x, y = rng.uniform(0, S), rng.uniform(0, S)
        ln = rng.uniform(0.05, 0.2) * S
        end = (x + ln, y) if rng.random() < 0.5 else (x, y + ln)
        c.line([(x, y), end], (30, 25, 20), c.w(0.003))
    c.texture(0.1)
    return c.img


def _synthetic_cubism(rng, S):
    # Few large flat planes, brighter colours, collage pieces with printed patterns.
    c = _Canvas(rng, S, _pick(rng, _CUBIST_HUES[:3], (0.2, 0.5), (0.5, 0.8)))
    for _ in range(rng.integers(6, 12)):
        bright = rng.random() < 0.4
        col = (_pick(rng, (0.0, 0.35, 0.6, 0.14), (0.45, 0.8), (0.5, 0.9)) if bright
               else _pick(rng, _CUBIST_HUES, (0.1, 0.5), (0.3, 0.9)))
        pts = _random_poly(rng, rng.uniform(0, S), rng.uniform(0, S),
                           rng.uniform(0.2, 0.5) * S, int(rng.integers(3, 6)))
        c.poly(pts, fill=col, outline=(30, 25, 20) if rng.random() < 0.6 else None,
               width=c.w(0.008))
    for _ in range(rng.integers(1, 4)):  # collage: wood grain, wallpaper dots, newsprint
        x0, y0 = rng.uniform(0, 0.7) * S, rng.uniform(0, 0.7) * S
        w, h = rng.uniform(0.15, 0.35) * S, rng.uniform(0.15, 0.35) * S
        c.rect(x0, y0, x0 + w, y0 + h, fill=_pick(rng, (0.1, 0.13), (0.05, 0.35), (0.7, 0.95)))
        kind, ink = rng.integers(3), (40, 35, 30)
        if kind == 0:
            for yy in np.arange(y0, y0 + h, c.w(0.015)):
                c.line([(x0, yy), (x0 + w, yy + rng.uniform(-3, 3))], ink, 1)
        elif kind == 1:
            step = c.w(0.03)
            for yy in np.arange(y0 + step / 2, y0 + h, step):
                for xx in np.arange(x0 + step / 2, x0 + w, step):
                    c.ellipse(xx, yy, step / 5, step / 5, fill=ink)
        else:
            for yy in np.arange(y0 + 2, y0 + h, c.w(0.012)):
                xx = x0 + 2
                while xx < x0 + w - 4:
                    ln = rng.uniform(0.01, 0.04) * S
                    c.line([(xx, yy), (min(xx + ln, x0 + w - 2), yy)], ink, 1)
                    xx += ln + 3
    _facet_shading(c, int(rng.integers(0, 4)), 0.3)
    c.texture(0.06)
    return c.img


def _color_field(rng, S):
    # Two or three big flat soft-edged fields (Rothko), or a field and a zip (Newman).
    hue = rng.uniform(0, 1)
    c = _Canvas(rng, S, _hsv(hue, rng.uniform(0.3, 0.9), rng.uniform(0.25, 0.85)))
    if rng.random() < 0.75:
        n = int(rng.integers(2, 4))
        m = rng.uniform(0.06, 0.12) * S
        bounds = (np.arange(1, n) / n + rng.uniform(-0.08, 0.08, n - 1)) * (S - 2 * m) + m
        edges = [m] + list(bounds) + [S - m]
        for i in range(n):
            col = _hsv(hue + rng.uniform(-0.15, 0.15) + (0.5 if rng.random() < 0.2 else 0),
                       rng.uniform(0.3, 0.95), rng.uniform(0.2, 0.95))
            c.soft("rectangle", (m, edges[i] + m / 3, S - m, edges[i + 1] - m / 3), col,
                   blur=rng.uniform(0.01, 0.025) * S)
    else:
        for _ in range(rng.integers(1, 3)):
            x = rng.uniform(0.15, 0.85) * S
            w = rng.uniform(0.01, 0.04) * S
            c.soft("rectangle", (x, -5, x + w, S + 5),
                   _hsv(hue + rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.9), rng.uniform(0.3, 1)),
                   blur=rng.uniform(0.002, 0.008) * S)
    c.texture(0.15, cells=12)
    return c.img


def _minimalism(rng, S):
    # A plain ground and a few hard-edged geometric shapes. No texture.
    if rng.random() < 0.7:
        v = rng.uniform(0.75, 0.98)
        ground = _hsv(rng.uniform(0.05, 0.15), rng.uniform(0, 0.08), v)
    else:
        ground = _hsv(rng.uniform(0, 1), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9))
    c = _Canvas(rng, S, ground)
    ink = lambda: (_hsv(0, 0, rng.uniform(0, 0.4)) if rng.random() < 0.5 else
                   _hsv(rng.uniform(0, 1), rng.uniform(0.5, 1), rng.uniform(0.3, 0.95)))
    kind = rng.integers(4)
    if kind == 0:  # a few blocks
        for _ in range(rng.integers(1, 4)):
            x0, y0 = rng.uniform(0.05, 0.6, 2) * S
            c.rect(x0, y0, x0 + rng.uniform(0.1, 0.4) * S, y0 + rng.uniform(0.1, 0.4) * S,
                   fill=ink())
    elif kind == 1:  # concentric squares (Stella)
        col1, col2 = ink(), ground
        k = int(rng.integers(4, 9))
        for i in range(k):
            m = i * S / (2 * k + 1)
            c.rect(m, m, S - m, S - m, fill=col1 if i % 2 == 0 else col2)
    elif kind == 2:  # a grid of thin lines (Martin, LeWitt)
        col, step = ink(), rng.uniform(0.05, 0.15) * S
        for t in np.arange(step, S, step):
            c.line([(t, 0), (t, S)], col, c.w(0.004))
            if rng.random() < 0.7:
                c.line([(0, t), (S, t)], col, c.w(0.004))
    else:  # one circle or one bar
        if rng.random() < 0.5:
            r = rng.uniform(0.1, 0.3) * S
            c.ellipse(rng.uniform(0.3, 0.7) * S, rng.uniform(0.3, 0.7) * S, r, r, fill=ink())
        else:
            y = rng.uniform(0.2, 0.8) * S
            c.rect(0, y, S, y + rng.uniform(0.03, 0.15) * S, fill=ink())
    return c.img


def _ukiyo_e(rng, S):
    # Flat colour regions with dark outlines on pale paper; waves, a mountain, a figure.
    paper = _hsv(rng.uniform(0.08, 0.13), rng.uniform(0.1, 0.25), rng.uniform(0.82, 0.95))
    band = _pick(rng, (0.58, 0.62, 0.97), (0.3, 0.6), (0.55, 0.85))
    c = _Canvas(rng, S, _vgrad(S, [(0, band), (rng.uniform(0.1, 0.3), paper), (1, paper)]))
    ink, lw = (35, 30, 35), c.w(0.006)
    prussian = _hsv(0.6 + rng.uniform(-0.02, 0.02), rng.uniform(0.5, 0.8), rng.uniform(0.3, 0.6))
    kinds = np.sort(rng.permutation(3)[: rng.integers(1, 3)])  # back to front
    for kind in kinds:
        if kind == 0:  # mountain with snow cap
            px, top = rng.uniform(0.3, 0.7) * S, rng.uniform(0.3, 0.5) * S
            base, half = rng.uniform(0.65, 0.8) * S, rng.uniform(0.25, 0.4) * S
            c.poly([(px - half, base), (px, top), (px + half, base)],
                   fill=_pick(rng, (0.6, 0.02, 0.3), (0.3, 0.6), (0.35, 0.6)), outline=ink, width=lw)
            cap = (base - top) * 0.3
            c.poly([(px - half * 0.3, top + cap), (px, top), (px + half * 0.3, top + cap)],
                   fill=(245, 245, 240), outline=ink, width=lw)
        elif kind == 1:  # a great wave: a curling crest with foam claws
            y0 = rng.uniform(0.45, 0.7) * S
            pts = [(x, y0 + rng.uniform(0.02, 0.06) * S * math.sin(x / S * 9 + 1))
                   for x in np.linspace(0, S, 20)]
            cx, cy, r = rng.uniform(0.2, 0.7) * S, y0 - rng.uniform(0.1, 0.25) * S, \
                rng.uniform(0.12, 0.22) * S
            # the curl: an outer arc over the top and an inner arc back, closed at the water
            outer = [(cx + r * math.cos(t), cy + r * math.sin(t))
                     for t in np.linspace(math.pi * 0.9, 2 * math.pi + 0.3, 18)]
            inner = [(cx + 0.55 * r * math.cos(t), cy + 0.55 * r * math.sin(t) + 0.2 * r)
                     for t in np.linspace(2 * math.pi + 0.3, math.pi * 1.1, 12)]
            c.poly(pts + [(S, S), (0, S)], fill=prussian, outline=ink, width=lw)
            c.poly(outer + inner + [(cx - r, y0 + 5)], fill=prussian, outline=ink, width=lw)
            for t in np.linspace(1.6 * math.pi, 2 * math.pi + 0.3, int(rng.integers(4, 8))):
                x, y = cx + r * math.cos(t), cy + r * math.sin(t)
                c.ellipse(x, y, r * 0.09, r * 0.07, fill=(240, 240, 235), outline=ink, width=1)
            for y in np.arange(y0 + 0.05 * S, S, 0.04 * S):  # water lines
                c.line([(0, y), (S, y + rng.uniform(-4, 4))], _shade(prussian, 0.6), 1)
        else:  # a figure in a patterned kimono
            fx, fy = rng.uniform(0.3, 0.7) * S, rng.uniform(0.25, 0.4) * S
            h = rng.uniform(0.45, 0.6) * S
            kim = _pick(rng, (0.0, 0.33, 0.6, 0.08), (0.45, 0.8), (0.45, 0.85))
            c.poly([(fx - h * 0.12, fy + h * 0.12), (fx + h * 0.12, fy + h * 0.12),
                    (fx + h * 0.25, fy + h), (fx - h * 0.25, fy + h)], fill=kim, outline=ink, width=lw)
            for _ in range(12):
                c.ellipse(fx + rng.uniform(-0.15, 0.15) * h, fy + rng.uniform(0.3, 0.9) * h,
                          h * 0.02, h * 0.02, fill=_shade(kim, 0.6))
            c.ellipse(fx, fy, h * 0.07, h * 0.09, fill=(240, 225, 210), outline=ink, width=lw)
            c.ellipse(fx, fy - h * 0.08, h * 0.1, h * 0.06, fill=(25, 22, 25))
    if rng.random() < 0.4:
        r = rng.uniform(0.04, 0.08) * S
        c.ellipse(rng.uniform(0.1, 0.9) * S, rng.uniform(0.08, 0.25) * S, r, r, fill=(200, 50, 40))
    c.texture(0.08, cells=40)
    return c.img


def _figure(c, cx, base, height, robe, mantle=None, skin=(225, 190, 160), thin=1.0, lean=0.0,
            halo=None, outline=None, lw=1):
    """A robed figure standing on ``base``: robe, optional mantle, head, optional halo."""
    top = base - height
    sh = height * 0.16 / thin
    head_r = height * 0.075 / math.sqrt(thin)
    nx = cx + lean * height
    if halo is not None:
        c.ellipse(nx, top, head_r * 1.7, head_r * 1.7, fill=halo)
    c.poly([(nx - sh, top + head_r * 1.5), (nx + sh, top + head_r * 1.5),
            (cx + sh * 1.6, base), (cx - sh * 1.6, base)], fill=robe, outline=outline, width=lw)
    if mantle is not None:
        c.poly([(nx, top + head_r * 1.2), (cx + sh * 1.8, base), (cx - sh * 0.3, base)],
               fill=mantle, outline=outline, width=lw)
    c.ellipse(nx, top, head_r, head_r * 1.2, fill=skin, outline=outline, width=lw)


def _renaissance(rng, S, variant):
    """Early / High / Mannerist: symmetric holy scenes that differ in finish and proportion."""
    blue = lambda: _hsv(0.61 + rng.uniform(-0.03, 0.03), rng.uniform(0.5, 0.8), rng.uniform(0.35, 0.7))
    red = lambda: _hsv(rng.uniform(-0.02, 0.03), rng.uniform(0.55, 0.85), rng.uniform(0.45, 0.8))
    gold = (205, 165, 70)
    if variant == "mannerism":
        acid = lambda: _pick(rng, (0.25, 0.9, 0.07, 0.75, 0.5), (0.45, 0.85), (0.6, 0.95))
        c = _Canvas(rng, S, _vgrad(S, [(0, _pick(rng, (0.6, 0.08), (0.2, 0.5), (0.1, 0.3))),
                                       (1, _pick(rng, (0.1, 0.3), (0.2, 0.5), (0.15, 0.35)))]))
        floor = rng.uniform(0.85, 0.97) * S
        for _ in range(rng.integers(3, 7)):
            _figure(c, rng.uniform(0.1, 0.9) * S, floor, rng.uniform(0.55, 0.85) * S, acid(),
                    mantle=acid() if rng.random() < 0.7 else None, skin=(235, 205, 190),
                    thin=rng.uniform(1.6, 2.4), lean=rng.uniform(-0.15, 0.15))
        c.blur(S * 0.003)
        c.texture(0.1)
        return c.img
    # Early and High share the layout: sky, ground or tiled floor, central Madonna
    sky = _hsv(0.58, rng.uniform(0.2, 0.5), rng.uniform(0.7, 0.95))
    hz = rng.uniform(0.4, 0.6)
    ground = _pick(rng, (0.1, 0.25), (0.25, 0.5), (0.4, 0.7))
    c = _Canvas(rng, S, _vgrad(S, [(0, _shade(sky, 0.8)), (hz, sky), (hz + 1e-3, ground),
                                   (1, _shade(ground, 0.7))]))
    vp = (S / 2, hz * S)
    if variant == "early":
        if rng.random() < 0.5:  # gold ground
            c.rect(0, 0, S, hz * S, fill=gold)
        else:  # arcade
            wall = _pick(rng, (0.08, 0.1), (0.15, 0.35), (0.7, 0.9))
            c.rect(0, 0, S, hz * S, fill=wall)
            k = int(rng.integers(2, 4)) * 2 + 1
            for i in range(k):
                x0, x1 = i * S / k + S * 0.02, (i + 1) * S / k - S * 0.02
                r = (x1 - x0) / 2
                c.rect(x0, hz * S * 0.35 + r, x1, hz * S, fill=_shade(wall, 0.55))
                c.ellipse(x0 + r, hz * S * 0.35 + r, r, r, fill=_shade(wall, 0.55))
        line_col = _shade(ground, 0.5)
        for x in np.linspace(-S, 2 * S, int(rng.integers(9, 15))):  # perspective tiles
            c.line([vp, (x, S)], line_col, c.w(0.004))
        y = hz * S
        step = S * 0.03
        while y < S:
            c.line([(0, y), (S, y)], line_col, c.w(0.004))
            step *= 1.35
            y += step
    else:  # sfumato hills melting into the sky
        for i in range(int(rng.integers(2, 4))):
            amp = rng.uniform(0.05, 0.12) * S
            pts = [(x, hz * S - amp * (1 + math.sin(x / S * rng.uniform(2, 5) + i)) / 2)
                   for x in np.linspace(0, S, 16)]
            col = _mix(_hsv(0.55, 0.35, 0.55 - 0.08 * i), sky, 0.5 - 0.15 * i)
            c.poly(pts + [(S, hz * S + 3), (0, hz * S + 3)], fill=col)
        c.blur(S * 0.01)
    base = rng.uniform(0.88, 0.97) * S
    height = rng.uniform(0.5, 0.7) * S
    halo = gold if rng.random() < 0.7 else None
    outline = (50, 35, 25) if variant == "early" else None
    n_side = int(rng.integers(0, 3))
    for i in range(n_side):  # symmetric attendants
        off = (0.22 + 0.14 * i) * S
        col = red() if rng.random() < 0.5 else _pick(rng, (0.3, 0.1), (0.3, 0.6), (0.4, 0.8))
        for sgn in (-1, 1):
            _figure(c, S / 2 + sgn * off, base - S * 0.04, height * 0.7, col, halo=halo,
                    outline=outline, lw=c.w(0.004))
    _figure(c, S / 2, base, height, red(), mantle=blue(), halo=halo, outline=outline,
            lw=c.w(0.004))
    if variant == "high":
        # pyramid composition, soft modelling: one side in shadow, everything blurred
        a = c.array()
        xx = np.linspace(1.08, 0.8, S, dtype=np.float32)
        c.set_array(a * xx[None, :, None])
        c.blur(S * 0.008)
        c.texture(0.06)
    else:
        c.texture(0.05)
    return c.img


def _early_renaissance(rng, S):
    return _renaissance(rng, S, "early")


def _high_renaissance(rng, S):
    return _renaissance(rng, S, "high")


def _mannerism(rng, S):
    return _renaissance(rng, S, "mannerism")


def _northern_renaissance(rng, S):
    # Dark greens and browns, a window onto a tiny landscape, a figure, fine detail lines.
    dark = _pick(rng, (0.1, 0.3, 0.08), (0.3, 0.6), (0.12, 0.35))
    c = _Canvas(rng, S, _vgrad(S, [(0, _shade(dark, 1.3)), (1, _shade(dark, 0.7))]))
    if rng.random() < 0.7:  # window with landscape
        x0, y0 = rng.uniform(0.05, 0.6) * S, rng.uniform(0.05, 0.3) * S
        w, h = rng.uniform(0.2, 0.35) * S, rng.uniform(0.2, 0.35) * S
        land = _landscape(rng, S, (0.3, 0.6), (0.4, 0.8), ground_hues=(0.25, 0.3, 0.12))
        c.img.paste(land.resize((int(w), int(h)), Image.BILINEAR), (int(x0), int(y0)))
        c.rect(x0, y0, x0 + w, y0 + h, outline=(40, 30, 20), width=c.w(0.008))
        c.draw = ImageDraw.Draw(c.img)
    robe = _pick(rng, (0.0, 0.33, 0.6, 0.08), (0.4, 0.8), (0.08, 0.4))
    _figure(c, rng.uniform(0.35, 0.65) * S, S * 1.05, rng.uniform(0.6, 0.85) * S, robe,
            skin=(230, 205, 185), outline=(30, 20, 15), lw=1)
    # fine detail: hatching, folds, foliage, hair
    ink = [_shade(dark, 0.4), _shade(dark, 1.8), (200, 170, 90)]
    for _ in range(rng.integers(150, 300)):
        x, y = rng.uniform(0, S), rng.uniform(0, S)
        a, ln = rng.uniform(0, math.pi), rng.uniform(0.01, 0.05) * S
        c.line([(x, y), (x + ln * math.cos(a), y + ln * math.sin(a))],
               ink[rng.integers(3)], 1)
    c.texture(0.06, cells=48)
    return c.img


def _spiral(cx, cy, r, turns, direction, n=30):
    return [(cx + r * (1 - t) * math.cos(direction * turns * 2 * math.pi * t),
             cy + r * (1 - t) * math.sin(direction * turns * 2 * math.pi * t))
            for t in np.linspace(0, 0.9, n)]


def _rococo(rng, S):
    # Light pastel sky, fluffy clouds, pastel figures, curly gold ornaments; all soft.
    top = _pick(rng, (0.55, 0.6), (0.15, 0.4), (0.8, 0.97))
    bottom = _pick(rng, (0.95, 0.05, 0.3), (0.15, 0.35), (0.8, 0.97))
    c = _Canvas(rng, S, _vgrad(S, [(0, top), (1, bottom)]))
    for _ in range(rng.integers(3, 7)):
        x, y, r = rng.uniform(0, S), rng.uniform(0, 0.7) * S, rng.uniform(0.08, 0.2) * S
        c.soft("ellipse", (x - r, y - r * 0.6, x + r, y + r * 0.6),
               _hsv(0.1, rng.uniform(0, 0.1), rng.uniform(0.9, 1)), blur=r * 0.3)
    for _ in range(rng.integers(1, 4)):
        _figure(c, rng.uniform(0.2, 0.8) * S, rng.uniform(0.8, 1.0) * S, rng.uniform(0.3, 0.5) * S,
                _pick(rng, (0.95, 0.55, 0.3, 0.12), (0.2, 0.45), (0.75, 0.95)),
                skin=(245, 215, 200), lean=rng.uniform(-0.1, 0.1))
    gold = _pick(rng, (0.11, 0.13), (0.35, 0.6), (0.75, 0.95))
    for _ in range(rng.integers(4, 10)):
        c.line(_spiral(rng.uniform(0, S), rng.uniform(0, S), rng.uniform(0.03, 0.08) * S,
                       rng.uniform(1, 2), rng.choice([-1, 1])), gold, c.w(0.006))
    c.blur(S * 0.004)
    c.texture(0.06)
    return c.img


def _romanticism(rng, S):
    # A stormy sky over a bright horizon band, a dark diagonal mass, a burst of light.
    hz = rng.uniform(0.45, 0.75)
    storm = _pick(rng, (0.6, 0.08, 0.7), (0.15, 0.45), (0.12, 0.35))
    light = _pick(rng, (0.1, 0.12, 0.06), (0.3, 0.7), (0.75, 1.0))
    ground = _pick(rng, (0.08, 0.55, 0.3), (0.2, 0.5), (0.08, 0.3))
    c = _Canvas(rng, S, _vgrad(S, [(0, storm), (hz * 0.7, _mix(storm, light, 0.5)), (hz, light),
                                   (hz + 1e-3, ground), (1, _shade(ground, 0.6))]))
    for _ in range(rng.integers(3, 7)):  # storm clouds
        x, y, r = rng.uniform(0, S), rng.uniform(0, hz * 0.8) * S, rng.uniform(0.1, 0.25) * S
        c.soft("ellipse", (x - r, y - r * 0.5, x + r, y + r * 0.5), _shade(storm, 0.7),
               blur=r * 0.5, alpha=rng.uniform(0.5, 0.9))
    c.glow(rng.uniform(0.2, 0.8) * S, hz * S * rng.uniform(0.6, 1.0), rng.uniform(0.1, 0.25) * S,
           light, 0.8)
    # the diagonal: a cliff, a wave or a slope from one corner
    left = rng.random() < 0.5
    y_hi, y_lo = rng.uniform(0.2, 0.5) * S, rng.uniform(0.8, 1.0) * S
    x_far = rng.uniform(0.6, 1.0) * S
    pts = [(0, y_hi), (x_far, y_lo), (x_far, S), (0, S)] if left else \
        [(S, y_hi), (S - x_far, y_lo), (S - x_far, S), (S, S)]
    c.poly(pts, fill=_shade(ground, 0.5))
    if rng.random() < 0.6:  # a tiny figure or mast against the light
        x = rng.uniform(0.3, 0.7) * S
        h = rng.uniform(0.08, 0.2) * S
        c.line([(x, hz * S), (x + rng.uniform(-0.02, 0.02) * S, hz * S - h)], (20, 18, 20), c.w(0.008))
    c.blur(S * 0.005)
    c.texture(0.12)
    return c.img


def _realism(rng, S):
    # Earthy muted landscape with peasants, or a sober portrait; smooth and soft.
    if rng.random() < 0.75:
        plan = _landscape(rng, S, (0.1, 0.4), (0.3, 0.75), sky_hues=(0.58, 0.1),
                          ground_hues=(0.08, 0.12, 0.2, 0.25))
        c = _Canvas(rng, S, plan)
        hz = S * rng.uniform(0.5, 0.8)
        for _ in range(rng.integers(0, 4)):  # small figures
            _figure(c, rng.uniform(0.1, 0.9) * S, hz + rng.uniform(0, 0.2) * S,
                    rng.uniform(0.1, 0.2) * S, _pick(rng, (0.08, 0.6, 0.0), (0.2, 0.5), (0.15, 0.5)),
                    skin=(180, 140, 110))
        at = _sample(np.asarray(plan, np.float32), S)
        _strokes(c, int(rng.integers(60, 150)), (0.03, 0.08), (0.01, 0.02),
                 lambda x, y: _jitter_colour(rng, at(x, y), 0.02, 0.05, 0.06),
                 lambda x, y: rng.normal(0, 0.3))
    else:
        bg = _pick(rng, (0.08, 0.1, 0.3), (0.2, 0.5), (0.15, 0.45))
        c = _Canvas(rng, S, bg)
        _figure(c, rng.uniform(0.4, 0.6) * S, S * 1.1, rng.uniform(0.75, 0.95) * S,
                _pick(rng, (0.08, 0.6, 0.0), (0.1, 0.5), (0.1, 0.4)), skin=(200, 160, 130))
        c.glow(S * 0.5, S * 0.35, S * 0.4, _shade(bg, 1.6), 0.3)
    c.blur(S * 0.006)
    c.texture(0.1)
    return c.img


def _contemporary_realism(rng, S):
    # Clean bright realism: crisp sky, hard-edged buildings or still-life objects with shadows.
    hz = rng.uniform(0.45, 0.75)
    sky = _pick(rng, (0.57, 0.6), (0.3, 0.6), (0.8, 1.0))
    ground = _pick(rng, (0.1, 0.08, 0.3, 0.0), (0.05, 0.35), (0.55, 0.9))
    c = _Canvas(rng, S, _vgrad(S, [(0, sky), (hz, _mix(sky, (255, 255, 255), 0.4)),
                                   (hz + 1e-3, ground), (1, _shade(ground, 0.85))]))
    sun = rng.choice([-1, 1])
    for _ in range(rng.integers(2, 6)):
        w = rng.uniform(0.08, 0.25) * S
        h = rng.uniform(0.1, 0.45) * S
        x = rng.uniform(0, S - w)
        base = hz * S + rng.uniform(0, 0.2) * S
        col = _pick(rng, (0.05, 0.1, 0.55, 0.0, 0.35), (0.05, 0.55), (0.5, 0.95))
        c.poly([(x, base), (x + w, base), (x + w + sun * 0.3 * w, base + 0.1 * h),
                (x + sun * 0.3 * w, base + 0.1 * h)], fill=_shade(ground, 0.7))  # cast shadow
        c.rect(x, base - h, x + w, base, fill=col)
        side = w * rng.uniform(0.15, 0.35)
        c.rect(x + (w - side if sun > 0 else 0), base - h, x + (w if sun > 0 else side), base,
               fill=_shade(col, 0.75))
        for yy in np.arange(base - h + 0.03 * S, base - 0.03 * S, 0.05 * S):  # windows
            if rng.random() < 0.6:
                c.rect(x + w * 0.2, yy, x + w * 0.45, yy + 0.02 * S, fill=_shade(col, 0.55))
    c.texture(0.04)
    return c.img


def _new_realism(rng, S):
    # Everyday objects in bold flat colours: an accumulation of bottles or cans, or torn posters.
    c = _Canvas(rng, S, _pick(rng, (0.1, 0.6, 0.0), (0.0, 0.3), (0.6, 0.95)))
    if rng.random() < 0.6:
        k = int(rng.integers(3, 7))
        cell = S / k
        kind = rng.integers(2)
        for i in range(k):
            for j in range(k):
                x, y = (j + 0.5) * cell + rng.uniform(-0.1, 0.1) * cell, (i + 0.5) * cell
                col = _pick(rng, (0.0, 0.15, 0.6, 0.33), (0.6, 1.0), (0.55, 1.0))
                if kind == 0:  # bottles
                    c.rect(x - cell * 0.2, y - cell * 0.15, x + cell * 0.2, y + cell * 0.45,
                           fill=col, outline=(30, 30, 30), width=c.w(0.004))
                    c.rect(x - cell * 0.07, y - cell * 0.45, x + cell * 0.07, y - cell * 0.15,
                           fill=col, outline=(30, 30, 30), width=c.w(0.004))
                else:  # cans with a label band
                    c.ellipse(x, y, cell * 0.38, cell * 0.38, fill=col, outline=(30, 30, 30),
                              width=c.w(0.004))
                    c.ellipse(x, y, cell * 0.22, cell * 0.22, fill=(235, 235, 230))
    else:
        for _ in range(rng.integers(6, 14)):
            x0, y0 = rng.uniform(-0.1, 0.8, 2) * S
            pts = _random_poly(rng, x0 + 0.15 * S, y0 + 0.15 * S, rng.uniform(0.15, 0.35) * S, 6)
            col = _pick(rng, (0.0, 0.15, 0.6, 0.55), (0.5, 1.0), (0.5, 1.0))
            c.poly(pts, fill=col)
            for yy in np.arange(y0 + 0.1 * S, y0 + 0.25 * S, 0.04 * S):  # big letters
                c.rect(x0 + 0.05 * S, yy, x0 + rng.uniform(0.1, 0.3) * S, yy + 0.02 * S,
                       fill=(20, 20, 20) if rng.random() < 0.7 else (250, 250, 250))
    return c.img


def _wobbly(rng, cx, cy, r, k=9, wob=0.35):
    t = np.linspace(0, 2 * math.pi, k, endpoint=False) + rng.uniform(0, 1)
    rr = r * (1 + rng.uniform(-wob, wob, k))
    return [(cx + a * math.cos(b), cy + a * math.sin(b) * rng.uniform(1.0, 1.8)) for a, b in zip(rr, t)]


_HARSH = (0.0, 0.08, 0.15, 0.3, 0.5, 0.62, 0.8)


def _expressionism(rng, S):
    # Distorted shapes, harsh unnatural colours, thick dark outlines, angular strokes.
    c = _Canvas(rng, S, _pick(rng, _HARSH, (0.5, 0.95), (0.4, 0.9)))
    y = rng.uniform(0.3, 0.6) * S
    pts = [(x, y + rng.uniform(-0.1, 0.1) * S) for x in np.linspace(0, S, 6)]
    c.poly(pts + [(S, S), (0, S)], fill=_pick(rng, _HARSH, (0.5, 0.95), (0.3, 0.8)))
    ink = _pick(rng, (0.6, 0.0, 0.3), (0.3, 0.8), (0.05, 0.25))
    lw = c.w(rng.uniform(0.012, 0.022))
    for _ in range(rng.integers(2, 6)):
        x, yy = rng.uniform(0.15, 0.85) * S, rng.uniform(0.2, 0.8) * S
        c.poly(_wobbly(rng, x, yy, rng.uniform(0.07, 0.2) * S),
               fill=_pick(rng, _HARSH, (0.5, 1.0), (0.45, 0.95)), outline=ink, width=lw)
    _strokes(c, int(rng.integers(40, 90)), (0.05, 0.12), (0.008, 0.018),
             lambda x, y: _pick(rng, _HARSH, (0.5, 1.0), (0.3, 0.9)),
             lambda x, y: rng.uniform(0, math.pi))
    c.texture(0.15)
    return c.img


def _fauvism(rng, S):
    # Landscape plan with the hues thrown away: wild saturated flat patches, loose strokes.
    hues = tuple(rng.uniform(0, 1, 4))
    plan = np.asarray(_landscape(rng, S, (0.65, 1.0), (0.6, 1.0), sky_hues=hues[:2],
                                 ground_hues=hues[2:]), np.float32)
    c = _Canvas(rng, S, plan)
    at = _sample(plan, S)
    _strokes(c, int(rng.integers(120, 250)), (0.04, 0.1), (0.02, 0.04),
             lambda x, y: _jitter_colour(rng, at(x, y), 0.12, 0.1, 0.1, sat_gain=1.1),
             lambda x, y: rng.uniform(0, math.pi), curve=0.3, segments=2)
    for _ in range(rng.integers(20, 60)):  # bare canvas showing between the patches
        x, y, r = rng.uniform(0, S), rng.uniform(0, S), rng.uniform(0.005, 0.015) * S
        c.ellipse(x, y, r * 2, r, fill=(245, 240, 225))
    c.texture(0.1)
    return c.img


def _abstract_expressionism(rng, S):
    # Large gestural strokes; sometimes black on white (Kline), sometimes colour (de Kooning).
    kline = rng.random() < 0.3
    ground = (_hsv(0.1, rng.uniform(0, 0.1), rng.uniform(0.85, 0.97)) if kline
              else _pick(rng, _HARSH, (0.1, 0.7), (0.3, 0.95)))
    c = _Canvas(rng, S, ground)
    pal = [_pick(rng, _HARSH, (0.3, 0.95), (0.3, 0.95)) for _ in range(4)] + [(20, 20, 20)]
    for _ in range(rng.integers(8, 22)):
        col = (20, 20, 20) if kline else pal[rng.integers(len(pal))]
        pts = _walk(rng, rng.uniform(0, S), rng.uniform(0, S), int(rng.integers(3, 7)),
                    rng.uniform(0.06, 0.15) * S, 0.5)
        wd = rng.uniform(0.03, 0.08) * S
        c.line(pts, col, wd)
        c.line([(x + wd * 0.3, y + wd * 0.2) for x, y in pts], _shade(col, 1.2), wd * 0.4)
    c.blur(S * 0.002)
    c.texture(0.15)
    return c.img


def _action_painting(rng, S):
    # Drips and splatters: thin random-walk skeins and spots over a raw canvas.
    ground = _pick(rng, (0.1, 0.08, 0.6), (0.0, 0.25), (0.15, 0.9))
    c = _Canvas(rng, S, ground)
    pal = [(20, 20, 20), (240, 240, 235), (170, 170, 175)] + \
          [_pick(rng, _HARSH, (0.4, 0.9), (0.4, 0.9)) for _ in range(2)]
    for _ in range(rng.integers(30, 70)):
        col = pal[rng.integers(len(pal))]
        pts = _walk(rng, rng.uniform(0, S), rng.uniform(0, S), int(rng.integers(30, 90)),
                    rng.uniform(0.008, 0.02) * S, 0.45)
        c.line(pts, col, rng.uniform(0.002, 0.008) * S)
        for _ in range(rng.integers(0, 6)):  # splatter along the skein
            x, y = pts[rng.integers(len(pts))]
            r = rng.uniform(0.003, 0.012) * S
            c.ellipse(x + rng.normal(0, 0.02 * S), y + rng.normal(0, 0.02 * S), r, r, fill=col)
    return c.img


def _art_nouveau(rng, S):
    # Poster: decorative border, halo disc, a figure with whiplash hair; muted golds and greens.
    pal = lambda: _pick(rng, (0.12, 0.2, 0.3, 0.08), (0.2, 0.55), (0.4, 0.85))
    c = _Canvas(rng, S, pal())
    m = rng.uniform(0.04, 0.08) * S
    border = pal()
    c.rect(0, 0, S, S, outline=border, width=int(m))
    ink = _pick(rng, (0.08, 0.3), (0.3, 0.6), (0.1, 0.3))
    for t in np.linspace(m, S - m, int(rng.integers(6, 12))):  # ornaments along the border
        for x, y in ((t, m / 2), (t, S - m / 2), (m / 2, t), (S - m / 2, t)):
            c.ellipse(x, y, m * 0.3, m * 0.3, fill=pal(), outline=ink, width=1)
    cx = rng.uniform(0.4, 0.6) * S
    r = rng.uniform(0.2, 0.32) * S
    c.ellipse(cx, S * 0.38, r, r, fill=pal(), outline=ink, width=c.w(0.006))
    _figure(c, cx, S - m, rng.uniform(0.6, 0.75) * S, pal(), mantle=pal(), skin=(235, 215, 190),
            outline=ink, lw=c.w(0.005))
    for _ in range(rng.integers(6, 14)):  # whiplash curves
        x0, y0 = cx + rng.uniform(-0.1, 0.1) * S, rng.uniform(0.2, 0.4) * S
        amp, fr, ph = rng.uniform(0.03, 0.1) * S, rng.uniform(6, 12), rng.uniform(0, 6.3)
        ln = rng.uniform(0.3, 0.6) * S
        d = rng.choice([-1, 1])
        pts = [(x0 + d * t * ln * 0.6 + amp * math.sin(fr * t + ph), y0 + t * ln)
               for t in np.linspace(0, 1, 20)]
        c.line(pts, ink, c.w(0.006))
    c.texture(0.08)
    return c.img


def _symbolism(rng, S):
    # A dreamy night in blues and purples, bands of mist, a glowing central figure.
    top = _pick(rng, (0.65, 0.72, 0.78), (0.4, 0.8), (0.1, 0.35))
    bottom = _pick(rng, (0.6, 0.7, 0.5), (0.3, 0.7), (0.2, 0.5))
    c = _Canvas(rng, S, _vgrad(S, [(0, top), (1, bottom)]))
    for _ in range(rng.integers(2, 5)):  # mist
        y = rng.uniform(0.3, 0.9) * S
        c.soft("rectangle", (-10, y, S + 10, y + rng.uniform(0.03, 0.1) * S),
               _pick(rng, (0.7, 0.6), (0.1, 0.3), (0.5, 0.8)), blur=0.04 * S, alpha=0.5)
    glow = _pick(rng, (0.12, 0.15, 0.55, 0.8), (0.1, 0.5), (0.85, 1.0))
    cx, cy = rng.uniform(0.35, 0.65) * S, rng.uniform(0.35, 0.6) * S
    c.glow(cx, cy, rng.uniform(0.12, 0.25) * S, glow, 0.75)
    _figure(c, cx, cy + rng.uniform(0.2, 0.35) * S, rng.uniform(0.35, 0.55) * S,
            _mix(glow, top, 0.3), skin=_mix(glow, (255, 240, 230), 0.5), thin=1.3)
    if rng.random() < 0.5:
        r = rng.uniform(0.03, 0.07) * S
        c.ellipse(rng.uniform(0.1, 0.9) * S, rng.uniform(0.08, 0.25) * S, r, r, fill=(240, 235, 200))
    c.blur(S * 0.008)
    c.texture(0.1)
    return c.img


def _naive(rng, S):
    # Bright flat shapes: a village with stick figures, or a Rousseau jungle of leaves.
    sky = _pick(rng, (0.55, 0.6), (0.4, 0.8), (0.7, 1.0))
    ground = _pick(rng, (0.25, 0.3, 0.33), (0.5, 0.9), (0.45, 0.85))
    hz = rng.uniform(0.4, 0.65) * S
    c = _Canvas(rng, S, sky)
    c.rect(0, hz, S, S, fill=ground)
    bright = lambda: _pick(rng, (0.0, 0.12, 0.15, 0.6, 0.08, 0.9), (0.6, 1.0), (0.7, 1.0))
    ink = (40, 35, 30)
    if rng.random() < 0.6:
        r = rng.uniform(0.05, 0.09) * S
        sx, sy = rng.uniform(0.1, 0.9) * S, rng.uniform(0.08, 0.2) * S
        c.ellipse(sx, sy, r, r, fill=(255, 215, 40))
        for t in np.linspace(0, 2 * math.pi, 10, endpoint=False):
            c.line([(sx + 1.3 * r * math.cos(t), sy + 1.3 * r * math.sin(t)),
                    (sx + 1.8 * r * math.cos(t), sy + 1.8 * r * math.sin(t))], (255, 200, 40), c.w(0.006))
        for _ in range(rng.integers(1, 4)):  # houses
            w = rng.uniform(0.12, 0.22) * S
            x, y = rng.uniform(0, S - w), hz + rng.uniform(0.0, 0.25) * S
            c.rect(x, y - w, x + w, y, fill=bright(), outline=ink, width=c.w(0.004))
            c.poly([(x - w * 0.1, y - w), (x + w / 2, y - w * 1.6), (x + w * 1.1, y - w)],
                   fill=bright(), outline=ink, width=c.w(0.004))
            c.rect(x + w * 0.35, y - w * 0.45, x + w * 0.65, y, fill=ink)
        for _ in range(rng.integers(1, 5)):  # lollipop trees and stick figures
            x, y = rng.uniform(0.05, 0.95) * S, hz + rng.uniform(0.05, 0.35) * S
            if rng.random() < 0.5:
                c.rect(x - 0.01 * S, y - 0.15 * S, x + 0.01 * S, y, fill=(110, 70, 40))
                c.ellipse(x, y - 0.17 * S, 0.06 * S, 0.06 * S, fill=_shade(ground, 0.7))
            else:
                h = 0.12 * S
                c.line([(x, y), (x, y - h * 0.6)], ink, c.w(0.006))
                c.line([(x - h * 0.25, y - h * 0.45), (x + h * 0.25, y - h * 0.45)], ink, c.w(0.006))
                c.line([(x - h * 0.2, y + h * 0.1), (x, y), (x + h * 0.2, y + h * 0.1)], ink, c.w(0.006))
                c.ellipse(x, y - h * 0.75, h * 0.15, h * 0.15, fill=(240, 200, 170), outline=ink)
    else:
        for _ in range(rng.integers(15, 35)):  # big flat leaves
            x, y = rng.uniform(0, S), rng.uniform(0.2, 1.0) * S
            ln, a = rng.uniform(0.08, 0.2) * S, rng.uniform(-math.pi, 0)
            tip = (x + ln * math.cos(a), y + ln * math.sin(a))
            nrm = (-math.sin(a) * ln * 0.25, math.cos(a) * ln * 0.25)
            mid = ((x + tip[0]) / 2, (y + tip[1]) / 2)
            c.poly([(x, y), (mid[0] + nrm[0], mid[1] + nrm[1]), tip, (mid[0] - nrm[0], mid[1] - nrm[1])],
                   fill=_pick(rng, (0.25, 0.3, 0.38), (0.5, 0.9), (0.25, 0.8)))
        for _ in range(rng.integers(2, 6)):  # flowers / fruit
            r = rng.uniform(0.015, 0.03) * S
            c.ellipse(rng.uniform(0, S), rng.uniform(0.3, 1) * S, r, r, fill=bright())
    return c.img


def _pop_art(rng, S):
    # Ben-Day dots, bold primaries, thick black outlines; a comic face or a Warhol grid.
    primaries = [(230, 30, 40), (250, 215, 20), (30, 80, 200), (240, 120, 170), (40, 180, 90)]
    prim = lambda: primaries[rng.integers(len(primaries))]
    black = (15, 15, 15)
    k = 1 if rng.random() < 0.6 else int(rng.integers(2, 4))
    c = _Canvas(rng, S, (250, 250, 245))
    cell = S / k
    for i in range(k):
        for j in range(k):
            x0, y0 = j * cell, i * cell
            bg, dot = prim(), prim()
            c.rect(x0, y0, x0 + cell, y0 + cell, fill=_mix(bg, (255, 255, 255), 0.35))
            step = max(3.0, rng.uniform(0.02, 0.035) * S)
            for yy in np.arange(y0 + step / 2, y0 + cell, step):  # Ben-Day dots
                off = step / 2 if int((yy - y0) / step) % 2 else 0
                for xx in np.arange(x0 + off, x0 + cell, step):
                    c.ellipse(xx, yy, step * 0.28, step * 0.28, fill=dot)
            cx, cy, r = x0 + cell / 2, y0 + cell * 0.55, cell * rng.uniform(0.25, 0.35)
            lw = max(2, int(cell * 0.025))
            c.ellipse(cx, cy, r * 0.8, r, fill=(250, 210, 180) if k == 1 else prim(),
                      outline=black, width=lw)
            c.poly([(cx - r, cy - r * 0.3), (cx, cy - r * 1.4), (cx + r, cy - r * 0.3),
                    (cx + r * 0.6, cy - r * 0.9), (cx - r * 0.6, cy - r * 0.9)],
                   fill=prim(), outline=black, width=lw)
            c.ellipse(cx, cy + r * 0.45, r * 0.25, r * 0.1, fill=(220, 20, 40), outline=black, width=lw)
            for sx in (-1, 1):
                c.ellipse(cx + sx * r * 0.3, cy - r * 0.05, r * 0.12, r * 0.07, fill=black)
            c.rect(x0, y0, x0 + cell, y0 + cell, outline=black, width=lw)
    return c.img


def _baroque(rng, S):
    # Near-black ground, figures lit by one strong warm light: chiaroscuro.
    c = _Canvas(rng, S, _pick(rng, (0.06, 0.09, 0.6), (0.3, 0.7), (0.04, 0.16)))
    lx, ly = rng.uniform(0.3, 0.7) * S, rng.uniform(0.3, 0.6) * S
    for _ in range(rng.integers(1, 4)):
        _figure(c, lx + rng.uniform(-0.25, 0.25) * S, S * rng.uniform(0.9, 1.1),
                rng.uniform(0.5, 0.8) * S,
                _pick(rng, (0.0, 0.6, 0.1, 0.12), (0.4, 0.85), (0.4, 0.9)),
                mantle=_pick(rng, (0.0, 0.12), (0.1, 0.7), (0.6, 1.0)) if rng.random() < 0.5 else None,
                skin=(240, 200, 160), lean=rng.uniform(-0.1, 0.1))
    # the light: a Gaussian pool, everything else falls to darkness
    yy, xx = np.ogrid[:S, :S]
    r = rng.uniform(0.2, 0.35) * S
    light = 0.12 + 1.0 * np.exp(-((xx - lx) ** 2 + (yy - ly) ** 2) / (r * r))
    warm = np.array([1.05, 0.95, 0.8], np.float32)
    c.set_array(c.array() * light[..., None].astype(np.float32) * warm)
    c.blur(S * 0.005)
    c.texture(0.1)
    return c.img


_GRAMMARS = {
    "Abstract_Expressionism": _abstract_expressionism,
    "Action_painting": _action_painting,
    "Analytical_Cubism": _analytical_cubism,
    "Art_Nouveau_Modern": _art_nouveau,
    "Baroque": _baroque,
    "Color_Field_Painting": _color_field,
    "Contemporary_Realism": _contemporary_realism,
    "Cubism": _cubism,
    "Early_Renaissance": _early_renaissance,
    "Expressionism": _expressionism,
    "Fauvism": _fauvism,
    "High_Renaissance": _high_renaissance,
    "Impressionism": _impressionism,
    "Mannerism_Late_Renaissance": _mannerism,
    "Minimalism": _minimalism,
    "Naive_Art_Primitivism": _naive,
    "New_Realism": _new_realism,
    "Northern_Renaissance": _northern_renaissance,
    "Pointillism": _pointillism,
    "Pop_Art": _pop_art,
    "Post_Impressionism": _post_impressionism,
    "Realism": _realism,
    "Rococo": _rococo,
    "Romanticism": _romanticism,
    "Symbolism": _symbolism,
    "Synthetic_Cubism": _synthetic_cubism,
    "Ukiyo_e": _ukiyo_e,
}


assert sorted(_GRAMMARS) == STYLES


# ---------------------------------------------------------------------------
# Rendering one image
# ---------------------------------------------------------------------------

# The luminance and chroma axes of YIQ: hue rotations and saturation changes act on
# the two chroma coordinates and leave the luminance alone.
_TO_YIQ = np.array([[0.299, 0.587, 0.114],
                    [0.596, -0.274, -0.322],
                    [0.211, -0.523, 0.312]], np.float32)
_FROM_YIQ = np.linalg.inv(_TO_YIQ).astype(np.float32)

# The 8 symmetries of the square as PIL transposes (None: the identity).
_UPRIGHT = (None, Image.FLIP_LEFT_RIGHT)
_TURNED = (Image.FLIP_TOP_BOTTOM, Image.ROTATE_90, Image.ROTATE_180, Image.ROTATE_270,
           Image.TRANSPOSE, Image.TRANSVERSE)


# The ranges of the shared nuisance (see _nuisance), chosen to push the in-class
# SeedCNN toward the majority baseline. Recorded in synth.json: changing them regenerates the data.
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


def _nuisance(img: Image.Image, rng: np.random.Generator, size: int) -> Image.Image:
    """The per-image variation every style shares (it carries no style information).

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
    pixel noise of random strength (``noise``).
    """
    S = img.size[0]
    side = rng.uniform(*NUISANCE["crop"]) * S
    x0, y0 = rng.uniform(0, S - side), rng.uniform(0, S - side)
    img = img.resize((size, size), Image.LANCZOS, box=(x0, y0, x0 + side, y0 + side))
    op = (_UPRIGHT[rng.integers(2)] if rng.random() < NUISANCE["upright"] else _TURNED[rng.integers(len(_TURNED))])
    if op is not None:
        img = img.transpose(op)
    a = np.asarray(img, dtype=np.float32) / 255.0
    if rng.random() < NUISANCE["roll"]:  # wrap-around shift: textures intact, layout scrambled
        a = np.roll(a, (int(rng.integers(size)), int(rng.integers(size))), axis=(0, 1))
    # hue rotation and saturation in YIQ
    theta = rng.uniform(0, 2 * math.pi) if rng.random() < NUISANCE["hue_turn"] else rng.normal(0.0, 0.15)
    sat = rng.uniform(0.45, 1.35)
    cos, sin = math.cos(theta) * sat, math.sin(theta) * sat
    rot = np.array([[1, 0, 0], [0, cos, -sin], [0, sin, cos]], np.float32)
    a = a @ (_FROM_YIQ @ rot @ _TO_YIQ).T
    # tone: stretch the luminance to its 1-99 % range, random gamma, random output range
    if rng.random() < NUISANCE["stretch"]:
        lum = a @ _TO_YIQ[0]
        lo, hi = np.percentile(lum, (1, 99))
        a = np.clip((a - lo) / max(hi - lo, 0.05), 0.0, 1.0)
        a = a ** math.exp(rng.uniform(-NUISANCE["gamma"], NUISANCE["gamma"]))
        out_lo, out_hi = rng.uniform(0.0, 0.3), rng.uniform(0.7, 1.0)
        a = out_lo + (out_hi - out_lo) * a
    a = a * rng.uniform(0.85, 1.15, 3)  # colour cast
    # illumination: a linear ramp in a random direction and a vignette
    yy, xx = np.mgrid[:size, :size].astype(np.float32) / max(size - 1, 1) - 0.5
    phi = rng.uniform(0, 2 * math.pi)
    ramp = 1.0 + rng.uniform(0.0, NUISANCE["light"]) * (xx * math.cos(phi) + yy * math.sin(phi))
    vig = 1.0 - rng.uniform(0.0, NUISANCE["light"]) * (xx * xx + yy * yy) * 2.0
    a = a * (ramp * vig)[..., None]
    a = a * 255.0 + rng.normal(0, rng.uniform(*NUISANCE["noise"]), a.shape)
    return Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8), "RGB")


def render(style: str, rng: np.random.Generator, size: int) -> Image.Image:
    """One ``size`` x ``size`` RGB painting in ``style``, drawn with ``rng``.

    The grammar paints at twice the size; then every style gets the same strong
    nuisance variation (:func:`_nuisance`: random crop and zoom, flips and
    quarter turns, hue rotation, tone curve, colour cast, illumination, noise),
    so what identifies a style is its texture and local structure (dots, facets,
    strokes, outlines, drips), not where things are or what colour they are.
    """
    try:
        grammar = _GRAMMARS[style]
    except KeyError:
        raise ValueError(f"unknown style {style!r}; expected one of {STYLES}") from None
    S = 2 * int(size)
    return _nuisance(grammar(rng, S), rng, int(size))


def _image_rng(seed: int, split_index: int, style_index: int, image_index: int):
    return np.random.default_rng(np.random.SeedSequence([seed, split_index, style_index, image_index]))


def _image_path(out_dir: Path, split: str, style: str, index: int) -> Path:
    return out_dir / split / style / f"{style}_{index:05d}.jpg"


def _write_images(out_dir: str, jobs, size: int, seed: int, quality: int) -> int:
    """Worker: render and save ``jobs`` = [(split_index, style_index, image_index), ...]."""
    root = Path(out_dir)
    for split_i, style_i, idx in jobs:
        style = STYLES[style_i]
        path = _image_path(root, SPLITS[split_i], style, idx)
        img = render(style, _image_rng(seed, split_i, style_i, idx), size)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp")
        img.save(tmp, format="JPEG", quality=quality)
        os.replace(tmp, path)  # a killed run never leaves a half-written JPEG
    return len(jobs)


# ---------------------------------------------------------------------------
# The dataset on disk
# ---------------------------------------------------------------------------

def _params(scale, size, seed, test_fraction, quality):
    # The nuisance ranges are part of what the pixels depend on: a dataset drawn with
    # other ranges is stale. (The JSON round trip makes tuples compare equal to the
    # lists read back from synth.json.)
    nuisance = json.loads(json.dumps(NUISANCE, sort_keys=True))
    return {"version": SYNTH_VERSION, "scale": float(scale), "size": int(size), "seed": int(seed),
            "test_fraction": float(test_fraction), "quality": int(quality), "nuisance": nuisance}


def _write_manifest(out_dir: Path, manifest: dict) -> None:
    tmp = out_dir / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, out_dir / MANIFEST)


def read_manifest(out_dir) -> dict | None:
    """The parsed ``synth.json`` of ``out_dir``, or None if missing or unreadable."""
    try:
        return json.loads((Path(out_dir) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _run(out_dir: Path, params: dict, workers, progress: bool, resume: bool) -> Path:
    train, test = split_counts(params["scale"], params["test_fraction"])
    manifest = dict(params, counts={"train": train, "test": test}, complete=False)
    existing = read_manifest(out_dir)
    if existing is None and any((out_dir / s).exists() for s in SPLITS):
        # Not ours (perhaps real data): never delete what we did not write.
        raise FileExistsError(f"{out_dir} has train/test folders but no {MANIFEST}; "
                              "refusing to overwrite them")
    if not resume:
        for s in SPLITS:
            shutil.rmtree(out_dir / s, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_manifest(out_dir, manifest)

    jobs = []
    for split_i, counts in enumerate((train, test)):
        for style_i, style in enumerate(STYLES):
            (out_dir / SPLITS[split_i] / style).mkdir(parents=True, exist_ok=True)
            for idx in range(counts[style]):
                if not (resume and _image_path(out_dir, SPLITS[split_i], style, idx).exists()):
                    jobs.append((split_i, style_i, idx))
    total = sum(train.values()) + sum(test.values())

    workers = max(1, int(workers or os.cpu_count() or 1))
    chunk = 16
    chunks = [jobs[i:i + chunk] for i in range(0, len(jobs), chunk)]
    args = (str(out_dir), params["size"], params["seed"], params["quality"])
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=total, initial=total - len(jobs), desc="synth", unit="img")
    try:
        if workers == 1 or len(chunks) <= 1:
            for ch in chunks:
                n = _write_images(args[0], ch, *args[1:])
                if bar is not None:
                    bar.update(n)
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(chunks))) as pool:
                futures = [pool.submit(_write_images, args[0], ch, *args[1:]) for ch in chunks]
                for fut in as_completed(futures):
                    n = fut.result()
                    if bar is not None:
                        bar.update(n)
    finally:
        if bar is not None:
            bar.close()
    manifest["complete"] = True  # last: only a finished run is marked complete
    _write_manifest(out_dir, manifest)
    return out_dir


def generate(out_dir, *, scale: float = 0.25, size: int = 128, seed: int = 0,
             test_fraction: float = 0.15, workers: int | None = None, progress: bool = True,
             quality: int = 90) -> Path:
    """Paint the whole dataset into ``out_dir`` (replacing an earlier synth dataset there).

    ``scale`` multiplies the real train counts (0.25: about 3,400 train and 500
    test images); ``size`` is the side in pixels; ``workers`` processes (default:
    all CPUs) render in parallel; the result is identical for a seed whatever
    the number of workers. Returns ``out_dir`` as a Path.
    """
    out_dir = Path(out_dir)
    return _run(out_dir, _params(scale, size, seed, test_fraction, quality), workers, progress,
                resume=False)


def ensure(out_dir, **params) -> Path:
    """Make sure ``out_dir`` holds a complete synth dataset with these parameters.

    Accepts :func:`generate`'s keyword arguments. Does nothing when
    ``synth.json`` says a run with the same content parameters (scale, size,
    seed, test_fraction, quality, grammar version) completed; finishes an
    interrupted run with the same parameters (written images are whole and
    deterministic, so they are kept); otherwise regenerates from scratch.
    """
    out_dir = Path(out_dir)
    workers = params.pop("workers", None)
    progress = params.pop("progress", True)
    unknown = set(params) - set(_CONTENT_PARAMS)
    if unknown:
        raise TypeError(f"ensure() got unexpected parameters {sorted(unknown)}")
    defaults = {"scale": 0.25, "size": 128, "seed": 0, "test_fraction": 0.15, "quality": 90}
    wanted = _params(**{**defaults, **params})
    old = read_manifest(out_dir)
    same = old is not None and all(old.get(k) == v for k, v in wanted.items())
    if same and old.get("complete") is True:
        return out_dir
    train, test = split_counts(wanted["scale"], wanted["test_fraction"])
    print(f"wikiart_core.synth: generating {sum(train.values())} train + {sum(test.values())} "
          f"test images ({wanted['size']} px, seed {wanted['seed']}) into {out_dir}", flush=True)
    return _run(out_dir, wanted, workers, progress, resume=same)
