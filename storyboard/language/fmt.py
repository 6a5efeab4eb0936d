"""The canonical layout of a `.story` file (`storyboard fmt`), as a pure function of the parse.

Layout: items in source order (the order is meaning: reordering would change the film); `key:
value` lines; a blank line around every block (cast, clip) and every transition; two spaces of
indentation for block bodies; every node on one line (continued values and consecutive prose lines
are joined, as the parser joins them), except prose whose joined line would read as something
else (`@A:` + `"Hi"` is dialogue, `shot` + `4s: x` a beat, `camera` + `: wide` a clip setting):
its longest first line that still reads as prose, then the rest on one continued line; durations
written minimally (`5s`, `0.5s`). A single blank line the author put between two settings or two
body lines is kept (runs of them become one); blank lines at the start of a block or of the file
are dropped.

Comments are not part of the model. When the source text is given they are recovered from it and
re-attached, so the formatter never deletes one:
- an own-line comment is written before the node that follows it, at that node's indentation;
- indented comments after the last line of a block stay at the end of that block;
- a trailing comment stays at the end of its node's line (two spaces before the `#`); of a node
  written over several lines, the first trailing comment stays at the end of its one line and the
  others go above it;
- comments after the last node stay at the end of the file.
The source must be the text the story was parsed from (node spans point into it) and must have
parsed without errors: the formatter works on the model, and a partial model would lose lines.

Formatting never changes what a story means: `format_source` parses its own output again and
refuses (SB040, the file left as it is) unless the story read back is the same model. Spans
aside, the model is everything compiling reads from the text, so the same model compiles to the
same requests, keys and timeline.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import zip_longest

from ..diagnostics import Diagnostic
from ..messages import report
from .model import Beat, Card, CastMember, Clip, Dialogue, Include, Prose, Setting, Story, Transition

INDENT = "  "

__all__ = ["format_story", "format_source", "format_duration", "write_formatted", "unified_diff"]


def format_source(text: str, path: str = "<story>") -> tuple[str | None, list[Diagnostic]]:
    """Parse and format `text`. Returns (None, diagnostics) when the text has syntax errors."""
    from .parser import parse

    story, diags = parse(text, path)
    if any(d.is_error for d in diags):
        return None, diags
    formatted = format_story(story, text)
    changed = _meaning_changed(story, formatted, path)
    if changed is not None:
        return None, diags + [changed]
    return formatted, diags


def _meaning_changed(story: Story, formatted: str, path: str) -> Diagnostic | None:
    """None when `formatted` reads back as `story`; else an error at the first item it changes
    (a formatter bug: the layout rules below are meant to make this impossible)."""
    from .parser import parse

    again, diags = parse(formatted, path)
    if not any(d.is_error for d in diags) and again.model_dump() == story.model_dump():
        return None
    pairs = zip_longest(story.items, again.items)
    first = next((a for a, b in pairs if a is None or b is None or a.model_dump() != b.model_dump()), None)
    span = getattr(first, "span", None) or story.span
    return report("SB040", span)


def format_duration(seconds: int | float) -> str:
    """`5s`, `0.5s`, `1s` for 1.0: the shortest decimal that reads back as the same number."""
    if seconds == float("inf"):  # `9999…9s` past the float range reads as infinity; so must this
        return "1" + "0" * 309 + "s"
    if isinstance(seconds, float) and seconds.is_integer():
        seconds = int(seconds)
    text = repr(seconds)
    if "e" in text or "E" in text:  # repr(1e-05) == '1e-05': the grammar wants plain decimals
        text = format(Decimal(text), "f")
    return f"{text}s"


# ---- one node, one line ---------------------------------------------------------------------

def _setting(key: str, value: str) -> str:
    return f"{key}: {value}" if value else f"{key}:"


def _break_points(text: str) -> list[int]:
    """Indexes of the single spaces outside "quotes" where `text` can be broken into two lines
    that the parser joins back to `text` (with one space)."""
    points, quoted = [], False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == " " and not quoted and 0 < i < len(text) - 1 \
                and not text[i - 1].isspace() and not text[i + 1].isspace():
            points.append(i)
    return points


def _prose_lines(text: str) -> list[str]:
    """Prose on one line when that line reads back as prose. Otherwise the longest first line
    that does, then the rest on one continued line, which the grammar reads as nothing but text.
    The break depends on the text alone, so the layout stays a function of the model."""
    from .parser import reads_as_prose

    if reads_as_prose(text):
        return [text]
    first = None
    for i in _break_points(text):
        if not reads_as_prose(text[:i]):
            break  # what follows a line's start cannot make it prose again
        first = i
    if first is None:  # only a built model can hold such prose; format_source refuses it
        return [text]
    return [text[:first], text[first + 1:]]


def _lines(node) -> list[str]:
    """The node's line, then any continued lines (written one step deeper)."""
    return _prose_lines(node.text) if isinstance(node, Prose) else [_line(node)]


def _line(node) -> str:
    if isinstance(node, Include):
        return _setting("include", node.path)
    if isinstance(node, Setting):
        return _setting(node.key, node.value)
    if isinstance(node, Prose):
        return node.text
    if isinstance(node, Dialogue):
        how = f" ({node.how})" if node.how else ""
        return f'@{node.speaker}{how}: "{node.line}"'
    if isinstance(node, Beat):
        head = f"shot {format_duration(node.seconds)}:" if node.seconds is not None else "shot:"
        return f"{head} {node.text.text}" if node.text.text else head
    if isinstance(node, CastMember):
        return f"{node.kind} {node.name}:"
    if isinstance(node, Clip):
        seconds = f" {format_duration(node.seconds)}" if node.seconds is not None else ""
        return f"{node.kind} {node.name}{seconds}:"
    if isinstance(node, Card):
        seconds = f" {format_duration(node.seconds)}" if node.seconds is not None else ""
        return f"card {node.name}{seconds}:"
    if isinstance(node, Transition):
        seconds = format_duration(node.seconds) if node.seconds is not None else None
        if node.kind == "wipe":
            return " ".join(p for p in ("wipe", node.direction, seconds) if p)
        if node.kind == "morph":
            head = f"morph {seconds}:" if seconds else "morph:"
            return f"{head} {node.text}" if node.text else head
        return f"{node.kind} {seconds}" if seconds else node.kind
    raise TypeError(f"cannot format {type(node).__name__}")


# ---- comments ---------------------------------------------------------------------------------

@dataclass
class _Comment:
    text: str  # from the `#`, trailing whitespace removed
    gap: bool  # a blank line right above it in the source
    indent: int = 0


@dataclass
class _NodeNotes:
    leading: list[_Comment] = field(default_factory=list)  # own-line comments above the node
    inner: list[_Comment] = field(default_factory=list)  # comments from between its lines
    trailing: list[str] = field(default_factory=list)
    gap: bool = False  # a blank line right above the node's first line


@dataclass
class _Notes:
    nodes: dict[int, _NodeNotes] = field(default_factory=dict)
    block_end: dict[int, list[_Comment]] = field(default_factory=dict)
    file_end: list[_Comment] = field(default_factory=list)

    def of(self, node) -> _NodeNotes:
        return self.nodes.get(id(node)) or _NodeNotes()


# Lines on which a `"` is not the start of a quoted string: skip this prefix before looking for `#`.
_DIALOGUE_PREFIX = re.compile(r'[ \t]*@[A-Za-z_][A-Za-z0-9_-]*[ \t]*(\([^)\n]*\))?[ \t]*:[ \t]*"[^"\n]*"')
_WIPE_PREFIX = re.compile(r"[ \t]*wipe[ \t]+[^\s#:]+")


def _trailing_comment(line: str, prefix: re.Pattern | None) -> str | None:
    """The comment at the end of a code line: the first `#` outside a "quoted string"."""
    start = 0
    if prefix is not None:
        m = prefix.match(line)
        start = m.end() if m else 0
    quoted = False
    for i in range(start, len(line)):
        ch = line[i]
        if ch == '"':
            quoted = not quoted
        elif ch == "#" and not quoted:
            return line[i:].rstrip()
    return None


def _normalise(text: str) -> str:
    # The same normalisation as the parser, so that span line numbers index these lines.
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _anchors(story: Story) -> dict[int, tuple[object, bool]]:
    """Line -> (the node that starts on it, whether it is a top-level item)."""
    anchors: dict[int, tuple[object, bool]] = {}

    def anchor(node, top: bool) -> None:
        span = getattr(node, "span", None)
        if span is not None and span.line not in anchors:
            anchors[span.line] = (node, top)

    for item in story.items:
        anchor(item, True)
        children = item.fields if isinstance(item, (CastMember, Card)) else item.body if isinstance(item, Clip) else ()
        for child in children:
            anchor(child, False)
    return anchors


def _line_prefix(owner):
    """The pattern of the part of a node's first line where `#` is text, not a comment."""
    if isinstance(owner, Dialogue):
        return _DIALOGUE_PREFIX
    if isinstance(owner, Transition) and owner.kind == "wipe":
        return _WIPE_PREFIX
    return None


def _collect(story: Story, source: str) -> _Notes:
    lines = _normalise(source).split("\n")
    notes = _Notes()
    anchors = _anchors(story)

    def notes_of(node) -> _NodeNotes:
        return notes.nodes.setdefault(id(node), _NodeNotes())

    def gap(n: int) -> bool:  # n is 1-based
        return n > 1 and not lines[n - 2].strip(" \t")

    def end_block(pending: list[_Comment], block) -> list[_Comment]:
        """Indented comments right after a block's body stay in the block; return the rest."""
        if block is None:
            return pending
        k = 0
        while k < len(pending) and pending[k].indent > 0:
            k += 1
        if k:
            notes.block_end.setdefault(id(block), []).extend(pending[:k])
        return pending[k:]

    pending: list[_Comment] = []
    owner = None  # the node the current line belongs to
    block = None  # the top-level block whose body we are in (cast member or clip)
    orphans: list[_Comment] = []  # comments on lines no node claims (only with a foreign source)
    for n, text in enumerate(lines, 1):
        stripped = text.strip(" \t")
        if not stripped:
            continue
        indent = len(text) - len(text.lstrip(" \t"))
        if stripped.startswith("#"):
            pending.append(_Comment(stripped.rstrip(), gap(n), indent))
            continue
        found = anchors.get(n)
        if found is not None:
            node, top = found
            if top:
                pending = end_block(pending, block)
                block = node if isinstance(node, (CastMember, Clip, Card)) else None
            owner = node
            notes_of(node).gap = gap(n)
        trailing = _trailing_comment(text, _line_prefix(owner) if found is not None else None)
        if owner is None:  # cannot happen for a story parsed from this source
            orphans.extend(pending + ([_Comment(trailing, False)] if trailing else []))
            pending = []
            continue
        # Comments above a node's first line, or between the lines of a continued node, go above it.
        own = notes_of(owner)
        (own.leading if found is not None else own.inner).extend(pending)
        pending = []
        if trailing:
            if own.trailing:  # a node written over several lines has one line left for one comment
                own.inner.append(_Comment(trailing, False))
            else:
                own.trailing.append(trailing)
    notes.file_end = orphans + end_block(pending, block)
    return notes


# ---- layout ---------------------------------------------------------------------------------

class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def blank(self) -> None:
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def comments(self, comments: list[_Comment], indent: str, first: bool) -> None:
        for i, c in enumerate(comments):
            if c.gap and not (first and i == 0):
                self.blank()
            self.lines.append(indent + c.text)

    def node(self, node, notes: _Notes, indent: str, first: bool, force_blank: bool = False) -> None:
        """A node with its comments. `first`: the first entry of a body or of the file (no blank
        line above it); `force_blank`: the layout wants a blank line above it."""
        n = notes.of(node)
        entry_gap = n.leading[0].gap if n.leading else n.gap
        if not first and (force_blank or entry_gap):
            self.blank()
        self.comments(n.leading, indent, first=True)
        if n.leading and n.gap:
            self.blank()
        self.lines.extend(indent + c.text for c in n.inner)  # they sat inside the node: keep them close
        head, *continued = _lines(node)
        line = indent + head
        if n.trailing:
            line += "  " + n.trailing[0]
        self.lines.append(line)
        self.lines.extend(indent + INDENT + c for c in continued)


def format_story(story: Story, source: str | None = None) -> str:
    """The canonical text of `story`. With `source` (the text it was parsed from), comments and
    the author's single blank lines between settings or body lines are kept."""
    notes = _collect(story, source) if source is not None else _Notes()
    w = _Writer()
    after_group = False  # the previous top-level item was a block or a transition
    for item in story.items:
        group = isinstance(item, (CastMember, Clip, Transition, Card))
        w.node(item, notes, "", first=not w.lines, force_blank=group or after_group)
        if isinstance(item, (CastMember, Clip, Card)):
            children = item.fields if isinstance(item, (CastMember, Card)) else item.body
            for j, child in enumerate(children):
                w.node(child, notes, INDENT, first=j == 0)
            w.comments(notes.block_end.get(id(item), []), INDENT, first=False)
        after_group = group
    if notes.file_end:
        if after_group or notes.file_end[0].gap:
            w.blank()
        w.comments(notes.file_end, "", first=True)
    while w.lines and not w.lines[-1]:
        w.lines.pop()
    return "\n".join(w.lines) + "\n" if w.lines else ""


def write_formatted(path, text: str) -> None:
    """Replace the file at `path` with `text` atomically, keeping its permissions; a symlink
    keeps pointing at the rewritten file."""
    import os
    from pathlib import Path

    from ..atomic import write_text

    target = Path(os.path.realpath(path))
    write_text(target, text, mode=target.stat().st_mode & 0o7777)


def unified_diff(before: str, after: str, path: str) -> str:
    """A `diff -u` of two texts, marking a missing final newline the way diff does."""
    import difflib

    def lines(t: str) -> list[str]:
        parts = t.split("\n")
        out = [p + "\n" for p in parts[:-1]]
        return out + [parts[-1]] if parts[-1] else out

    chunks = []
    for line in difflib.unified_diff(lines(before), lines(after), path, path):
        chunks.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(chunks)
