"""What each setting does, read from the reference tables of docs/language.md (the one place it
is written): the film settings, the cast fields and the clip settings. The wheel carries the page
as storyboard/docs/language.md; a checkout reads docs/language.md."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

SECTIONS = {"film": "## Film settings", "cast": "## Cast", "clip": "## Clip settings", "transition": "## Transitions",
            # a card's lines, then its style words; the score's options
            "card": "## Title cards", "score": "## The score"}
_CODE = re.compile(r"`([^`]+)`")


@dataclass(frozen=True)
class SettingDoc:
    key: str
    columns: tuple[tuple[str, str], ...]  # (heading, cell) of its table row, after the key
    anchor: str  # the section's anchor in docs/language.md


@lru_cache(maxsize=1)
def language_page_path() -> Path | None:
    """The page: in the wheel, else in the checkout this package runs from; None if neither."""
    packaged = resources.files("storyboard") / "docs" / "language.md"
    if isinstance(packaged, Path) and packaged.is_file():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / "docs" / "language.md"
    return checkout if checkout.is_file() else None


def language_page() -> str | None:
    path = language_page_path()
    return path.read_text(encoding="utf-8") if path else None


@lru_cache(maxsize=1)
def setting_docs() -> dict[str, dict[str, SettingDoc]]:
    """block (film|cast|clip|transition|card|score) -> key -> its row."""
    page = language_page() or ""
    return {block: _table_rows(_section(page, heading)) for block, heading in SECTIONS.items()}


def _section(page: str, heading: str) -> tuple[str, str]:
    start = page.find("\n" + heading)
    if start < 0:
        return "", ""
    end = page.find("\n## ", start + 1)
    text = page[start + 1: end if end > 0 else len(page)]
    title = text.splitlines()[0].lstrip("# ")
    anchor = re.sub(r"[^a-z0-9 -]", "", title.lower()).replace(" ", "-")
    return text, anchor


def _table_rows(section: tuple[str, str]) -> dict[str, SettingDoc]:
    text, anchor = section
    rows: dict[str, SettingDoc] = {}
    headings: list[str] = []
    for line in text.splitlines():
        if not line.startswith("|"):
            headings = []
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
        if not headings:
            headings = cells
            continue
        if set(cells[0]) <= set("- "):
            continue
        for key in _keys(cells[0]):
            rows.setdefault(key, SettingDoc(key, tuple(zip(headings[1:], cells[1:], strict=False)), anchor))
    return rows


def _keys(cell: str) -> list[str]:
    """`` `first: FILE`, `last: FILE` `` -> first, last; `` `resolution` `` -> resolution."""
    return [m.group(0) for code in _CODE.findall(cell) if (m := re.match(r"[a-z]+", code))]
