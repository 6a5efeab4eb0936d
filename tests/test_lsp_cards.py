"""The language server inside a `card` block and on `score:`, through a real LSP client over stdio
(pytest-lsp, one server for the module): the card's lines, its style words, pictures only after
`image:`, audio files then `from`/`to`, clip names and the options not given yet after `score:`,
and a hover on a card's header. Every expected word list is read from the vocabulary it comes
from (model.CARD_FIELDS, cards/style.py, compiler/score.py), never copied."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from storyboard.cards import style as card_style
from storyboard.compiler.score import OPTIONS as SCORE_OPTIONS
from storyboard.language.model import CARD_FIELDS

import test_lsp
from test_lsp import _at, _close, _open, _picture

server = test_lsp.client  # test_lsp's client fixture, as `server`: this module gets its own

pytestmark = pytest.mark.asyncio(loop_scope="module")
SONG = Path(__file__).parent / "golden" / "errors" / "assets" / "song.mp3"

FILM = """\
title: Cards
score: music/theme.mp3 from opening to end, fade 2s

card opening 3s:
  text: The Lighthouse
  subtitle: a short film
  image: frames/dawn.png
  style: cream on navy, serif

shot storm 6s:
  The sea rises against the rocks.

card end:
  text: The End
  credits: Directed by A. Person
  credits: Music by B. Person
"""


@pytest.fixture(scope="module")
def film_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("card films")
    _picture(folder / "frames" / "dawn.png")
    (folder / "frames" / "notes.txt").write_text("not a picture")
    (folder / "music").mkdir()
    shutil.copy(SONG, folder / "music" / "theme.mp3")
    _picture(folder / "music" / "cover.png")
    (folder / "film.story").write_text(FILM)
    return folder


async def _labels(client: LanguageClient, uri: str, text: str, needle: str, offset: int | None = None
                  ) -> dict[str, types.CompletionItem]:
    """The completion at the end of `needle` (or `offset` characters into it)."""
    got = await client.text_document_completion_async(types.CompletionParams(
        types.TextDocumentIdentifier(uri), _at(text, needle, len(needle) if offset is None else offset)))
    items = got.items if isinstance(got, types.CompletionList) else got or []
    return {i.label: i for i in items}


async def test_a_card_block_completes_its_lines_style_words_and_pictures(server, film_dir: Path):
    client = server
    text = FILM + ("\ncard later 2s:\n  \n  style: \n  style: cream on \n  style: cream on navy, \n"
                   "  style: gold, s\n  image: frames/\n  image: \n")
    uri = await _open(client, film_dir / "film.story", text)
    lines = await _labels(client, uri, text, "card later 2s:\n  ")
    assert set(lines) == set(CARD_FIELDS)
    assert lines["credits"].detail == "card line" and "roll" in lines["credits"].documentation.value
    assert lines["style"].insert_text == "style: "
    assert set(await _labels(client, uri, text, "  style: \n", 9)) == set(card_style.VOCABULARY)
    after_on = await _labels(client, uri, text, "  style: cream on ")
    assert set(after_on) == set(card_style.COLOURS)
    assert after_on["navy"].documentation == card_style.COLOURS["navy"]  # a swatch in the editor
    # colours and the background are set: a font, bold or a fade may follow
    assert set(await _labels(client, uri, text, "cream on navy, \n", 15)) == {
        *card_style.FONT_WORDS, *card_style.FLAGS, "fade"}
    started = await _labels(client, uri, text, "  style: gold, s")  # the text colour is set: no colour
    assert "serif" in started and "on" in started and not set(card_style.COLOURS) & set(started)
    assert set(await _labels(client, uri, text, "  image: frames/")) == {"dawn.png"}  # not notes.txt
    assert set(await _labels(client, uri, text, "  image: \n", 9)) == {"frames/", "music/"}
    _close(client, uri)


async def test_score_completes_audio_files_clips_and_the_options_not_given(server, film_dir: Path):
    client = server
    text = FILM + ("\nscore: \nscore: music/\nscore: music/theme.mp3 \nscore: music/theme.mp3 from \n"
                   "score: music/theme.mp3 from opening \nscore: music/theme.mp3, fade in 1s, loop, \n")
    uri = await _open(client, film_dir / "film.story", text)
    assert set(await _labels(client, uri, text, "\nscore: \n", 8)) == {"frames/", "music/"}
    assert set(await _labels(client, uri, text, "\nscore: music/\n", 14)) == {"theme.mp3"}  # not cover.png
    assert set(await _labels(client, uri, text, "theme.mp3 \n", 10)) == {"from", "to"}
    assert set(await _labels(client, uri, text, "theme.mp3 from \n", 15)) == {"opening", "storm", "end"}
    assert set(await _labels(client, uri, text, "from opening \n", 13)) == {"to"}
    options = await _labels(client, uri, text, "fade in 1s, loop, ")
    assert set(options) == set(SCORE_OPTIONS) - {"fade", "fade in", "loop", "once"}
    assert options["duck"].insert_text == "duck " and "-12dB" in options["duck"].documentation.value
    _close(client, uri)


async def test_hover_on_a_card_header_shows_its_length_and_what_it_shows(server, film_dir: Path):
    client = server
    uri = await _open(client, film_dir / "film.story")

    async def hover(needle: str, offset: int = 1) -> str:
        got = await client.text_document_hover_async(types.HoverParams(types.TextDocumentIdentifier(uri),
                                                                        _at(FILM, needle, offset)))
        return got.contents.value

    opening = await hover("card opening")
    assert "**card** `opening` · 3s" in opening and "$0.00" in opening
    assert "title: The Lighthouse" in opening and "subtitle: a short film" in opening
    assert "[frames/dawn.png](" in opening and "style: cream on navy, serif" in opening
    assert "plays from 0.0s to 3.0s of the film, drawn at 1280x720" in opening
    end = await hover("card end")
    assert "4s (the default 4s)" in end and "credits, scrolling up: Directed by A. Person, Music by B. Person" in end
    assert "plays from 9.0s to 13.0s" in end
    style = await hover("  style: cream", 3)
    assert "card line" in style and "colours, font and fade" in style
    _close(client, uri)
