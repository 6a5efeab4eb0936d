"""One panel of an animatic as a still (Pillow, once per panel; ffmpeg moves it).

The background is the panel's place, else the clip's own picture (its first frame, the frame
it continues from), else a plain graded backdrop. The characters and props the beat mentions
stand in front, each from its main reference, scaled to fit (never cropped: a face is never cut
off), left to right in mention order, on a common ground line; props smaller. A close-up of a
character fills the frame with its head and shoulders (only its lower part leaves the frame).
References with transparency stand as cut-outs; opaque ones are framed as cards.

Deterministic: the framing (sizes, spacing, where the place is cropped) and the grade follow a
key (the request's seed, so another take looks different).
"""

from __future__ import annotations

import colorsys
import random
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageOps

from ..media.text import Box
from .board import Figure, Panel, stable_hash

PROP_SCALE = 0.62  # a prop stands this much smaller than a character
HEAD_SHARE = 0.4  # a close-up shows at least the top this much of its reference (head and shoulders)
CARD_BORDER = 0.03  # of the card's short side
GRADE_ALPHA = (0.05, 0.12)  # how strongly a take's colour grade tints the panel


@dataclass(frozen=True)
class Placed:
    """Where a figure was drawn (the renderer's layout data: tests compare these regions)."""

    name: str
    box: Box


def rng_for(key: str, panel: Panel) -> random.Random:
    return random.Random(stable_hash(f"panel:{key}:{panel.index}"))


def compose(panel: Panel, size: tuple[int, int], stage: Box, load: Callable[[str], Image.Image],
            key: str, base: Image.Image | None) -> tuple[Image.Image, list[Placed]]:
    """The panel's still (RGB, `size`) and where each figure stands. `stage` is the part of the
    frame the figures stand in (below the caption band); `load` reads a resolved image value
    (RGB or RGBA); `base` is the clip's own picture, if it has one."""
    rng = rng_for(key, panel)
    if panel.background is not None:
        im = _cover(load(panel.background), size, rng)
    elif base is not None:
        im = ImageOps.fit(base.convert("RGB"), size, method=Image.Resampling.BICUBIC) if base.size != size \
            else base.convert("RGB")
    else:
        im = _backdrop(size, rng)
    placed: list[Placed] = []
    if panel.close_up and panel.figures:
        placed.append(_close_up(im, panel.figures[0], load, stage, rng))
    else:
        placed += _line_up(im, panel.figures, load, stage, rng)
    if panel.background is not None or base is None or panel.figures:
        im = _grade(im, rng)
    return im, placed


def _cover(src: Image.Image, size: tuple[int, int], rng: random.Random) -> Image.Image:
    """Fill the frame with a place, cropped around a point that varies by take."""
    centre = (rng.uniform(0.35, 0.65), rng.uniform(0.4, 0.6))
    return ImageOps.fit(_flat(src), size, method=Image.Resampling.BICUBIC, centering=centre)


def _flat(src: Image.Image) -> Image.Image:
    if src.mode == "RGBA":
        out = Image.new("RGB", src.size, (0, 0, 0))
        out.paste(src, mask=src.getchannel("A"))
        return out
    return src.convert("RGB")


def _backdrop(size: tuple[int, int], rng: random.Random) -> Image.Image:
    """A plain stage: a vertical gradient in a hue of the take's own, darker towards the floor."""
    hue = rng.random()
    top = tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.25, 0.62))
    bottom = tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.35, 0.24))
    mask = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    return Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)


def _grade(im: Image.Image, rng: random.Random) -> Image.Image:
    """A take's colour grade: a light tint of a hue of its own."""
    hue = rng.random()
    tint = tuple(round(c * 255) for c in colorsys.hsv_to_rgb(hue, 0.6, 0.9))
    return Image.blend(im, Image.new("RGB", im.size, tint), rng.uniform(*GRADE_ALPHA))


def _has_alpha(src: Image.Image) -> bool:
    if src.mode != "RGBA":
        return False
    lo, _ = src.getchannel("A").getextrema()
    return lo < 250


def _fit(src: Image.Image, box_w: int, box_h: int) -> Image.Image:
    scale = min(box_w / src.width, box_h / src.height)
    w, h = max(1, round(src.width * scale)), max(1, round(src.height * scale))
    return src.resize((w, h), Image.Resampling.BILINEAR)


def _as_card(src: Image.Image) -> Image.Image:
    """An opaque reference framed as a card: a light border and a soft shadow below right."""
    border = max(2, round(min(src.size) * CARD_BORDER))
    shadow = max(2, border)
    w, h = src.width + 2 * border, src.height + 2 * border
    card = Image.new("RGBA", (w + shadow, h + shadow), (0, 0, 0, 0))
    draw = ImageDraw.Draw(card)
    draw.rectangle([shadow, shadow, w + shadow - 1, h + shadow - 1], fill=(0, 0, 0, 110))
    draw.rectangle([0, 0, w - 1, h - 1], fill=(246, 244, 238, 255))
    card.paste(src.convert("RGB"), (border, border))
    return card


def _paste(im: Image.Image, figure: Image.Image, at: tuple[int, int]) -> None:
    if figure.mode == "RGBA":
        im.paste(figure, at, mask=figure.getchannel("A"))
    else:
        im.paste(figure, at)


def _line_up(im: Image.Image, figures: tuple[Figure, ...], load: Callable[[str], Image.Image], stage: Box,
             rng: random.Random) -> list[Placed]:
    """The figures side by side in mention order, each fitted into its share of the stage."""
    if not figures:
        return []
    n = len(figures)
    gap = round(stage.w * rng.uniform(0.02, 0.05))
    share = (stage.w - gap * (n - 1)) / n
    height = stage.h * rng.uniform(0.74, 0.92)
    ground = stage.bottom - round(stage.h * rng.uniform(0.0, 0.05))
    shift = round((stage.w - (share * n + gap * (n - 1))) / 2)
    placed = []
    for i, fig in enumerate(figures):
        src = load(fig.image)
        scale = PROP_SCALE if fig.kind == "prop" else 1.0
        cut_out = _has_alpha(src)
        shown = _fit(src if cut_out else src.convert("RGB"), round(share * 0.94), round(height * scale))
        if not cut_out:
            shown = _as_card(shown)
        x = round(stage.x + shift + i * (share + gap) + (share - shown.width) / 2)
        y = max(stage.y, ground - shown.height)
        _paste(im, shown, (x, y))
        placed.append(Placed(fig.name, Box(x, y, shown.width, shown.height)))
    return placed


def _close_up(im: Image.Image, fig: Figure, load: Callable[[str], Image.Image], stage: Box,
              rng: random.Random) -> Placed:
    """One character filling the frame: as wide as the frame, unless that would leave less than
    its top HEAD_SHARE (head and shoulders) in the stage; its top at the stage's top, so only its
    lower part leaves the frame."""
    src = load(fig.image)
    w, h = im.size
    scale = min(w / src.width, stage.h / (HEAD_SHARE * src.height))
    size = (max(1, round(src.width * scale)), max(1, round(src.height * scale)))
    shown = src.resize(size, Image.Resampling.BILINEAR)
    x = round((w - shown.width) * rng.uniform(0.4, 0.6))
    y = stage.y
    _paste(im, shown if _has_alpha(src) else shown.convert("RGB"), (x, y))
    return Placed(fig.name, Box(x, y, shown.width, min(shown.height, h - y)))
