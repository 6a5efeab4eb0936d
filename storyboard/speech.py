"""How long a line of dialogue takes to say, and when each of a clip's lines is spoken.

One speaking rate for every stage: `check` warns when a clip's lines cannot be said within its
seconds (SB912), and the animatic shows each line while it is spoken and has the scratch voice
read it at this rate.

The rate is a normal conversational one: 150 words a minute (2.5 words a second; conversational
English runs at about 140-160) for text written with spaces, and 4 characters a second for
Chinese, Japanese and Korean, which are written without them (Mandarin is spoken at about 4
syllables a second, one character each). A sentence break inside a line (`. ! ? ; :`) adds a
short pause. Lines follow each other with a small gap, the first a moment after the clip starts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

WORDS_PER_MINUTE = 150
WIDE_CHARS_PER_SECOND = 4.0
PAUSE = 0.25  # a sentence break inside a line
LEAD = 0.25  # silence before the first line of a clip
GAP = 0.3  # silence between two lines
MIN_LINE = 0.6  # even "No!" takes this long to say and to read

_WIDE = re.compile(r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\u3040-\u30ff]")
_WORD = re.compile(r"[^\s\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\u3040-\u30ff]+")
_BREAK = re.compile(r"[.!?;:。！？；]+(?=\s*\S)")  # a break with more text after it


def speaking_seconds(line: str) -> float:
    """Seconds it takes to say `line` at the normal rate."""
    wide = len(_WIDE.findall(line))
    # a word counts when it has a letter or digit; most are all letters, known without a generator
    words = len([w for w in _WORD.findall(line) if w.isalnum() or any(ch.isalnum() for ch in w)])
    pauses = len(_BREAK.findall(line))
    spoken = words * 60 / WORDS_PER_MINUTE + wide / WIDE_CHARS_PER_SECOND + pauses * PAUSE
    return max(MIN_LINE, spoken)


@dataclass(frozen=True)
class Spoken:
    """One line as it is spoken in its clip: `start` and `end` in seconds from the clip's start."""

    index: int  # its place among the clip's lines (0-based)
    speaker: str
    line: str
    start: float
    end: float


def needed_seconds(lines: Sequence[str]) -> float:
    """How long a clip must be to say all `lines` at the normal rate (lead and gaps included)."""
    if not lines:
        return 0.0
    return LEAD + sum(speaking_seconds(s) for s in lines) + GAP * (len(lines) - 1)


def schedule(lines: Sequence[tuple[str, str]], seconds: float) -> list[Spoken]:
    """When each (speaker, line) is spoken in a clip of `seconds`: in order at the normal rate.
    Lines that would run past the end are squeezed to fit (everything scaled down alike), so
    the animatic still shows every one; `check` has warned about that clip."""
    need = needed_seconds([line for _, line in lines])
    scale = min(1.0, seconds / need) if need else 1.0
    out: list[Spoken] = []
    t = LEAD * scale
    for i, (speaker, line) in enumerate(lines):
        length = speaking_seconds(line) * scale
        out.append(Spoken(i, speaker, line, round(t, 3), round(min(seconds, t + length), 3)))
        t += length + GAP * scale
    return out
