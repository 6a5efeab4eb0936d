"""The parsed story: frozen pydantic models, every node carrying the `Span` it came from.

Spans are excluded from dumps, so `model_dump()` of two parses of equivalent text is equal
(that is what the formatter's round-trip test compares).
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, InstanceOf

from ..built import built
from ..diagnostics import Span

NAME_RE = r"[A-Za-z_][A-Za-z0-9_-]*"
# A mention is `@Name` not glued to a preceding word (so e-mail addresses are not mentions).
MENTION_RE = re.compile(r"(?<![\w@])@(" + NAME_RE + r")")

CAST_KINDS = ("character", "prop", "place")
FILM_SETTINGS = ("title", "model", "resolution", "ratio", "size", "audio", "seed", "style", "negative", "template",
                 "host", "score")
FILM_SETTINGS += ("takes",)  # takes: how many generations of every clip (a clip may set its own)
CLIP_SETTINGS = ("camera", "sound", "first", "last", "motion", "music", "audio",
                 "resolution", "ratio", "size", "seed", "model", "negative")
CLIP_SETTINGS += ("takes",)
CAST_FIELDS = ("image", "video", "voice", "description")
CARD_FIELDS = ("text", "subtitle", "image", "credits", "style")  # `credits:` may repeat, the others not
TRANSITIONS = ("cut", "dissolve", "fade", "wipe", "morph", "continue")
WIPE_DIRECTIONS = ("left", "right", "up", "down")


# A span is checked by its type only: pydantic would rebuild a named tuple field by field.
SpanOrNone = InstanceOf[Span] | None


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True, defer_build=True)
    span: SpanOrNone = Field(default=None, exclude=True, repr=False)

    @classmethod
    def built(cls, **values: Any) -> Self:
        """A node of values the parser made itself, already of the fields' types: neither
        validated nor copied (see `storyboard.built`)."""
        return built(cls, values)


class Text(Node):
    """A value as written; `span` points at its first character."""

    value: str


class Setting(Node):
    """`key: value`, at film level or inside a block. `value_span` points at the value."""

    key: str
    value: str
    value_span: SpanOrNone = Field(default=None, exclude=True, repr=False)


class Prose(Node):
    """Action text; consecutive prose lines are joined with one space.

    `pieces` keeps each source line's text and span so mentions can be located exactly.
    """

    text: str
    pieces: tuple[Text, ...] = Field(default=(), exclude=True, repr=False)

    def mentions(self) -> list[Text]:
        """Every `@Name` in this prose, with the span of the name (after the `@`)."""
        if not self.pieces:
            return _mentions(self.text, self.span)
        found = []
        for piece in self.pieces:
            found += _mentions(piece.value, piece.span)
        return found

    def mention_names(self) -> list[str]:
        """The names of `mentions()`, without their places: all the compiler needs of a name the
        cast defines (a node with a span per mention was a tenth of a big film's check). Read
        from `text` in one pass: it is the pieces joined by spaces, and a space neither ends a
        name nor stands before a mention differently from a line's start."""
        return MENTION_RE.findall(self.text)


def _mentions(text: str, span: Span | None) -> list[Text]:
    """Every `@Name` in `text`, a line that starts at `span`."""
    return [Text(value=m.group(1), span=span.at(m.start(1), len(m.group(1))) if span else None)
            for m in MENTION_RE.finditer(text)]


class Dialogue(Node):
    """`@Speaker (how): "line"`; `speaker_span` points at the name."""

    speaker: str
    how: str | None = None
    line: str
    speaker_span: SpanOrNone = Field(default=None, exclude=True, repr=False)

    def mentions(self) -> list[Text]:
        return [Text(value=self.speaker, span=self.speaker_span)] + _mentions(self.line, None)

    def mention_names(self) -> list[str]:
        """The names of `mentions()`, without their places (see `Prose.mention_names`)."""
        return [self.speaker] + MENTION_RE.findall(self.line)


class Beat(Node):
    """`shot [DURATION]: TEXT` inside a scene."""

    seconds: int | float | None = None  # the checker rejects fractions
    text: Prose
    seconds_span: SpanOrNone = Field(default=None, exclude=True, repr=False)


BodyLine = Annotated[Setting | Prose | Dialogue | Beat, Field(union_mode="left_to_right")]


class CastMember(Node):
    kind: Literal["character", "prop", "place"]
    name: str
    fields: tuple[Setting, ...] = ()
    name_span: SpanOrNone = Field(default=None, exclude=True, repr=False)

    def values(self, key: str) -> list[Setting]:
        return [f for f in self.fields if f.key == key]

    @property
    def images(self) -> list[Setting]:
        return self.values("image")

    @cached_property  # every prompt that mentions the member asks
    def description(self) -> str | None:
        found = self.values("description")
        return found[0].value if found else None


class Clip(Node):
    """A `shot`, `scene` or `extend` block. For `extend`, `name` is the target as written.

    Its lines are picked by their exact class (each is one of four), and so are the timeline's
    clips, transitions and cards in the checker and the compiler: no node class is subclassed
    (tests/test_front_half.py holds it), and isinstance against a pydantic class goes through
    ABCMeta and costs several times as much when the answer is no, for every line and item of a
    film, several times over in a check and a compile."""

    kind: Literal["shot", "scene", "extend"]
    name: str
    seconds: int | float | None = None  # None: the default; the checker rejects fractions
    body: tuple[BodyLine, ...] = ()
    name_span: SpanOrNone = Field(default=None, exclude=True, repr=False)
    seconds_span: SpanOrNone = Field(default=None, exclude=True, repr=False)

    def settings(self, key: str) -> list[Setting]:
        return [b for b in self.body if type(b) is Setting and b.key == key]

    def setting(self, key: str) -> Setting | None:
        """The first `key:` of this clip (the checker reports the others)."""
        return self.first_settings.get(key)

    @cached_property  # the checker and the compiler ask each clip for its settings a dozen times
    def first_settings(self) -> dict[str, Setting]:
        """Each key's first setting in this clip (callers must not modify the dict)."""
        first: dict[str, Setting] = {}
        for line in self.body:
            if type(line) is Setting:
                first.setdefault(line.key, line)
        return first

    @property
    def prose(self) -> list[Prose]:
        return [b for b in self.body if type(b) is Prose]

    @property
    def dialogue(self) -> list[Dialogue]:
        return [b for b in self.body if type(b) is Dialogue]

    @property
    def beats(self) -> list[Beat]:
        return [b for b in self.body if type(b) is Beat]


class Transition(Node):
    kind: Literal["cut", "dissolve", "fade", "wipe", "morph", "continue"]
    seconds: float | None = None
    direction: str | None = None  # wipe: left|right|up|down (the checker validates)
    text: str | None = None  # the prompt of a `morph`
    direction_span: SpanOrNone = Field(default=None, exclude=True, repr=False)
    seconds_span: SpanOrNone = Field(default=None, exclude=True, repr=False)
    seconds_text: str | None = Field(default=None, exclude=True, repr=False)  # as written: "0.5s"


class Card(Node):
    """A `card NAME [DURATION]:` block: a title, intertitle or credits rendered on this machine
    (never sent to a provider) and placed on the timeline like a clip."""

    kind: Literal["card"] = "card"  # timeline items all say what they are
    name: str
    seconds: int | float | None = None  # None: the default (4s); fractions allowed
    fields: tuple[Setting, ...] = ()
    name_span: SpanOrNone = Field(default=None, exclude=True, repr=False)
    seconds_span: SpanOrNone = Field(default=None, exclude=True, repr=False)

    def values(self, key: str) -> list[Setting]:
        return [f for f in self.fields if f.key == key]

    def value(self, key: str) -> str | None:
        """The first `key:` line's value (the checker reports the others)."""
        found = self.values(key)
        return found[0].value if found else None


class Include(Node):
    path: str
    path_span: SpanOrNone = Field(default=None, exclude=True, repr=False)


TopItem = Annotated[Setting | Include | CastMember | Clip | Transition | Card, Field(union_mode="left_to_right")]
TimelineItem = Clip | Transition | Card


class Story(Node):
    """One `.story` file as written, in source order (includes are not yet merged)."""

    path: str
    items: tuple[TopItem, ...] = ()

    @property
    def settings(self) -> list[Setting]:
        return [i for i in self.items if isinstance(i, Setting)]

    @property
    def includes(self) -> list[Include]:
        return [i for i in self.items if isinstance(i, Include)]

    @property
    def cast(self) -> list[CastMember]:
        return [i for i in self.items if isinstance(i, CastMember)]

    @property
    def timeline(self) -> list[TimelineItem]:
        return [i for i in self.items if isinstance(i, (Clip, Transition, Card))]

    def setting(self, key: str) -> Setting | None:
        for s in self.settings:
            if s.key == key:
                return s
        return None
