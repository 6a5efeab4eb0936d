"""Completion, from the line as it stands in the editor and the last analysis: `@` offers the
cast; the start of a line the keys and keywords that may stand there; a key's value its choices
(`resolution: `, `ratio: `, `audio: `) or the story folder's files of the right type; `extend `
the clip directly before; `wipe ` the directions."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types

from .. import paths
from ..compiler.check.cast import MEDIA_KINDS as CAST_MEDIA
from ..compiler.check.clips import MEDIA_SETTINGS as CLIP_MEDIA
from ..compiler.check.files import EXTENSIONS, KIND_TYPES
from ..language.model import NAME_RE, WIPE_DIRECTIONS
from . import vocabulary
from .convert import split_lines
from .docs import setting_docs

if TYPE_CHECKING:
    from .analysis import Result
    from .server import StoryServer

_MENTION = re.compile(r"(?<![\w@])@(" + NAME_RE + r")?$")
_KEY_VALUE = re.compile(r"^(\s*)([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*)$")
_WORD = re.compile(r"^(\s*)([A-Za-z_]*)$")
_KIND_ICON = {"character": types.CompletionItemKind.Class, "prop": types.CompletionItemKind.Constant,
              "place": types.CompletionItemKind.Module}
MAX_FILES = 500  # a folder of thousands of frames: offer the first ones, say the list is cut


async def completion(ls: StoryServer, params: types.CompletionParams) -> types.CompletionList | None:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    lines = split_lines(doc.source)
    if params.position.line >= len(lines):
        return None
    text = lines[params.position.line]
    before = text[: doc.position_codec.position_from_client_units(lines, params.position).character]
    found = ls.result_for(params.text_document.uri) or await ls.ready(params.text_document.uri)
    result, file = found if found else (None, None)
    items = _items(ls, result, file, doc.path, lines, params.position.line, before)
    if items is None:
        return None
    return types.CompletionList(is_incomplete=len(items) > MAX_FILES, items=items[:MAX_FILES])


def _items(ls, result, file, doc_path, lines, line0, before) -> list[types.CompletionItem] | None:
    if (m := _MENTION.search(before)) is not None:
        return _cast_items(result)
    block = _block_of(lines, line0) if before[:1].isspace() else "film"
    if (m := _KEY_VALUE.match(before)) is not None:
        return _value_items(ls, result, file, doc_path, block, m.group(2), m.group(3))
    if (m := re.match(r"^extend\s+(\w*)$", before)) is not None:
        return _extend_items(lines, line0)
    if re.match(r"^wipe\s+\w*$", before):
        return [types.CompletionItem(d, kind=types.CompletionItemKind.EnumMember) for d in WIPE_DIRECTIONS]
    if (m := _WORD.match(before)) is not None:
        return _line_start_items(block, bool(m.group(1)))
    return None


def _header(line: str) -> re.Match | None:
    """`KIND NAME` at the start of a block header line, for every block keyword of the grammar."""
    return re.match(r"^(" + "|".join(vocabulary.block_keywords()) + r")\s+(" + NAME_RE + ")", line)


def _block_of(lines: list[str], line0: int) -> str:
    """The block the line is in: cast, clip, scene (a clip with beats), film (top level), or the
    keyword of another kind of block."""
    for n in range(line0 - 1, -1, -1):
        text = lines[n]
        if not text.strip() or text.lstrip().startswith("#") or text[:1].isspace():
            continue
        m = _header(text)
        if m is None:
            return "film"
        kind = m.group(1)
        if kind in vocabulary.cast_kinds():
            return "cast"
        if kind in vocabulary.clip_kinds():
            return "scene" if kind == "scene" else "clip"
        return kind  # a block this module knows no keys of: nothing is offered rather than wrong keys
    return "film"


def _cast_items(result: Result | None) -> list[types.CompletionItem]:
    if result is None:
        return []
    items = []
    for name, entry in sorted(result.film.cast.items()):
        member = entry.member
        items.append(types.CompletionItem(name, kind=_KIND_ICON.get(member.kind, types.CompletionItemKind.Variable),
                                          detail=member.kind, documentation=member.description))
    return items


def _doc(block: str, key: str) -> types.MarkupContent | None:
    doc = setting_docs().get(block, {}).get(key)
    if doc is None:
        return None
    return types.MarkupContent(types.MarkupKind.Markdown, "\n".join(f"- {h}: {c}" for h, c in doc.columns if c))


def _line_start_items(block: str, indented: bool) -> list[types.CompletionItem]:
    if not indented:
        keys = [_key_item(k, "film") for k in vocabulary.film_keys()]
        words = [types.CompletionItem(w, kind=types.CompletionItemKind.Keyword, insert_text=w + " ",
                                      detail="transition" if w in _transitions() else "block")
                 for w in vocabulary.keywords()]
        return keys + words
    if block == "cast":
        return [_key_item(k, "cast") for k in vocabulary.cast_fields()]
    if block in ("clip", "scene"):
        items = [_key_item(k, "clip") for k in vocabulary.clip_keys()]
        if block == "scene":
            items.append(types.CompletionItem("shot", kind=types.CompletionItemKind.Keyword, insert_text="shot: ",
                                              detail="a beat: one cut of the scene"))
        return items
    return []


def _transitions() -> tuple[str, ...]:
    from ..language.model import TRANSITIONS

    return TRANSITIONS


def _key_item(key: str, block: str) -> types.CompletionItem:
    return types.CompletionItem(key, kind=types.CompletionItemKind.Property, insert_text=key + ": ",
                                detail=f"{block} setting" if block != "cast" else "cast field",
                                documentation=_doc(block, key))


def _value_items(ls, result, file, doc_path, block, key, typed) -> list[types.CompletionItem] | None:
    limits = ls.provider.limits
    choices = {"resolution": limits.resolutions, "ratio": limits.ratios, "audio": ("on", "off")}
    if block != "cast" and key in choices:
        return [types.CompletionItem(v, kind=types.CompletionItemKind.EnumMember) for v in choices[key]]
    kind = _file_kind(block, key)
    if kind is None:
        return None
    return _file_items(result, file, doc_path, typed, kind)


def _file_kind(block: str, key: str) -> str | None:
    """What kind of file the key takes where it stands: image, video, audio or story."""
    if block == "film":
        return "story" if key == "include" else None
    if block == "cast":
        return CAST_MEDIA.get(key)
    return CLIP_MEDIA.get(key)


def _suffixes(kind: str) -> tuple[str, ...]:
    if kind == "story":
        return (".story",)
    return tuple(ext for ext, typ in EXTENSIONS.items() if typ in KIND_TYPES[kind])


def _file_items(result, file, doc_path, typed: str, kind: str) -> list[types.CompletionItem]:
    """Files under the story's folder only (a story may not use others), of the kind's types."""
    if "://" in typed:
        return []
    base = result.film.base_dir if result else Path(doc_path).resolve().parent
    rel_dir = result.rel_dir(file) if result else ""
    folder_written = typed.rsplit("/", 1)[0] + "/" if "/" in typed else ""
    folder = paths.resolve(base, folder_written or ".", rel_dir)
    if not folder.ok or not folder.path.is_dir():
        return []
    wanted = _suffixes(kind)
    itself = Path(doc_path).resolve()
    items = []
    try:
        entries = sorted(os.scandir(folder.path), key=lambda e: e.name)
    except OSError:
        return []
    for entry in entries:
        target = paths.resolve(base, folder_written + entry.name, rel_dir)
        # hidden files, links out of the story's folder, the story itself: not offered
        if entry.name.startswith(".") or not target.ok or target.path == itself:
            continue
        item = _file_item(folder_written + entry.name, target.path, wanted)
        if item is not None:
            items.append(item)
        if len(items) > MAX_FILES:
            break
    return items


def _file_item(written: str, path: Path, wanted: tuple[str, ...]) -> types.CompletionItem | None:
    name = written.rsplit("/", 1)[-1]
    if path.is_dir():
        return types.CompletionItem(name + "/", kind=types.CompletionItemKind.Folder, insert_text=written + "/",
                                    filter_text=written + "/",
                                    command=types.Command(title="", command="editor.action.triggerSuggest"))
    if name.lower().endswith(wanted):
        return types.CompletionItem(name, kind=types.CompletionItemKind.File, insert_text=written,
                                    filter_text=written)
    return None


def _extend_items(lines: list[str], line0: int) -> list[types.CompletionItem]:
    """The clip directly before (an extension's target, for an extension of an extension)."""
    for n in range(line0 - 1, -1, -1):
        m = _header(lines[n])
        if m and m.group(1) in ("shot", "scene", "extend"):
            return [types.CompletionItem(m.group(2), kind=types.CompletionItemKind.Reference, preselect=True,
                                         detail=f"the clip directly before (line {n + 1})")]
        if lines[n].strip() and not lines[n][:1].isspace() and not lines[n].startswith("#"):
            return []  # a transition stands between: nothing may be extended here
    return []


def register(server: StoryServer) -> None:
    server.feature(types.TEXT_DOCUMENT_COMPLETION,
                   types.CompletionOptions(trigger_characters=["@", " ", "/", ":"]))(completion)
