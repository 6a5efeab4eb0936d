"""Navigation: definition (mention -> cast block, `extend X` -> clip X, `include` -> the file),
references (every use of a cast member or clip across the story and its includes), the outline,
and rename of a cast member or a clip in every file that names it."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidRequest

from ..language.model import NAME_RE, CastMember, Clip, Setting, Transition
from .index import Occurrence

if TYPE_CHECKING:
    from .analysis import Result
    from .server import StoryServer

_CAST_SYMBOL = {"character": types.SymbolKind.Class, "prop": types.SymbolKind.Object,
                "place": types.SymbolKind.Namespace}
_CLIP_SYMBOL = {"shot": types.SymbolKind.Function, "scene": types.SymbolKind.Module,
                "extend": types.SymbolKind.Method}


async def _occurrence(ls: StoryServer, doc: types.TextDocumentIdentifier, position: types.Position):
    found = await ls.ready(doc.uri)
    if found is None:
        return None, None, None
    result, file = found
    lines = result.lines(file)
    line1, col1 = position.line + 1, lines.column1(position)
    return result, file, (result.index.at(file, line1, col1), line1, col1)


def _location(result: Result, occ: Occurrence) -> types.Location:
    return types.Location(result.uri(occ.span.file), result.lines(occ.span.file).range(occ.span))


async def definition(ls: StoryServer, params: types.DefinitionParams) -> list[types.Location] | None:
    result, file, at = await _occurrence(ls, params.text_document, params.position)
    if result is None:
        return None
    occ, line1, col1 = at
    if occ is not None:
        target = result.index.declaration(occ.name)
        return [_location(result, target)] if target is not None else None
    inc = result.index.include_at(file, line1, col1)
    if inc is not None and inc.path:
        found = result.film.story_file(inc.path, result.rel_dir(file))
        if found.ok and found.path.is_file():
            start = types.Position(0, 0)
            return [types.Location(result.uri(str(found.path)), types.Range(start, start))]
    return None


async def references(ls: StoryServer, params: types.ReferenceParams) -> list[types.Location] | None:
    result, _, at = await _occurrence(ls, params.text_document, params.position)
    if result is None or at[0] is None:
        return None
    name = at[0].name
    kind = result.index.kind_of(name)
    if kind is None:
        return None
    uses = result.index.uses(name, kind)
    if not params.context.include_declaration:
        uses = [o for o in uses if not o.declares]
    return [_location(result, o) for o in uses]


async def prepare_rename(ls: StoryServer, params: types.PrepareRenameParams):
    result, _, at = await _occurrence(ls, params.text_document, params.position)
    if result is None or at[0] is None or result.index.kind_of(at[0].name) is None:
        return None
    occ = at[0]
    return types.PrepareRenamePlaceholder(range=result.lines(occ.span.file).range(occ.span), placeholder=occ.name)


async def rename(ls: StoryServer, params: types.RenameParams) -> types.WorkspaceEdit | None:
    result, _, at = await _occurrence(ls, params.text_document, params.position)
    if result is None or at[0] is None:
        return None
    name, new = at[0].name, params.new_name.lstrip("@")
    kind = result.index.kind_of(name)
    if kind is None:
        return None
    if not re.fullmatch(NAME_RE, new):
        raise JsonRpcInvalidRequest(f"`{new}` is not a name: names start with a letter or _ and use only "
                                    "A-Z, a-z, 0-9, _ and -")
    if new != name and (new in result.film.cast or result.index.kind_of(new) is not None):
        raise JsonRpcInvalidRequest(f"`{new}` is already the name of a cast member or clip")
    changes: dict[str, list[types.TextEdit]] = {}
    for occ in result.index.uses(name, kind):
        changes.setdefault(result.uri(occ.span.file), []).append(
            types.TextEdit(result.lines(occ.span.file).range(occ.span), new))
    return types.WorkspaceEdit(changes=changes)


async def document_symbols(ls: StoryServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
    found = await ls.ready(params.text_document.uri)
    if found is None:
        return []
    result, file = found
    story = result.film.stories.get(file)
    if story is None:
        return []
    lines = result.lines(file)
    ends = _item_ends(story.items, len(lines.lines))
    symbols = []
    for item, end in zip(story.items, ends, strict=True):
        symbol = _symbol(item, end, lines)
        if symbol is not None:
            symbols.append(symbol)
    return symbols


def _item_ends(items, last_line: int) -> list[int]:
    """Each top-level item's last line: the line before the next item (blank lines trimmed below)."""
    starts = [i.span.line if i.span else 1 for i in items]
    return [(starts[k + 1] - 1 if k + 1 < len(starts) else last_line) for k in range(len(items))]


def _block_range(lines, start_line: int, end_line: int) -> types.Range:
    while end_line > start_line and not lines.line(end_line - 1).strip():
        end_line -= 1
    return types.Range(types.Position(start_line - 1, 0), lines.position(end_line, len(lines.line(end_line - 1)) + 1))


def _symbol(item, end: int, lines) -> types.DocumentSymbol | None:
    if item.span is None:
        return None
    whole = _block_range(lines, item.span.line, end)
    if isinstance(item, CastMember):
        return types.DocumentSymbol(item.name, _CAST_SYMBOL[item.kind], whole, lines.range(item.name_span or item.span),
                                    detail=item.kind)
    if isinstance(item, Clip):
        seconds = f" {item.seconds:g}s" if item.seconds is not None else ""
        name = f"extend {item.name}" if item.kind == "extend" else item.name
        children = [_beat_symbol(b, n, lines) for n, b in enumerate(item.beats, 1) if b.span]
        return types.DocumentSymbol(name, _CLIP_SYMBOL[item.kind], whole, lines.range(item.name_span or item.span),
                                    detail=f"{item.kind}{seconds}", children=children or None)
    if isinstance(item, Transition):
        text = item.kind + (f" {item.direction}" if item.direction else "") + (
            f" {item.seconds_text}" if item.seconds_text else "")
        return types.DocumentSymbol(text, types.SymbolKind.Event, whole, lines.range(item.span), detail="transition")
    if isinstance(item, Setting):
        return types.DocumentSymbol(item.key, types.SymbolKind.Property, whole, lines.range(item.span),
                                    detail=item.value[:60])
    return None


def _beat_symbol(beat, n: int, lines) -> types.DocumentSymbol:
    seconds = f" {beat.seconds:g}s" if beat.seconds is not None else ""
    where = lines.range(beat.span)
    text = beat.text.text
    return types.DocumentSymbol(f"shot {n}{seconds}", types.SymbolKind.Event,
                                types.Range(where.start, lines.position(beat.span.line,
                                                                        len(lines.line(beat.span.line - 1)) + 1)),
                                where, detail=text[:60] + ("…" if len(text) > 60 else ""))


def register(server: StoryServer) -> None:
    server.feature(types.TEXT_DOCUMENT_DEFINITION)(definition)
    server.feature(types.TEXT_DOCUMENT_REFERENCES)(references)
    server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)(document_symbols)
    server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)(prepare_rename)
    server.feature(types.TEXT_DOCUMENT_RENAME, types.RenameOptions(prepare_provider=True))(rename)
