"""Diagnostics as data (pyflakes-style): a code, a severity, a message, a span and a hint.

Every stage reports problems as `Diagnostic` values; one function renders them for humans as
`path:line:col: error[SBnnn]: message`, the source line and a caret.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Iterable


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Span:
    """A place in a source file. Lines and columns are 1-based; `end_column` is exclusive."""

    file: str
    line: int
    column: int
    end_line: int | None = None
    end_column: int | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def at(self, column_offset: int, length: int | None = None) -> "Span":
        """A span inside this one's first line, `column_offset` characters to the right."""
        col = self.column + column_offset
        return Span(self.file, self.line, col, self.line, col + length if length else None)


@dataclass(frozen=True)
class Diagnostic:
    code: str  # stable, e.g. "SB101"; the catalogue lives in docs/diagnostics.md
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


class StoryError(Exception):
    """Raised by a stage that cannot go on; carries the diagnostics that explain why."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(d.message for d in self.diagnostics))


def _display_width(text: str) -> int:
    # CJK prose takes two terminal cells per character; the caret must line up under it.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def sort_key(d: Diagnostic):
    s = d.span
    return (s.file, s.line, s.column) if s else ("", 0, 0)


def render(diags: Iterable[Diagnostic], sources: dict[str, str] | None = None) -> str:
    """Render diagnostics for a terminal; `sources` maps a span's file to its text."""
    sources = sources or {}
    blocks = []
    for d in diags:
        where = f"{d.span}: " if d.span else ""
        lines = [f"{where}{d.severity.value}[{d.code}]: {d.message}"]
        text = _source_text(d.span, sources) if d.span else None
        if text is not None:
            src_lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")  # as the parser counts lines
            if 1 <= d.span.line <= len(src_lines):
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
        blocks.append("\n".join(lines))
    return "\n".join(blocks) + ("\n" if blocks else "")


def _source_text(span: Span, sources: dict[str, str]) -> str | None:
    if span.file in sources:
        return sources[span.file]
    try:
        return Path(span.file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def utf8_error_at(data: bytes, exc: UnicodeDecodeError) -> tuple[int, int]:
    """The 1-based line and column of the first byte that is not UTF-8 (lines counted as the parser does)."""
    before = data[:exc.start].decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
    return before.count("\n") + 1, len(before) - before.rfind("\n")


def not_utf8(file: str, data: bytes, exc: UnicodeDecodeError) -> Diagnostic:
    """A story or template file that is not UTF-8, at its first bad byte (render it with the text
    decoded with `errors="replace"`, where that byte shows as \ufffd)."""
    line, column = utf8_error_at(data, exc)
    return Diagnostic("SB034", f"not UTF-8 text: byte 0x{data[exc.start]:02X} cannot be read as UTF-8",
                      Span(file, line, column, line, column + 1),
                      hint="save the file as UTF-8")


def render_json(diags: Iterable[Diagnostic]) -> str:
    return json.dumps([d.to_json() for d in diags], ensure_ascii=False, indent=2)


def summary(diags: list[Diagnostic]) -> str:
    errors = sum(d.is_error for d in diags)
    warnings = len(diags) - errors
    parts = []
    if errors:
        parts.append(f"{errors} error{'s' * (errors != 1)}")
    if warnings:
        parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
    return ", ".join(parts) or "no problems"
