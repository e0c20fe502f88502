"""The 27 grammars: one painting procedure per style, taken from the movement.

Each grammar is a function ``(rng, side) -> PIL.Image``: it paints a ``side`` x
``side`` RGB picture (``side`` in pixels, twice the output size) with the random
generator ``rng``, using the vocabulary of :mod:`.canvas` (lengths as fractions
of ``side``, colours 0-255). ``GRAMMARS`` maps each style folder name to its
grammar.

Some styles are deliberately close pairs or triples (Impressionism /
Post_Impressionism, Analytical / Synthetic Cubism, the three Renaissances,
Realism / Contemporary_Realism), so the task is learnable but not trivial.

The pictures depend on the exact order of the ``rng`` draws: any change here
changes the dataset (then bump ``SYNTH_VERSION`` in :mod:`.writer`).
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image

from .canvas import (Canvas, colour_lookup, figure, hsv, jitter_colour, landscape, mix, pick,
                     random_polygon, shade, spiral, strokes, vertical_gradient, walk,
                     wobbly_polygon)


# ---------------------------------------------------------------------------
# Light and brushwork: Impressionism, Post-Impressionism, Pointillism
# ---------------------------------------------------------------------------

def impressionism(rng, side):
    """Light pastel landscape broken into short, mostly horizontal dabs."""
    plan = np.asarray(landscape(rng, side, (0.15, 0.45), (0.72, 0.98)), np.float32)
    canvas = Canvas(rng, side, plan)
    canvas.blur(side * 0.01)
    colour_at = colour_lookup(plan, side)
    strokes(canvas, int(rng.integers(900, 1400)), (0.015, 0.04), (0.012, 0.022),
            lambda x, y: jitter_colour(rng, colour_at(x, y), 0.06, 0.12, 0.12),
            lambda x, y: rng.normal(0, 0.5) + (math.pi if rng.random() < 0.5 else 0))
    canvas.texture(0.12)
    return canvas.img


def post_impressionism(rng, side):
    """Like Impressionism but bolder: longer curved strokes, stronger colours, swirls
    (van Gogh) or parallel hatching (Cezanne), and some dark outlines."""
    plan = np.asarray(landscape(rng, side, (0.4, 0.85), (0.45, 0.95)), np.float32)
    canvas = Canvas(rng, side, plan)
    colour_at = colour_lookup(plan, side)
    if rng.random() < 0.6:
        cx, cy = rng.uniform(0.2, 0.8) * side, rng.uniform(0.1, 0.5) * side
        angle = lambda x, y: math.atan2(y - cy, x - cx) + math.pi / 2 + rng.normal(0, 0.25)
        curve, segments = 0.35, 3
    else:
        base = rng.uniform(-1.2, -0.4)
        angle = lambda x, y: base + rng.normal(0, 0.15)
        curve, segments = 0.05, 1
    for (x, y), r in zip(rng.uniform(0.1, 0.9, (rng.integers(1, 4), 2)) * side,
                         rng.uniform(0.05, 0.15, 3) * side):
        canvas.ellipse(x, y, r, r * rng.uniform(0.6, 1.3),
                       fill=jitter_colour(rng, colour_at(x, y), 0.05, 0.1, 0.1),
                       outline=hsv(0.62, 0.6, 0.25), width=canvas.mark_width(0.01))
    strokes(canvas, int(rng.integers(300, 500)), (0.04, 0.09), (0.012, 0.022),
            lambda x, y: jitter_colour(rng, colour_at(x, y), 0.05, 0.1, 0.15, sat_gain=1.15),
            angle, curve=curve, segments=segments)
    canvas.texture(0.15)
    return canvas.img


def pointillism(rng, side):
    """Dense dots of pure saturated colour on a light ground; the hue follows the plan."""
    plan = np.asarray(landscape(rng, side, (0.35, 0.75), (0.75, 1.0)), np.float32)
    canvas = Canvas(rng, side, plan * 0.4 + 255 * 0.6)
    colour_at = colour_lookup(plan, side)
    n = int(rng.integers(700, 1000))
    xs, ys = rng.uniform(0, side, n), rng.uniform(0, side, n)
    r = rng.uniform(0.011, 0.016) * side
    for x, y in zip(xs, ys):
        h, s, v = colorsys.rgb_to_hsv(*(k / 255.0 for k in colour_at(x, y)))
        if rng.random() < 0.15:
            h += 0.5  # complementary dots, as in Seurat
        canvas.ellipse(x, y, r, r, fill=hsv(h + rng.uniform(-0.04, 0.04), rng.uniform(0.75, 1.0),
                                            rng.uniform(0.8, 1.0)))
    return canvas.img


# ---------------------------------------------------------------------------
# Cubism, Analytical Cubism, Synthetic Cubism
# ---------------------------------------------------------------------------

CUBIST_HUES = (0.07, 0.1, 0.12, 0.58)


def facet_shading(canvas, n, strength):
    """Cubist facets: darken one side of ``n`` random lines, by up to ``strength``
    (a fraction of the brightness) at the line, fading away from it."""
    rng, side = canvas.rng, canvas.side
    arr = canvas.array()
    yy, xx = np.mgrid[:side, :side].astype(np.float32)
    darkening = np.ones((side, side), np.float32)
    for _ in range(n):
        x0, y0, th = rng.uniform(0, side), rng.uniform(0, side), rng.uniform(0, math.pi)
        d = (xx - x0) * math.sin(th) - (yy - y0) * math.cos(th)
        w = rng.uniform(0.03, 0.12) * side
        darkening *= np.where(d > 0, 1 - strength * np.exp(-d / w), 1.0)
    canvas.set_array(arr * darkening[..., None])


def cubism(rng, side):
    """Overlapping ochre and grey planes with dark edges, shaded facets, a few long lines."""
    canvas = Canvas(rng, side, pick(rng, CUBIST_HUES[:3], (0.2, 0.5), (0.45, 0.75)))
    for _ in range(rng.integers(25, 45)):
        grey = rng.random() < 0.3
        col = pick(rng, CUBIST_HUES, (0.0, 0.1) if grey else (0.15, 0.55), (0.25, 0.85))
        pts = random_polygon(rng, rng.uniform(0, side), rng.uniform(0, side),
                             rng.uniform(0.08, 0.28) * side, int(rng.integers(3, 5)))
        canvas.poly(pts, fill=col, outline=(40, 30, 25) if rng.random() < 0.5 else None,
                    width=canvas.mark_width(0.006))
    facet_shading(canvas, int(rng.integers(8, 15)), 0.35)
    for _ in range(rng.integers(3, 8)):
        x, y, a = rng.uniform(0, side), rng.uniform(0, side), rng.uniform(0, math.pi)
        ln = rng.uniform(0.2, 0.6) * side
        canvas.line([(x, y), (x + ln * math.cos(a), y + ln * math.sin(a))], (35, 28, 22),
                    canvas.mark_width(0.005))
    canvas.texture(0.1)
    return canvas.img


def analytical_cubism(rng, side):
    """Many small facets of one muted hue, crowded toward a central oval."""
    hue = CUBIST_HUES[rng.integers(3)] if rng.random() < 0.8 else 0.55
    sat = rng.uniform(0.05, 0.3)
    canvas = Canvas(rng, side, hsv(hue, sat, rng.uniform(0.4, 0.65)))
    cx, cy = rng.uniform(0.4, 0.6) * side, rng.uniform(0.4, 0.6) * side
    for _ in range(rng.integers(90, 160)):
        x, y = rng.normal(cx, 0.22 * side), rng.normal(cy, 0.28 * side)
        pts = random_polygon(rng, x, y, rng.uniform(0.03, 0.09) * side, int(rng.integers(3, 5)))
        canvas.poly(pts, fill=hsv(hue + rng.uniform(-0.02, 0.02), sat, rng.uniform(0.2, 0.85)),
                    outline=(30, 25, 20) if rng.random() < 0.3 else None, width=1)
    facet_shading(canvas, int(rng.integers(20, 30)), 0.25)
    for _ in range(rng.integers(10, 25)):  # the scaffolding of short vertical/horizontal lines
        x, y = rng.uniform(0, side), rng.uniform(0, side)
        ln = rng.uniform(0.05, 0.2) * side
        end = (x + ln, y) if rng.random() < 0.5 else (x, y + ln)
        canvas.line([(x, y), end], (30, 25, 20), canvas.mark_width(0.003))
    canvas.texture(0.1)
    return canvas.img


def synthetic_cubism(rng, side):
    """Few large flat planes, brighter colours, collage pieces with printed patterns."""
    canvas = Canvas(rng, side, pick(rng, CUBIST_HUES[:3], (0.2, 0.5), (0.5, 0.8)))
    for _ in range(rng.integers(6, 12)):
        bright = rng.random() < 0.4
        col = (pick(rng, (0.0, 0.35, 0.6, 0.14), (0.45, 0.8), (0.5, 0.9)) if bright
               else pick(rng, CUBIST_HUES, (0.1, 0.5), (0.3, 0.9)))
        pts = random_polygon(rng, rng.uniform(0, side), rng.uniform(0, side),
                             rng.uniform(0.2, 0.5) * side, int(rng.integers(3, 6)))
        canvas.poly(pts, fill=col, outline=(30, 25, 20) if rng.random() < 0.6 else None,
                    width=canvas.mark_width(0.008))
    for _ in range(rng.integers(1, 4)):  # collage: wood grain, wallpaper dots, newsprint
        x0, y0 = rng.uniform(0, 0.7) * side, rng.uniform(0, 0.7) * side
        w, h = rng.uniform(0.15, 0.35) * side, rng.uniform(0.15, 0.35) * side
        canvas.rect(x0, y0, x0 + w, y0 + h, fill=pick(rng, (0.1, 0.13), (0.05, 0.35), (0.7, 0.95)))
        kind, ink = rng.integers(3), (40, 35, 30)
        if kind == 0:
            for yy in np.arange(y0, y0 + h, canvas.mark_width(0.015)):
                canvas.line([(x0, yy), (x0 + w, yy + rng.uniform(-3, 3))], ink, 1)
        elif kind == 1:
            step = canvas.mark_width(0.03)
            for yy in np.arange(y0 + step / 2, y0 + h, step):
                for xx in np.arange(x0 + step / 2, x0 + w, step):
                    canvas.ellipse(xx, yy, step / 5, step / 5, fill=ink)
        else:
            for yy in np.arange(y0 + 2, y0 + h, canvas.mark_width(0.012)):
                xx = x0 + 2
                while xx < x0 + w - 4:
                    ln = rng.uniform(0.01, 0.04) * side
                    canvas.line([(xx, yy), (min(xx + ln, x0 + w - 2), yy)], ink, 1)
                    xx += ln + 3
    facet_shading(canvas, int(rng.integers(0, 4)), 0.3)
    canvas.texture(0.06)
    return canvas.img


# ---------------------------------------------------------------------------
# Flat colour: Color Field, Minimalism, Ukiyo-e
# ---------------------------------------------------------------------------

def color_field(rng, side):
    """Two or three big flat soft-edged fields (Rothko), or a field and a zip (Newman)."""
    hue = rng.uniform(0, 1)
    canvas = Canvas(rng, side, hsv(hue, rng.uniform(0.3, 0.9), rng.uniform(0.25, 0.85)))
    if rng.random() < 0.75:
        n = int(rng.integers(2, 4))
        m = rng.uniform(0.06, 0.12) * side  # margin, pixels
        bounds = (np.arange(1, n) / n + rng.uniform(-0.08, 0.08, n - 1)) * (side - 2 * m) + m
        edges = [m] + list(bounds) + [side - m]
        for i in range(n):
            col = hsv(hue + rng.uniform(-0.15, 0.15) + (0.5 if rng.random() < 0.2 else 0),
                      rng.uniform(0.3, 0.95), rng.uniform(0.2, 0.95))
            canvas.soft("rectangle", (m, edges[i] + m / 3, side - m, edges[i + 1] - m / 3), col,
                        blur=rng.uniform(0.01, 0.025) * side)
    else:
        for _ in range(rng.integers(1, 3)):
            x = rng.uniform(0.15, 0.85) * side
            w = rng.uniform(0.01, 0.04) * side
            canvas.soft("rectangle", (x, -5, x + w, side + 5),
                        hsv(hue + rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.9),
                            rng.uniform(0.3, 1)),
                        blur=rng.uniform(0.002, 0.008) * side)
    canvas.texture(0.15, cells=12)
    return canvas.img


def minimalism(rng, side):
    """A plain ground and a few hard-edged geometric shapes. No texture."""
    if rng.random() < 0.7:
        v = rng.uniform(0.75, 0.98)
        ground = hsv(rng.uniform(0.05, 0.15), rng.uniform(0, 0.08), v)
    else:
        ground = hsv(rng.uniform(0, 1), rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9))
    canvas = Canvas(rng, side, ground)
    ink = lambda: (hsv(0, 0, rng.uniform(0, 0.4)) if rng.random() < 0.5 else
                   hsv(rng.uniform(0, 1), rng.uniform(0.5, 1), rng.uniform(0.3, 0.95)))
    kind = rng.integers(4)
    if kind == 0:  # a few blocks
        for _ in range(rng.integers(1, 4)):
            x0, y0 = rng.uniform(0.05, 0.6, 2) * side
            canvas.rect(x0, y0, x0 + rng.uniform(0.1, 0.4) * side,
                        y0 + rng.uniform(0.1, 0.4) * side, fill=ink())
    elif kind == 1:  # concentric squares (Stella)
        col1, col2 = ink(), ground
        k = int(rng.integers(4, 9))
        for i in range(k):
            m = i * side / (2 * k + 1)
            canvas.rect(m, m, side - m, side - m, fill=col1 if i % 2 == 0 else col2)
    elif kind == 2:  # a grid of thin lines (Martin, LeWitt)
        col, step = ink(), rng.uniform(0.05, 0.15) * side
        for t in np.arange(step, side, step):
            canvas.line([(t, 0), (t, side)], col, canvas.mark_width(0.004))
            if rng.random() < 0.7:
                canvas.line([(0, t), (side, t)], col, canvas.mark_width(0.004))
    else:  # one circle or one bar
        if rng.random() < 0.5:
            r = rng.uniform(0.1, 0.3) * side
            canvas.ellipse(rng.uniform(0.3, 0.7) * side, rng.uniform(0.3, 0.7) * side, r, r,
                           fill=ink())
        else:
            y = rng.uniform(0.2, 0.8) * side
            canvas.rect(0, y, side, y + rng.uniform(0.03, 0.15) * side, fill=ink())
    return canvas.img


def ukiyo_e(rng, side):
    """Flat colour regions with dark outlines on pale paper; waves, a mountain, a figure."""
    paper = hsv(rng.uniform(0.08, 0.13), rng.uniform(0.1, 0.25), rng.uniform(0.82, 0.95))
    band = pick(rng, (0.58, 0.62, 0.97), (0.3, 0.6), (0.55, 0.85))
    canvas = Canvas(rng, side, vertical_gradient(
        side, [(0, band), (rng.uniform(0.1, 0.3), paper), (1, paper)]))
    ink, lw = (35, 30, 35), canvas.mark_width(0.006)
    prussian = hsv(0.6 + rng.uniform(-0.02, 0.02), rng.uniform(0.5, 0.8), rng.uniform(0.3, 0.6))
    kinds = np.sort(rng.permutation(3)[: rng.integers(1, 3)])  # back to front
    for kind in kinds:
        if kind == 0:  # mountain with snow cap
            px, top = rng.uniform(0.3, 0.7) * side, rng.uniform(0.3, 0.5) * side
            base, half = rng.uniform(0.65, 0.8) * side, rng.uniform(0.25, 0.4) * side
            canvas.poly([(px - half, base), (px, top), (px + half, base)],
                        fill=pick(rng, (0.6, 0.02, 0.3), (0.3, 0.6), (0.35, 0.6)),
                        outline=ink, width=lw)
            cap = (base - top) * 0.3
            canvas.poly([(px - half * 0.3, top + cap), (px, top), (px + half * 0.3, top + cap)],
                        fill=(245, 245, 240), outline=ink, width=lw)
        elif kind == 1:  # a great wave: a curling crest with foam claws
            y0 = rng.uniform(0.45, 0.7) * side
            pts = [(x, y0 + rng.uniform(0.02, 0.06) * side * math.sin(x / side * 9 + 1))
                   for x in np.linspace(0, side, 20)]
            cx, cy, r = rng.uniform(0.2, 0.7) * side, y0 - rng.uniform(0.1, 0.25) * side, \
                rng.uniform(0.12, 0.22) * side
            # the curl: an outer arc over the top and an inner arc back, closed at the water
            outer = [(cx + r * math.cos(t), cy + r * math.sin(t))
                     for t in np.linspace(math.pi * 0.9, 2 * math.pi + 0.3, 18)]
            inner = [(cx + 0.55 * r * math.cos(t), cy + 0.55 * r * math.sin(t) + 0.2 * r)
                     for t in np.linspace(2 * math.pi + 0.3, math.pi * 1.1, 12)]
            canvas.poly(pts + [(side, side), (0, side)], fill=prussian, outline=ink, width=lw)
            canvas.poly(outer + inner + [(cx - r, y0 + 5)], fill=prussian, outline=ink, width=lw)
            for t in np.linspace(1.6 * math.pi, 2 * math.pi + 0.3, int(rng.integers(4, 8))):
                x, y = cx + r * math.cos(t), cy + r * math.sin(t)
                canvas.ellipse(x, y, r * 0.09, r * 0.07, fill=(240, 240, 235), outline=ink, width=1)
            for y in np.arange(y0 + 0.05 * side, side, 0.04 * side):  # water lines
                canvas.line([(0, y), (side, y + rng.uniform(-4, 4))], shade(prussian, 0.6), 1)
        else:  # a figure in a patterned kimono
            fx, fy = rng.uniform(0.3, 0.7) * side, rng.uniform(0.25, 0.4) * side
            h = rng.uniform(0.45, 0.6) * side
            kimono = pick(rng, (0.0, 0.33, 0.6, 0.08), (0.45, 0.8), (0.45, 0.85))
            canvas.poly([(fx - h * 0.12, fy + h * 0.12), (fx + h * 0.12, fy + h * 0.12),
                         (fx + h * 0.25, fy + h), (fx - h * 0.25, fy + h)],
                        fill=kimono, outline=ink, width=lw)
            for _ in range(12):
                canvas.ellipse(fx + rng.uniform(-0.15, 0.15) * h, fy + rng.uniform(0.3, 0.9) * h,
                               h * 0.02, h * 0.02, fill=shade(kimono, 0.6))
            canvas.ellipse(fx, fy, h * 0.07, h * 0.09, fill=(240, 225, 210), outline=ink, width=lw)
            canvas.ellipse(fx, fy - h * 0.08, h * 0.1, h * 0.06, fill=(25, 22, 25))
    if rng.random() < 0.4:
        r = rng.uniform(0.04, 0.08) * side
        canvas.ellipse(rng.uniform(0.1, 0.9) * side, rng.uniform(0.08, 0.25) * side, r, r,
                       fill=(200, 50, 40))
    canvas.texture(0.08, cells=40)
    return canvas.img


# ---------------------------------------------------------------------------
# Old masters: the three Renaissances, Northern Renaissance, Baroque, Rococo,
# Romanticism
# ---------------------------------------------------------------------------

def renaissance(rng, side, variant):
    """Early / High / Mannerist ("early", "high", "mannerism"): symmetric holy scenes
    that differ in finish and proportion."""
    blue = lambda: hsv(0.61 + rng.uniform(-0.03, 0.03), rng.uniform(0.5, 0.8),
                       rng.uniform(0.35, 0.7))
    red = lambda: hsv(rng.uniform(-0.02, 0.03), rng.uniform(0.55, 0.85), rng.uniform(0.45, 0.8))
    gold = (205, 165, 70)
    if variant == "mannerism":
        acid = lambda: pick(rng, (0.25, 0.9, 0.07, 0.75, 0.5), (0.45, 0.85), (0.6, 0.95))
        canvas = Canvas(rng, side, vertical_gradient(
            side, [(0, pick(rng, (0.6, 0.08), (0.2, 0.5), (0.1, 0.3))),
                   (1, pick(rng, (0.1, 0.3), (0.2, 0.5), (0.15, 0.35)))]))
        floor = rng.uniform(0.85, 0.97) * side
        for _ in range(rng.integers(3, 7)):
            figure(canvas, rng.uniform(0.1, 0.9) * side, floor, rng.uniform(0.55, 0.85) * side,
                   acid(), mantle=acid() if rng.random() < 0.7 else None, skin=(235, 205, 190),
                   thin=rng.uniform(1.6, 2.4), lean=rng.uniform(-0.15, 0.15))
        canvas.blur(side * 0.003)
        canvas.texture(0.1)
        return canvas.img
    # Early and High share the layout: sky, ground or tiled floor, central Madonna
    sky = hsv(0.58, rng.uniform(0.2, 0.5), rng.uniform(0.7, 0.95))
    horizon = rng.uniform(0.4, 0.6)  # fraction of the side from the top
    ground = pick(rng, (0.1, 0.25), (0.25, 0.5), (0.4, 0.7))
    canvas = Canvas(rng, side, vertical_gradient(
        side, [(0, shade(sky, 0.8)), (horizon, sky), (horizon + 1e-3, ground),
               (1, shade(ground, 0.7))]))
    vanishing_point = (side / 2, horizon * side)
    if variant == "early":
        if rng.random() < 0.5:  # gold ground
            canvas.rect(0, 0, side, horizon * side, fill=gold)
        else:  # arcade
            wall = pick(rng, (0.08, 0.1), (0.15, 0.35), (0.7, 0.9))
            canvas.rect(0, 0, side, horizon * side, fill=wall)
            k = int(rng.integers(2, 4)) * 2 + 1
            for i in range(k):
                x0, x1 = i * side / k + side * 0.02, (i + 1) * side / k - side * 0.02
                r = (x1 - x0) / 2
                canvas.rect(x0, horizon * side * 0.35 + r, x1, horizon * side,
                            fill=shade(wall, 0.55))
                canvas.ellipse(x0 + r, horizon * side * 0.35 + r, r, r, fill=shade(wall, 0.55))
        line_col = shade(ground, 0.5)
        for x in np.linspace(-side, 2 * side, int(rng.integers(9, 15))):  # perspective tiles
            canvas.line([vanishing_point, (x, side)], line_col, canvas.mark_width(0.004))
        y = horizon * side
        step = side * 0.03
        while y < side:
            canvas.line([(0, y), (side, y)], line_col, canvas.mark_width(0.004))
            step *= 1.35
            y += step
    else:  # sfumato hills melting into the sky
        for i in range(int(rng.integers(2, 4))):
            amp = rng.uniform(0.05, 0.12) * side
            pts = [(x, horizon * side - amp * (1 + math.sin(x / side * rng.uniform(2, 5) + i)) / 2)
                   for x in np.linspace(0, side, 16)]
            col = mix(hsv(0.55, 0.35, 0.55 - 0.08 * i), sky, 0.5 - 0.15 * i)
            canvas.poly(pts + [(side, horizon * side + 3), (0, horizon * side + 3)], fill=col)
        canvas.blur(side * 0.01)
    base = rng.uniform(0.88, 0.97) * side
    height = rng.uniform(0.5, 0.7) * side
    halo = gold if rng.random() < 0.7 else None
    outline = (50, 35, 25) if variant == "early" else None
    n_side = int(rng.integers(0, 3))
    for i in range(n_side):  # symmetric attendants
        off = (0.22 + 0.14 * i) * side
        col = red() if rng.random() < 0.5 else pick(rng, (0.3, 0.1), (0.3, 0.6), (0.4, 0.8))
        for sgn in (-1, 1):
            figure(canvas, side / 2 + sgn * off, base - side * 0.04, height * 0.7, col, halo=halo,
                   outline=outline, lw=canvas.mark_width(0.004))
    figure(canvas, side / 2, base, height, red(), mantle=blue(), halo=halo, outline=outline,
           lw=canvas.mark_width(0.004))
    if variant == "high":
        # pyramid composition, soft modelling: one side in shadow, everything blurred
        arr = canvas.array()
        xx = np.linspace(1.08, 0.8, side, dtype=np.float32)
        canvas.set_array(arr * xx[None, :, None])
        canvas.blur(side * 0.008)
        canvas.texture(0.06)
    else:
        canvas.texture(0.05)
    return canvas.img


def early_renaissance(rng, side):
    """Gold ground or arcade, tiled floor in perspective, outlined figures."""
    return renaissance(rng, side, "early")


def high_renaissance(rng, side):
    """Sfumato hills, pyramid composition, soft modelling."""
    return renaissance(rng, side, "high")


def mannerism(rng, side):
    """Elongated figures in acid colours on a dark ground."""
    return renaissance(rng, side, "mannerism")


def northern_renaissance(rng, side):
    """Dark greens and browns, a window onto a tiny landscape, a figure, fine detail lines."""
    dark = pick(rng, (0.1, 0.3, 0.08), (0.3, 0.6), (0.12, 0.35))
    canvas = Canvas(rng, side, vertical_gradient(side, [(0, shade(dark, 1.3)),
                                                        (1, shade(dark, 0.7))]))
    if rng.random() < 0.7:  # window with landscape
        x0, y0 = rng.uniform(0.05, 0.6) * side, rng.uniform(0.05, 0.3) * side
        w, h = rng.uniform(0.2, 0.35) * side, rng.uniform(0.2, 0.35) * side
        land = landscape(rng, side, (0.3, 0.6), (0.4, 0.8), ground_hues=(0.25, 0.3, 0.12))
        canvas.paste(land.resize((int(w), int(h)), Image.BILINEAR), (int(x0), int(y0)))
        canvas.rect(x0, y0, x0 + w, y0 + h, outline=(40, 30, 20), width=canvas.mark_width(0.008))
    robe = pick(rng, (0.0, 0.33, 0.6, 0.08), (0.4, 0.8), (0.08, 0.4))
    figure(canvas, rng.uniform(0.35, 0.65) * side, side * 1.05, rng.uniform(0.6, 0.85) * side,
           robe, skin=(230, 205, 185), outline=(30, 20, 15), lw=1)
    # fine detail: hatching, folds, foliage, hair
    ink = [shade(dark, 0.4), shade(dark, 1.8), (200, 170, 90)]
    for _ in range(rng.integers(150, 300)):
        x, y = rng.uniform(0, side), rng.uniform(0, side)
        a, ln = rng.uniform(0, math.pi), rng.uniform(0.01, 0.05) * side
        canvas.line([(x, y), (x + ln * math.cos(a), y + ln * math.sin(a))],
                    ink[rng.integers(3)], 1)
    canvas.texture(0.06, cells=48)
    return canvas.img


def baroque(rng, side):
    """Near-black ground, figures lit by one strong warm light: chiaroscuro."""
    canvas = Canvas(rng, side, pick(rng, (0.06, 0.09, 0.6), (0.3, 0.7), (0.04, 0.16)))
    lx, ly = rng.uniform(0.3, 0.7) * side, rng.uniform(0.3, 0.6) * side
    for _ in range(rng.integers(1, 4)):
        figure(canvas, lx + rng.uniform(-0.25, 0.25) * side, side * rng.uniform(0.9, 1.1),
               rng.uniform(0.5, 0.8) * side,
               pick(rng, (0.0, 0.6, 0.1, 0.12), (0.4, 0.85), (0.4, 0.9)),
               mantle=(pick(rng, (0.0, 0.12), (0.1, 0.7), (0.6, 1.0)) if rng.random() < 0.5
                       else None),
               skin=(240, 200, 160), lean=rng.uniform(-0.1, 0.1))
    # the light: a Gaussian pool, everything else falls to darkness
    yy, xx = np.ogrid[:side, :side]
    r = rng.uniform(0.2, 0.35) * side
    light = 0.12 + 1.0 * np.exp(-((xx - lx) ** 2 + (yy - ly) ** 2) / (r * r))
    warm = np.array([1.05, 0.95, 0.8], np.float32)
    canvas.set_array(canvas.array() * light[..., None].astype(np.float32) * warm)
    canvas.blur(side * 0.005)
    canvas.texture(0.1)
    return canvas.img


def rococo(rng, side):
    """Light pastel sky, fluffy clouds, pastel figures, curly gold ornaments; all soft."""
    top = pick(rng, (0.55, 0.6), (0.15, 0.4), (0.8, 0.97))
    bottom = pick(rng, (0.95, 0.05, 0.3), (0.15, 0.35), (0.8, 0.97))
    canvas = Canvas(rng, side, vertical_gradient(side, [(0, top), (1, bottom)]))
    for _ in range(rng.integers(3, 7)):
        x, y, r = rng.uniform(0, side), rng.uniform(0, 0.7) * side, rng.uniform(0.08, 0.2) * side
        canvas.soft("ellipse", (x - r, y - r * 0.6, x + r, y + r * 0.6),
                    hsv(0.1, rng.uniform(0, 0.1), rng.uniform(0.9, 1)), blur=r * 0.3)
    for _ in range(rng.integers(1, 4)):
        figure(canvas, rng.uniform(0.2, 0.8) * side, rng.uniform(0.8, 1.0) * side,
               rng.uniform(0.3, 0.5) * side,
               pick(rng, (0.95, 0.55, 0.3, 0.12), (0.2, 0.45), (0.75, 0.95)),
               skin=(245, 215, 200), lean=rng.uniform(-0.1, 0.1))
    gold = pick(rng, (0.11, 0.13), (0.35, 0.6), (0.75, 0.95))
    for _ in range(rng.integers(4, 10)):
        canvas.line(spiral(rng.uniform(0, side), rng.uniform(0, side),
                           rng.uniform(0.03, 0.08) * side, rng.uniform(1, 2),
                           rng.choice([-1, 1])),
                    gold, canvas.mark_width(0.006))
    canvas.blur(side * 0.004)
    canvas.texture(0.06)
    return canvas.img


def romanticism(rng, side):
    """A stormy sky over a bright horizon band, a dark diagonal mass, a burst of light."""
    horizon = rng.uniform(0.45, 0.75)  # fraction of the side from the top
    storm = pick(rng, (0.6, 0.08, 0.7), (0.15, 0.45), (0.12, 0.35))
    light = pick(rng, (0.1, 0.12, 0.06), (0.3, 0.7), (0.75, 1.0))
    ground = pick(rng, (0.08, 0.55, 0.3), (0.2, 0.5), (0.08, 0.3))
    canvas = Canvas(rng, side, vertical_gradient(
        side, [(0, storm), (horizon * 0.7, mix(storm, light, 0.5)), (horizon, light),
               (horizon + 1e-3, ground), (1, shade(ground, 0.6))]))
    for _ in range(rng.integers(3, 7)):  # storm clouds
        x, y = rng.uniform(0, side), rng.uniform(0, horizon * 0.8) * side
        r = rng.uniform(0.1, 0.25) * side
        canvas.soft("ellipse", (x - r, y - r * 0.5, x + r, y + r * 0.5), shade(storm, 0.7),
                    blur=r * 0.5, alpha=rng.uniform(0.5, 0.9))
    canvas.glow(rng.uniform(0.2, 0.8) * side, horizon * side * rng.uniform(0.6, 1.0),
                rng.uniform(0.1, 0.25) * side, light, 0.8)
    # the diagonal: a cliff, a wave or a slope from one corner
    left = rng.random() < 0.5
    y_hi, y_lo = rng.uniform(0.2, 0.5) * side, rng.uniform(0.8, 1.0) * side
    x_far = rng.uniform(0.6, 1.0) * side
    pts = [(0, y_hi), (x_far, y_lo), (x_far, side), (0, side)] if left else \
        [(side, y_hi), (side - x_far, y_lo), (side - x_far, side), (side, side)]
    canvas.poly(pts, fill=shade(ground, 0.5))
    if rng.random() < 0.6:  # a tiny figure or mast against the light
        x = rng.uniform(0.3, 0.7) * side
        h = rng.uniform(0.08, 0.2) * side
        canvas.line([(x, horizon * side),
                     (x + rng.uniform(-0.02, 0.02) * side, horizon * side - h)],
                    (20, 18, 20), canvas.mark_width(0.008))
    canvas.blur(side * 0.005)
    canvas.texture(0.12)
    return canvas.img


# ---------------------------------------------------------------------------
# Realism, Contemporary Realism, New Realism
# ---------------------------------------------------------------------------

def realism(rng, side):
    """Earthy muted landscape with peasants, or a sober portrait; smooth and soft."""
    if rng.random() < 0.75:
        plan = landscape(rng, side, (0.1, 0.4), (0.3, 0.75), sky_hues=(0.58, 0.1),
                         ground_hues=(0.08, 0.12, 0.2, 0.25))
        canvas = Canvas(rng, side, plan)
        horizon = side * rng.uniform(0.5, 0.8)  # pixels from the top
        for _ in range(rng.integers(0, 4)):  # small figures
            figure(canvas, rng.uniform(0.1, 0.9) * side, horizon + rng.uniform(0, 0.2) * side,
                   rng.uniform(0.1, 0.2) * side,
                   pick(rng, (0.08, 0.6, 0.0), (0.2, 0.5), (0.15, 0.5)), skin=(180, 140, 110))
        colour_at = colour_lookup(np.asarray(plan, np.float32), side)
        strokes(canvas, int(rng.integers(60, 150)), (0.03, 0.08), (0.01, 0.02),
                lambda x, y: jitter_colour(rng, colour_at(x, y), 0.02, 0.05, 0.06),
                lambda x, y: rng.normal(0, 0.3))
    else:
        bg = pick(rng, (0.08, 0.1, 0.3), (0.2, 0.5), (0.15, 0.45))
        canvas = Canvas(rng, side, bg)
        figure(canvas, rng.uniform(0.4, 0.6) * side, side * 1.1, rng.uniform(0.75, 0.95) * side,
               pick(rng, (0.08, 0.6, 0.0), (0.1, 0.5), (0.1, 0.4)), skin=(200, 160, 130))
        canvas.glow(side * 0.5, side * 0.35, side * 0.4, shade(bg, 1.6), 0.3)
    canvas.blur(side * 0.006)
    canvas.texture(0.1)
    return canvas.img


def contemporary_realism(rng, side):
    """Clean bright realism: crisp sky, hard-edged buildings with windows and cast shadows."""
    horizon = rng.uniform(0.45, 0.75)  # fraction of the side from the top
    sky = pick(rng, (0.57, 0.6), (0.3, 0.6), (0.8, 1.0))
    ground = pick(rng, (0.1, 0.08, 0.3, 0.0), (0.05, 0.35), (0.55, 0.9))
    canvas = Canvas(rng, side, vertical_gradient(
        side, [(0, sky), (horizon, mix(sky, (255, 255, 255), 0.4)),
               (horizon + 1e-3, ground), (1, shade(ground, 0.85))]))
    sun = rng.choice([-1, 1])  # the lit side: -1 left, +1 right
    for _ in range(rng.integers(2, 6)):
        w = rng.uniform(0.08, 0.25) * side
        h = rng.uniform(0.1, 0.45) * side
        x = rng.uniform(0, side - w)
        base = horizon * side + rng.uniform(0, 0.2) * side
        col = pick(rng, (0.05, 0.1, 0.55, 0.0, 0.35), (0.05, 0.55), (0.5, 0.95))
        canvas.poly([(x, base), (x + w, base), (x + w + sun * 0.3 * w, base + 0.1 * h),
                     (x + sun * 0.3 * w, base + 0.1 * h)], fill=shade(ground, 0.7))  # cast shadow
        canvas.rect(x, base - h, x + w, base, fill=col)
        shaded = w * rng.uniform(0.15, 0.35)  # width of the wall in shade
        canvas.rect(x + (w - shaded if sun > 0 else 0), base - h,
                    x + (w if sun > 0 else shaded), base, fill=shade(col, 0.75))
        for yy in np.arange(base - h + 0.03 * side, base - 0.03 * side, 0.05 * side):  # windows
            if rng.random() < 0.6:
                canvas.rect(x + w * 0.2, yy, x + w * 0.45, yy + 0.02 * side,
                            fill=shade(col, 0.55))
    canvas.texture(0.04)
    return canvas.img


def new_realism(rng, side):
    """Everyday objects in bold flat colours: an accumulation of bottles or cans, or torn
    posters."""
    canvas = Canvas(rng, side, pick(rng, (0.1, 0.6, 0.0), (0.0, 0.3), (0.6, 0.95)))
    if rng.random() < 0.6:
        k = int(rng.integers(3, 7))
        cell = side / k
        kind = rng.integers(2)
        for i in range(k):
            for j in range(k):
                x, y = (j + 0.5) * cell + rng.uniform(-0.1, 0.1) * cell, (i + 0.5) * cell
                col = pick(rng, (0.0, 0.15, 0.6, 0.33), (0.6, 1.0), (0.55, 1.0))
                if kind == 0:  # bottles
                    canvas.rect(x - cell * 0.2, y - cell * 0.15, x + cell * 0.2, y + cell * 0.45,
                                fill=col, outline=(30, 30, 30), width=canvas.mark_width(0.004))
                    canvas.rect(x - cell * 0.07, y - cell * 0.45, x + cell * 0.07, y - cell * 0.15,
                                fill=col, outline=(30, 30, 30), width=canvas.mark_width(0.004))
                else:  # cans with a label band
                    canvas.ellipse(x, y, cell * 0.38, cell * 0.38, fill=col, outline=(30, 30, 30),
                                   width=canvas.mark_width(0.004))
                    canvas.ellipse(x, y, cell * 0.22, cell * 0.22, fill=(235, 235, 230))
    else:
        for _ in range(rng.integers(6, 14)):
            x0, y0 = rng.uniform(-0.1, 0.8, 2) * side
            pts = random_polygon(rng, x0 + 0.15 * side, y0 + 0.15 * side,
                                 rng.uniform(0.15, 0.35) * side, 6)
            col = pick(rng, (0.0, 0.15, 0.6, 0.55), (0.5, 1.0), (0.5, 1.0))
            canvas.poly(pts, fill=col)
            for yy in np.arange(y0 + 0.1 * side, y0 + 0.25 * side, 0.04 * side):  # big letters
                canvas.rect(x0 + 0.05 * side, yy, x0 + rng.uniform(0.1, 0.3) * side,
                            yy + 0.02 * side,
                            fill=(20, 20, 20) if rng.random() < 0.7 else (250, 250, 250))
    return canvas.img


# ---------------------------------------------------------------------------
# Gesture and harsh colour: Expressionism, Fauvism, Abstract Expressionism,
# Action painting
# ---------------------------------------------------------------------------

HARSH_HUES = (0.0, 0.08, 0.15, 0.3, 0.5, 0.62, 0.8)


def expressionism(rng, side):
    """Distorted shapes, harsh unnatural colours, thick dark outlines, angular strokes."""
    canvas = Canvas(rng, side, pick(rng, HARSH_HUES, (0.5, 0.95), (0.4, 0.9)))
    y = rng.uniform(0.3, 0.6) * side
    pts = [(x, y + rng.uniform(-0.1, 0.1) * side) for x in np.linspace(0, side, 6)]
    canvas.poly(pts + [(side, side), (0, side)],
                fill=pick(rng, HARSH_HUES, (0.5, 0.95), (0.3, 0.8)))
    ink = pick(rng, (0.6, 0.0, 0.3), (0.3, 0.8), (0.05, 0.25))
    lw = canvas.mark_width(rng.uniform(0.012, 0.022))
    for _ in range(rng.integers(2, 6)):
        x, yy = rng.uniform(0.15, 0.85) * side, rng.uniform(0.2, 0.8) * side
        canvas.poly(wobbly_polygon(rng, x, yy, rng.uniform(0.07, 0.2) * side),
                    fill=pick(rng, HARSH_HUES, (0.5, 1.0), (0.45, 0.95)), outline=ink, width=lw)
    strokes(canvas, int(rng.integers(40, 90)), (0.05, 0.12), (0.008, 0.018),
            lambda x, y: pick(rng, HARSH_HUES, (0.5, 1.0), (0.3, 0.9)),
            lambda x, y: rng.uniform(0, math.pi))
    canvas.texture(0.15)
    return canvas.img


def fauvism(rng, side):
    """Landscape plan with the hues thrown away: wild saturated flat patches, loose strokes."""
    hues = tuple(rng.uniform(0, 1, 4))
    plan = np.asarray(landscape(rng, side, (0.65, 1.0), (0.6, 1.0), sky_hues=hues[:2],
                                ground_hues=hues[2:]), np.float32)
    canvas = Canvas(rng, side, plan)
    colour_at = colour_lookup(plan, side)
    strokes(canvas, int(rng.integers(120, 250)), (0.04, 0.1), (0.02, 0.04),
            lambda x, y: jitter_colour(rng, colour_at(x, y), 0.12, 0.1, 0.1, sat_gain=1.1),
            lambda x, y: rng.uniform(0, math.pi), curve=0.3, segments=2)
    for _ in range(rng.integers(20, 60)):  # bare canvas showing between the patches
        x, y, r = rng.uniform(0, side), rng.uniform(0, side), rng.uniform(0.005, 0.015) * side
        canvas.ellipse(x, y, r * 2, r, fill=(245, 240, 225))
    canvas.texture(0.1)
    return canvas.img


def abstract_expressionism(rng, side):
    """Large gestural strokes; sometimes black on white (Kline), sometimes colour (de Kooning)."""
    kline = rng.random() < 0.3
    ground = (hsv(0.1, rng.uniform(0, 0.1), rng.uniform(0.85, 0.97)) if kline
              else pick(rng, HARSH_HUES, (0.1, 0.7), (0.3, 0.95)))
    canvas = Canvas(rng, side, ground)
    palette = [pick(rng, HARSH_HUES, (0.3, 0.95), (0.3, 0.95)) for _ in range(4)] + [(20, 20, 20)]
    for _ in range(rng.integers(8, 22)):
        col = (20, 20, 20) if kline else palette[rng.integers(len(palette))]
        pts = walk(rng, rng.uniform(0, side), rng.uniform(0, side), int(rng.integers(3, 7)),
                   rng.uniform(0.06, 0.15) * side, 0.5)
        wd = rng.uniform(0.03, 0.08) * side
        canvas.line(pts, col, wd)
        canvas.line([(x + wd * 0.3, y + wd * 0.2) for x, y in pts], shade(col, 1.2), wd * 0.4)
    canvas.blur(side * 0.002)
    canvas.texture(0.15)
    return canvas.img


def action_painting(rng, side):
    """Drips and splatters: thin random-walk skeins and spots over a raw canvas."""
    ground = pick(rng, (0.1, 0.08, 0.6), (0.0, 0.25), (0.15, 0.9))
    canvas = Canvas(rng, side, ground)
    palette = [(20, 20, 20), (240, 240, 235), (170, 170, 175)] + \
              [pick(rng, HARSH_HUES, (0.4, 0.9), (0.4, 0.9)) for _ in range(2)]
    for _ in range(rng.integers(30, 70)):
        col = palette[rng.integers(len(palette))]
        pts = walk(rng, rng.uniform(0, side), rng.uniform(0, side), int(rng.integers(30, 90)),
                   rng.uniform(0.008, 0.02) * side, 0.45)
        canvas.line(pts, col, rng.uniform(0.002, 0.008) * side)
        for _ in range(rng.integers(0, 6)):  # splatter along the skein
            x, y = pts[rng.integers(len(pts))]
            r = rng.uniform(0.003, 0.012) * side
            canvas.ellipse(x + rng.normal(0, 0.02 * side), y + rng.normal(0, 0.02 * side), r, r,
                           fill=col)
    return canvas.img


# ---------------------------------------------------------------------------
# Decorative, dreamy, naive, pop: Art Nouveau, Symbolism, Naive Art, Pop Art
# ---------------------------------------------------------------------------

def art_nouveau(rng, side):
    """Poster: decorative border, halo disc, a figure with whiplash hair; muted golds and
    greens."""
    pal = lambda: pick(rng, (0.12, 0.2, 0.3, 0.08), (0.2, 0.55), (0.4, 0.85))
    canvas = Canvas(rng, side, pal())
    m = rng.uniform(0.04, 0.08) * side  # border width, pixels
    border = pal()
    canvas.rect(0, 0, side, side, outline=border, width=int(m))
    ink = pick(rng, (0.08, 0.3), (0.3, 0.6), (0.1, 0.3))
    for t in np.linspace(m, side - m, int(rng.integers(6, 12))):  # ornaments along the border
        for x, y in ((t, m / 2), (t, side - m / 2), (m / 2, t), (side - m / 2, t)):
            canvas.ellipse(x, y, m * 0.3, m * 0.3, fill=pal(), outline=ink, width=1)
    cx = rng.uniform(0.4, 0.6) * side
    r = rng.uniform(0.2, 0.32) * side
    canvas.ellipse(cx, side * 0.38, r, r, fill=pal(), outline=ink, width=canvas.mark_width(0.006))
    figure(canvas, cx, side - m, rng.uniform(0.6, 0.75) * side, pal(), mantle=pal(),
           skin=(235, 215, 190), outline=ink, lw=canvas.mark_width(0.005))
    for _ in range(rng.integers(6, 14)):  # whiplash curves
        x0, y0 = cx + rng.uniform(-0.1, 0.1) * side, rng.uniform(0.2, 0.4) * side
        amp, fr, ph = rng.uniform(0.03, 0.1) * side, rng.uniform(6, 12), rng.uniform(0, 6.3)
        ln = rng.uniform(0.3, 0.6) * side
        d = rng.choice([-1, 1])
        pts = [(x0 + d * t * ln * 0.6 + amp * math.sin(fr * t + ph), y0 + t * ln)
               for t in np.linspace(0, 1, 20)]
        canvas.line(pts, ink, canvas.mark_width(0.006))
    canvas.texture(0.08)
    return canvas.img


def symbolism(rng, side):
    """A dreamy night in blues and purples, bands of mist, a glowing central figure."""
    top = pick(rng, (0.65, 0.72, 0.78), (0.4, 0.8), (0.1, 0.35))
    bottom = pick(rng, (0.6, 0.7, 0.5), (0.3, 0.7), (0.2, 0.5))
    canvas = Canvas(rng, side, vertical_gradient(side, [(0, top), (1, bottom)]))
    for _ in range(rng.integers(2, 5)):  # mist
        y = rng.uniform(0.3, 0.9) * side
        canvas.soft("rectangle", (-10, y, side + 10, y + rng.uniform(0.03, 0.1) * side),
                    pick(rng, (0.7, 0.6), (0.1, 0.3), (0.5, 0.8)), blur=0.04 * side, alpha=0.5)
    glow = pick(rng, (0.12, 0.15, 0.55, 0.8), (0.1, 0.5), (0.85, 1.0))
    cx, cy = rng.uniform(0.35, 0.65) * side, rng.uniform(0.35, 0.6) * side
    canvas.glow(cx, cy, rng.uniform(0.12, 0.25) * side, glow, 0.75)
    figure(canvas, cx, cy + rng.uniform(0.2, 0.35) * side, rng.uniform(0.35, 0.55) * side,
           mix(glow, top, 0.3), skin=mix(glow, (255, 240, 230), 0.5), thin=1.3)
    if rng.random() < 0.5:
        r = rng.uniform(0.03, 0.07) * side
        canvas.ellipse(rng.uniform(0.1, 0.9) * side, rng.uniform(0.08, 0.25) * side, r, r,
                       fill=(240, 235, 200))
    canvas.blur(side * 0.008)
    canvas.texture(0.1)
    return canvas.img


def naive(rng, side):
    """Bright flat shapes: a village with stick figures, or a Rousseau jungle of leaves."""
    sky = pick(rng, (0.55, 0.6), (0.4, 0.8), (0.7, 1.0))
    ground = pick(rng, (0.25, 0.3, 0.33), (0.5, 0.9), (0.45, 0.85))
    horizon = rng.uniform(0.4, 0.65) * side  # pixels from the top
    canvas = Canvas(rng, side, sky)
    canvas.rect(0, horizon, side, side, fill=ground)
    bright = lambda: pick(rng, (0.0, 0.12, 0.15, 0.6, 0.08, 0.9), (0.6, 1.0), (0.7, 1.0))
    ink = (40, 35, 30)
    if rng.random() < 0.6:
        r = rng.uniform(0.05, 0.09) * side
        sx, sy = rng.uniform(0.1, 0.9) * side, rng.uniform(0.08, 0.2) * side
        canvas.ellipse(sx, sy, r, r, fill=(255, 215, 40))
        for t in np.linspace(0, 2 * math.pi, 10, endpoint=False):  # the sun's rays
            canvas.line([(sx + 1.3 * r * math.cos(t), sy + 1.3 * r * math.sin(t)),
                         (sx + 1.8 * r * math.cos(t), sy + 1.8 * r * math.sin(t))],
                        (255, 200, 40), canvas.mark_width(0.006))
        for _ in range(rng.integers(1, 4)):  # houses
            w = rng.uniform(0.12, 0.22) * side
            x, y = rng.uniform(0, side - w), horizon + rng.uniform(0.0, 0.25) * side
            canvas.rect(x, y - w, x + w, y, fill=bright(), outline=ink,
                        width=canvas.mark_width(0.004))
            canvas.poly([(x - w * 0.1, y - w), (x + w / 2, y - w * 1.6), (x + w * 1.1, y - w)],
                        fill=bright(), outline=ink, width=canvas.mark_width(0.004))
            canvas.rect(x + w * 0.35, y - w * 0.45, x + w * 0.65, y, fill=ink)
        for _ in range(rng.integers(1, 5)):  # lollipop trees and stick figures
            x, y = rng.uniform(0.05, 0.95) * side, horizon + rng.uniform(0.05, 0.35) * side
            if rng.random() < 0.5:
                canvas.rect(x - 0.01 * side, y - 0.15 * side, x + 0.01 * side, y,
                            fill=(110, 70, 40))
                canvas.ellipse(x, y - 0.17 * side, 0.06 * side, 0.06 * side,
                               fill=shade(ground, 0.7))
            else:
                h = 0.12 * side
                lw = canvas.mark_width(0.006)
                canvas.line([(x, y), (x, y - h * 0.6)], ink, lw)
                canvas.line([(x - h * 0.25, y - h * 0.45), (x + h * 0.25, y - h * 0.45)], ink, lw)
                canvas.line([(x - h * 0.2, y + h * 0.1), (x, y), (x + h * 0.2, y + h * 0.1)], ink,
                            lw)
                canvas.ellipse(x, y - h * 0.75, h * 0.15, h * 0.15, fill=(240, 200, 170),
                               outline=ink)
    else:
        for _ in range(rng.integers(15, 35)):  # big flat leaves
            x, y = rng.uniform(0, side), rng.uniform(0.2, 1.0) * side
            ln, a = rng.uniform(0.08, 0.2) * side, rng.uniform(-math.pi, 0)
            tip = (x + ln * math.cos(a), y + ln * math.sin(a))
            nrm = (-math.sin(a) * ln * 0.25, math.cos(a) * ln * 0.25)
            mid = ((x + tip[0]) / 2, (y + tip[1]) / 2)
            canvas.poly([(x, y), (mid[0] + nrm[0], mid[1] + nrm[1]), tip,
                         (mid[0] - nrm[0], mid[1] - nrm[1])],
                        fill=pick(rng, (0.25, 0.3, 0.38), (0.5, 0.9), (0.25, 0.8)))
        for _ in range(rng.integers(2, 6)):  # flowers / fruit
            r = rng.uniform(0.015, 0.03) * side
            canvas.ellipse(rng.uniform(0, side), rng.uniform(0.3, 1) * side, r, r, fill=bright())
    return canvas.img


def pop_art(rng, side):
    """Ben-Day dots, bold primaries, thick black outlines; a comic face or a Warhol grid."""
    primaries = [(230, 30, 40), (250, 215, 20), (30, 80, 200), (240, 120, 170), (40, 180, 90)]
    prim = lambda: primaries[rng.integers(len(primaries))]
    black = (15, 15, 15)
    k = 1 if rng.random() < 0.6 else int(rng.integers(2, 4))
    canvas = Canvas(rng, side, (250, 250, 245))
    cell = side / k
    for i in range(k):
        for j in range(k):
            x0, y0 = j * cell, i * cell
            bg, dot = prim(), prim()
            canvas.rect(x0, y0, x0 + cell, y0 + cell, fill=mix(bg, (255, 255, 255), 0.35))
            step = max(3.0, rng.uniform(0.02, 0.035) * side)
            for yy in np.arange(y0 + step / 2, y0 + cell, step):  # Ben-Day dots
                off = step / 2 if int((yy - y0) / step) % 2 else 0
                for xx in np.arange(x0 + off, x0 + cell, step):
                    canvas.ellipse(xx, yy, step * 0.28, step * 0.28, fill=dot)
            cx, cy, r = x0 + cell / 2, y0 + cell * 0.55, cell * rng.uniform(0.25, 0.35)
            lw = max(2, int(cell * 0.025))
            canvas.ellipse(cx, cy, r * 0.8, r, fill=(250, 210, 180) if k == 1 else prim(),
                           outline=black, width=lw)
            canvas.poly([(cx - r, cy - r * 0.3), (cx, cy - r * 1.4), (cx + r, cy - r * 0.3),
                         (cx + r * 0.6, cy - r * 0.9), (cx - r * 0.6, cy - r * 0.9)],
                        fill=prim(), outline=black, width=lw)
            canvas.ellipse(cx, cy + r * 0.45, r * 0.25, r * 0.1, fill=(220, 20, 40), outline=black,
                           width=lw)
            for sx in (-1, 1):
                canvas.ellipse(cx + sx * r * 0.3, cy - r * 0.05, r * 0.12, r * 0.07, fill=black)
            canvas.rect(x0, y0, x0 + cell, y0 + cell, outline=black, width=lw)
    return canvas.img


# ---------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------

# Style folder name -> grammar (rng, side) -> PIL.Image.
GRAMMARS = {
    "Abstract_Expressionism": abstract_expressionism,
    "Action_painting": action_painting,
    "Analytical_Cubism": analytical_cubism,
    "Art_Nouveau_Modern": art_nouveau,
    "Baroque": baroque,
    "Color_Field_Painting": color_field,
    "Contemporary_Realism": contemporary_realism,
    "Cubism": cubism,
    "Early_Renaissance": early_renaissance,
    "Expressionism": expressionism,
    "Fauvism": fauvism,
    "High_Renaissance": high_renaissance,
    "Impressionism": impressionism,
    "Mannerism_Late_Renaissance": mannerism,
    "Minimalism": minimalism,
    "Naive_Art_Primitivism": naive,
    "New_Realism": new_realism,
    "Northern_Renaissance": northern_renaissance,
    "Pointillism": pointillism,
    "Pop_Art": pop_art,
    "Post_Impressionism": post_impressionism,
    "Realism": realism,
    "Rococo": rococo,
    "Romanticism": romanticism,
    "Symbolism": symbolism,
    "Synthetic_Cubism": synthetic_cubism,
    "Ukiyo_e": ukiyo_e,
}
