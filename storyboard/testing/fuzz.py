"""Mutational fuzzing of the front half (check, compile, fmt): used by tests/test_fuzz.py and
bench/fuzz.py. Every input must end in a clean result or in diagnostics that point inside the
file; anything else (an exception, a position outside the file) is a finding."""

from __future__ import annotations

import random
import traceback
from dataclasses import dataclass
from pathlib import Path

SPICE = [
    "\t", "  ", "    ", ":", "@", "@Kitten", "@Nobody", '"', "#", "shot", "scene", "extend", "cut", "dissolve 1s",
    "fade 0.5s", "wipe left 1s", "morph 1s: x", "continue", "99999999999999999999999s", "0s", "1e9s", "-3s",
    "first: ../../etc/passwd", "image: /etc/passwd", "motion: x.mp4", "music: a.mp3", "size: 0x0",
    "seed: 99999999999999999999999999", "小猫将军", "🐈", "\u200b", "\ufeff", "\r", "\x00", "é", "ñ", "\\",
    "include: self.story", "character X:", "prop P:", "place Q:", "  shot 3s: beat", 'x' * 5000,
]


@dataclass
class Finding:
    kind: str  # exception | bad-position
    detail: str
    text: str


def mutate(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(9)
        i = rng.randrange(len(lines)) if lines else 0
        if not lines:
            lines = [""]
        if op == 0:  # delete a line
            lines.pop(i) if len(lines) > 1 else None
        elif op == 1:  # duplicate a line
            lines.insert(i, lines[i])
        elif op == 2:  # re-indent
            lines[i] = " " * rng.choice([0, 1, 2, 3, 4, 8, 40]) + lines[i].lstrip()
        elif op == 3:  # insert spice
            pos = rng.randint(0, len(lines[i]))
            lines[i] = lines[i][:pos] + rng.choice(SPICE) + lines[i][pos:]
        elif op == 4:  # replace a byte-sized chunk with random characters
            pos = rng.randint(0, len(lines[i]))
            junk = "".join(chr(rng.choice([rng.randint(32, 126), rng.randint(0x80, 0x2FFF)]))
                           for _ in range(rng.randint(1, 5)))
            lines[i] = lines[i][:pos] + junk + lines[i][pos + len(junk):]
        elif op == 5:  # swap lines
            j = rng.randrange(len(lines))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == 6:  # a new line of spice
            lines.insert(i, rng.choice(["", "  "]) + rng.choice(SPICE))
        elif op == 7:  # deep nesting
            depth = rng.randint(2, 60)
            lines[i:i] = [" " * (2 * k) + "x:" for k in range(depth)]
        else:  # truncate the file
            lines = lines[: i + 1]
            if rng.random() < 0.5:
                lines[-1] = lines[-1][: rng.randint(0, len(lines[-1]))]
    return "\n".join(lines)


def _positions_ok(diags, path: str, text: str) -> str | None:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff").split("\n")
    for d in diags:
        s = d.span
        if s is None or s.file != path:
            continue
        if not 1 <= s.line <= len(lines):
            return f"{d.code} line {s.line} outside 1..{len(lines)}"
        if not 1 <= s.column <= len(lines[s.line - 1]) + 1:
            return f"{d.code} column {s.column} outside line {s.line} of length {len(lines[s.line - 1])}"
    return None


def run_one(text: str, folder: Path, providers) -> Finding | None:
    """Write `text` as a story in `folder` and push it through check, compile and fmt."""
    from ..api import compile_file
    from ..diagnostics import render
    from ..language.parser import parse

    path = folder / "fuzz.story"
    try:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    except (UnicodeEncodeError, ValueError):
        return None
    try:
        for provider in providers:
            result = compile_file(path, provider)
            bad = _positions_ok(result.diagnostics, str(path), path.read_text(encoding="utf-8"))
            if bad:
                return Finding("bad-position", bad, text)
            render(result.diagnostics, result.sources)
            if result.plan is not None:
                result.plan.to_json()
        story, diags = parse(path.read_text(encoding="utf-8"), str(path))
        if not any(d.is_error for d in diags):
            try:
                from ..language.fmt import format_story
            except ImportError:
                return None
            formatted = format_story(story, path.read_text(encoding="utf-8"))
            again, diags2 = parse(formatted, str(path))
            if any(d.is_error for d in diags2):
                return Finding("fmt", "formatted text does not parse: " + diags2[0].message, text)
            if again.model_dump() != story.model_dump():
                return Finding("fmt", "formatting changed the story", text)
    except Exception:
        return Finding("exception", traceback.format_exc(limit=8), text)
    return None
