"""`storyboard lsp` end to end: a real LSP client (pytest-lsp) over stdio, one server for the
module. A film of two files (cast and settings in an include), the features the issue lists, a
story with errors, a rename across files and garbage that must not crash the server."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from PIL import Image
from pytest_lsp import ClientServerConfig, LanguageClient

from storyboard.api import compile_file  # what `storyboard check` runs
from storyboard.lsp.convert import uri_of
from storyboard.providers import get

pytestmark = pytest.mark.asyncio(loop_scope="module")

CAST = """\
resolution: 720p
include: sets/props.story

character Keeper:
  image: cast/keeper.png
  description: an old lighthouse keeper in a yellow oilskin
"""

PROPS = """\
prop Lamp:
  image: ../props/lamp.png
  description: a brass storm lamp
"""

MAIN = """\
title: The Lighthouse
include: cast.story

shot storm 6s:
  @Keeper climbs the stairs with @Lamp.
  @Keeper (shouting): "Hold on, @Lamp!"
  camera: low angle

dissolve 1s

scene night 8s:
  shot 4s: @Lamp swings in the wind.
  shot: @Keeper looks out to sea.

extend night 4s:
  The sea calms.
"""


def _picture(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (32, 32), (200, 160, 40)).save(path)


@pytest.fixture(scope="module")
def film_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lsp films é")  # a space and a non-ASCII letter in every URI
    _picture(folder / "cast" / "keeper.png")
    _picture(folder / "props" / "lamp.png")
    (folder / "frames").mkdir()
    _picture(folder / "frames" / "dawn.png")
    (folder / "frames" / "notes.txt").write_text("not a picture")
    (folder / "cast.story").write_text(CAST)
    (folder / "sets").mkdir()
    (folder / "sets" / "props.story").write_text(PROPS)  # main.story -> cast.story -> sets/props.story
    (folder / "main.story").write_text(MAIN)
    return folder


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(server_command=[sys.executable, "-m", "storyboard",
                                                                              "lsp"]))
async def client(lsp_client: LanguageClient):
    lsp_client.published = []  # every (uri, version, diagnostics) in order: a test waits for its version's

    def record(params: types.PublishDiagnosticsParams):
        lsp_client.diagnostics[params.uri] = params.diagnostics
        lsp_client.published.append((params.uri, params.version, list(params.diagnostics)))

    lsp_client.protocol.fm.features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = record
    await lsp_client.initialize_session(types.InitializeParams(capabilities=types.ClientCapabilities()))
    yield
    await lsp_client.shutdown_session()


async def _published(client: LanguageClient, uri: str, version: int | None = None, since: int = 0
                     ) -> list[types.Diagnostic]:
    """The diagnostics published for `uri` (at `version`, when given) after the `since`th publication."""
    for _ in range(1000):
        found = [diags for u, v, diags in client.published[since:] if u == uri and version in (v, None)]
        if found:
            return found[-1]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no diagnostics for {uri} in 10 s")


async def _open(client: LanguageClient, path: Path, text: str | None = None, version: int = 1) -> str:
    uri = uri_of(str(path))
    since = len(client.published)
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
        uri=uri, language_id="story", version=version, text=path.read_text() if text is None else text)))
    await _published(client, uri, version, since)
    return uri


async def _change(client: LanguageClient, uri: str, text: str, version: int) -> list[types.Diagnostic]:
    since = len(client.published)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        [types.TextDocumentContentChangeWholeDocument(text=text)]))
    return await _published(client, uri, version, since)


def _close(client: LanguageClient, uri: str) -> None:
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))


def _at(text: str, needle: str, offset: int = 0) -> types.Position:
    """The position of `needle` (plus `offset` characters) in `text`."""
    i = text.index(needle) + offset
    line = text.count("\n", 0, i)
    return types.Position(line, i - (text.rfind("\n", 0, i) + 1))


async def test_a_clean_film_and_its_include_have_no_diagnostics(client: LanguageClient, film_dir: Path):
    since = len(client.published)
    uri = await _open(client, film_dir / "main.story")
    assert list(client.diagnostics[uri]) == []
    assert await _published(client, uri_of(str(film_dir / "cast.story")), since=since) == []
    assert await _published(client, uri_of(str(film_dir / "sets" / "props.story")), since=since) == []
    _close(client, uri)


async def test_diagnostics_are_checks_own_for_an_unsaved_buffer_and_its_include(client, film_dir: Path):
    broken = MAIN.replace("@Keeper climbs", "@Keper climbs")
    broken = broken.replace("camera: low angle", "camera: low angle\n  seed: x")
    uri = await _open(client, film_dir / "main.story", MAIN)
    diags = await _change(client, uri, broken, 2)
    # what `storyboard check` says of the same text on disk
    scratch = film_dir / "scratch.story"
    scratch.write_text(broken)
    expected = compile_file(scratch, get("preview")).diagnostics
    scratch.unlink()
    assert [(d.code, d.message.split("\nhint: ")[0]) for d in diags] == [(e.code, e.message) for e in expected]
    sb402 = next(d for d in diags if d.code == "SB402")
    assert sb402.range == types.Range(_at(broken, "Keper"), _at(broken, "Keper", 5))
    assert "hint: did you mean @Keeper?" in sb402.message
    assert sb402.severity == types.DiagnosticSeverity.Error
    # an error in the include, unsaved too, shows on the include's own uri
    cast_uri = uri_of(str(film_dir / "cast.story"))
    since = len(client.published)
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
        uri=cast_uri, language_id="story", version=1, text=CAST.replace("resolution: 720p", "resolution: 721p"))))
    sb103 = next(d for d in await _published(client, cast_uri, 1, since)
                 if d.code == "SB103")
    assert sb103.range.start == types.Position(0, 12)
    # the quick fix replaces the misspelt mention
    actions = await client.text_document_code_action_async(types.CodeActionParams(
        types.TextDocumentIdentifier(uri), sb402.range, types.CodeActionContext(diagnostics=[sb402])))
    (fix,) = actions
    assert fix.title == "Replace `Keper` with `Keeper`"
    assert list(fix.edit.changes[uri]) == [types.TextEdit(sb402.range, "Keeper")]
    _close(client, cast_uri)
    _close(client, uri)


async def test_completion_offers_cast_keys_values_clips_and_files(client, film_dir: Path):
    text = MAIN + "\nshot dawn 5s:\n  @\n  resolution: \n  first: frames/\n  \n\nextend \nre\n" + \
        "include: \ncharacter Gull:\n  image: \n  voice: cast/\n"
    uri = await _open(client, film_dir / "main.story", text)

    async def labels(needle: str, offset: int) -> dict[str, types.CompletionItem]:
        got = await client.text_document_completion_async(types.CompletionParams(
            types.TextDocumentIdentifier(uri), _at(text, needle, offset)))
        items = got.items if isinstance(got, types.CompletionList) else got or []
        return {i.label: i for i in items}

    cast = await labels("  @\n", 3)
    assert set(cast) == {"Keeper", "Lamp", "Gull"}  # Gull below, still without a picture
    assert cast["Keeper"].detail == "character" and "oilskin" in cast["Keeper"].documentation
    assert set(await labels("resolution: \n", 12)) == {"480p", "720p", "1080p"}
    assert set(await labels("first: frames/", 14)) == {"dawn.png"}  # not notes.txt
    clip_keys = await labels("  \n\nextend", 2)
    assert {"camera", "sound", "first", "motion", "seed"} <= set(clip_keys)
    assert set(await labels("extend \n", 7)) == {"dawn"}
    assert set(await labels("include: \n", 9)) == {"cast.story", "cast/", "frames/", "props/", "sets/"}  # not itself
    assert set(await labels("  image: \n", 9)) == {"cast/", "frames/", "props/", "sets/"}  # folders: no picture here
    assert set(await labels("  voice: cast/", 14)) == set()  # pictures only in cast/: no sound file
    top = await labels("\nre\n", 3)
    assert {"resolution", "title", "include", "shot", "scene", "character", "dissolve", "morph"} <= set(top)
    _close(client, uri)


async def test_hover_on_mention_clip_and_setting(client, film_dir: Path):
    uri = await _open(client, film_dir / "main.story")

    async def hover(needle: str, offset: int = 1) -> str:
        got = await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri),
                                                                        _at(MAIN, needle, offset)))
        return got.contents.value

    keeper = await hover("@Keeper climbs", 2)
    assert "**character** `Keeper`" in keeper and "yellow oilskin" in keeper
    assert f"[cast/keeper.png]({uri_of(str((film_dir / 'cast' / 'keeper.png').resolve()))})" in keeper
    storm = await hover("shot storm", 1)
    assert "6s" in storm and "reference mode" in storm
    assert "references, in request order: Keeper (character), Lamp (prop)" in storm
    assert "720p $0.96" in storm and "480p $0.42" in storm  # Together's 0.16 and 0.07 $/s
    assert "Image 1 climbs the stairs with Image 2." in storm  # the exact prompt
    setting = await hover("title:", 1)
    assert "film setting" in setting and "names the film file" in setting
    _close(client, uri)


async def test_navigation_across_the_include(client, film_dir: Path):
    uri = await _open(client, film_dir / "main.story")
    props_uri = uri_of(str(film_dir / "sets" / "props.story"))
    where = types.TextDocumentPositionParams(types.TextDocumentIdentifier(uri), _at(MAIN, "@Lamp", 2))
    (target,) = await client.text_document_definition_async(types.DefinitionParams(where.text_document,
                                                                                    where.position))
    assert target.uri == props_uri and target.range.start == _at(PROPS, "Lamp:")  # two includes down
    (clip,) = await client.text_document_definition_async(types.DefinitionParams(
        where.text_document, _at(MAIN, "extend night", 8)))
    assert clip.uri == uri and clip.range.start == _at(MAIN, "night 8s")
    (inc,) = await client.text_document_definition_async(types.DefinitionParams(
        where.text_document, _at(MAIN, "cast.story", 2)))
    assert inc.uri == uri_of(str((film_dir / "cast.story").resolve()))
    refs = await client.text_document_references_async(types.ReferenceParams(
        context=types.ReferenceContext(include_declaration=True), text_document=where.text_document,
        position=where.position))
    assert len(refs) == 4  # sets/props.story, the prose, the dialogue line, the beat
    assert {r.uri for r in refs} == {uri, props_uri}
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(where.text_document))
    names = [s.name for s in symbols]
    assert names == ["title", "storm", "dissolve 1s", "night", "extend night"]
    night = symbols[3]
    assert [b.name for b in night.children] == ["shot 1 4s", "shot 2"]
    _close(client, uri)


async def test_rename_a_cast_member_across_files(client, film_dir: Path):
    uri = await _open(client, film_dir / "main.story")
    cast_uri = uri_of(str(film_dir / "cast.story"))
    doc = types.TextDocumentIdentifier(uri)
    prepared = await client.text_document_prepare_rename_async(types.PrepareRenameParams(doc, _at(MAIN, "Keeper")))
    assert prepared.placeholder == "Keeper"
    edit = await client.text_document_rename_async(_rename(doc, _at(MAIN, "@Keeper", 3), "Warden"))
    assert len(edit.changes[cast_uri]) == 1 and len(edit.changes[uri]) == 3
    renamed = _apply(MAIN, edit.changes[uri])
    assert "@Warden climbs" in renamed and '@Warden (shouting)' in renamed and "@Warden looks" in renamed
    assert "character Warden:" in _apply(CAST, edit.changes[cast_uri])
    clip_edit = await client.text_document_rename_async(_rename(doc, _at(MAIN, "night 8s"), "evening"))
    assert "scene evening 8s:" in (after := _apply(MAIN, clip_edit.changes[uri])) and "extend evening 4s:" in after
    with pytest.raises(Exception, match="already the name"):
        await client.text_document_rename_async(_rename(doc, _at(MAIN, "@Keeper", 3), "Lamp"))
    _close(client, uri)


def _rename(doc: types.TextDocumentIdentifier, position: types.Position, new: str) -> types.RenameParams:
    return types.RenameParams(text_document=doc, position=position, new_name=new)


def _apply(text: str, edits: list[types.TextEdit]) -> str:
    lines = text.split("\n")
    for e in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        line = lines[e.range.start.line]
        lines[e.range.start.line] = line[:e.range.start.character] + e.new_text + line[e.range.end.character:]
    return "\n".join(lines)


async def test_formatting_and_code_lenses(client, film_dir: Path):
    messy = MAIN.replace("title: The Lighthouse", "title:    The Lighthouse")
    uri = await _open(client, film_dir / "main.story", messy)
    doc = types.TextDocumentIdentifier(uri)
    (edit,) = await client.text_document_formatting_async(types.DocumentFormattingParams(
        doc, types.FormattingOptions(tab_size=2, insert_spaces=True)))
    assert edit.new_text == MAIN
    lenses = await client.text_document_code_lens_async(types.CodeLensParams(doc))
    titles = [(lens.range.start.line, lens.command.title) for lens in lenses]
    assert (3, "▶ render this shot (preview)") in titles and (3, "$0.96 at 720p") in titles
    render = next(lens.command for lens in lenses if lens.range.start.line == 14 and "render" in lens.command.title)
    assert render.command == "storyboard.renderShot" and list(render.arguments) == [uri, "night+1"]
    _close(client, uri)


async def test_a_broken_story_still_completes_and_has_an_outline(client, film_dir: Path):
    broken = MAIN.replace("dissolve 1s", "disolve 1s\n\nshot 5s:\n  nameless") + "\nshot tail:\n  @\n"
    uri = await _open(client, film_dir / "main.story", broken)
    await asyncio.sleep(0.2)
    assert {d.code for d in client.diagnostics[uri]} >= {"SB010", "SB008"}
    got = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri), _at(broken, "  @\n", 3)))
    assert {i.label for i in got.items} == {"Keeper", "Lamp"}
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        types.TextDocumentIdentifier(uri)))
    assert {"storm", "night", "tail"} <= {s.name for s in symbols}
    _close(client, uri)


async def test_garbage_does_not_crash_the_server(client, film_dir: Path):
    uri = await _open(client, film_dir / "garbage.story", "\x00\ufeff\u2028@@@ :\n\t\tshot ::\n" * 200)
    texts = ["", "\ufffd" * 50, "shot a:\n" + "  " * 500 + "x\n", "😀" * 1000 + "@\n\x0c\r\r\n",
             "include: /etc/passwd\n"]
    for i, text in enumerate(texts):
        await _change(client, uri, text, i + 2)
        got = await client.text_document_completion_async(types.CompletionParams(
            types.TextDocumentIdentifier(uri), types.Position(0, 3)))
        assert got is None or isinstance(got, types.CompletionList)
        await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri),
                                                                 types.Position(0, 1)))
        await client.text_document_document_symbol_async(types.DocumentSymbolParams(types.TextDocumentIdentifier(uri)))
    assert any(d.code == "SB033" for d in client.diagnostics[uri])  # an include out of the folder: refused
    _close(client, uri)
    assert client.error is None


async def test_the_render_lens_refuses_an_unsaved_buffer(client, film_dir: Path):
    uri = await _open(client, film_dir / "main.story", MAIN + "\n# not saved yet\n")
    told = len(client.messages)
    await client.workspace_execute_command_async(types.ExecuteCommandParams("storyboard.renderShot", [uri, "storm"]))
    await asyncio.sleep(0.2)
    assert [m.message for m in client.messages[told:]] == [
        "save main.story first: the render reads the file as saved"]
    _close(client, uri)


@pytest.mark.slow
async def test_the_render_lens_renders_the_shot_and_shows_the_page(client, film_dir: Path):
    uri = await _open(client, film_dir / "main.story")
    await client.workspace_execute_command_async(types.ExecuteCommandParams("storyboard.renderShot", [uri, "storm"]))
    for _ in range(600):
        if client.shown_documents:
            break
        await asyncio.sleep(0.1)
    page = film_dir / "build" / "storyboard.html"
    assert client.shown_documents[-1].uri == uri_of(str(page)) and page.is_file()
    assert client.messages[-1].message == f"storm rendered: {page}"
    _close(client, uri)


async def test_an_include_opened_alone_is_checked_as_part_of_the_story_that_includes_it(client, film_dir: Path):
    """Alone, a file of cast holds no clip (SB510): it is checked within main.story, from disk."""
    cast_uri = await _open(client, film_dir / "cast.story", CAST.replace("a brass storm lamp", "a brass lamp"))
    assert list(client.diagnostics[cast_uri]) == []
    diags = await _change(client, cast_uri, CAST.replace("image: cast/keeper.png", "image: cast/keper.png"), 2)
    assert [d.code for d in diags] == ["SB301"]
    assert "did you mean cast/keeper.png?" in diags[0].message
    _close(client, cast_uri)


async def test_what_only_the_compile_finds_follows_the_checks_diagnostics(client, film_dir: Path):
    """Two identical clips are one generation (SB430, found by the compile, after the check)."""
    twins = MAIN + "\nshot twin_a 5s:\n  The sea is calm.\n\nshot twin_b 5s:\n  The sea is calm.\n"
    uri = await _open(client, film_dir / "main.story", twins)
    for _ in range(500):
        if any(d.code == "SB430" for d in client.diagnostics[uri]):
            break
        await asyncio.sleep(0.01)
    scratch = film_dir / "twins.story"
    scratch.write_text(twins)
    expected = compile_file(scratch, get("preview")).diagnostics
    scratch.unlink()
    assert "SB430" in {e.code for e in expected}
    assert [(d.code, d.range.start.line) for d in client.diagnostics[uri]] == [
        (e.code, e.span.line - 1) for e in expected]
    _close(client, uri)


async def test_diagnostics_go_to_the_uri_as_the_client_spelt_it(client, film_dir: Path):
    """Clients escape URIs their own ways (here: lower-case escapes, valid and the same file)."""
    ours = uri_of(str(film_dir / "main.story"))
    theirs = re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), ours)
    assert theirs != ours
    since = len(client.published)
    client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
        uri=theirs, language_id="story", version=7, text=MAIN.replace("@Keeper climbs", "@Keper climbs"))))
    diags = await _published(client, theirs, 7, since)
    assert [d.code for d in diags] == ["SB402"]
    hover = await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(theirs),
                                                                     _at(MAIN, "@Lamp", 2)))
    assert "brass storm lamp" in hover.contents.value
    _close(client, theirs)
