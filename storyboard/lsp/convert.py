"""Spans (1-based lines, 1-based code-point columns, exclusive end) <-> LSP ranges (0-based, in
the client's position encoding, UTF-16 by default), and file names <-> URIs.

Lines are split as the parser splits them (`\\r\\n`, `\\r` and `\\n` only, as LSP counts them), not
with `str.splitlines`, which also breaks at U+2028 and form feeds."""

from __future__ import annotations

import os
from pathlib import Path

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace.position_codec import PositionCodec

from ..diagnostics import Span


def split_lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def path_of(uri: str) -> Path | None:
    fs = to_fs_path(uri)
    return Path(fs) if fs else None


def real_path(file: str) -> Path:
    """A span's file (or any path) as an absolute path with links followed: one key per file."""
    try:
        return Path(os.path.abspath(file)).resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(file))


def uri_of(file: str) -> str:
    """A span's file (the main story's path as given, an include's relative to this process's
    folder) as a URI."""
    return from_fs_path(os.path.abspath(file)) or file


class Lines:
    """One file's lines, for converting columns to the client's units."""

    def __init__(self, text: str, codec: PositionCodec):
        self.lines = split_lines(text)
        self.codec = codec

    def line(self, n0: int) -> str:
        return self.lines[n0] if 0 <= n0 < len(self.lines) else ""

    def position(self, line1: int, column1: int) -> types.Position:
        text = self.line(line1 - 1)
        units = self.codec.client_num_units(text[: max(column1 - 1, 0)])
        return types.Position(line=max(line1 - 1, 0), character=units)

    def range(self, span: Span) -> types.Range:
        """The span's range; a span without an end covers one character, as the caret does."""
        start = self.position(span.line, span.column)
        end_line = span.end_line or span.line
        end_column = span.end_column if span.end_column else span.column + 1
        if end_line == span.line:
            end_column = max(end_column, span.column + 1)
            end_column = min(end_column, len(self.line(span.line - 1)) + 1) if self.line(span.line - 1) else end_column
        return types.Range(start=start, end=self.position(end_line, end_column))

    def column1(self, position: types.Position) -> int:
        """The 1-based code-point column of a client position."""
        text = self.line(position.line)
        units = 0
        for i, ch in enumerate(text):
            if units >= position.character:
                return i + 1
            units += self.codec.client_num_units(ch)
        return len(text) + 1


def contains(span: Span | None, line1: int, column1: int) -> bool:
    """Whether the 1-based position is inside the span's first line (its end included: a cursor
    right after a word is on it)."""
    if span is None or span.line != line1:
        return False
    end = span.end_column or span.column + 1
    return span.column <= column1 <= end
