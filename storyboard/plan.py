"""The compiled plan: what will be sent, in what order, for how much, and how the film plays.

`RenderPlan` is provider-specific and exact. Its canonical JSON (`to_json`) is both the
`storyboard compile` output and the golden-test format, so it must be byte-stable.

Two pieces of plan knowledge live here, once, for every stage that reads a plan:

- the placeholders of request bodies (`<file:cast/a.png>`, `<video:clip>`, `<last-frame:clip>`,
  `<first-frame:clip>`): written by the compiler, walked by the compiler (keys, dependencies),
  the render engine (checked and resolved at submit time) and the page (thumbnails, watched files);
- the film timing model (`film_layout`): where each clip starts and ends on the film, which
  transitions overlap the clips they join, and how long a retimed morph plays. The subtitles,
  the page, the OTIO export and the stitcher all follow it.
"""

from __future__ import annotations

import json
from functools import lru_cache
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

ClipKind = Literal["shot", "scene", "extend", "morph", "continue"]
Mode = Literal["text", "image", "reference"]
TransitionKind = Literal["cut", "dissolve", "fade", "wipe"]

DEFAULT_SECONDS = 5  # a clip (or a request body) that names no length lasts this long

# ---- placeholders ------------------------------------------------------------------------------

# Inputs not known at compile time; the render stage resolves them at submit time.
PLACEHOLDER_RE = re.compile(r"^<(file|video|last-frame|first-frame):(.+)>$")
CLIP_PLACEHOLDERS = ("video", "last-frame", "first-frame")  # the ones naming another clip's output
MEDIA_KINDS = ("image", "video", "audio")


def placeholder(kind: str, value: str) -> str:
    return f"<{kind}:{value}>"


def parse_placeholder(value: Any) -> tuple[str, str] | None:
    """`"<file:cast/a.png>"` -> `("file", "cast/a.png")`; anything else -> None."""
    if isinstance(value, str) and value.startswith("<"):
        return _parse_placeholder_text(value)
    return None


@lru_cache(maxsize=4096)  # a film's requests name the same few files and clips again and again
def _parse_placeholder_text(value: str) -> tuple[str, str] | None:
    m = PLACEHOLDER_RE.match(value)
    return (m.group(1), m.group(2)) if m else None


class FoundPlaceholder(NamedTuple):
    """One placeholder of a request body, as `placeholders_in` finds it."""

    media: str | None  # image | video | audio: what the field it sits in takes (None: cannot tell)
    raw: str  # as written, e.g. "<file:cast/a.png>"
    parsed: tuple[str, str]  # (kind, value), e.g. ("file", "cast/a.png") or ("last-frame", "opening")


def body_strings(value: Any, media: str | None = None, key: str | None = None
                 ) -> list[tuple[str | None, str | None, str]]:
    """Every string of a request body, in order, as (media kind of its field, its key, the string).
    The one walk of request bodies: placeholders and media inputs are both found with it."""
    out: list[tuple[str | None, str | None, str]] = []
    _walk(value, media, key, out)
    return out


def _walk(value: Any, media: str | None, key: str | None, out: list) -> None:
    # A plain recursive walk appending to one list, strings taken in place (most values are
    # strings): nested generators, or a call per string, cost a sixth of a compile.
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str):
                out.append((_field_media(k) or media, k, v))
            elif isinstance(v, (dict, list)):
                _walk(v, _field_media(k) or media, k, out)
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, str):
                out.append((media, key, v))
            elif isinstance(v, (dict, list)):
                _walk(v, media, key, out)
    elif isinstance(value, str):
        out.append((media, key, value))


@lru_cache(maxsize=256)
def _field_media(key: str) -> str | None:
    return next((kind for kind in MEDIA_KINDS if kind in key), None)


def placeholders_in(body: Any) -> list[FoundPlaceholder]:
    """Every placeholder of a request body, in order."""
    return [FoundPlaceholder(media, text, parsed) for media, _, text in body_strings(body)
            if text.startswith("<") and (parsed := parse_placeholder(text))]


def media_inputs(body: dict[str, Any]) -> Iterator[str]:
    """Every string of a body's `media` that names an input (not the `frame` selectors)."""
    return (text for _, key, text in body_strings(body.get("media")) if key != "frame")


def substitute(value: Any, found: dict[str, str]) -> Any:
    """The body with every string that is a key of `found` replaced by its value."""
    if isinstance(value, dict):
        return {k: substitute(v, found) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, found) for v in value]
    if isinstance(value, str) and value in found:
        return found[value]
    return value


_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))  # one, not one per call


def canonical_json(data: Any) -> str:
    return _CANONICAL.encode(data)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Reference(Frozen):
    """A cast member's contribution to a clip (for previews and messages)."""

    name: str
    kind: str  # character | prop | place | frame | motion | music
    files: list[str]  # paths relative to the story's folder, or URLs, or placeholders


class DialogueLine(Frozen):
    speaker: str
    how: str | None = None
    line: str


class PlannedClip(Frozen):
    name: str
    kind: ClipKind
    seconds: int  # the generation's length as requested
    after: list[str] = Field(default_factory=list)  # clips whose outputs this request needs
    request: dict[str, Any]  # the exact request body (with placeholders)
    estimated_cost_usd: float | None
    key: str  # content address of the result (see compiler.clip_key)
    mode: Mode
    source: str  # "path:line:col" of the block that made this clip
    references: list[Reference] = Field(default_factory=list)
    action: str = ""  # the prose as written, mentions shown as @Name
    camera: str | None = None
    sound: str | None = None
    dialogue: list[DialogueLine] = Field(default_factory=list)
    audio: bool = True
    width: int
    height: int


class TimelineEntry(Frozen):
    clip: str | None = None
    transition: TransitionKind | None = None
    seconds: float | None = None  # for a clip: how long it plays, when not its generated length
    direction: Literal["left", "right", "up", "down"] | None = None


class RenderPlan(Frozen):
    title: str
    provider: str
    model: str
    story: str  # path of the story file, as given
    base_dir: str = Field(exclude=True, default=".")  # folder that relative files are resolved in
    clips: list[PlannedClip]
    timeline: list[TimelineEntry]
    estimated_cost_usd: float | None
    warnings: list[str] = Field(default_factory=list)

    def clip(self, name: str) -> PlannedClip:
        for c in self.clips:
            if c.name == name:
                return c
        raise KeyError(name)

    def shared_generations(self) -> list[list[PlannedClip]]:
        """The clips of each key that more than one clip has, in film order: the same request,
        so one generation (one create, one video) serves them all."""
        by_key: dict[str, list[PlannedClip]] = {}
        for c in self.clips:
            by_key.setdefault(c.key, []).append(c)
        return [group for group in by_key.values() if len(group) > 1]

    def to_json(self) -> str:
        data = self.model_dump(mode="json", exclude_none=False)
        for entry in data["timeline"]:
            for k in [k for k, v in entry.items() if v is None]:
                del entry[k]
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, base_dir: str = ".") -> RenderPlan:
        return cls.model_validate({**json.loads(text), "base_dir": base_dir})

    @property
    def total_seconds(self) -> float:
        """The stitched film's length: clips as played minus transition overlaps."""
        layout = film_layout(self)
        return layout[-1].end if layout else 0.0


# ---- the film timing model -----------------------------------------------------------------------
#
# - clips play in timeline order at their planned length (a morph at its transition's length);
# - a dissolve or wipe of d seconds overlaps the two clips by d (both pictures show at once);
# - a fade of d goes out to black and back in: no overlap, each clip gives d/2 of its own frames;
# - a cut joins two clips end to start.

OVERLAPPING = frozenset({"dissolve", "wipe"})


def overlaps(transition: str | None) -> bool:
    """Whether a transition of this kind lays the two clips it joins over each other."""
    return transition in OVERLAPPING


def transition_frames(transition: str | None, seconds: float, fps: int) -> int:
    """A transition's length in frames at `fps`: the overlap of a dissolve or wipe, or each half
    of a fade (out to black, then in); 0 for a cut. Never 0 for a real transition."""
    if overlaps(transition):
        return max(1, round(seconds * fps))
    if transition == "fade":
        return max(1, round(seconds * fps / 2))
    return 0


def overlap_seconds(entry: TimelineEntry | None) -> float:
    """How long the two clips a timeline transition joins play at once."""
    if entry is not None and overlaps(entry.transition):
        return float(entry.seconds or 0.0)
    return 0.0


@dataclass(frozen=True)
class Placement:
    """One clip as it plays in the film."""

    name: str
    kind: str
    start: float  # film time at which its first played frame shows (s)
    seconds: float  # how long it plays in the film (s): a morph plays at its transition length
    planned: int  # its generation's length (s)
    join_in: TimelineEntry | None  # the transition before it (None: a plain cut / first clip)
    join_out: TimelineEntry | None  # the transition after it

    @property
    def end(self) -> float:
        return self.start + self.seconds

    @property
    def overlap_in(self) -> float:
        return overlap_seconds(self.join_in)

    @property
    def overlap_out(self) -> float:
        return overlap_seconds(self.join_out)

    @property
    def retimed(self) -> bool:
        """Whether it plays at another length than it was generated at (a morph)."""
        return abs(self.seconds - self.planned) > 1e-6

    @property
    def clear(self) -> tuple[float, float]:
        """The part of the clip that is mostly this clip: half of each overlap left out."""
        return self.start + self.overlap_in / 2, self.end - self.overlap_out / 2


def _clips_with_joins(plan: RenderPlan) -> list[tuple[TimelineEntry, TimelineEntry | None]]:
    """(clip entry, the transition before it) in timeline order; cuts are plain joins (None)."""
    rows: list[tuple[TimelineEntry, TimelineEntry | None]] = []
    pending: TimelineEntry | None = None
    for e in plan.timeline:
        if e.clip is not None:
            rows.append((e, pending))
            pending = None
        elif e.transition is not None and e.transition != "cut":
            pending = e
    return rows


def film_layout(plan: RenderPlan) -> list[Placement]:
    """Every clip entry of the timeline with its place in the film, in order. The last end is
    `plan.total_seconds`."""
    by_name = {c.name: c for c in plan.clips}
    rows = _clips_with_joins(plan)
    out: list[Placement] = []
    cursor = 0.0
    for i, (entry, before) in enumerate(rows):
        clip = by_name[entry.clip]
        before = before if out else None
        after = rows[i + 1][1] if i + 1 < len(rows) else None
        played = float(entry.seconds) if entry.seconds is not None else float(clip.seconds)
        start = cursor - overlap_seconds(before)
        out.append(Placement(clip.name, clip.kind, start, played, clip.seconds, before, after))
        cursor = start + played
    return out
