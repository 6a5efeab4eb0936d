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

from .built import built

ClipKind = Literal["shot", "scene", "extend", "morph", "continue", "card"]
Mode = Literal["text", "image", "reference", "card"]  # card: rendered on this machine, no request
TransitionKind = Literal["cut", "dissolve", "fade", "wipe"]
Tier = Literal["final", "draft"]

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


def body_strings(value: Any, media: str | None = None, key: str | None = None, opening: str = ""
                 ) -> list[tuple[str | None, str | None, str]]:
    """Every string of a request body, in order, as (media kind of its field, its key, the string);
    with `opening`, only the strings that start with it. The one walk of request bodies:
    placeholders and media inputs are both found with it."""
    out: list[tuple[str | None, str | None, str]] = []
    _walk(value, media, key, out, opening)
    return out


def _walk(value: Any, media: str | None, key: str | None, out: list, opening: str) -> None:
    # A plain recursive walk appending to one list, strings taken in place (most values are
    # strings): nested generators, or a call per string, cost a sixth of a compile. Strings are
    # sifted by their opening here: a placeholder search keeps a few strings of a dozen.
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str):
                if v.startswith(opening):
                    out.append((_field_media(k) or media, k, v))
            elif isinstance(v, (dict, list)):
                _walk(v, _field_media(k) or media, k, out, opening)
    elif isinstance(value, list):
        for v in value:
            if isinstance(v, str):
                if v.startswith(opening):
                    out.append((media, key, v))
            elif isinstance(v, (dict, list)):
                _walk(v, media, key, out, opening)
    elif isinstance(value, str) and value.startswith(opening):
        out.append((media, key, value))


@lru_cache(maxsize=256)
def _field_media(key: str) -> str | None:
    return next((kind for kind in MEDIA_KINDS if kind in key), None)


def placeholders_in(body: Any) -> list[FoundPlaceholder]:
    """Every placeholder of a request body, in order."""
    return [found for media, _, text in body_strings(body, opening="<")
            if (found := _found_placeholder(media, text)) is not None]


@lru_cache(maxsize=4096)  # a film's requests name the same few files and clips again and again
def _found_placeholder(media: str | None, text: str) -> FoundPlaceholder | None:
    parsed = parse_placeholder(text)
    return FoundPlaceholder(media, text, parsed) if parsed else None


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


# One encoder, not one per call. Its text is what cache keys hash: it must never change. It is
# only given the compiler's own trees (no cycles), so it keeps no record of the containers it is
# inside (`check_circular`), a tenth of each key's encoding.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), check_circular=False)


def canonical_json(data: Any) -> str:
    return _CANONICAL.encode(data)


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Reference(Frozen):
    """A cast member's contribution to a clip (for previews and messages)."""

    name: str
    kind: str  # character | prop | place | frame | motion | music
    files: list[str]  # paths relative to the story's folder, or URLs, or placeholders


class DialogueLine(Frozen):
    speaker: str
    how: str | None = None
    line: str


class PlannedBeat(Frozen):
    """One beat of a scene as the prompt times it ("Shot 2 (4-8s)"): for the animatic's panels."""

    index: int  # 1-based, as the prompt numbers it
    start: float  # seconds from the clip's start
    end: float
    text: str  # as written, mentions shown as @Name
    cast: list[str] = Field(default_factory=list)  # cast members it mentions, in order of first mention
class CardSpec(Frozen):
    """What a title card shows (a `card` block). Rendered on this machine (storyboard.cards),
    never sent to a provider: its clip has no request and costs nothing."""

    text: str | None = None
    subtitle: str | None = None
    image: str | None = None  # the background picture, relative to the story's folder
    credits: list[str] = Field(default_factory=list)  # lines that scroll up, in order
    color: str = "#ffffff"  # the text's colour
    background: str = "#000000"
    font: Literal["serif", "sans"] = "sans"
    bold: bool = False
    fade: float = 0.0  # seconds of fade in from, and out to, the background (0: none)


class ScoreSpec(Frozen):
    """Music laid under the film or a span of its clips (a `score:` setting), mixed by the
    stitcher under the clips' own sound. Unlike a shot's `music:`, it is never sent anywhere."""

    file: str  # relative to the story's folder
    sha256: str  # the file's content: a new score makes a new film
    first: str  # the timeline clip it starts with (at that clip's start)
    last: str  # the timeline clip it ends with (at that clip's end)
    fade_in: float = 1.0  # seconds
    fade_out: float = 2.0  # seconds, before the span's end (or the music's own end, played once)
    volume_db: float = 0.0
    duck_db: float = -12.0  # how far clip sound lowers it (0: never)
    attack: float = 0.15  # seconds the ducking takes to go down
    release: float = 0.6  # seconds it takes to come back up
    loop: bool = True  # shorter than its span: play again (else silence after it ends)


class PlannedClip(Frozen):
    name: str
    kind: ClipKind
    seconds: int | float  # the generation's length as requested (a card's may be fractional)
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
    # ---- takes (see "Takes" below): every field at its default for a clip of one take ----
    take: int = 1  # which take of its clip this generation is
    takes: int = 1  # how many takes its clip has
    take_of: str | None = None  # the clip (timeline name) of a take the film does not play; None: the played one
    seed: int | None = None  # the seed its request carries (none: take 1 of a seedless film, the provider's)
    tier: Tier = "final"
    pinned: bool = False  # a picked take from an older version of its clip: never generated, kept from the cache
    beats: list[PlannedBeat] = Field(default_factory=list)  # a scene's beats (empty for other clips)
    card: CardSpec | None = None  # a title card (kind "card"): drawn here, no request


def built_clip(**values: Any) -> PlannedClip:
    """A PlannedClip from values the compiler made itself, neither validated nor copied (see
    `storyboard.built`): validating deep-copied every request body."""
    return built(PlannedClip, values)


def is_card(clip: PlannedClip) -> bool:
    """A card is made on this machine: the render engine never sends it to a provider."""
    return clip.kind == "card"


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
    tier: Tier = "final"
    scores: list[ScoreSpec] = Field(default_factory=list)  # music under the film (stitcher)

    def generated(self) -> RenderPlan:
        """The plan without its cards: the clips a provider makes (what the render engine sees)."""
        if not any(is_card(c) for c in self.clips):
            return self
        return self.model_copy(update={"clips": [c for c in self.clips if not is_card(c)]})

    @property
    def cards(self) -> list[PlannedClip]:
        return [c for c in self.clips if is_card(c)]

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
        _drop_take_defaults(data)
        for entry in data["timeline"]:
            for k in [k for k, v in entry.items() if v is None]:
                del entry[k]
        _drop_unused_extras(data)
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, base_dir: str = ".") -> RenderPlan:
        return cls.model_validate({**json.loads(text), "base_dir": base_dir})

    @property
    def total_seconds(self) -> float:
        """The stitched film's length: clips as played minus transition overlaps."""
        layout = film_layout(self)
        return layout[-1].end if layout else 0.0


# ---- takes ---------------------------------------------------------------------------------------
#
# A clip of N takes is N generations in `plan.clips`: the played one carries the clip's own name
# (the timeline's, which `after`, `<video:clip>` and the film name), the others `<clip>#<k>` with
# `take_of` set. The played take is the picked one (take 1 when none is picked), so everything
# that follows a clip's output (the film, the page, extensions, morphs, continues) follows the
# pick, and a dependant's key is made from the picked take's key.

TAKE_SEPARATOR = "#"
MAX_TAKES = 8
_TAKE_DEFAULTS = {"take": 1, "takes": 1, "take_of": None, "tier": "final", "pinned": False}


def take_name(clip: str, take: int) -> str:
    """The plan name of a take the film does not play."""
    return f"{clip}{TAKE_SEPARATOR}{take}"


def clip_of(planned: PlannedClip) -> str:
    """The clip (timeline name) a generation is a take of."""
    return planned.take_of or planned.name


def takes_of(plan: RenderPlan, clip: str) -> list[PlannedClip]:
    """Every take of a clip, by take number (the played one among them)."""
    return sorted((c for c in plan.clips if clip_of(c) == clip), key=lambda c: c.take)


def played_clips(plan: RenderPlan) -> list[PlannedClip]:
    """The generation the film plays for each clip (its picked take, else take 1)."""
    return [c for c in plan.clips if c.take_of is None]


@dataclass(frozen=True)
class PickedTake:
    """A pick as the compiler needs it (storyboard.picks reads and writes the picks file)."""

    take: int
    key: str  # the request key of the picked file
    tier: Tier = "final"
    seed: int | None = None
    seconds: float | None = None  # the picked file's length (a pinned take keeps it)
    job_id: str | None = None


@dataclass(frozen=True)
class Selection:
    """What the writer chose beyond the story: the tier, takes added from the command line,
    the picks, and picks released for this compile (`render --repick`)."""

    tier: Tier = "final"
    extra_takes: tuple[tuple[str, int], ...] = ()  # (clip, at least this many takes); "*": every clip
    picks: tuple[tuple[str, PickedTake], ...] = ()
    released: frozenset[str] = frozenset()

    # The compiler asks both of every clip; most compiles have neither extra takes nor picks, and
    # the empty case answers without building a generator.
    def takes_wanted(self, clip: str) -> int:
        if not self.extra_takes:
            return 0
        return max((n for name, n in self.extra_takes if name in (clip, "*")), default=0)

    def pick(self, clip: str) -> PickedTake | None:
        if not self.picks or clip in self.released:
            return None
        return next((p for name, p in self.picks if name == clip), None)


def _drop_take_defaults(data: dict) -> None:
    """A story without takes compiles to the JSON it did before takes existed (so do its keys)."""
    if data.get("tier") == "final":
        del data["tier"]
    for clip in data["clips"]:
        plain = clip["takes"] == 1 and clip["tier"] == "final"
        for k, default in _TAKE_DEFAULTS.items():
            if clip.get(k) == default:
                del clip[k]
        if plain:
            del clip["seed"]
def _drop_unused_extras(data: dict) -> None:
    """A plan without cards or a score is written as before they existed (stable goldens)."""
    for clip in data["clips"]:
        if clip.get("card") is None:
            clip.pop("card", None)
    if not data.get("scores"):
        data.pop("scores", None)


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


def film_overlaps(plan: RenderPlan, name: str) -> tuple[float, float]:
    """The seconds clip `name` overlaps the clips before and after it in the film (dissolves,
    wipes), from the timeline alone: it holds for a plan without its cards (`generated`, what
    the render engine sees) as for the whole plan. (0, 0) for a clip not on the timeline."""
    rows = _clips_with_joins(plan)
    for i, (entry, before) in enumerate(rows):
        if entry.clip == name:
            after = rows[i + 1][1] if i + 1 < len(rows) else None
            return (overlap_seconds(before) if i else 0.0), overlap_seconds(after)
    return 0.0, 0.0


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
