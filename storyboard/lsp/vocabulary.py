"""The words of the language, read from where they are defined: the keywords and clip keys from
the grammar's terminals (story.lark), the film settings and cast fields from the checker's tables
(language/model.py). Completion and the editors' tests use these, so a keyword added to the
grammar appears in completion (and fails the TextMate test until the grammar colours it)."""

from __future__ import annotations

import re
from functools import lru_cache

from ..language import model
from ..language.parser import grammar_text

# `NAME.3: /(a|b)\b/` or `CLIP_KEY.3: /(a|b)[ \t]*:/`: a terminal that is a closed set of words
_TERMINAL = re.compile(r"^([A-Z_]+)(?:\.\d+)?:\s*/(.*)/\s*$", re.M)
_WORDS = re.compile(r"^\(?([a-z]+(?:\|[a-z]+)*)\)?(\\b|\[ \\t\]\*:)$")


@lru_cache(maxsize=1)
def grammar_words() -> dict[str, tuple[tuple[str, ...], bool]]:
    """terminal name -> (its words, whether they are `key:` words rather than keywords)."""
    found = {}
    for name, pattern in _TERMINAL.findall(grammar_text()):
        m = _WORDS.match(pattern)
        if m:
            found[name] = (tuple(m.group(1).split("|")), m.group(2) != r"\b")
    return found


def keywords() -> tuple[str, ...]:
    """Every word that starts a top-level line (blocks and transitions), in grammar order."""
    return tuple(w for words, is_key in grammar_words().values() if not is_key for w in words)


def block_keywords() -> tuple[str, ...]:
    """Keywords that open a block (`shot NAME:`): the grammar's kinds that are not transitions."""
    return tuple(w for w in keywords() if w not in model.TRANSITIONS)


def clip_kinds() -> tuple[str, ...]:
    """The blocks that are clips (`shot`, `scene`, `extend`): the grammar's CLIP_KIND terminal."""
    return grammar_words().get("CLIP_KIND", ((), False))[0]


def clip_keys() -> tuple[str, ...]:
    """The clip settings: the grammar's closed set of `key:` words inside a clip."""
    return tuple(w for words, is_key in grammar_words().values() if is_key for w in words)


def film_keys() -> tuple[str, ...]:
    return tuple(model.FILM_SETTINGS) + ("include",)


def cast_fields() -> tuple[str, ...]:
    return tuple(model.CAST_FIELDS)


def cast_kinds() -> tuple[str, ...]:
    return tuple(model.CAST_KINDS)


def card_fields() -> tuple[str, ...]:
    """The lines of a `card` block (text, subtitle, image, credits, style)."""
    return tuple(model.CARD_FIELDS)
