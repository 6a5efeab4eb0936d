"""Where a card's text goes, and whether it fits. One function for the checker (is it readable?)
and the renderer (draw it there): text and subtitle wrapped to the card's width and centred;
with `credits:`, the title, the subtitle and the credits make one roll that scrolls from below
the bottom edge to above the top edge over the card's length."""

from __future__ import annotations

from dataclasses import dataclass

from ..media.text import DRAW_LOCK, font_file, font_from_file, line_height, wrap

TEXT_SIZE = 0.09  # of the card's height: the title's font size
SUBTITLE_SIZE = 0.045
CREDITS_SIZE = 0.04
TEXT_WIDTH = 0.84  # of the card's width: the widest a line may be
MAX_TEXT_LINES = 3  # a still card's title and subtitle each
MAX_CREDIT_LINES = 2  # one `credits:` line wraps to at most this many
MIN_ON_SCREEN = 2.0  # s: every line of a roll is on screen at least this long
GAP = 0.5  # of the title's line height, between the title and the subtitle (and before credits)


@dataclass(frozen=True)
class Row:
    text: str
    font: str | None  # the font file
    size: int  # font size in pixels
    y: int  # the row's top, from the top of the text block
    height: int


@dataclass(frozen=True)
class Overflow:
    """Text that does not fit: `what` is text | subtitle | credits (a line too wide) | speed."""

    what: str
    lines: int = 0  # lines it needs
    most: int = 0  # lines it may have
    line: str = ""  # the credits line
    seconds: float = 0.0  # speed: the shortest card that scrolls it slowly enough


@dataclass(frozen=True)
class Layout:
    width: int
    height: int
    rows: tuple[Row, ...]
    block: int  # the text block's height
    rolls: bool  # credits: the block scrolls
    overflow: tuple[Overflow, ...]

    def top(self, t: float, seconds: float) -> float:
        """The text block's top edge on the card at time t (s)."""
        if not self.rolls:
            return (self.height - self.block) / 2
        travel = self.height + self.block
        return self.height - travel * min(max(t / seconds, 0.0), 1.0)


def _rows(text: str, family: str, bold: bool, size: int, width: int, most: int | None) -> tuple[list[str], str | None]:
    path = font_file(text, family, bold)
    face = font_from_file(path, size)
    with DRAW_LOCK:
        lines = wrap(text, face, width, most if most is not None else 1000)
    return lines, path


def layout(*, text: str | None, subtitle: str | None, credits: list[str], seconds: float, width: int, height: int,
           font: str = "sans", bold: bool = False) -> Layout:
    rolls = bool(credits)
    box = int(width * TEXT_WIDTH)
    rows: list[Row] = []
    overflow: list[Overflow] = []
    y = 0
    parts = [("text", text, TEXT_SIZE, bold), ("subtitle", subtitle, SUBTITLE_SIZE, False)]
    for what, value, rel, weight in parts:
        if not value:
            continue
        size = max(8, round(height * rel))
        if rows:
            y += round(line_height(max(8, round(height * TEXT_SIZE))) * GAP)
        lines, path = _rows(value, font, weight, size, box, None)
        if not rolls and len(lines) > MAX_TEXT_LINES:
            overflow.append(Overflow(what, len(lines), MAX_TEXT_LINES))
            lines = _rows(value, font, weight, size, box, MAX_TEXT_LINES)[0]
        for line in lines:
            rows.append(Row(line, path, size, y, line_height(size)))
            y += line_height(size)
    if credits:
        y = _credits(credits, font, height, box, rows, overflow, y)
    block = y
    if rolls:
        fastest = _shortest_roll(height, block)
        if seconds + 1e-9 < fastest:
            overflow.append(Overflow("speed", lines=len(rows), seconds=fastest))
    return Layout(width, height, tuple(rows), block, rolls, tuple(overflow))


def _credits(credits: list[str], font: str, height: int, box: int, rows: list[Row], overflow: list[Overflow],
             y: int) -> int:
    size = max(8, round(height * CREDITS_SIZE))
    if rows:
        y += round(line_height(max(8, round(height * TEXT_SIZE))) * GAP) * 2
    for credit in credits:
        if not credit.strip():
            y += line_height(size)
            continue
        lines, path = _rows(credit, font, False, size, box, None)
        if len(lines) > MAX_CREDIT_LINES:
            overflow.append(Overflow("credits", len(lines), MAX_CREDIT_LINES, line=credit))
            lines = _rows(credit, font, False, size, box, MAX_CREDIT_LINES)[0]
        for line in lines:
            rows.append(Row(line, path, size, y, line_height(size)))
            y += line_height(size)
    return y


def _shortest_roll(height: int, block: int) -> float:
    """The shortest card on which every line of a roll `block` pixels high stays on screen
    MIN_ON_SCREEN seconds: a line crosses `height` pixels while the roll travels height + block."""
    return round(MIN_ON_SCREEN * (height + block) / height + 0.05, 1)
