"""Fuzzing of the front half (check, compile, fmt): used by tests/test_fuzz.py,
tests/test_grammar_hypothesis.py and bench/fuzz.py. Inputs are mutations of the examples
(`mutate`) or stories built from the grammar's shapes (`generate`). Every input must end in a
clean result or in diagnostics that point inside the file, and formatting it must not change what
it compiles to; anything else (an exception, a position outside the file, a meaning change) is a
finding."""

from __future__ import annotations

import json
import random
import traceback
from collections import Counter
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
    kind: str  # exception | bad-position | fmt (formatting changed the meaning, or refused)
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


# ---- stories built from the grammar's shapes ----------------------------------------------------

# Cast members whose images exist in examples/kitten-general (the fuzzers' story folder).
CAST = [("character", "Kitten", "cast/kitten.png"), ("character", "Mice", "cast/mouse.png"),
        ("place", "Cliff", "places/cliff.png"), ("prop", "Banner", "cast/kitten-back.png")]
# Pieces of prose, chosen for what they can turn into when lines are joined: `Name:` and quotes
# make dialogue, `shot` and `4s:` a beat, `camera` and `: wide` a clip setting.
PROSE_PIECES = [
    "The snow falls.", "a wave breaks", "she said.", "and runs", "Meanwhile:", "Bo:", "Kitten:", "4s:",
    "4s: Another wave.",
    "shot", "shot 4s", "shot:", "camera", "camera:", "sound", ": static wide shot", ":", "(softly)", "(softly):",
    '"Hello"', '"Hello" she said.', '"Charge!"', '""', '"a # not a comment"', "@Kitten", "@Kitten:", "@Mice",
    "@Kitten (softly)", "@Kitten (softly):", "@Cliff's edge", "e-mail@x.org", "cut", "continue",
    "scene", "fade 1s", "morph 1s: x", "dissolve", "title: x",
    "小猫将军站在悬崖上。", "两军相撞，雪花飞扬！", "“冲啊！”",
    "@Kitten：", "1080p", "16:9", "seed", ": 7", "negative:", "(", ")", "@", "::",
]
# One line per key (a key set twice is an error, not what this fuzzer is after).
BODY_SETTINGS = {"camera": ["camera: slow push in", "camera: 微距特写", "camera :  handheld"],
                 "sound": ["sound: wind, drums", "sound:rain"], "seed": ["seed: 7"], "negative": ["negative: text"]}
FILM_SETTINGS = {"title": ["title: Fuzz", "title: 小猫将军"], "resolution": ["resolution: 480p", "resolution: 720p"],
                 "ratio": ["ratio: 16:9", "ratio: 1:1"], "audio": ["audio: on", "audio: off"], "seed": ["seed: 42"],
                 "style": ["style: watercolour"], "negative": ["negative: blur"]}
TRANSITIONS = ["cut", "continue", "dissolve 1s", "fade 0.5s", "wipe left 1s", "wipe up 0.5s",
               "morph 1s: the snow melts"]


class _Writer:
    """Writes lines with the spacing, comments and blank lines people leave."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.lines: list[str] = []

    def filler(self, indent: str) -> None:
        for _ in range(self.rng.choice([0, 0, 0, 1, 2])):
            self.lines.append(self.rng.choice(["", indent + "# note", "# 注释 \"#\"", indent + "#"]))

    def line(self, indent: str, code: str) -> None:
        self.filler(indent)
        tail = self.rng.choice(["", "", "", "", "  # why", " #", "   "])
        self.lines.append(indent + code + tail)

    def text(self, indent: str, head: str, pieces: list[str]) -> None:
        """`head` and the pieces, some on the head's line, some on deeper (continued) lines."""
        on_head = self.rng.randint(0 if head else 1, len(pieces))
        self.line(indent, (head + " " + " ".join(pieces[:on_head])).strip())
        deeper = indent + self.rng.choice(["  ", "    ", " "])
        for piece in pieces[on_head:]:
            self.line(deeper, piece)

    def prose(self, indent: str) -> None:
        """A paragraph: lines at the body's indentation, some continued on deeper lines."""
        for _ in range(self.rng.randint(1, 3)):
            self.text(indent, "", self.rng.sample(PROSE_PIECES, self.rng.randint(1, 3)))


def _clip_body(w: _Writer, kind: str, indent: str) -> None:
    rng = w.rng
    if kind == "scene":
        for _ in range(rng.randint(1, 3)):
            head = rng.choice(["shot 2s:", "shot 3s:", "shot:", "shot  2s :"])
            w.text(indent, head, rng.sample(PROSE_PIECES, rng.randint(1, 3)))
    settings = [] if kind == "extend" else rng.sample(sorted(BODY_SETTINGS), rng.randint(0, 2))
    for _ in range(rng.randint(1, 4)):
        pick = rng.random()
        if pick < 0.6:
            w.prose(indent)
        elif pick < 0.8 and settings:
            w.line(indent, rng.choice(BODY_SETTINGS[settings.pop()]))
        else:
            how = rng.choice(["", " (softly)", " (shouting over the wind)"])
            said = rng.choice(["Charge!", "冲啊！", "Hello, #1"])
            w.line(indent, f'@{rng.choice(["Kitten", "Mice"])}{how}: "{said}"')


def generate(rng: random.Random) -> str:
    """A story built from the grammar's shapes: film settings, cast blocks, shots, scenes with
    beats, extends, transitions, dialogue, clip settings, continued values and comments (no
    includes). Most compile; the lines that matter are the prose ones, which fmt may join."""
    w = _Writer(rng)
    for key in rng.sample(sorted(FILM_SETTINGS), rng.randint(0, 4)):
        w.line("", rng.choice(FILM_SETTINGS[key]))
    for kind, name, image in rng.sample(CAST, len(CAST)):
        w.line("", f"{kind} {name}:")
        indent = rng.choice(["  ", "    "])
        w.line(indent, f"image: {image}")
        if rng.random() < 0.6:
            w.text(indent, "description:", rng.sample(PROSE_PIECES, rng.randint(1, 3)))
    previous = None
    for n in range(rng.randint(1, 5)):
        kind = rng.choice(["shot", "shot", "scene", "extend"]) if previous else rng.choice(["shot", "scene"])
        if previous is not None and kind != "extend" and rng.random() < 0.4:
            w.line("", rng.choice(TRANSITIONS))
        seconds = rng.choice([4, 5, 8, 10]) if kind != "scene" else rng.choice([8, 10, 12])
        name = previous if kind == "extend" else f"c{n}"
        w.line("", f"{kind} {name} {seconds}s:" if rng.random() < 0.9 else f"{kind} {name}:")
        _clip_body(w, kind, rng.choice(["  ", "    ", "   "]))
        previous = name if kind != "extend" else previous
    w.filler("")
    return "\n".join(w.lines) + rng.choice(["\n", "", "\n\n"])


# ---- the property: fmt keeps what a story compiles to --------------------------------------------

def plan_meaning(result) -> tuple[list[str], dict | None]:
    """What a compile result means for the film: its error codes, and the plan (every clip's
    request body, key and settings, and the timeline) without where each clip is written."""
    errors = sorted(d.code for d in result.diagnostics if d.is_error)
    if result.plan is None:
        return errors, None
    data = json.loads(result.plan.to_json())
    for clip in data["clips"]:
        del clip["source"]
    return errors, data


def fmt_meaning_change(path: Path, providers, before: list | None = None,
                       stats: Counter | None = None) -> str | None:
    """Format the story at `path` and compile it before and after with each provider: None when
    formatting kept every plan (or the story has syntax errors, which fmt leaves alone), else
    what went wrong. `before`: the providers' `plan_meaning`s of the file as it is, when known.
    `stats` counts the stories fmt rewrote (so a run can show the property was exercised).
    The file is left as it was."""
    from ..api import compile_file
    from ..language.fmt import format_source

    raw = path.read_bytes()
    text = raw.decode("utf-8")
    formatted, diags = format_source(text, str(path))
    if formatted is None:
        refused = [d for d in diags if d.code == "SB040"]
        return f"fmt refused: {refused[0].span}: {refused[0].message}" if refused else None
    if formatted == text:
        return None
    if stats is not None:
        stats["reformatted"] += 1
    if format_source(formatted, str(path))[0] != formatted:
        return "formatting is not stable: formatting the output changes it again"
    if before is None:
        before = [plan_meaning(compile_file(path, p)) for p in providers]
    try:
        path.write_text(formatted, encoding="utf-8")
        after = [plan_meaning(compile_file(path, p)) for p in providers]
    finally:
        path.write_bytes(raw)
    for p, b, a in zip(providers, before, after, strict=True):
        if b != a:
            return f"formatting changed what the story compiles to ({p.name}):\n{formatted}"
    return None


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


def run_one(text: str, folder: Path, providers, stats: Counter | None = None) -> Finding | None:
    """Write `text` as a story in `folder` and push it through check, compile and fmt (which
    must not change what it compiles to). `stats` counts inputs that compiled to a plan and
    those fmt rewrote."""
    from ..api import compile_file
    from ..diagnostics import render

    path = folder / "fuzz.story"
    try:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    except (UnicodeEncodeError, ValueError):
        return None
    try:
        before = []
        for provider in providers:
            result = compile_file(path, provider)
            before.append(plan_meaning(result))
            if stats is not None and result.plan is not None:
                stats[f"plan {provider.name}"] += 1
            bad = _positions_ok(result.diagnostics, str(path), path.read_text(encoding="utf-8"))
            if bad:
                return Finding("bad-position", bad, text)
            render(result.diagnostics, result.sources)
            if result.plan is not None:
                result.plan.to_json()
        changed = fmt_meaning_change(path, providers, before, stats)
        if changed is not None:
            return Finding("fmt", changed, text)
    except Exception:
        return Finding("exception", traceback.format_exc(limit=8), text)
    return None
