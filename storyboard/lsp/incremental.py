"""Parsing an edited story again without parsing what the edit left alone.

A story is a sequence of top-level blocks, each starting at a line at the left margin, and each
parses on its own to the same items (the grammar is `_item*`; the indenter is back at the margin
between blocks). So each block's parse is kept by (its first line, its text): after an edit inside
one block only that block is parsed again. Whenever a block has a syntax error, or many blocks
moved (a line added above them), the whole text is parsed as `storyboard check` parses it, so the
diagnostics are always the parser's own."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from ..diagnostics import Diagnostic, Span
from ..language.model import Story
from ..language.parser import _normalise, parse

MAX_REPARSED = 4  # more blocks changed or moved than this: one parse of the whole text is cheaper


@dataclass(frozen=True)
class _Parsed:
    items: tuple
    diagnostics: tuple[Diagnostic, ...]


Block = tuple[int, str]  # (0-based index of its first line, its text)


class IncrementalParser:
    def __init__(self):
        self.blocks: dict[str, dict[Block, _Parsed]] = {}  # path -> the last parse's blocks
        self.reparsed = 0  # blocks parsed on their own by the last call (for tests and the benchmark)

    def parse(self, text: str, path: str) -> tuple[Story, list[Diagnostic]]:
        lines = _normalise(text).split("\n")
        blocks = _blocks(lines)
        known = self.blocks.get(path, {})
        missing = [b for b in blocks if b not in known]
        if len(missing) > MAX_REPARSED:
            return self._whole(text, path, blocks)
        parsed = dict(known)
        for block in missing:
            story, diags = parse("\n" * block[0] + block[1], path)
            if any(d.is_error for d in diags):
                return self._whole(text, path, blocks)
            parsed[block] = _Parsed(story.items, tuple(diags))
        self.reparsed = len(missing)
        self.blocks[path] = {b: parsed[b] for b in blocks}
        items = tuple(item for b in blocks for item in parsed[b].items)
        diags = sorted((d for b in blocks for d in parsed[b].diagnostics), key=_position)
        return Story(path=path, items=items, span=Span(path, 1, 1)), diags

    def _whole(self, text: str, path: str, blocks: list[Block]) -> tuple[Story, list[Diagnostic]]:
        story, diags = parse(text, path)
        self.reparsed = len(blocks)
        if any(d.is_error for d in diags):
            self.blocks.pop(path, None)  # recovery blanks lines: its items are not each block's own
            return story, diags
        starts = [b[0] + 1 for b in blocks]  # 1-based first lines
        items: list[list] = [[] for _ in blocks]
        found: list[list[Diagnostic]] = [[] for _ in blocks]
        for item in story.items:
            items[_block_of(starts, item.span.line if item.span else 1)].append(item)
        for d in diags:
            found[_block_of(starts, d.span.line if d.span else 1)].append(d)
        self.blocks[path] = {b: _Parsed(tuple(i), tuple(f)) for b, i, f in zip(blocks, items, found, strict=True)}
        return story, diags


def _blocks(lines: list[str]) -> list[Block]:
    """The text split before each line at the left margin (not a comment), as the parser's
    recovery splits it; the first block holds whatever comes before the first such line."""
    starts = [0] + [n for n in range(1, len(lines)) if lines[n][:1] not in ("", " ", "\t", "#")]
    ends = starts[1:] + [len(lines)]
    return [(s, "\n".join(lines[s:e]) + "\n") for s, e in zip(starts, ends, strict=True)]


def _block_of(starts: list[int], line: int) -> int:
    return max(bisect_right(starts, line) - 1, 0)


def _position(d: Diagnostic):
    return (d.span.line, d.span.column) if d.span else (0, 0)
