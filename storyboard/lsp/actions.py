"""Diagnostics as LSP sees them, quick fixes from their hints, formatting with `fmt`, and the
code lenses on clip headers (render this shot as a preview; its cost at its resolution)."""

from __future__ import annotations

import asyncio
import re
import sys
from typing import TYPE_CHECKING

from lsprotocol import types

from ..diagnostics import Diagnostic, Severity
from ..language.fmt import format_source
from ..language.model import Clip
from .convert import Lines, path_of, real_path, uri_of
from .costs import clip_price, planned_clip
from .hover import usd_text

if TYPE_CHECKING:
    from .server import StoryServer

SOURCE = "storyboard"
RENDER_COMMAND = "storyboard.renderShot"
_DID_YOU_MEAN = re.compile(r"did you mean `?(@?)([^`?]+?)(:?)`?\?")


def to_lsp(d: Diagnostic, lines: Lines) -> types.Diagnostic:
    """The diagnostic `check` prints: its code, message, hint and notes, over the caret's range."""
    text = d.message + "".join(f"\nhint: {d.hint}" if d.hint else "") + "".join(f"\nnote: {n}" for n in d.notes)
    where = lines.range(d.span) if d.span else types.Range(types.Position(0, 0), types.Position(0, 0))
    severity = types.DiagnosticSeverity.Error if d.severity is Severity.ERROR else types.DiagnosticSeverity.Warning
    return types.Diagnostic(range=where, message=text, severity=severity, code=d.code, source=SOURCE,
                            data={"hint": d.hint} if d.hint else None)


def suggestion(hint: str | None, written: str) -> str | None:
    """The text a `did you mean ...?` hint suggests instead of `written` (None: no such hint)."""
    m = _DID_YOU_MEAN.fullmatch(hint or "")
    if not m:
        return None
    # the hint may write `@` or `:` that the diagnostic's range leaves out, or the other way round
    new = m.group(2).removeprefix("@").removesuffix(":")
    new = ("@" if written.startswith("@") else "") + new + (":" if written.endswith(":") else "")
    return new if new != written else None


def quick_fixes(ls: StoryServer, params: types.CodeActionParams) -> list[types.CodeAction]:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    fixes = []
    for diag in params.context.diagnostics:
        if diag.source != SOURCE or not isinstance(diag.data, dict):
            continue
        written = doc.text_in_client_range(diag.range) if diag.range.start.line < len(doc.lines) else ""
        new = suggestion(diag.data.get("hint"), written)
        if new is None:
            continue
        edit = types.WorkspaceEdit(changes={params.text_document.uri: [types.TextEdit(diag.range, new)]})
        fixes.append(types.CodeAction(title=f"Replace `{written}` with `{new}`", kind=types.CodeActionKind.QuickFix,
                                      diagnostics=[diag], edit=edit, is_preferred=True))
    return fixes


def formatting(ls: StoryServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
    """The whole document in `storyboard fmt`'s layout; nothing while it has syntax errors (as fmt)."""
    doc = ls.workspace.get_text_document(params.text_document.uri)
    formatted, _ = format_source(doc.source, doc.path)
    if formatted is None or formatted == doc.source:
        return [] if formatted is not None else None
    lines = Lines(doc.source, ls.workspace.position_codec)
    last = len(lines.lines)
    end = types.Position(line=last, character=0)
    return [types.TextEdit(types.Range(types.Position(0, 0), end), formatted)]


async def code_lenses(ls: StoryServer, params: types.CodeLensParams) -> list[types.CodeLens]:
    found = await ls.ready(params.text_document.uri, compiled=True)
    if found is None:
        return []
    result, file = found
    if not result.is_main(file):
        return []  # only the main story's clips are the film's
    lines = result.lines(file)
    lenses = []
    for clip in (i for i in result.film.story.timeline if isinstance(i, Clip) and i.span):
        where = lines.range(clip.span)
        planned = planned_clip(result, clip)
        if planned is not None:  # an extension renders as `battle+1`: its name comes from the plan
            lenses.append(types.CodeLens(where, types.Command("▶ render this shot (preview)", RENDER_COMMAND,
                                                              arguments=[params.text_document.uri, planned.name])))
        lenses.append(types.CodeLens(where, types.Command(_cost_title(result, clip), "")))
    return lenses


def _cost_title(result, clip: Clip) -> str:
    planned = planned_clip(result, clip)
    if planned is None:
        return "cost: fix the errors first" if result.plan is None else "cost: unknown"
    price, tier = clip_price(planned)
    return f"{usd_text(price)} at {tier}"


async def render_shot(ls: StoryServer, uri: str, shot: str) -> None:
    """`storyboard preview STORY --shot NAME`: the free animatic, from the saved file, then the page."""
    path = path_of(uri)
    doc = ls.open_docs().get(real_path(str(path))) if path is not None else None
    if path is None or not path.is_file():
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"{uri}: save the story first"))
        return
    if doc is not None and doc.source != path.read_text(encoding="utf-8", errors="replace"):
        ls.window_show_message(types.ShowMessageParams(
            types.MessageType.Warning, f"save {path.name} first: the render reads the file as saved"))
        return
    ls.window_show_message(types.ShowMessageParams(types.MessageType.Info, f"rendering {shot} (preview)…"))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "storyboard", "preview", str(path), "--shot", shot, "--yes",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, stdin=asyncio.subprocess.DEVNULL)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        last = (err.decode("utf-8", "replace").strip().splitlines() or ["failed"])[-1]
        ls.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"render {shot}: {last}"))
        return
    page = out.decode("utf-8", "replace").strip().splitlines()[-1]
    ls.window_show_message(types.ShowMessageParams(types.MessageType.Info, f"{shot} rendered: {page}"))
    await ls.window_show_document_async(types.ShowDocumentParams(uri=uri_of(page), external=True))


def register(server: StoryServer) -> None:
    server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix]))(quick_fixes)
    server.feature(types.TEXT_DOCUMENT_FORMATTING)(formatting)
    server.feature(types.TEXT_DOCUMENT_CODE_LENS, types.CodeLensOptions(resolve_provider=False))(code_lenses)

    @server.command(RENDER_COMMAND)
    async def render(ls, uri: str, shot: str):  # `ls` unannotated: pygls resolves the others' annotations
        await render_shot(ls, uri, shot)
