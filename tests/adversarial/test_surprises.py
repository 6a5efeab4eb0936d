"""Issue 10, item 9: what a new writer met silently now gets a diagnostic.

- a story with no clips (empty, or only comments and settings): error SB510 at `check`, not a
  failure at render;
- `camera:` indented under prose is joined to the prose: warning SB907 with the fix (dedent);
- `Bo: "Hello"` with Bo in the cast is prose: warning SB908 with the fix (`@Bo: "Hello"`).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_process import storyboard
from storyboard.api import compile_file
from storyboard.providers import get

ASSETS = Path(__file__).resolve().parent.parent / "golden" / "errors" / "assets"


def diagnose(tmp_path: Path, text: str):
    (tmp_path / "assets").mkdir(exist_ok=True)
    (tmp_path / "assets" / "kitten.png").write_bytes((ASSETS / "kitten.png").read_bytes())
    story = tmp_path / "film.story"
    story.write_text(text, encoding="utf-8")
    return compile_file(story, get("preview"))


def codes(result) -> list[tuple[str, int]]:
    return [(d.code, d.span.line) for d in result.diagnostics if d.span]


@pytest.mark.parametrize("text", ["", "\n\n", "# notes only\n", "title: Later\nresolution: 720p\n"])
def test_a_story_without_clips_is_an_error(tmp_path, text):
    result = diagnose(tmp_path, text)
    assert not result.ok
    [d] = result.diagnostics
    assert (d.code, d.span.line, d.span.column) == ("SB510", 1, 1)
    assert "no clips" in d.message and "shot opening 5s:" in d.hint


def test_check_exits_1_for_an_empty_story(tmp_path):
    (tmp_path / "empty.story").write_text("", encoding="utf-8")
    proc = storyboard("check", "empty.story", cwd=tmp_path)
    assert proc.returncode == 1
    assert "empty.story:1:1: error[SB510]: the film has no clips" in proc.stderr
    assert "no problems" not in proc.stderr


def test_no_clips_error_is_not_added_when_syntax_errors_dropped_them(tmp_path):
    result = diagnose(tmp_path, "shot 5s:\n  A kitten.\n")  # the header has no name: SB008
    assert "SB510" not in [d.code for d in result.diagnostics]


def test_camera_indented_under_prose_is_a_warning_with_the_fix(tmp_path):
    result = diagnose(tmp_path, "shot garden 5s:\n  A kitten naps in the garden.\n    camera: static wide shot\n")
    assert result.ok  # a warning: the film still renders
    [d] = result.diagnostics
    assert (d.code, d.span.line, d.span.column, d.severity.value) == ("SB907", 3, 5, "warning")
    assert "camera" in d.message and d.hint == "dedent it to 2 spaces, like the clip's other lines"


def test_setting_under_a_beat_is_a_warning_and_a_beat_may_start_with_a_key_word(tmp_path):
    text = "scene s 6s:\n  shot 3s: camera: a dolly in.\n      sound: rain\n  shot: The end.\n"
    result = diagnose(tmp_path, text)
    assert codes(result) == [("SB907", 3)]


def test_camera_at_the_clip_indentation_is_a_setting_and_quiet(tmp_path):
    result = diagnose(tmp_path, "shot garden 5s:\n  A kitten naps in the garden,\n    dreaming.\n"
                                "  camera: static wide shot\n")
    assert result.diagnostics == []
    assert result.plan.clips[0].request["prompt"].count("static wide shot") == 1


def test_cast_name_without_at_before_a_quote_is_a_warning_with_the_fix(tmp_path):
    text = ('character Bo:\n  image: assets/kitten.png\n\nshot hello:\n  @Bo looks up.\n  Bo: "Hello"\n'
            '  Bo (softly): "Anyone?"\n  Sign: "Not a cast member, so prose."\n  Bo: waves.\n')
    result = diagnose(tmp_path, text)
    assert codes(result) == [("SB908", 6), ("SB908", 7)]
    first, second = result.diagnostics
    assert first.hint == 'write `@Bo: "Hello"` for a spoken line'
    assert second.hint == 'write `@Bo (softly): "Anyone?"` for a spoken line'
    assert (first.span.column, first.span.end_column) == (3, 5)
