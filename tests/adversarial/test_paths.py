"""Issue 10, item 6: one rule for the files a story names, at every stage. The file the checker
approves is the file the plan names, the cache hashes and the render engine sends; URLs without
a host, files that are not UTF-8, NUL bytes and loops of links are diagnostics at their line."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from cli_process import storyboard
from storyboard.api import compile_file
from storyboard.diagnostics import render
from storyboard.providers import get

CAST_STORY = """\
title: Paths

character K:
  image: {image}

shot a 4s:
  @K walks along the beach.
"""


def png(path: Path, color: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (16, 16), color).save(path)
    return path


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = storyboard(*args, cwd=cwd, timeout=300)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert "internal error" not in proc.stderr, proc.stderr
    return proc


def errors_of(story: Path, provider: str = "preview"):
    result = compile_file(story, get(provider))
    return result, [d for d in result.diagnostics if d.is_error]


@pytest.fixture
def linked_film(tmp_path: Path) -> Path:
    """film/cast/deep is a link to film/cast/real/deep2, so `cast/deep/../../../outside/secret.png`
    is film/outside/secret.png to the system and ../outside/secret.png to a textual normalisation."""
    film = tmp_path / "film"
    png(film / "outside" / "secret.png", "green")
    png(tmp_path / "outside" / "secret.png", "red")  # the file a textual reading would name
    (film / "cast" / "real" / "deep2").mkdir(parents=True)
    (film / "cast" / "deep").symlink_to(Path("real") / "deep2")
    (film / "film.story").write_text(CAST_STORY.format(image="cast/deep/../../../outside/secret.png"),
                                     encoding="utf-8")
    return film


@pytest.mark.slow
def test_check_compile_hash_and_render_mean_the_same_file(linked_film: Path, tmp_path: Path):
    story = linked_film / "film.story"
    result, errors = errors_of(story)
    assert errors == [], render(errors, result.sources)
    ref = result.plan.clips[0].request
    assert "<file:outside/secret.png>" in json.dumps(ref), ref
    key = result.plan.clips[0].key
    png(tmp_path / "outside" / "secret.png", "blue")  # the outside file is no input of the film
    assert errors_of(story)[0].plan.clips[0].key == key
    png(linked_film / "outside" / "secret.png", "yellow")  # the approved one is
    assert errors_of(story)[0].plan.clips[0].key != key
    proc = cli("render", "-p", "preview", "film.story", cwd=linked_film)
    assert proc.returncode == 0, proc.stderr
    assert "compile the story again" not in proc.stderr


@pytest.mark.parametrize("url", ["https://", "http:///x.png", "https://:443/x.png", "https://example.com:99999/x.png"])
@pytest.mark.parametrize("where", ["cast", "first"])
def test_url_without_a_host_is_an_error_at_its_line(tmp_path: Path, url: str, where: str):
    story = tmp_path / "film.story"
    if where == "cast":
        story.write_text(CAST_STORY.format(image=url), encoding="utf-8")
        line = 4
    else:
        story.write_text(f"title: Paths\n\nshot a 4s:\n  first: {url}\n  A beach.\n", encoding="utf-8")
        line = 4
    _, errors = errors_of(story, "together")
    assert [(d.code, d.span.line) for d in errors] == [("SB306", line)], render(errors)


def test_include_that_is_not_utf8_is_a_diagnostic_at_the_include_line(tmp_path: Path):
    (tmp_path / "cast.story").write_bytes("character K:\n  description: caf\xe9\n".encode("latin-1"))
    (tmp_path / "film.story").write_text("title: T\ninclude: cast.story\n\nshot a 4s:\n  A beach.\n",
                                         encoding="utf-8")
    proc = cli("check", "film.story", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "film.story:2:10: error[SB034]: included file cast.story is not UTF-8 text" in proc.stderr, proc.stderr
    assert "line 2, column 19" in proc.stderr


@pytest.mark.parametrize("command", ["check", "compile", "plan"])
@pytest.mark.parametrize("far", [False, True])
def test_story_that_is_not_utf8_is_a_diagnostic_at_its_byte(tmp_path: Path, command: str, far: bool):
    padding = ("# " + "x" * 76 + "\n") * 1000 if far else ""  # past the first 64 KiB too
    (tmp_path / "film.story").write_bytes((padding + "title: Caf\xe9\n\nshot a 4s:\n  A caf\xe9.\n").encode("latin-1"))
    proc = cli(command, "film.story", cwd=tmp_path)
    line = padding.count("\n") + 1
    assert proc.returncode == 1, proc.stderr
    assert f"film.story:{line}:11: error[SB034]: not UTF-8 text" in proc.stderr, proc.stderr


def test_nul_in_a_path_says_so(tmp_path: Path):
    story = tmp_path / "film.story"
    story.write_text(CAST_STORY.format(image="a\0b.png"), encoding="utf-8")
    _, errors = errors_of(story)
    assert len(errors) == 1, render(errors)
    assert "NUL" in errors[0].message and "outside" not in errors[0].message
    assert errors[0].span.line == 4


@pytest.mark.parametrize("field", ["image", "include"])
def test_loop_of_links_is_a_diagnostic(tmp_path: Path, field: str):
    (tmp_path / "loop1").symlink_to("loop2")
    (tmp_path / "loop2").symlink_to("loop1")
    story = tmp_path / "film.story"
    if field == "image":
        story.write_text(CAST_STORY.format(image="loop1/k.png"), encoding="utf-8")
    else:
        story.write_text("title: T\ninclude: loop1/cast.story\n\nshot a 4s:\n  A beach.\n", encoding="utf-8")
    proc = cli("check", "film.story", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "in a loop" in proc.stderr and ("SB301" in proc.stderr or "SB031" in proc.stderr), proc.stderr


def test_story_reached_by_a_link_includes_from_its_real_folder(tmp_path: Path):
    """Includes and images are both relative to the story's real folder (they were not: an
    include beside the link was looked for, then refused as outside the story's folder)."""
    real = tmp_path / "real"
    png(real / "k.png", "green")
    (real / "cast.story").write_text("character K:\n  image: k.png\n", encoding="utf-8")
    (real / "film.story").write_text("title: T\ninclude: cast.story\n\nshot a 4s:\n  @K on a beach.\n",
                                     encoding="utf-8")
    (tmp_path / "cast.story").write_text("character K:\n  image: elsewhere.png\n", encoding="utf-8")
    (tmp_path / "film.story").symlink_to(real / "film.story")
    result, errors = errors_of(tmp_path / "film.story")
    assert errors == [], render(errors, result.sources)
    assert "<file:k.png>" in json.dumps(result.plan.clips[0].request)
