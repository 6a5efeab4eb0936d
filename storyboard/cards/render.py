"""A card as an MP4, drawn with moviepy (ImageClip/TextClip/CompositeVideoClip) at the film's
size and frame rate, in the stitcher's H.264 settings, with a silent AAC track so every join
stays in sync; kept in `.storyboard/cards/<key>.mp4`, where the key is the card's content."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path

import numpy as np

from .. import paths
from ..plan import CardSpec, PlannedClip, RenderPlan
from ..stitch.base import FPS, RATE, Encoder
from .layout import Layout, layout

CARDS_DIR = "cards"
OUTLINE = 2  # px of outline around text drawn over a picture, in the background colour


class CardError(Exception):
    """A card could not be drawn (its picture unreadable, the disk full)."""


def card_path(state_dir: Path, clip: PlannedClip) -> Path:
    return Path(state_dir) / CARDS_DIR / f"{clip.key}.mp4"


def cached_cards(plan: RenderPlan, state_dir: Path) -> dict[str, Path]:
    """The plan's cards already drawn."""
    return {c.name: card_path(state_dir, c) for c in plan.cards if card_path(state_dir, c).is_file()}


def render_cards(plan: RenderPlan, state_dir: Path, log: Callable[[str], None] = lambda m: None,
                 only: Collection[str] | None = None) -> dict[str, Path]:
    """Every card of the plan (or `only` those named) as a file, drawn now if it is not in the
    cache, in film order. Free and local: no provider, no journal. Raises CardError (or OSError)
    at the first card it cannot draw."""
    out = {}
    for clip in plan.cards:
        if only is not None and clip.name not in only:
            continue
        target = card_path(state_dir, clip)
        if not target.is_file():
            draw_card(clip, Path(plan.base_dir), target)
            log(f"drew card {clip.name} on this machine ({float(clip.seconds):g} s, free)")
        out[clip.name] = target
    return out


def draw_card(clip: PlannedClip, base_dir: Path, target: Path) -> None:
    """Draw the card into `target` (written beside it, then renamed: never half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{clip.key[:16]}.", suffix=".tmp.mp4", dir=target.parent)
    os.close(fd)
    try:
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            _write(clip, base_dir, Path(tmp), Path(scratch))
        os.replace(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


def card_layout(clip: PlannedClip) -> Layout:
    spec = clip.card
    return layout(text=spec.text, subtitle=spec.subtitle, credits=spec.credits, seconds=float(clip.seconds),
                  width=clip.width, height=clip.height, font=spec.font, bold=spec.bold)


def _write(clip: PlannedClip, base_dir: Path, out: Path, scratch: Path) -> None:
    from moviepy import AudioClip, ColorClip, CompositeVideoClip, vfx

    spec: CardSpec = clip.card
    seconds, size = float(clip.seconds), (clip.width, clip.height)
    laid = card_layout(clip)
    layers = [ColorClip(size, color=_rgb(spec.background), duration=seconds)]
    if spec.image:
        layers.append(_picture(spec.image, base_dir, size, seconds))
    if laid.rows:
        layers.append(_text_block(laid, spec, seconds))
    film = CompositeVideoClip(layers, size=size, bg_color=_rgb(spec.background)).with_duration(seconds)
    if spec.fade > 0:
        film = film.with_effects([vfx.FadeIn(spec.fade, initial_color=list(_rgb(spec.background))),
                                  vfx.FadeOut(spec.fade, final_color=list(_rgb(spec.background)))])
    silence = AudioClip(lambda t: np.zeros((len(t), 2)) if np.ndim(t) else np.zeros(2), duration=seconds, fps=RATE)
    film = film.with_audio(silence)
    try:
        film.write_videofile(str(out), fps=FPS, codec="libx264", audio_codec="aac", audio_fps=RATE,
                             audio_bitrate="128k", preset="veryfast", ffmpeg_params=Encoder().moviepy_params(),
                             temp_audiofile_path=str(scratch), logger=None)
    except (OSError, ValueError) as exc:
        raise CardError(f"card {clip.name}: cannot write {out.name}: {exc}") from exc
    finally:
        film.close()


def _picture(written: str, base_dir: Path, size: tuple[int, int], seconds: float):
    """The card's picture, scaled to cover the card and cropped to it, centred."""
    from moviepy import ImageClip

    found = paths.resolve(base_dir, written)  # the one rule: the checker approved this file
    if not found.ok:
        raise CardError(f"the card picture `{paths.shown(written)}` {found.reason_in(base_dir)}")
    try:
        image = ImageClip(str(found.path)).with_duration(seconds)
    except (OSError, ValueError) as exc:
        raise CardError(f"cannot read the card picture {written}: {exc}") from exc
    w, h = size
    scale = max(w / image.w, h / image.h)
    image = image.resized((max(w, round(image.w * scale)), max(h, round(image.h * scale))))
    return image.cropped(x_center=image.w / 2, y_center=image.h / 2, width=w, height=h).with_position((0, 0))


def _text_block(laid: Layout, spec: CardSpec, seconds: float):
    """The text as one picture with its transparency (drawn once), still and centred, or
    scrolling from below the card to above it."""
    from moviepy import CompositeVideoClip, ImageClip, TextClip

    box = max(1, round(laid.width * 0.9))
    outline = {"stroke_color": spec.background, "stroke_width": OUTLINE} if spec.image else {}
    rows = [TextClip(font=row.font, text=row.text, font_size=row.size, color=spec.color, size=(box, row.height),
                     method="label", text_align="center", horizontal_align="center", vertical_align="center",
                     duration=1, **outline).with_position((0, row.y)) for row in laid.rows]
    block = CompositeVideoClip(rows, size=(box, max(1, laid.block)))
    picture, mask = block.get_frame(0), block.mask.get_frame(0)
    block.close()
    text = ImageClip(picture).with_mask(ImageClip(mask, is_mask=True)).with_duration(seconds)
    x = (laid.width - box) // 2
    return text.with_position(lambda t: (x, round(laid.top(t, seconds))))
