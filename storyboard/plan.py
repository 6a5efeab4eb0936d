"""The compiled plan: what will be sent, in what order, for how much.

`RenderPlan` is provider-specific and exact. Its canonical JSON (`to_json`) is both the
`storyboard compile` output and the golden-test format, so it must be byte-stable.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ClipKind = Literal["shot", "scene", "extend", "morph", "continue"]
Mode = Literal["text", "image", "reference"]

# Inputs not known at compile time; the render stage resolves them at submit time.
PLACEHOLDER_RE = re.compile(r"^<(file|video|last-frame|first-frame):(.+)>$")


def placeholder(kind: str, value: str) -> str:
    return f"<{kind}:{value}>"


def parse_placeholder(value: Any) -> tuple[str, str] | None:
    """`"<file:cast/a.png>"` -> `("file", "cast/a.png")`; anything else -> None."""
    if isinstance(value, str):
        m = PLACEHOLDER_RE.match(value)
        if m:
            return m.group(1), m.group(2)
    return None


_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))  # one, not one per call


def canonical_json(data: Any) -> str:
    return _CANONICAL.encode(data)


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    transition: Literal["cut", "dissolve", "fade", "wipe"] | None = None
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
        by_name = {c.name: c for c in self.clips}
        total = 0.0
        for e in self.timeline:
            if e.clip:
                total += e.seconds if e.seconds is not None else by_name[e.clip].seconds
            elif e.transition in ("dissolve", "wipe"):
                total -= e.seconds or 0.0
        return total
