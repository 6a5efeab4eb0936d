"""The animatic's caption band: one caption at a time, at the top of the title-safe area
(`media.text.frame_layout`, the layout burned-in subtitles share: they sit at its bottom, so the
two never collide at any aspect ratio).

Each beat has its caption (the clip's name, the beat's number and times, what we see, the
camera), and while a line of dialogue is spoken (`speech.schedule`) the band shows it too, in a
row kept for it. The caption is hidden where the clip overlaps a neighbour in a dissolve or a
wipe (up to the middle of the overlap, where the picture is half one clip, half the other) and
fades in and out there, so two clips' captions never show at once; it also stays off the very
first and last frames, which `continue` and `morph` hand to the next clip.

`caption_track` is the renderer's layout data: which caption shows in which frames, and where.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image, ImageDraw

from ..media.text import Box, FrameLayout, font, line_height, wrap
from ..speech import Spoken
from .board import Board, Panel

FADE_S = 0.2  # the caption's fade where it meets a transition
BAND_ALPHA = 160
HEADING = (255, 214, 102)
ACTION = (235, 235, 235)
CAMERA = (170, 210, 255)
SPOKEN = (255, 255, 255)


@dataclass(frozen=True)
class Segment:
    """Frames [first, end) show one caption (`panel` 0: none) with `spoken` (a line index or None)."""

    first: int
    end: int
    panel: int
    spoken: int | None


@dataclass(frozen=True)
class CaptionTrack:
    band: Box  # where the band is drawn (every segment's picture has this size)
    segments: tuple[Segment, ...]
    fade_in: tuple[int, int]  # frames over which the caption fades in, and out
    fade_out: tuple[int, int]

    def panel_at(self, frame: int) -> int:
        """The panel whose caption shows in `frame` (0: no caption)."""
        return next((s.panel for s in self.segments if s.first <= frame < s.end), 0)


def _rows_budget(layout: FrameLayout) -> int:
    return max(1, (layout.caption.h - 2 * layout.caption_pad) // line_height(layout.caption_size))


def _panel_rows(board: Board, panel: Panel, layout: FrameLayout, title: str | None) -> list[tuple[str, bool, tuple]]:
    """The rows of a panel's caption (without the spoken row), cut to what the band can hold."""
    size, width = layout.caption_size, layout.caption.w - 2 * layout.caption_pad
    budget = _rows_budget(layout) - (min(2, _rows_budget(layout) - 1) if board.dialogue else 0)
    name = title or board.name
    heading = f"{name}  ·  {panel.label}" if name else panel.label
    rows: list[tuple[str, bool, tuple]] = [(heading, True, HEADING)]
    camera = [(f"camera: {board.camera}", False, CAMERA)] if board.camera and budget >= 3 else []
    room = max(0, min(3, budget - 1 - len(camera)))
    if panel.text.strip() and room:
        rows += [(t, False, ACTION) for t in wrap(panel.text, font(panel.text, size), width, room)]
    rows += camera
    return [(wrap(t, font(t, size, bold=b), width, 1)[0], b, c) for t, b, c in rows if t.strip()][:max(1, budget)]


def spoken_rows(line: Spoken, layout: FrameLayout, room: int) -> list[str]:
    size, width = layout.caption_size, layout.caption.w - 2 * layout.caption_pad
    text = f"{line.speaker}: “{line.line}”" if line.speaker else line.line
    return wrap(text, font(text, size), width, room)


def band_height(board: Board, layout: FrameLayout, title: str | None) -> int:
    """One height for every caption of the clip (the band does not jump between beats)."""
    rows = max(len(_panel_rows(board, p, layout, title)) for p in board.panels)
    if board.dialogue:
        rows += min(2, _rows_budget(layout) - 1)
    h = min(layout.caption.h, 2 * layout.caption_pad + line_height(layout.caption_size) * rows)
    return h + h % 2  # on the 4:2:0 chroma grid


def draw_band(board: Board, panel: Panel | None, spoken: Spoken | None, layout: FrameLayout, height: int,
              title: str | None) -> Image.Image:
    """One caption as an RGBA picture the size of the band (fully transparent when `panel` is None)."""
    band = layout.caption
    im = Image.new("RGBA", (band.w, height), (0, 0, 0, 0))
    if panel is None:
        return im
    draw = ImageDraw.Draw(im)
    draw.rectangle([0, 0, band.w - 1, height - 1], fill=(0, 0, 0, BAND_ALPHA))
    size, pad, lh = layout.caption_size, layout.caption_pad, line_height(layout.caption_size)
    y = pad
    for text, bold, colour in _panel_rows(board, panel, layout, title):
        draw.text((pad, y), text, font=font(text, size, bold=bold), fill=colour + (255,))
        y += lh
    if spoken is not None:
        room = max(1, (height - pad - y) // lh)
        for text in spoken_rows(spoken, layout, room):
            draw.text((pad, y), text, font=font(text, size, bold=True), fill=SPOKEN + (255,))
            y += lh
    return im


def caption_track(board: Board, lines: list[Spoken], frames: int, fps: int, edges: tuple[float, float],
                  layout: FrameLayout, height: int) -> CaptionTrack:
    """Which caption shows in which frames: cut at every beat and every spoken line, nothing
    outside the clip's clear part (half of each overlap left out, never the first or last frame)."""
    def frame(t: float) -> int:
        return max(0, min(frames, round(t * fps)))

    clear_a = max(1, frame(edges[0] / 2))
    clear_b = min(frames - 1, frames - frame(edges[1] / 2))
    cuts = {0, frames, clear_a, clear_b}
    cuts |= {frame(p.start) for p in board.panels} | {frame(s.start) for s in lines} | {frame(s.end) for s in lines}
    points = sorted(c for c in cuts if 0 <= c <= frames)
    segments: list[Segment] = []
    for a, b in zip(points, points[1:], strict=False):
        if b <= a:
            continue
        shown = clear_a <= a < clear_b
        panel = next((p.index for p in reversed(board.panels) if frame(p.start) <= a), 1) if shown else 0
        spoken = next((s.index for s in lines if frame(s.start) <= a < frame(s.end)), None) if shown else None
        if segments and (segments[-1].panel, segments[-1].spoken) == (panel, spoken):
            segments[-1] = Segment(segments[-1].first, b, panel, spoken)
        else:
            segments.append(Segment(a, b, panel, spoken))
    fade = round(FADE_S * fps)
    fade_in = (clear_a, fade if edges[0] > 0 else 0)
    fade_out = (clear_b - (fade if edges[1] > 0 else 0), fade if edges[1] > 0 else 0)
    band = Box(layout.caption.x, layout.caption.y, layout.caption.w, height)
    return CaptionTrack(band, tuple(segments), fade_in, fade_out)
