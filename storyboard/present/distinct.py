"""Telling pictures apart: the contact sheet never shows the same picture twice.

Two frames are compared as a person glancing at the sheet would: small, and without the parts
that change while the picture does not (the animatic's caption band, whose text always differs
from clip to clip, and its progress bar along the bottom edge). `DISTINCT` is the smallest
difference at which two tiles read as different pictures; an extension that holds on the frame
its clip ended on, or a beat drawn like the one before it, falls below it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

DISTINCT = 6.0  # mean absolute difference (0-255, RGB) of two signatures that look different
SIGNATURE = (64, 36)  # the size pictures are compared at: what survives a glance
BAR_SHARE = 1 / 40  # the bottom strip left out (the animatic's progress bar, with some room)


def signature(picture: Any, frame_size: tuple[int, int]) -> np.ndarray:
    """`picture` (a PIL image or an image file, of a frame of `frame_size` or scaled from one)
    small and with its caption band and bottom strip blacked out, as floats."""
    from PIL import Image, ImageDraw

    from ..media.text import frame_layout

    im = picture.convert("RGB") if isinstance(picture, Image.Image) else _open(picture)
    w, h = frame_size
    sx, sy = im.width / w, im.height / h
    band = frame_layout(w, h).caption
    draw = ImageDraw.Draw(im)
    draw.rectangle([band.x * sx, band.y * sy, (band.x + band.w) * sx, (band.y + band.h) * sy], fill=(0, 0, 0))
    draw.rectangle([0, im.height * (1 - BAR_SHARE), im.width, im.height], fill=(0, 0, 0))
    return np.asarray(im.resize(SIGNATURE, Image.Resampling.BOX), dtype=np.float32)


def _open(path: Any):
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("RGB")


def difference(a: np.ndarray, b: np.ndarray) -> float:
    """How different two signatures are: 0 for the same picture, up to 255."""
    return float(np.abs(a - b).mean())


def nearest(sig: np.ndarray, others: Iterable[np.ndarray]) -> float:
    """The difference to the most similar of `others` (inf when there are none)."""
    return min((difference(sig, o) for o in others), default=float("inf"))


def pick_distinct(candidates: Sequence[Callable[[], Any]], frame_size: tuple[int, int],
                  chosen: list[np.ndarray]) -> Any:
    """The first candidate picture (each made only when needed; one may give None) that differs
    from every picture `chosen` so far by at least DISTINCT, else the one that differs most.
    Its signature is added to `chosen`. None when no candidate gives a picture."""
    best, best_sig, best_gap = None, None, -1.0
    for make in candidates:
        picture = make()
        if picture is None:
            continue
        sig = signature(picture, frame_size)
        gap = nearest(sig, chosen)
        if gap > best_gap:
            best, best_sig, best_gap = picture, sig, gap
        if gap >= DISTINCT:
            break
    if best_sig is not None:
        chosen.append(best_sig)
    return best
