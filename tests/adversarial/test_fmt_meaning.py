"""Issue 10, item 5: `fmt` must never change what a story compiles to.

Joining consecutive prose lines into one line made text that reads as something else: `@A:` and
`"Hello" she said.` became unparseable, `@A:` and `"Hello"` dialogue (`Image 1: "Hello"` became
`Image 1 says: "Hello"`), `shot` and `4s: Another wave.` a second beat, `camera` and `: static`
a clip setting. Each case is formatted, compiled before and after with both providers, and the
plans (request bodies, keys, timeline) compared.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import storyboard.language.fmt as fmt
from storyboard.cli import app
from storyboard.api import compile_file
from storyboard.language.fmt import format_source
from storyboard.language.parser import parse
from storyboard.providers import get
from storyboard.testing.fuzz import fmt_meaning_change

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*/*.story"))
PROVIDERS = [get("preview"), get("together")]
CAST = "character Kitten:\n  image: cast/kitten.png\n\n"

CASES = {
    "joined_line_would_not_parse": 'shot a 5s:\n  @Kitten:\n  "Hello" she said.\n',
    "prose_would_become_dialogue": 'shot a 5s:\n  @Kitten:\n  "Hello"\n  camera: wide\n',
    "continued_prose_would_become_dialogue": 'shot a 5s:\n  @Kitten (softly):\n      "Hello" she said.\n',
    "prose_would_become_a_beat": "scene a 8s:\n  shot 4s: The sea.\n  shot\n  4s: Another wave.\n",
    "prose_would_become_a_camera_setting": "shot a 5s:\n  camera\n  : static wide shot\n  The garden.\n",
    "continued_prose_would_become_a_setting": "shot a 5s:\n  sound\n     : rain\n",
}


@pytest.fixture
def folder(tmp_path):
    dest = tmp_path / "film"
    shutil.copytree(ROOT / "examples" / "kitten-general", dest)
    return dest


@pytest.mark.parametrize("body", CASES.values(), ids=CASES.keys())
def test_fmt_keeps_the_compiled_plans(folder, body):
    path = folder / "fuzz.story"
    path.write_text(CAST + body, encoding="utf-8")
    assert all(compile_file(path, p).plan is not None for p in PROVIDERS)  # a film worth comparing
    formatted, diags = format_source(CAST + body, str(path))
    assert formatted is not None, [d.message for d in diags]
    assert not any(d.is_error for d in parse(formatted)[1]), formatted
    assert fmt_meaning_change(path, PROVIDERS) is None


def test_unsafe_prose_keeps_its_longest_prose_line_and_continues_the_rest():
    text = CAST + 'shot a 5s:\n  @Kitten:\n  "Hello" she said.\n  camera: wide\n'
    formatted, _ = format_source(text)
    assert formatted == CAST + 'shot a 5s:\n  @Kitten:\n    "Hello" she said.\n  camera: wide\n'
    assert format_source(formatted)[0] == formatted


def test_safe_prose_is_still_joined():
    formatted, _ = format_source("shot a 5s:\n  The sea.\n  @Kitten waves.\n      She smiles.\n")
    assert formatted == "shot a 5s:\n  The sea. @Kitten waves. She smiles.\n"


def test_a_layout_that_changes_the_meaning_is_refused(monkeypatch, tmp_path):
    """The safety net: fmt parses its own output and leaves the file alone if it reads back differently."""
    text = "title: A\n\nshot a 5s:\n  x\n\nshot b 5s:\n  y\n"
    monkeypatch.setattr(fmt, "format_story", lambda story, source=None: text.replace("  y", "  camera: y"))
    formatted, diags = format_source(text, "f.story")
    assert formatted is None
    (refused,) = [d for d in diags if d.code == "SB040"]
    assert (refused.span.line, refused.span.column) == (6, 1)
    path = tmp_path / "f.story"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(app, ["fmt", str(path)])
    assert result.exit_code == 1 and "SB040" in result.output and "Traceback" not in result.output
    assert path.read_text(encoding="utf-8") == text


def test_every_example_is_canonical():
    result = CliRunner().invoke(app, ["fmt", "--check", *map(str, EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert len(EXAMPLES) == 3
