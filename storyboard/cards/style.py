"""`style:` of a card: a comma-separated list from a small vocabulary, e.g.
`white on black, serif, fade 1s`. Pure: the checker reports the problems, the compiler takes the
settings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Part of every card's cache key: bump it when the same card would be drawn differently.
CARD_VERSION = "1"
DEFAULT_SECONDS = 4  # a card that names no length
SECONDS_RANGE = (1.0, 30.0)

COLOURS = {
    "black": "#000000", "white": "#ffffff", "grey": "#808080", "gray": "#808080", "silver": "#c0c0c0",
    "cream": "#f3ead2", "ivory": "#fffff0", "gold": "#d4af37", "yellow": "#f2d13c", "orange": "#e07b24",
    "red": "#b22222", "crimson": "#8b0a1a", "sepia": "#704214", "brown": "#5a3a1a", "green": "#2e6b3a",
    "blue": "#2f5fb3", "navy": "#141e46",
}
FONTS = ("serif", "sans")
FONT_WORDS = {"serif": "serif", "sans": "sans", "sans-serif": "sans"}
FLAGS = ("bold",)
DEFAULT_FADE = 0.5  # seconds, for a bare `fade`
VOCABULARY = tuple(COLOURS) + tuple(FONT_WORDS) + FLAGS + ("on", "fade")
_DURATION_RE = re.compile(r"[0-9]+(\.[0-9]+)?s")


@dataclass(frozen=True)
class StyleProblem:
    """A word of the style the card cannot take: `kind` is unknown | twice | fade | shape."""

    kind: str
    word: str
    offset: int  # where the word starts in the value
    what: str = ""  # for `twice`: which setting (text colour, background, font)


@dataclass
class CardStyle:
    color: str = COLOURS["white"]
    background: str = COLOURS["black"]
    font: str = "sans"
    bold: bool = False
    fade: float = 0.0
    problems: list[StyleProblem] = field(default_factory=list)
    _set: set[str] = field(default_factory=set)

    @property
    def given(self) -> frozenset[str]:
        """What the words set: text colour, background, font, bold, fade."""
        return frozenset(self._set)

    def _put(self, what: str, value, word: str, offset: int) -> None:
        if what in self._set:
            self.problems.append(StyleProblem("twice", word, offset, what))
            return
        self._set.add(what)
        setattr(self, {"text colour": "color", "background": "background", "font": "font",
                       "fade": "fade", "bold": "bold"}[what], value)


def _words(part: str, at: int) -> list[tuple[str, int]]:
    return [(m.group(0), at + m.start()) for m in re.finditer(r"\S+", part)]


def parse_style(value: str) -> CardStyle:
    """The style the words ask for, with a problem for each word that is not in the vocabulary."""
    style = CardStyle()
    at = 0
    for part in value.split(","):
        words = _words(part, at)
        at += len(part) + 1
        if words:
            _item(style, [(w.lower(), o) for w, o in words])
    return style


def _item(style: CardStyle, words: list[tuple[str, int]]) -> None:
    """One comma-separated item: `COLOUR on COLOUR`, `on COLOUR`, `COLOUR`, a font, `bold`,
    `fade [DURATION]`."""
    first, offset = words[0]
    if first == "fade":
        _fade(style, words)
    elif first in FONT_WORDS or first in FLAGS:
        what = "font" if first in FONT_WORDS else "bold"
        style._put(what, FONT_WORDS.get(first, True), first, offset)
        _extra(style, words[1:])
    else:
        _colours(style, words)


def _fade(style: CardStyle, words: list[tuple[str, int]]) -> None:
    seconds = DEFAULT_FADE
    if len(words) > 1:
        word, offset = words[1]
        if not _DURATION_RE.fullmatch(word) or float(word[:-1]) <= 0:
            style.problems.append(StyleProblem("fade", word, offset))
            return
        seconds = float(word[:-1])
    style._put("fade", seconds, words[0][0], words[0][1])
    _extra(style, words[2:])


def _colours(style: CardStyle, words: list[tuple[str, int]]) -> None:
    """`white`, `white on black`, `on black`."""
    text = words[0] if words[0][0] != "on" else None
    rest = words[1:] if text else words
    if text is not None and not _colour(style, text, "text colour"):
        return
    if not rest:
        return
    if rest[0][0] != "on" or len(rest) < 2:
        style.problems.append(StyleProblem("unknown" if rest[0][0] != "on" else "shape", *rest[0]))
        return
    if _colour(style, rest[1], "background"):
        _extra(style, rest[2:])


def _colour(style: CardStyle, word: tuple[str, int], what: str) -> bool:
    name, offset = word
    if name not in COLOURS:
        style.problems.append(StyleProblem("unknown", name, offset))
        return False
    style._put(what, COLOURS[name], name, offset)
    return True


def _extra(style: CardStyle, words: list[tuple[str, int]]) -> None:
    """Words after a complete item: each is one the item does not take."""
    if words:
        style.problems.append(StyleProblem("unknown", *words[0]))
