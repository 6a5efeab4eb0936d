"""`score:` lines: music under the whole film or a span of clips, mixed by the stitcher.

    score: music/theme.mp3 from opening to finale, fade 2s, duck -12dB

The value is `FILE [from CLIP] [to CLIP]`, then options after commas: `fade D`, `fade in D`,
`fade out D`, `volume G`, `duck G` (or `duck off`), `attack D`, `release D`, `loop` or `once`
(D a duration like `1.5s`, G a gain like `-6dB`). Pure: the checker reports what `read_score`
finds wrong, the compiler turns a clean line into the plan's `ScoreSpec`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..plan import ScoreSpec

OPTIONS = ("fade", "fade in", "fade out", "volume", "duck", "attack", "release", "loop", "once")
# option -> (the ScoreSpec field, the kind of value, lowest, highest); loop/once take no value
RANGES = {
    "fade in": ("fade_in", "seconds", 0.0, 30.0), "fade out": ("fade_out", "seconds", 0.0, 30.0),
    "volume": ("volume_db", "gain", -60.0, 12.0), "duck": ("duck_db", "gain", -60.0, 0.0),
    "attack": ("attack", "seconds", 0.01, 2.0), "release": ("release", "seconds", 0.05, 5.0),
}
# `from`/`to` after the file, or first of all when the file is missing (`score: from a to b`)
_HEAD_RE = re.compile(r"^(?P<file>.*?)(?:(?:^|\s+)from\s+(?P<first>\S+))?(?:(?:^|\s+)to\s+(?P<last>\S+))?\s*$")
_SECONDS_RE = re.compile(r"^([0-9]+(?:\.[0-9]+)?)s$")
_GAIN_RE = re.compile(r"^([+-]?[0-9]+(?:\.[0-9]+)?)\s*dB$", re.IGNORECASE)


@dataclass(frozen=True)
class ScoreProblem:
    """kind: no_file | unknown (an option it does not know) | value (an option's value) | twice."""

    kind: str
    word: str
    offset: int  # in the value
    option: str = ""
    expected: str = ""


@dataclass
class ScoreLine:
    file: str = ""
    first: str | None = None
    last: str | None = None
    first_offset: int = 0
    last_offset: int = 0
    values: dict[str, float | bool] = field(default_factory=dict)  # ScoreSpec field -> value
    problems: list[ScoreProblem] = field(default_factory=list)

    def spec(self, sha256: str, first: str, last: str) -> ScoreSpec:
        return ScoreSpec(file=self.file, sha256=sha256, first=first, last=last, **self.values)


def read_score(value: str) -> ScoreLine:
    head, *options = value.split(",")
    line = ScoreLine()
    m = _HEAD_RE.match(head)
    line.file = m.group("file").strip()
    if not line.file:
        # the caret goes where the file belongs: under the first word, or the comma
        line.problems.append(ScoreProblem("no_file", (head.split() or [""])[0], len(head) - len(head.lstrip())))
    if m.group("first"):
        line.first, line.first_offset = m.group("first"), m.start("first")
    if m.group("last"):
        line.last, line.last_offset = m.group("last"), m.start("last")
    at = len(head) + 1
    seen: set[str] = set()
    for option in options:
        text = option.strip()
        offset = at + (len(option) - len(option.lstrip()))
        at += len(option) + 1
        if text:
            _option(line, text, offset, seen)
    return line


def _option(line: ScoreLine, text: str, offset: int, seen: set[str]) -> None:
    words = text.split()
    name, value = _split_option(words)
    if name is None:
        line.problems.append(ScoreProblem("unknown", words[0], offset))
        return
    names = ("fade in", "fade out") if name == "fade" else ("loop",) if name in ("loop", "once") else (name,)
    if any(n in seen for n in names):
        line.problems.append(ScoreProblem("twice", text, offset, option=name))
        return
    seen.update(names)
    if name in ("loop", "once"):
        if value:
            line.problems.append(ScoreProblem("value", value, offset + text.index(value, len(name)), option=name,
                                              expected="nothing"))
        line.values["loop"] = name == "loop"
        return
    parsed = _value(name, value)
    if isinstance(parsed, str):
        at = offset + (text.index(value, len(name)) if value else len(text))
        line.problems.append(ScoreProblem("value", value or "nothing", at, option=name, expected=parsed))
        return
    for n in names:
        line.values[RANGES[n][0]] = parsed


def _split_option(words: list[str]) -> tuple[str | None, str]:
    """(the option's name, its value as written), or (None, "") for a word that is no option."""
    first = words[0].lower()
    if first == "fade" and len(words) > 1 and words[1].lower() in ("in", "out"):
        return f"fade {words[1].lower()}", " ".join(words[2:])
    if first in ("fade", "volume", "duck", "attack", "release", "loop", "once"):
        return first, " ".join(words[1:])
    return None, ""


def _value(name: str, value: str) -> float | str:
    """The option's value, or what it expects (a phrase for the message) when it is not one."""
    kind, lo, hi = RANGES["fade in" if name == "fade" else name][1:]
    if name == "duck" and value.lower() == "off":
        return 0.0
    m = (_SECONDS_RE if kind == "seconds" else _GAIN_RE).match(value.strip())
    unit = "s" if kind == "seconds" else "dB"
    expected = f"a {'duration' if kind == 'seconds' else 'gain'} from {lo:g}{unit} to {hi:g}{unit}"
    if name == "duck":
        expected += " (or `off`)"
    if not m:
        return expected
    number = float(m.group(1))
    return number if lo <= number <= hi else expected

