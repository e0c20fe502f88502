"""The drawing vocabulary of the synthetic paintings: colours, the canvas, strokes, shapes.

Units, everywhere in this subpackage:

* coordinates and lengths are pixels on the ``side`` x ``side`` drawing canvas
  (``side = 2 * size``: the grammars paint at twice the output size and
  :func:`wikiart_core.synth.render` downsamples with LANCZOS);
* arguments called fractions (``frac``, ``length``, ``width`` ranges) are
  fractions of ``side``;
* colours are ``(r, g, b)`` tuples of ints in 0-255; hue, saturation and value
  arguments are in [0, 1] (hue wraps around).

Every function that takes a random generator draws from it in a fixed order: the
pictures depend on that order, so do not reorder the draws.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

# The thinnest line or outline, as a fraction of the canvas side, so marks survive
# the downsampling to 64 px.
MIN_MARK = 0.008


# ---------------------------------------------------------------------------
# Colours
# ---------------------------------------------------------------------------

def hsv(hue: float, sat: float, val: float) -> tuple[int, int, int]:
    """The 0-255 RGB colour of ``(hue, sat, val)``; hue wraps, sat and val are clamped to [0, 1]."""
    r, g, b = colorsys.hsv_to_rgb(hue % 1.0, min(max(sat, 0.0), 1.0), min(max(val, 0.0), 1.0))
    return int(r * 255 + 0.5), int(g * 255 + 0.5), int(b * 255 + 0.5)


def pick(rng, hues, sat, val, jitter=0.03):
    """A colour from a palette family: one of ``hues`` (+- ``jitter``), saturation and
    value drawn uniformly from the ranges ``sat`` and ``val``. Returns 0-255 RGB."""
    hue = hues[rng.integers(len(hues))] + rng.uniform(-jitter, jitter)
    return hsv(hue, rng.uniform(*sat), rng.uniform(*val))


def mix(a, b, t):
    """The 0-255 RGB colour a fraction ``t`` of the way from ``a`` to ``b``."""
    return tuple(int(a[i] + (b[i] - a[i]) * t + 0.5) for i in range(3))


def shade(rgb, factor):
    """``rgb`` with every channel multiplied by ``factor`` (< 1 darker), clamped to 0-255."""
    return tuple(int(min(255, max(0, x * factor))) for x in rgb)


def jitter_colour(rng, rgb, dh, ds, dv, sat_gain=1.0):
    """``rgb`` (0-255) with its hue, saturation and value moved by up to +- ``dh``,
    ``ds``, ``dv`` (saturation first multiplied by ``sat_gain``)."""
    hue, sat, val = colorsys.rgb_to_hsv(*(x / 255.0 for x in rgb))
    return hsv(hue + rng.uniform(-dh, dh), sat * sat_gain + rng.uniform(-ds, ds),
               val + rng.uniform(-dv, dv))


# ---------------------------------------------------------------------------
# Whole-canvas arrays
# ---------------------------------------------------------------------------

def vertical_gradient(side, stops):
    """A ``side`` x ``side`` x 3 float32 array (0-255), a vertical gradient through
    ``[(y_fraction, rgb), ...]`` (y_fraction: 0 top, 1 bottom)."""
    ys = np.linspace(0.0, 1.0, side)
    positions = [position for position, _ in stops]
    colours = np.array([rgb for _, rgb in stops], dtype=np.float32)
    rows = np.stack([np.interp(ys, positions, colours[:, k]) for k in range(3)], axis=1)
    return np.broadcast_to(rows[:, None, :], (side, side, 3)).astype(np.float32)


def smooth_noise(rng, side, cells):
    """Smooth noise in [0, 1]: a ``side`` x ``side`` float32 array with about ``cells``
    blobs across."""
    small = (rng.random((cells, cells)) * 255).astype(np.uint8)
    smooth = Image.fromarray(small).resize((side, side), Image.BICUBIC)
    return np.asarray(smooth, np.float32) / 255.0


def colour_lookup(arr, side):
    """A function ``(x, y) -> rgb`` reading the ``side`` x ``side`` x 3 array ``arr``
    at pixel ``(x, y)``, clamped to the canvas."""
    def colour_at(x, y):
        px = arr[min(side - 1, max(0, int(y))), min(side - 1, max(0, int(x)))]
        return int(px[0]), int(px[1]), int(px[2])
    return colour_at


# ---------------------------------------------------------------------------
# The canvas
# ---------------------------------------------------------------------------

class Canvas:
    """An RGB image being painted, with the few primitives the grammars share.

    ``ground`` is a 0-255 RGB colour, an ``side`` x ``side`` x 3 array (clipped to
    0-255) or a PIL image. Coordinates are pixels; line and outline widths are
    pixels (at least one).
    """

    def __init__(self, rng, side, ground=(255, 255, 255)):
        self.rng, self.side = rng, side
        if isinstance(ground, np.ndarray):
            ground = Image.fromarray(np.clip(ground, 0, 255).astype(np.uint8))
        if not isinstance(ground, Image.Image):
            ground = Image.new("RGB", (side, side), ground)
        self.img = ground
        self.draw = ImageDraw.Draw(self.img)

    # pixel helpers
    def mark_width(self, frac):
        """A line width in pixels: ``frac`` of the canvas side (at least ``MIN_MARK``),
        and at least one pixel."""
        return max(1, int(round(max(frac, MIN_MARK) * self.side)))

    def line(self, pts, fill, width):
        """A polyline through ``pts``; joints are rounded when there are more than two points."""
        self.draw.line([tuple(map(float, p)) for p in pts], fill=fill, width=max(1, int(width)),
                       joint="curve" if len(pts) > 2 else None)

    def ellipse(self, cx, cy, rx, ry, fill=None, outline=None, width=1):
        """An ellipse centred on ``(cx, cy)`` with radii ``rx``, ``ry``."""
        self.draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=fill, outline=outline,
                          width=max(1, int(width)))

    def poly(self, pts, fill=None, outline=None, width=1):
        """A filled polygon; the outline is drawn as a closed polyline of ``width`` pixels."""
        pts = [tuple(map(float, p)) for p in pts]
        self.draw.polygon(pts, fill=fill)
        if outline is not None:
            self.line(pts + [pts[0]], outline, width)

    def rect(self, x0, y0, x1, y1, fill=None, outline=None, width=1):
        """A rectangle between two corners, in either order."""
        self.draw.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], fill=fill,
                            outline=outline, width=max(1, int(width)))

    def paste(self, img, xy):
        """Paste the PIL image ``img`` with its top-left corner at pixel ``xy`` (ints)."""
        self.img.paste(img, xy)
        self.draw = ImageDraw.Draw(self.img)

    # whole-image operations
    def array(self):
        """The image as a ``side`` x ``side`` x 3 float32 array (0-255)."""
        return np.asarray(self.img, dtype=np.float32)

    def set_array(self, arr):
        """Replace the image by ``arr`` (clipped to 0-255)."""
        self.img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))
        self.draw = ImageDraw.Draw(self.img)

    def blur(self, radius):
        """Gaussian blur of ``radius`` pixels (nothing when ``radius`` <= 0)."""
        if radius > 0:
            self.img = self.img.filter(ImageFilter.GaussianBlur(radius))
            self.draw = ImageDraw.Draw(self.img)

    def soft(self, kind, coords, fill, blur, alpha=1.0):
        """A soft-edged shape: drawn on a quarter-resolution mask, blurred, composited.

        ``kind`` is "ellipse" or "rectangle" (``coords`` = x0, y0, x1, y1) or anything
        else for a polygon (``coords`` = [(x, y), ...]); ``blur`` is the edge blur in
        pixels; ``alpha`` the opacity in [0, 1].
        """
        quarter = 4
        mask = Image.new("L", (self.side // quarter, self.side // quarter), 0)
        mask_draw = ImageDraw.Draw(mask)
        opacity = int(255 * alpha)
        if kind == "ellipse":
            mask_draw.ellipse([v / quarter for v in coords], fill=opacity)
        elif kind == "rectangle":
            x0, y0, x1, y1 = (v / quarter for v in coords)
            mask_draw.rectangle([min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)], fill=opacity)
        else:
            mask_draw.polygon([(x / quarter, y / quarter) for x, y in coords], fill=opacity)
        if blur > 0:
            mask = mask.filter(ImageFilter.GaussianBlur(max(0.5, blur / quarter)))
        mask = mask.resize((self.side, self.side), Image.BILINEAR)
        self.img = Image.composite(Image.new("RGB", (self.side, self.side), fill), self.img, mask)
        self.draw = ImageDraw.Draw(self.img)

    def glow(self, cx, cy, r, fill, strength=1.0):
        """Pull pixels toward the colour ``fill`` with a Gaussian falloff of radius ``r``
        pixels around ``(cx, cy)``; ``strength`` (0-1) is the pull at the centre."""
        yy, xx = np.ogrid[:self.side, :self.side]
        t = strength * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (r * r))[..., None]
        arr = self.array()
        self.set_array(arr + (np.array(fill, np.float32) - arr) * t)

    def texture(self, amount, cells=24):
        """Multiply by smooth noise (paint and canvas unevenness): +- ``amount`` / 2,
        with about ``cells`` blobs across."""
        if amount > 0:
            noise = smooth_noise(self.rng, self.side, cells)
            self.set_array(self.array() * (1.0 + amount * (noise[..., None] - 0.5)))


# ---------------------------------------------------------------------------
# Gestures and shapes
# ---------------------------------------------------------------------------

def walk(rng, x, y, n, step, turn, angle=None):
    """A smooth random walk of ``n`` points from ``(x, y)``: a brush gesture, a drip, a
    wave crest. ``step`` is in pixels; ``turn`` is the standard deviation of the turn
    per step, radians; ``angle`` the starting direction (random when None)."""
    heading = rng.uniform(0, 2 * math.pi) if angle is None else angle
    pts = [(x, y)]
    for _ in range(n - 1):
        heading += rng.normal(0.0, turn)
        x += step * math.cos(heading)
        y += step * math.sin(heading)
        pts.append((x, y))
    return pts


def strokes(canvas, n, length, width, colour_at, angle_at, curve=0.0, segments=1):
    """``n`` brush strokes at random places; colour and direction depend on the place.

    ``length`` and ``width`` are (low, high) ranges as fractions of the side;
    ``colour_at(x, y)`` gives the 0-255 colour and ``angle_at(x, y)`` the direction
    (radians) of a stroke starting at pixel ``(x, y)``; each stroke has ``segments``
    pieces, turning by a normal angle of standard deviation ``curve`` radians.
    """
    rng, side = canvas.rng, canvas.side
    xs, ys = rng.uniform(0, side, n), rng.uniform(0, side, n)
    lengths, widths = rng.uniform(*length, n) * side, rng.uniform(*width, n) * side
    for x, y, stroke_length, stroke_width in zip(xs, ys, lengths, widths):
        heading = angle_at(x, y)
        pts = [(x, y)]
        for _ in range(segments):
            heading += rng.normal(0, curve)
            x += stroke_length / segments * math.cos(heading)
            y += stroke_length / segments * math.sin(heading)
            pts.append((x, y))
        canvas.line(pts, colour_at(pts[0][0], pts[0][1]), stroke_width)


def random_polygon(rng, cx, cy, r, k):
    """A star-shaped polygon of ``k`` vertices around ``(cx, cy)``, at 0.5-1 times ``r`` pixels."""
    angles = np.sort(rng.uniform(0, 2 * math.pi, k))
    radii = r * rng.uniform(0.5, 1.0, k)
    return [(cx + rr * math.cos(t), cy + rr * math.sin(t)) for t, rr in zip(angles, radii)]


def wobbly_polygon(rng, cx, cy, r, k=9, wob=0.35):
    """A distorted blob of ``k`` vertices around ``(cx, cy)``: radius ``r`` pixels
    +- ``wob`` (a fraction of ``r``), stretched vertically up to 1.8 times."""
    angles = np.linspace(0, 2 * math.pi, k, endpoint=False) + rng.uniform(0, 1)
    radii = r * (1 + rng.uniform(-wob, wob, k))
    return [(cx + a * math.cos(b), cy + a * math.sin(b) * rng.uniform(1.0, 1.8))
            for a, b in zip(radii, angles)]


def spiral(cx, cy, r, turns, direction, n=30):
    """``n`` points of a spiral from radius ``r`` pixels inward around ``(cx, cy)``;
    ``direction`` is +1 or -1."""
    return [(cx + r * (1 - t) * math.cos(direction * turns * 2 * math.pi * t),
             cy + r * (1 - t) * math.sin(direction * turns * 2 * math.pi * t))
            for t in np.linspace(0, 0.9, n)]


# ---------------------------------------------------------------------------
# Shared motifs
# ---------------------------------------------------------------------------

def landscape(rng, side, sat, val, sky_hues=(0.55, 0.6, 0.08), ground_hues=(0.12, 0.22, 0.3),
              blobs=(3, 8)):
    """A flat landscape plan (sky, hills, ground, trees, maybe water) as a ``side`` x
    ``side`` PIL image; ``sat`` and ``val`` are the (low, high) saturation and value
    ranges of its colours, ``blobs`` the range of the number of trees and houses."""
    horizon = rng.uniform(0.3, 0.65)  # fraction of the side from the top
    sky_hi = pick(rng, sky_hues, sat, val)
    sky_lo = mix(sky_hi, (255, 255, 255), rng.uniform(0.1, 0.5))
    ground_hi = pick(rng, ground_hues, sat, val)
    ground_lo = shade(pick(rng, ground_hues, sat, val), rng.uniform(0.6, 0.95))
    canvas = Canvas(rng, side, vertical_gradient(
        side, [(0, sky_hi), (horizon, sky_lo), (horizon + 1e-3, ground_hi), (1, ground_lo)]))
    # distant hills
    if rng.random() < 0.7:
        amp, phase, freq = rng.uniform(0.03, 0.12) * side, rng.uniform(0, 6.3), rng.uniform(1, 4)
        pts = [(x, horizon * side - amp * (1 + math.sin(phase + freq * x / side * 3.0)) / 2)
               for x in np.linspace(0, side, 24)]
        canvas.poly(pts + [(side, horizon * side + 2), (0, horizon * side + 2)],
                    fill=mix(pick(rng, ground_hues + (0.6,), sat, val), sky_lo, 0.4))
    # water
    if rng.random() < 0.35:
        y0 = rng.uniform(horizon + 0.05, 0.85) * side
        canvas.rect(0, y0, side, y0 + rng.uniform(0.1, 0.3) * side,
                    fill=mix(sky_hi, ground_hi, 0.25))
    # trees, haystacks, houses
    for _ in range(rng.integers(*blobs)):
        x, y = rng.uniform(0, side), rng.uniform(horizon, 0.95) * side
        r = rng.uniform(0.03, 0.12) * side
        colour = shade(pick(rng, ground_hues + (0.05,), sat, val), rng.uniform(0.5, 0.9))
        canvas.ellipse(x, y - r, r * rng.uniform(0.6, 1.2), r, fill=colour)
    return canvas.img


def figure(canvas, cx, base, height, robe, mantle=None, skin=(225, 190, 160), thin=1.0, lean=0.0,
           halo=None, outline=None, lw=1):
    """A robed figure standing on ``base`` (pixels), centred at ``cx``, ``height`` pixels
    tall: robe, optional mantle, head, optional halo (0-255 colours). ``thin`` > 1
    elongates it, ``lean`` shifts the head by that fraction of the height, ``lw`` is
    the outline width in pixels."""
    top = base - height
    shoulder = height * 0.16 / thin
    head_r = height * 0.075 / math.sqrt(thin)
    head_x = cx + lean * height
    if halo is not None:
        canvas.ellipse(head_x, top, head_r * 1.7, head_r * 1.7, fill=halo)
    canvas.poly([(head_x - shoulder, top + head_r * 1.5), (head_x + shoulder, top + head_r * 1.5),
                 (cx + shoulder * 1.6, base), (cx - shoulder * 1.6, base)],
                fill=robe, outline=outline, width=lw)
    if mantle is not None:
        canvas.poly([(head_x, top + head_r * 1.2), (cx + shoulder * 1.8, base),
                     (cx - shoulder * 0.3, base)], fill=mantle, outline=outline, width=lw)
    canvas.ellipse(head_x, top, head_r, head_r * 1.2, fill=skin, outline=outline, width=lw)
