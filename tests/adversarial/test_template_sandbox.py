"""Issue 10, item 1: a story's `template:` is shared text, so it must never run code on the
machine of whoever checks, compiles, plans or renders the story, a template the checker refuses
is never opened, and whatever goes wrong in a template is a diagnostic at the template's line."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cli_process import storyboard
from storyboard.compiler import prompts
from storyboard.api import compile_file
from storyboard.diagnostics import render
from storyboard.providers import get

STORY = """\
title: Shared
template: {template}

shot a 4s:
  A ball rolls down the hill.
"""


def payload(marker: Path) -> str:
    return ("Arranged: {{ action }}\n"
            f"{{{{ cycler.__init__.__globals__.os.system('touch {marker}') }}}}\n")


def write_story(folder: Path, template: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    story = folder / "shared.story"
    story.write_text(STORY.format(template=template), encoding="utf-8")
    return story


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = storyboard(*args, cwd=cwd)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


@pytest.mark.parametrize("command", [["check"], ["compile"], ["plan"], ["render", "-p", "preview"]])
def test_template_payload_runs_nothing_and_is_reported_at_its_line(tmp_path: Path, command: list[str]):
    marker = tmp_path / "pwned"
    folder = tmp_path / "film"
    write_story(folder, "prompt.j2")
    (folder / "prompt.j2").write_text(payload(marker), encoding="utf-8")
    proc = cli(*command, "shared.story", cwd=folder)
    assert not marker.exists(), "the template ran a shell command"
    assert proc.returncode == 1, proc.stderr
    assert "prompt.j2:2:" in proc.stderr and "error[SB421]" in proc.stderr, proc.stderr
    assert "template is set at shared.story:2:11" in proc.stderr, proc.stderr


@pytest.mark.parametrize("how", ["dotdot", "symlink"])
def test_template_outside_the_folder_is_never_opened(tmp_path: Path, monkeypatch, how: str):
    marker = tmp_path / "pwned"
    outside = tmp_path / "outside.j2"
    outside.write_text(payload(marker), encoding="utf-8")
    folder = tmp_path / "film"
    if how == "dotdot":
        story = write_story(folder, "../outside.j2")
    else:
        story = write_story(folder, "prompt.j2")
        (folder / "prompt.j2").symlink_to(outside)
    opened = []
    real_template = prompts.template
    monkeypatch.setattr(prompts, "template", lambda path=None: opened.append(path) or real_template(path))
    monkeypatch.chdir(folder)
    result = compile_file(story.name, get("preview"))
    assert not marker.exists()
    assert [p for p in opened if p is not None] == []
    assert [d.code for d in result.diagnostics if d.is_error] == ["SB303"], render(result.diagnostics)
    # and through the command line, where nothing is patched
    proc = cli("check", story.name, cwd=folder)
    assert proc.returncode == 1 and "SB303" in proc.stderr and not marker.exists()


@pytest.mark.parametrize("text,line,code,words", [
    ("{{ action }}\n{% if %}\n", 2, "SB420", "syntax error"),
    ("{{ action }}\n\n{{ no_such_thing }}\n", 3, "SB420", "'no_such_thing' is undefined"),
    ("{{ action }}\n{{ action.__class__.__mro__ }}\n", 2, "SB421", "__class__"),
    ("{{ action }}\n{{ 'a' * 200000 }}\n", 2, "SB421", "longer than"),
    ("{{ action }}\n{{ 7 ** 100000 }}\n", 2, "SB421", "exponent"),
    ("{{ action }}\n{% include 'other.j2' %}\n", 2, "SB420", "loader"),
])
def test_template_failures_are_diagnostics_at_the_template_line(tmp_path: Path, monkeypatch, text, line, code, words):
    story = write_story(tmp_path, "prompt.j2")
    (tmp_path / "prompt.j2").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = compile_file(story.name, get("preview"))
    errors = [d for d in result.diagnostics if d.is_error]
    assert [(d.code, d.span.file, d.span.line) for d in errors] == [(code, "prompt.j2", line)], render(errors)
    assert words in errors[0].message
    assert "shared.story:2:11" in errors[0].notes[0]
    shown = render(errors, result.sources)
    assert f"prompt.j2:{line}:" in shown and f"{line:>4} | " in shown


def test_template_that_is_not_utf8_is_a_diagnostic_at_its_byte(tmp_path: Path):
    write_story(tmp_path, "prompt.j2")
    (tmp_path / "prompt.j2").write_bytes("{{ action }}\nCaf\xe9 {{ style }}\n".encode("latin-1"))
    proc = cli("check", "shared.story", cwd=tmp_path)
    assert proc.returncode == 1
    assert "prompt.j2:2:4: error[SB034]" in proc.stderr, proc.stderr


def test_a_legitimate_template_still_arranges_the_prompt(tmp_path: Path, monkeypatch):
    story = write_story(tmp_path, "prompt.j2")
    (tmp_path / "prompt.j2").write_text("{% for b in beats %}{{ b.text }}{% endfor %}Scene: {{ action | upper }}"
                                        "{% if style %} / {{ style }}{% endif %}\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = compile_file(story.name, get("preview"))
    assert result.ok, render(result.diagnostics, result.sources)
    assert result.plan.clips[0].request["prompt"] == "Scene: A BALL ROLLS DOWN THE HILL."
