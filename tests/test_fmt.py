"""`storyboard fmt`: golden files, idempotence, round trip, and no comment ever lost.

Each tests/golden/fmt/<case>.story is formatted and compared with <case>.expected; regenerate
them all with STORYBOARD_UPDATE_GOLDEN=1 (see tests/golden_util.py) and review the diff.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest

from golden_util import assert_golden, read_golden
from storyboard.language.fmt import format_duration, format_source, format_story
from storyboard.language.model import Beat, Clip, Prose, Story, Transition
from storyboard.language.parser import parse

GOLDEN = Path(__file__).resolve().parent / "golden" / "fmt"
# Every golden case and what it pins down: a case deleted or renamed by accident fails here.
CASE_PURPOSES = {
    "cards": "card blocks (header, comments, repeated and empty credits) and score lines",
    "chinese": "CJK prose, settings and comments",
    "comments": "own-line, trailing and in-block comments; a quoted hash is text",
    "continuations": "values and prose continued on indented lines",
    "dialogue": "dialogue spacing, empty directions and lines, parentheses that are not dialogue",
    "includes": "include lines at the top, among settings and inside a character",
    "language_example": "the language reference's example, already canonical",
    "messy_spacing": "blank lines, stray spaces and indentation normalised",
    "scenes_beats": "scenes with beats, extend blocks, multi-line beats",
    "transitions": "every transition between clips",
}
CASES = sorted(CASE_PURPOSES)


@lru_cache(maxsize=1)
def _comment_lexer():
    from lark import Lark

    from storyboard.language.parser import _StoryIndenter, grammar_text

    found: list[str] = []

    def own_line(tok):  # own-line comments are swallowed by the _NL terminal
        found.extend(m.group(0).rstrip() for m in re.finditer(r"#[^\n]*", tok.value))
        return tok

    def trailing(tok):
        found.append(tok.value.rstrip())
        return tok

    lark = Lark(grammar_text(), parser="lalr", lexer="contextual", postlex=_StoryIndenter(),
                lexer_callbacks={"COMMENT": trailing, "_NL": own_line})
    return lark, found


def lexed_comments(text: str) -> Counter:
    """Every comment in `text` as the grammar's own lexer sees it (independent of the formatter)."""
    lark, found = _comment_lexer()
    found.clear()
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lark.parse(text if text.endswith("\n") else text + "\n")
    return Counter(found)


def check_formatted(text: str, path: str = "<story>") -> str:
    """Format `text` and assert the formatter's contract; returns the formatted text."""
    story, diags = parse(text, path)
    assert not diags, diags
    formatted = format_story(story, text)
    again, diags2 = parse(formatted, path)
    assert not diags2, f"formatted text does not parse: {diags2}\n{formatted}"
    assert again.model_dump() == story.model_dump(), "formatting changed the story"
    assert format_story(again, formatted) == formatted, "formatting is not idempotent"
    assert lexed_comments(formatted) == lexed_comments(text), "comments were lost or changed"
    assert format_story(story) == format_story(again), "the comment-free layout depends on the source"
    return formatted


@pytest.mark.parametrize("case", CASES)
def test_golden(case):
    source = GOLDEN / f"{case}.story"
    text = source.read_text(encoding="utf-8")
    formatted = check_formatted(text, str(source))
    assert_golden(GOLDEN / f"{case}.expected", formatted)


def test_golden_folder_holds_exactly_the_listed_cases():
    """A new case gets a purpose above; an input or expected file without its pair is an orphan."""
    assert sorted(p.stem for p in GOLDEN.glob("*.story")) == CASES
    assert sorted(p.stem for p in GOLDEN.glob("*.expected")) == CASES


@pytest.mark.parametrize("case", CASES)
def test_expected_files_are_canonical(case):
    text = read_golden(GOLDEN / f"{case}.expected")
    assert check_formatted(text) == text


@pytest.mark.parametrize("seconds, text", [
    (5, "5s"), (1.0, "1s"), (0.5, "0.5s"), (12, "12s"), (1.25, "1.25s"), (0.1, "0.1s"),
    (1e-05, "0.00001s"), (1e16, "10000000000000000s"), (4.5, "4.5s"), (float("inf"), "1" + "0" * 309 + "s"),
])
def test_durations_are_minimal(seconds, text):
    assert format_duration(seconds) == text
    assert float(text[:-1]) == seconds


def test_absurd_durations_round_trip():
    # The checker rejects them; fmt must still write what reads back the same.
    check_formatted("shot a 99999999999999999999999999999s:\n  x\ndissolve " + "9" * 400 + "s\n")


def test_format_without_source_has_no_comments_and_same_layout():
    text = "# c\ntitle: A  # t\nshot a 5s:  # h\n  x  # p\n"
    story, _ = parse(text)
    assert format_story(story) == "title: A\n\nshot a 5s:\n  x\n"
    assert format_story(story, text) == "# c\ntitle: A  # t\n\nshot a 5s:  # h\n  x  # p\n"


def test_pure_function_of_a_built_model():
    story = Story(path="<story>", items=(
        Clip(kind="scene", name="s", seconds=10, body=(Beat(seconds=4, text=Prose(text="a")),
                                                      Beat(text=Prose(text="b")))),
        Transition(kind="wipe", seconds=0.5, direction="up"),
        Clip(kind="shot", name="t", body=(Prose(text="c"),)),
    ))
    assert format_story(story) == "scene s 10s:\n  shot 4s: a\n  shot: b\n\nwipe up 0.5s\n\nshot t:\n  c\n"


def test_empty_and_comment_only_files():
    assert format_source("")[0] == ""
    assert format_source("\n\n  \n")[0] == ""
    assert format_source("# only\n\n\n#  comments   \n")[0] == "# only\n\n#  comments\n"


def test_line_ends_and_bom_are_normalised():
    text = "\ufefftitle: A\r\nshot a:\r\n  x  # c\r\n"
    assert check_formatted(text) == "title: A\n\nshot a:\n  x  # c\n"


def test_blank_lines_between_settings_and_body_lines_are_kept_once():
    text = "title: A\n\n\n\nseed: 1\nshot a:\n\n\n  x\n\n\n  camera: c\n  sound: s\n"
    assert check_formatted(text) == "title: A\n\nseed: 1\n\nshot a:\n  x\n\n  camera: c\n  sound: s\n"


def test_comments_inside_a_continued_value_move_above_it():
    text = "style: a,\n  # about b\n  b,  # b\n  c  # c\n"
    assert check_formatted(text) == "# about b\n# c\nstyle: a, b, c  # b\n"


def test_comment_between_header_and_body():
    text = "shot a:\n# at column 0\n\n      # deep\n  x\n"
    assert check_formatted(text) == "shot a:\n  # at column 0\n\n  # deep\n  x\n"


def test_block_end_comments_stay_in_the_block_and_file_end_comments_at_the_end():
    text = "shot a:\n  x\n  # end of a\n# before b\nshot b:\n  y\n    # end of b\n\n# the end\n"
    assert check_formatted(text) == (
        "shot a:\n  x\n  # end of a\n\n# before b\nshot b:\n  y\n  # end of b\n\n# the end\n")


def test_hashes_inside_quotes_are_not_comments():
    text = ('title: "#1" film # real\n'
            'shot a:\n  @K (a#b): "c # d"  #e\n  She reads "#2" aloud.#f\n'
            'wipe left 1s#g\n')
    assert check_formatted(text) == ('title: "#1" film  # real\n\n'
                                     'shot a:\n  @K (a#b): "c # d"  #e\n  She reads "#2" aloud.  #f\n\n'
                                     'wipe left 1s  #g\n')


def test_wipe_direction_is_written_as_is():
    # The checker validates directions; fmt keeps what it cannot judge, quotes and all.
    text = 'wipe "sideways 1s  # odd\n'
    assert check_formatted(text) == text


def test_syntax_errors_are_not_formatted():
    formatted, diags = format_source('shot a:\n  x "unclosed\n')
    assert formatted is None
    assert diags and diags[0].code == "SB006"


def test_continued_lines_then_keywords_and_keys_parse():
    # Regression (grammar): after a continued line the lexer mixed top-level and clip-body
    # terminals, so `seed:` after a continued `style:` and `cut the rope` after continued prose failed.
    text = ("style: a\n  b\nseed: 1\nmorph 1s: x\n  y\naudio: on\n"
            "shot a:\n  camera: c\n    d\n  Meanwhile: the mice wait\n  sound: s\n  The cat\n    sits\n"
            "  cut the rope\n")
    assert check_formatted(text) == (
        "style: a b\nseed: 1\n\nmorph 1s: x y\n\naudio: on\n\n"
        "shot a:\n  camera: c d\n  Meanwhile: the mice wait\n  sound: s\n  The cat sits cut the rope\n")


def test_indented_line_after_dialogue_is_an_error_not_dropped():
    # Regression (grammar): the continuation of a dialogue line was parsed and silently dropped.
    story, diags = parse('shot a:\n  @K: "hi"\n    she waves\n  x\n')
    assert [(d.code, d.span.line) for d in diags] == [("SB004", 3)]
    assert story.items[0].body[-1].text == "x"  # recovery keeps the rest of the block


def test_unexpected_indentation_is_reported_once_at_the_indented_line():
    # Regression (parser recovery): the error was dated on the line above, nothing was blanked and
    # the same diagnostic came back 50 times with an empty story.
    story, diags = parse("title: x\n\ncut\n\n  # c\n  foo\n    bar\nshot a:\n  y\n")
    assert [(d.code, d.span.line) for d in diags] == [("SB004", 6)]
    assert [type(i).__name__ for i in story.items] == ["Setting", "Transition", "Clip"]


def test_recovery_does_not_drop_a_line_ending_in_colon_quietly():
    # Regression (parser recovery): any line ending in ':' above a syntax error was taken for a
    # block header that had lost its body and was dropped without a diagnostic of its own (with
    # the old grammar `title: cut` + a continued `A:` + `model:` lost "A:" with no error at all).
    story, diags = parse('shot a:\n  camera:\n  "unclosed\n  x\n')
    assert [(d.code, d.span.line) for d in diags] == [("SB006", 3)]
    assert [b.model_dump() for b in story.items[0].body] == [{"key": "camera", "value": ""}, {"text": "x"}]
