"""Issue 10 item 7: output names made from the writer's words must never fail at the end, after
every clip was rendered. One naming rule (storyboard.names) bounds the bytes, drops separators and
control characters and is checked by `check`; the stitcher's concat lists never carry a path the
writer chose (a story folder may hold a newline or a quote)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from render_helpers import cli

NAME_BYTES = 120  # what a name may take of the 255 bytes most file systems allow (storyboard.names)


def film_file_name(title: str) -> str:
    from storyboard.names import film_file_name as name  # imported here: each test fails on its own

    return name(title)


def title_file_stem(title: str) -> str | None:
    from storyboard.names import title_file_stem as stem

    return stem(title)

TWO_SHOTS = "size: 320x180\n\nshot a 4s:\n  Rain on the window.\n\nshot b 4s:\n  The sun comes out.\n"


def story(folder: Path, title: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "film.story"
    head = f"title: {title}\n" if title is not None else ""
    path.write_text(head + TWO_SHOTS, encoding="utf-8")
    return path


@pytest.mark.parametrize("title", ["猫" * 100, "é" * 200, "x" * 300, "🎬" * 80])
def test_a_long_title_gives_a_bounded_name_cut_on_a_character(title):
    name = film_file_name(title)
    assert len(name.encode("utf-8")) <= NAME_BYTES
    assert name.encode("utf-8").decode("utf-8") == name  # whole characters
    assert name[:10] == title[:10]


def test_two_long_titles_that_start_alike_name_two_films():
    a, b = "猫" * 100 + "一", "猫" * 100 + "二"
    assert film_file_name(a) != film_file_name(b)


@pytest.mark.parametrize("title, name", [
    ("The Kitten General", "The Kitten General"),
    ("a/b\\c", "a-b-c"),
    ("line\nbreak\ttab\x7fdel", "line-break-tab-del"),
    ("..hidden", "hidden"),
    ("-rf now", "rf now"),
    ("CON", "CON_"),
    ("nul.txt", "nul_.txt"),
    ("COM1", "COM1_"),
    ("Console", "Console"),
    ("trailing dots...", "trailing dots"),
    ("evil\u202egnp.exe", "evil-gnp.exe"),
    ("para\u2029graph", "para-graph"),
])
def test_names_every_file_system_accepts(title, name):
    assert film_file_name(title) == name


@pytest.mark.parametrize("title", ["...", "///", " - . - ", "\u202e"])
def test_a_title_that_leaves_no_name_is_an_error_at_its_line(tmp_path, title):
    assert title_file_stem(title) is None
    path = story(tmp_path / "film", title)
    r = cli(["check", str(path)])
    assert r.exit_code == 1, r.output
    assert re.search(rf"{re.escape(str(path))}:1:\d+: error\[SB106\]", r.output) and "^" in r.output
    assert "Traceback" not in r.output
    r = cli(["render", str(path)])  # refused before any clip is rendered
    assert r.exit_code == 1 and not (path.parent / ".storyboard").exists(), r.output


@pytest.mark.slow
def test_a_100_character_cjk_title_renders_its_film(tmp_path):
    path = story(tmp_path / "film", "猫" * 100)
    assert cli(["check", str(path)]).exit_code == 0
    r = cli(["render", str(path)])
    assert r.exit_code == 0, r.output
    film = Path(r.stdout.strip())
    assert film.is_file() and film.parent == path.parent / "build"
    assert film.name == film_file_name("猫" * 100) + ".animatic.mp4"  # the preview provider's film
    assert film.with_name(film.name + ".key").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("folder", ["new\nline", "carriage\rreturn's"])
def test_a_story_folder_with_any_name_stitches(tmp_path, folder):
    path = story(tmp_path / folder / "story", "Odd Folder")
    text = path.read_text().replace("shot b 4s:", "dissolve 1s\n\nshot b 4s:")
    path.write_text(text)
    r = cli(["render", str(path), "--burn-subtitles"])
    assert r.exit_code == 0, r.output
    assert Path(r.stdout.strip()) == path.parent / "build" / "Odd Folder.animatic.mp4"


def test_concat_lists_name_only_files_the_stitch_chose(tmp_path):
    from storyboard.stitch.video import concat_line
    from storyboard.stitch.workspace import Workspace

    odd = tmp_path / "a\nb'c"
    odd.mkdir()
    clip = odd / "clip.mp4"
    clip.write_bytes(b"not really a video")
    ws = Workspace(tmp_path / "work")
    try:
        line = concat_line(ws, clip)
        assert line == "file input0000.mp4" and concat_line(ws, clip) == line  # one link per file
        assert (ws.run / "input0000.mp4").read_bytes() == clip.read_bytes()
        assert concat_line(ws, ws.run / "piece0001.mp4") == "file piece0001.mp4"
    finally:
        ws.cleanup()
