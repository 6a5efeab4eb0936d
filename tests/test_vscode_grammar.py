"""The VS Code extension's TextMate grammar, tokenized as VS Code does (vscode-textmate on
Oniguruma, through node: `make editors` installs them): every construct of the example films gets
its scope, with the parser as the judge of what each piece of text is; and every keyword and
clip key of the grammar (story.lark) is coloured, so a keyword added there fails here until the
TextMate grammar has it too."""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

from storyboard.language.load import load
from storyboard.language.model import CastMember, Clip, Dialogue, Setting, Transition
from storyboard.lsp import vocabulary
from storyboard.lsp.index import build

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"
GRAMMAR = VSCODE / "syntaxes" / "story.tmLanguage.json"
EXAMPLES = sorted((ROOT / "examples").glob("*/*.story"))

if shutil.which("node") is None:
    pytest.skip("node is missing (apt-get install -y nodejs npm, then make editors)", allow_module_level=True)
if not (VSCODE / "node_modules" / "vscode-textmate").is_dir():
    pytest.skip("vscode-textmate is not installed: run `make editors` (npm install in editors/vscode)",
                allow_module_level=True)


@cache
def _tokens(*files: Path) -> dict[str, list[list[dict]]]:
    done = subprocess.run(["node", str(VSCODE / "test" / "tokenize.js"), str(GRAMMAR), *map(str, files)],
                          capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


def _scope_at(lines: list[list[dict]], line1: int, column1: int) -> list[str]:
    """The scopes of the token holding the 1-based position."""
    at = 0
    for token in lines[line1 - 1]:
        if at <= column1 - 1 < at + len(token["text"]):
            return token["scopes"]
        at += len(token["text"])
    raise AssertionError(f"nothing at {line1}:{column1}")


def _expected(story_path: Path) -> list[tuple[int, int, str, str]]:
    """(line, column, scope, what) for each construct, as the parser reads the story."""
    film = load(story_path)
    story = film.story
    out = []
    for item in story.items:
        if isinstance(item, Setting):
            out.append((item.span.line, item.span.column, "support.type.property-name.story", f"setting {item.key}"))
        elif isinstance(item, CastMember):
            out.append((item.span.line, item.span.column, "keyword.other.cast.story", item.kind))
            out.append((*item.name_span[1:3], "entity.name.type.cast.story", f"cast name {item.name}"))
            out += [(f.span.line, f.span.column, "support.type.property-name.story", f"field {f.key}")
                    for f in item.fields]
        elif isinstance(item, Clip):
            out += _clip_expected(item)
        elif isinstance(item, Transition):
            out.append((item.span.line, item.span.column, "keyword.control.transition.story", item.kind))
            if item.seconds_span:
                out.append((*item.seconds_span[1:3], "constant.numeric.duration.story", "transition duration"))
    index = build(film)
    out += [(*o.span[1:3], "variable.other.mention.story", f"mention {o.name}") for o in index.occurrences
            if o.role == "mention"]
    return out


def _clip_expected(clip: Clip) -> list[tuple[int, int, str, str]]:
    out = [(clip.span.line, clip.span.column, "keyword.other.clip.story", clip.kind),
           (*clip.name_span[1:3], "entity.name.function.clip.story", f"clip name {clip.name}")]
    if clip.seconds_span:
        out.append((*clip.seconds_span[1:3], "constant.numeric.duration.story", "clip duration"))
    for line in clip.body:
        if isinstance(line, Setting):
            out.append((line.span.line, line.span.column, "support.type.property-name.story", f"clip key {line.key}"))
        elif isinstance(line, Dialogue):
            out.append((*line.speaker_span[1:3], "variable.other.speaker.story", f"speaker {line.speaker}"))
    for beat in clip.beats:
        out.append((beat.span.line, beat.span.column, "keyword.other.beat.story", "beat"))
    return out


@pytest.mark.parametrize("story", EXAMPLES, ids=lambda p: p.name)
def test_every_construct_of_the_examples_gets_its_scope(story: Path):
    lines = _tokens(*EXAMPLES)[str(story)]
    expected = _expected(story)
    assert len(expected) > 30
    wrong = [(line, col, what, scope, _scope_at(lines, line, col)) for line, col, scope, what in expected
             if scope not in _scope_at(lines, line, col)]
    assert wrong == []


@pytest.mark.parametrize("story", EXAMPLES, ids=lambda p: p.name)
def test_comments_dialogue_lines_and_values(story: Path):
    lines = _tokens(*EXAMPLES)[str(story)]
    text = story.read_text().split("\n")
    for n, line in enumerate(text, 1):
        stripped = line.lstrip()
        if stripped.startswith("#"):
            assert "comment.line.number-sign.story" in _scope_at(lines, n, len(line) - len(stripped) + 1), line
        if stripped.startswith("@") and '"' in stripped:
            quote = line.index('"')
            assert "string.quoted.double.dialogue.story" in _scope_at(lines, n, quote + 1), line


def test_the_grammar_colours_every_keyword_and_clip_key_of_story_lark(tmp_path: Path):
    """A keyword or clip key added to story.lark is coloured here, or this fails."""
    words = vocabulary.keywords()
    keys = vocabulary.clip_keys()
    assert {"shot", "scene", "extend", "character", "dissolve", "morph"} <= set(words) and "camera" in keys
    sample = tmp_path / "words.story"
    sample.write_text("".join(f"{w} Name:\n  x\n" for w in words) + "shot s:\n" +
                      "".join(f"  {k}: value\n" for k in keys))
    lines = _tokens(sample)[str(sample)]
    for n, word in enumerate(words):
        scopes = _scope_at(lines, 2 * n + 1, 1)
        assert any(s.startswith("keyword.") for s in scopes), f"`{word}` is not coloured as a keyword: {scopes}"
    first_key = 2 * len(words) + 2
    for n, key in enumerate(keys):
        assert "support.type.property-name.story" in _scope_at(lines, first_key + n, 3), f"clip key `{key}`"


def test_the_extension_files_hold_together():
    """package.json names files that exist; the client parses and finds vscode-languageclient; the
    language configuration's patterns are JavaScript regular expressions that do what they say."""
    manifest = json.loads((VSCODE / "package.json").read_text())
    assert (VSCODE / manifest["main"]).is_file()
    assert (VSCODE / manifest["contributes"]["grammars"][0]["path"]).is_file()
    assert (VSCODE / manifest["contributes"]["languages"][0]["configuration"]).is_file()
    subprocess.run(["node", "--check", str(VSCODE / "extension.js")], check=True, timeout=60)
    subprocess.run(["node", "-e", "require.resolve('vscode-languageclient/node')"], cwd=VSCODE, check=True,
                   timeout=60)
    script = """
    const c = require('./language-configuration.json');
    const r = (p) => new RegExp(p);
    const out = {
      indent: r(c.indentationRules.increaseIndentPattern).test('scene battle 12s:  # the fight'),
      notProse: r(c.indentationRules.increaseIndentPattern).test('title: The Kitten'),
      onEnter: r(c.onEnterRules[0].beforeText).test('character Kitten:'),
      dedent: r(c.indentationRules.decreaseIndentPattern).test('  scene next 5s:'),
      beatStays: r(c.indentationRules.decreaseIndentPattern).test('  shot 4s:'),
    };
    process.stdout.write(JSON.stringify(out));
    """
    done = subprocess.run(["node", "-e", script], cwd=VSCODE, capture_output=True, text=True, check=True, timeout=60)
    assert json.loads(done.stdout) == {"indent": True, "notProse": False, "onEnter": True, "dedent": True,
                                       "beatStays": False}
