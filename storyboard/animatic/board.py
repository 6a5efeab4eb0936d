"""What an animatic shows, panel by panel: the typed storyboard of one clip.

A `Board` is built from the plan's `PlannedClip` (its beats with the times the prompt states,
the cast each beat mentions, the clip's references and camera) and the resolved request body
(where each reference image really is), never by reading the prompt text back. A shot is one
panel; a scene has one panel per beat, cut to at the beat's start. A beat that mentions nobody
shows the clip's place, or without one the clip's whole cast, rather than a bare title card.

Camera words are read from the writer's own text (the `camera:` setting, the beat, the action):
a move is made only where the words are clear (`push in`, `pull back`, `pan left`, `tilt up`,
`crane down`, `static` ...); anything else holds still.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..plan import parse_placeholder
from ..providers.seedance import media_lists

CAST_KINDS = ("character", "prop", "place")
MAX_FIGURES = 6  # more than this in one panel would be too small to recognise

# Clear camera words -> the move they name. The earliest one in the text wins.
_MOVES: tuple[tuple[str, str], ...] = (
    ("push_in", r"push(?:es|ed|ing)? in|dolly(?:ing)? in|zoom(?:s|ing)? in|track(?:s|ing)? in"
                r"|moves? in(?:to|wards?)?\b"),
    ("pull_back", r"pull(?:s|ed|ing)? (?:back|out|away)|dolly(?:ing)? (?:out|back)|zoom(?:s|ing)? out"
                  r"|track(?:s|ing)? out"),
    ("pan_left", r"pan(?:s|ned|ning)? (?:to the )?left"),
    ("pan_right", r"pan(?:s|ned|ning)? (?:to the )?right"),
    ("tilt_up", r"tilt(?:s|ed|ing)? up"),
    ("tilt_down", r"tilt(?:s|ed|ing)? down"),
    ("crane_up", r"(?:crane|boom|jib)(?:s|ed|ing)? up"),
    ("crane_down", r"(?:crane|boom|jib)(?:s|ed|ing)? down"),
    ("static", r"static|locked[- ]off|locked down|fixed camera|still camera|holds? still"),
)
_MOVE_RE = re.compile("|".join(f"(?P<{name}>\\b(?:{words}))" for name, words in _MOVES), re.IGNORECASE)
_SLOW_RE = re.compile(r"\b(slow(ly)?|gentl[ey]|subtle|gradual(ly)?)\b", re.IGNORECASE)
_FAST_RE = re.compile(r"\b(fast|quick(ly)?|rapid(ly)?|whip|sudden(ly)?|crash)\b", re.IGNORECASE)
_CLOSE_RE = re.compile(r"\b(extreme )?close[- ]?ups?\b|\bECU\b|\bmacro\b", re.IGNORECASE)


def stable_hash(text: str) -> int:
    """A number from text, the same in every process (framing, motion and grade follow it)."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


@dataclass(frozen=True)
class Move:
    """A camera move over one panel: `kind` is one of the `_MOVES` names; `speed` scales it."""

    kind: str
    speed: float = 1.0


def camera_move(*texts: str | None) -> Move | None:
    """The move the first text with clear camera words names (None: hold still)."""
    for text in texts:
        if not text:
            continue
        m = _MOVE_RE.search(text)
        if m:
            speed = 0.6 if _SLOW_RE.search(text) else 1.6 if _FAST_RE.search(text) else 1.0
            return Move(m.lastgroup or "static", speed)
    return None


def is_close_up(*texts: str | None) -> bool:
    return any(t and _CLOSE_RE.search(t) for t in texts)


@dataclass(frozen=True)
class Figure:
    """A cast member standing in a panel: its main reference image (a resolved input value)."""

    name: str
    kind: str  # character | prop | place
    image: str


@dataclass(frozen=True)
class Panel:
    index: int  # 1-based
    start: float  # seconds from the clip's start
    end: float
    label: str  # "shot 2/3 · 4-8s"
    text: str  # what we see, as written (mentions as @Name)
    figures: tuple[Figure, ...] = ()  # characters and props in front, in mention order
    background: str | None = None  # a place's image (resolved), else None
    move: Move | None = None
    close_up: bool = False


@dataclass(frozen=True)
class Board:
    """One clip's animatic: its panels in order (they tile [0, seconds]), its camera text and
    its dialogue lines (speaker, line) in order."""

    name: str | None
    seconds: int
    panels: tuple[Panel, ...]
    camera: str | None = None
    dialogue: tuple[tuple[str, str], ...] = ()
    opening: str | None = None  # the frame a `continue` opens on (resolved), when it came as a reference
    figures_by_name: dict[str, Figure] = field(default_factory=dict, compare=False)


def _seconds_label(a: float, b: float) -> str:
    def fmt(x: float) -> str:
        return str(int(x)) if float(x).is_integer() else f"{x:.1f}"
    return f"{fmt(a)}-{fmt(b)}s"


def resolved_inputs(request: dict[str, Any], body: dict[str, Any]) -> dict[str, str]:
    """Each reference image of the plan's request (a placeholder's value, as the plan's
    `Reference.files` name it: `cast/a.png`, or a URL) -> the same input in the resolved body."""
    raw, done = media_lists(request)["reference_images"], media_lists(body)["reference_images"]
    out: dict[str, str] = {}
    if len(raw) != len(done):
        return out
    for r, d in zip(raw, done, strict=True):
        if isinstance(r, str) and isinstance(d, str):
            ph = parse_placeholder(r)
            out.setdefault(ph[1] if ph and ph[0] == "file" else r, d)
    return out


def _figures(clip: Any, body: dict[str, Any]) -> dict[str, Figure]:
    """Every cast member of the clip with an image among the request's reference images."""
    found = resolved_inputs(clip.request, body)
    out: dict[str, Figure] = {}
    for ref in clip.references:
        if ref.kind not in CAST_KINDS:
            continue
        image = next((found[f] for f in ref.files if f in found), None)
        if image is not None:
            out[ref.name] = Figure(ref.name, ref.kind, image)
    return out


def _panel(index: int, start: float, end: float, total: int, text: str, cast: Sequence[str],
           figures: dict[str, Figure], scene_place: str | None, move: Move | None) -> Panel:
    present = [figures[n] for n in dict.fromkeys(cast) if n in figures]
    if not present and scene_place is None:  # a beat that names nobody shows the clip's cast
        present = list(figures.values())
    place = next((f.image for f in present if f.kind == "place"), scene_place)
    standing = tuple(f for f in present if f.kind != "place")[:MAX_FIGURES]
    label = f"shot {index}/{total} · {_seconds_label(start, end)}" if total > 1 else _seconds_label(start, end)
    return Panel(index, start, end, label, text, standing, place, move, is_close_up(text))


def board_from_clip(clip: Any, body: dict[str, Any], seconds: int) -> Board:
    """The board of a `plan.PlannedClip` rendered from `body` (its request, resolved)."""
    figures = _figures(clip, body)
    places = [f.image for f in figures.values() if f.kind == "place"]
    scene_place = places[0] if places else None
    if clip.beats:
        n = len(clip.beats)
        # A beat's own words name its shot; the scene's `camera:` covers the beats that say nothing.
        panels = tuple(_panel(b.index, b.start, b.end, n, b.text, b.cast, figures, scene_place,
                              camera_move(b.text, clip.camera)) for b in clip.beats)
    else:
        cast = [r.name for r in clip.references if r.kind in CAST_KINDS]
        one = _panel(1, 0.0, float(seconds), 1, clip.action, cast, figures, scene_place,
                     camera_move(clip.camera, clip.action))  # a shot's `camera:` says it first
        panels = (replace(one, close_up=one.close_up or is_close_up(clip.camera)),)
    dialogue = tuple((d.speaker, d.line) for d in clip.dialogue)
    return Board(clip.name, seconds, panels, clip.camera, dialogue, _opening(clip, body), figures)


def _opening(clip: Any, body: dict[str, Any]) -> str | None:
    """The previous clip's last frame when a `continue` sends it as a reference image."""
    found = resolved_inputs(clip.request, body)
    for ref in clip.references:
        if ref.kind == "clip":
            frame = next((found[f] for f in ref.files if f in found and f.startswith("<last-frame:")), None)
            if frame is not None:
                return frame
    return None


def board_from_captions(captions: Any, seconds: int) -> Board:
    """A one-panel board from plain captions (a caller without a plan): no cast to compose."""
    panel = Panel(1, 0.0, float(seconds), _seconds_label(0, seconds), captions.action,
                  move=camera_move(captions.camera, captions.action))
    return Board(captions.name, seconds, (panel,), captions.camera, tuple(captions.dialogue))
