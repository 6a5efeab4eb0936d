"""The language server's incremental parse gives what `storyboard check` gets: the same
diagnostics (with their places) and the same plan, edit after edit, and parses again only the
block an edit touched."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from storyboard.api import analyse
from storyboard.lsp.incremental import IncrementalParser
from storyboard.providers import get

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from compile import make_story  # noqa: E402  (the benchmark's generated film)


def _same(path: Path, text: str, parser: IncrementalParser) -> None:
    provider = get("preview")
    whole = analyse(path, provider, {path.resolve(): text})
    incremental = analyse(path, provider, {path.resolve(): text}, parser.parse)
    assert incremental.diagnostics == whole.diagnostics
    assert (incremental.plan is None) == (whole.plan is None)
    if whole.plan is not None:
        assert incremental.plan.to_json() == whole.plan.to_json()  # sources name each block's line


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> Path:
    return make_story(tmp_path_factory.mktemp("incremental"), 60)


def test_edits_inside_a_block_parse_that_block_only(story: Path):
    parser = IncrementalParser()
    text = story.read_text()
    lines = text.split("\n")
    _same(story, text, parser)
    prose = next(n for n in range(len(lines) // 2, len(lines)) if lines[n].startswith("  ") and ":" not in lines[n])
    for i, edit in enumerate(["  @Member03 looks around.", "  @Membr03 looks around.", "  A quiet moment.",
                              "  camera: slow pan", "  shot 2s: a beat outside a scene"]):
        edited = "\n".join(lines[:prose] + [edit] + lines[prose + 1:])
        _same(story, edited, parser)
        assert parser.reparsed == 1, (i, edit)


def test_syntax_errors_lines_added_and_removed_match_a_whole_parse(story: Path):
    parser = IncrementalParser()
    text = story.read_text()
    lines = text.split("\n")
    middle = len(lines) // 2
    for edited in (text,
                   "\n".join(lines[:middle] + ["disolve 1s"] + lines[middle:]),  # a syntax error
                   "\n".join(lines[:middle] + ["", "shot extra 5s:", "  More."] + lines[middle:]),  # lines moved
                   "\n".join(lines[:middle] + ["shot 5s:", "  nameless"] + lines[middle:]),
                   "\ufeff" + text.replace("\n", "\r\n"),
                   "  indented first\n" + text,
                   text[: len(text) // 2],  # cut in the middle of a block
                   ""):
        _same(story, edited, parser)


@pytest.mark.parametrize("example", sorted((ROOT / "examples").glob("*/*.story")), ids=lambda p: p.name)
def test_the_examples(example: Path):
    parser = IncrementalParser()
    text = example.read_text()
    _same(example, text, parser)
    _same(example, text.replace("dissolve 1s", "dissolve 2s"), parser)
    assert parser.reparsed <= 1
