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
from ..cards import style as card_style
from ..compiler.check.cards import MEDIA_KINDS as CARD_MEDIA
from ..compiler.check.cast import MEDIA_KINDS as CAST_MEDIA
from ..compiler.check.clips import MEDIA_SETTINGS as CLIP_MEDIA
from ..compiler.check.files import EXTENSIONS, KIND_TYPES
from ..compiler.check.score import FILE_KIND as SCORE_KIND
from ..compiler.score import OPTIONS as SCORE_OPTIONS, RANGES as SCORE_RANGES, read_score
from ..language.model import NAME_RE, WIPE_DIRECTIONS, Card, Clip
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
    if block == "card":
        return [_key_item(k, "card") for k in vocabulary.card_fields()]
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
                                detail={"cast": "cast field", "card": "card line"}.get(block, f"{block} setting"),
                                documentation=_doc(block, key))


def _value_items(ls, result, file, doc_path, block, key, typed) -> list[types.CompletionItem] | None:
    limits = ls.provider.limits
    choices = {"resolution": limits.resolutions, "ratio": limits.ratios, "audio": ("on", "off")}
    if block not in ("cast", "card") and key in choices:
        return [types.CompletionItem(v, kind=types.CompletionItemKind.EnumMember) for v in choices[key]]
    if block == "card" and key == "style":
        return style_items(typed)
    if block == "film" and key == "score":
        return score_items(result, file, doc_path, typed)
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
    if block == "card":
        return CARD_MEDIA.get(key)
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


# ---- a card's `style:` and the film's `score:` ------------------------------------------------

def style_items(typed: str) -> list[types.CompletionItem]:
    """The words of cards/style.py that may stand next in the comma-separated item being typed:
    to start an item, those setting what the items before have not set; after a colour, `on`;
    after `on`, a colour; after a complete item (a font, `bold`, `fade`, `COLOUR on COLOUR`),
    nothing (a comma comes next)."""
    before, _, item = typed.rpartition(",")
    taken = card_style.parse_style(before).given  # text colour, background, font, bold, fade
    words = item.lower().split()
    done = words if item[-1:].isspace() or not item else words[:-1]  # the word being typed is not done
    if not done:
        wanted = {"font": card_style.FONT_WORDS, "bold": card_style.FLAGS, "fade": ("fade",),
                  "text colour": card_style.COLOURS, "background": ("on",)}
        allowed = {w for what, ws in wanted.items() if what not in taken for w in ws}
        return [_style_item(w) for w in card_style.VOCABULARY if w in allowed]
    last = done[-1]
    if last == "on":
        return [_style_item(w) for w in card_style.COLOURS]
    if last in card_style.COLOURS and len(done) == 1 and "background" not in taken:
        return [_style_item("on")]
    return []


def _style_item(word: str) -> types.CompletionItem:
    docs = setting_docs().get("card", {})
    if word in card_style.COLOURS:
        return types.CompletionItem(word, kind=types.CompletionItemKind.Color, detail="colour",
                                    documentation=card_style.COLOURS[word])  # shown as a swatch by clients
    what = "font" if word in card_style.FONT_WORDS else "colour of the background" if word == "on" else "style"
    doc = docs.get("serif" if word == "sans-serif" else word)
    return types.CompletionItem(word, kind=types.CompletionItemKind.EnumMember, detail=what,
                                documentation=dict(doc.columns).get("what they set") if doc else None)


def score_items(result, file, doc_path, typed: str) -> list[types.CompletionItem]:
    """`score: FILE [from CLIP] [to CLIP], OPTION, ...`: audio files first, then `from`/`to` and
    the film's clips and cards, then the options not given yet (compiler/score.py's)."""
    head, comma, _ = typed.partition(",")
    if comma:
        return _score_options(typed)
    words = head.split()
    if len(words) <= 1 and not head[-1:].isspace():
        return _file_items(result, file, doc_path, head, SCORE_KIND)
    done = words if head[-1:].isspace() else words[:-1]
    if done[-1] in ("from", "to"):
        return _timeline_names(result)
    offered = ["from", "to"] if "from" not in done and "to" not in done else ["to"] if "to" not in done else []
    return [types.CompletionItem(w, kind=types.CompletionItemKind.Keyword, insert_text=w + " ",
                                 detail="the score starts with this clip" if w == "from" else
                                 "the score ends with this clip (and its extensions)") for w in offered]


def _score_options(typed: str) -> list[types.CompletionItem]:
    """The options not given yet in the items before the one being typed, as `read_score` reads them."""
    given = read_score(typed.rsplit(",", 1)[0]).values  # ScoreSpec field -> value
    out = []
    for option in SCORE_OPTIONS:
        fields = (("fade_in", "fade_out") if option == "fade" else ("loop",) if option in ("loop", "once")
                  else (SCORE_RANGES[option][0],))
        if any(f in given for f in fields):
            continue
        takes_value = option not in ("loop", "once")
        out.append(types.CompletionItem(option, kind=types.CompletionItemKind.Property,
                                        insert_text=option + " " if takes_value else option, detail="score option",
                                        documentation=_doc("score", option.split()[0])))
    return out


def _timeline_names(result) -> list[types.CompletionItem]:
    """The clips and cards of the film, in film order (a score names one, not an extension)."""
    if result is None:
        return []
    out = []
    for item in result.film.timeline:
        if isinstance(item, Card) or (isinstance(item, Clip) and item.kind != "extend"):
            out.append(types.CompletionItem(item.name, kind=types.CompletionItemKind.Reference,
                                            detail=item.kind))
    return out


def register(server: StoryServer) -> None:
    server.feature(types.TEXT_DOCUMENT_COMPLETION,
                   types.CompletionOptions(trigger_characters=["@", " ", "/", ":"]))(completion)
