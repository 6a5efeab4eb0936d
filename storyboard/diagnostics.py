"""Diagnostics as data (pyflakes-style): a code, a severity, a message, a span and a hint.

Every stage reports problems as `Diagnostic` values, made by `messages.report` from the one
catalogue of codes; one function renders them for humans as `path:line:col: error[SBnnn]:
message`, the source line and a caret.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


class Span(NamedTuple):
    """A place in a source file. Lines and columns are 1-based; `end_column` is exclusive.

    A named tuple rather than a frozen dataclass: the parser makes one per token, and a tuple is
    made three times as fast (immutable, ordered and hashed field by field all the same)."""

    file: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def at(self, column_offset: int, length: int | None = None) -> Span:
        """A span inside this one's first line, `column_offset` characters to the right."""
        col = self.column + column_offset
        return Span(self.file, self.line, col, self.line, col + length if length else None)


@dataclass(frozen=True)
class Diagnostic:
    code: str  # stable, e.g. "SB101"; storyboard/messages.py lists every one (docs/diagnostics.md)
    message: str
    span: Span | None = None
    severity: Severity = Severity.ERROR
    hint: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict:
        out: dict = {"code": self.code, "severity": self.severity.value, "message": self.message}
        if self.span:
            out.update(file=self.span.file, line=self.span.line, column=self.span.column)
        if self.hint:
            out["hint"] = self.hint
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def _display_width(text: str) -> int:
    # CJK prose takes two terminal cells per character; the caret must line up under it.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


SHOWN_PER_FILE = 50  # the CLI's cap: past this a reader fixes the first ones and runs it again
SEE_ALL = "run with --all to see every one"


def see_all_with_check(path: str, provider: str = "preview") -> str:
    """The pointer for commands other than `check`, which have no --all of their own."""
    option = f" -p {provider}" if provider != "preview" else ""
    return f"run `storyboard check --all{option} {path}` to see every one"


def render(diags: Iterable[Diagnostic], sources: dict[str, str] | None = None, *,
           limit: int | None = None, see_all: str = SEE_ALL) -> str:
    """Render diagnostics for a terminal; `sources` maps a span's file to its text. With `limit`,
    only the first `limit` of each file are shown, then one line per file counts the rest.
    Linear in the diagnostics: each source is split into lines once."""
    source_lines = _SourceLines(sources or {})
    shown_per_file: dict[str | None, int] = {}
    hidden: dict[str | None, list[Diagnostic]] = {}
    blocks = []
    for d in diags:
        file = d.span.file if d.span else None
        shown = shown_per_file.get(file, 0)
        if limit is not None and shown >= limit:
            hidden.setdefault(file, []).append(d)
            continue
        shown_per_file[file] = shown + 1
        blocks.append(_render_one(d, source_lines))
    for file, rest in hidden.items():
        where = f" in {file}" if file is not None else ""
        blocks.append(f"… and {_more(rest)}{where}; {see_all}")
    return "\n".join(blocks) + ("\n" if blocks else "")


def _render_one(d: Diagnostic, source_lines: _SourceLines) -> str:
    where = f"{d.span}: " if d.span else ""
    lines = [f"{where}{d.severity.value}[{d.code}]: {d.message}"]
    src_lines = source_lines.of(d.span.file) if d.span else None
    if src_lines is not None and 1 <= d.span.line <= len(src_lines):
        line = src_lines[d.span.line - 1].replace("\t", " ")
        gutter = f"{d.span.line:>4} | "
        lines.append(gutter + line)
        start = max(d.span.column - 1, 0)
        end = d.span.end_column - 1 if d.span.end_column and d.span.end_line in (None, d.span.line) else start + 1
        end = max(end, start + 1)
        pad = _display_width(line[:start])
        width = max(_display_width(line[start:end]), 1)
        lines.append(" " * (len(gutter) - 2) + "| " + " " * pad + "^" * width)
    if d.hint:
        lines.append(f"  = hint: {d.hint}")
    for note in d.notes:
        lines.append(f"  = note: {note}")
    return "\n".join(lines)


def _more(rest: list[Diagnostic]) -> str:
    """`49,950 more errors`, `1 more warning`, `12 more problems (10 errors, 2 warnings)`."""
    errors = sum(d.is_error for d in rest)
    if errors in (0, len(rest)):
        noun = "error" if errors else "warning"
        return f"{len(rest):,} more {noun}{'s' * (len(rest) != 1)}"
    return f"{len(rest):,} more problems ({summary(rest)})"


class _SourceLines:
    """Each file's lines, split (or read) once however many diagnostics point into it."""

    def __init__(self, sources: dict[str, str]):
        self.sources = sources
        self.split: dict[str, list[str] | None] = {}

    def of(self, file: str) -> list[str] | None:
        if file not in self.split:
            text = _source_text(file, self.sources)
            # as the parser counts lines
            self.split[file] = None if text is None else text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        return self.split[file]


def _source_text(file: str, sources: dict[str, str]) -> str | None:
    if file in sources:
        return sources[file]
    try:
        return Path(file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def utf8_error_at(data: bytes, exc: UnicodeDecodeError) -> tuple[int, int]:
    """The 1-based line and column of the first byte that is not UTF-8 (lines counted as the parser does)."""
    before = data[:exc.start].decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def render_json(diags: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diags], ensure_ascii=False, indent=2)


def summary(diags: list[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diags)
    warnings = len(diags) - errors
    parts = []
    if errors:
        parts.append(f"{errors:,} error{'s' * (errors != 1)}")
    if warnings:
        parts.append(f"{warnings:,} warning{'s' * (warnings != 1)}")
    return ", ".join(parts) or "no problems"
