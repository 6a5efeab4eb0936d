"""`storyboard init`: a starter film that checks clean, placeholder pictures, and never a file overwritten."""

from __future__ import annotations

import builtins
import io
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from cli_process import storyboard
from storyboard.api import compile_file
from storyboard.diagnostics import render
from storyboard.language.fmt import format_source
from storyboard.language.model import Beat, CastMember, Clip, Dialogue, Transition
from storyboard.language.parser import parse
from storyboard.providers import get
from storyboard.scaffold import (
    CAST, PLACEHOLDER_SIZE, ScaffoldError, init, new_film, placeholder_png, starter_title, write_new_files,
)


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = storyboard(*args, cwd=cwd, timeout=300)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


def _tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_the_starter_checks_clean_and_is_formatted(tmp_path: Path):
    film = init(tmp_path / "first-film")
    assert film.story == tmp_path / "first-film" / "first-film.story"
    assert film.title == "First Film"
    result = compile_file(film.story, get("preview"))
    assert result.ok and result.diagnostics == [], render(result.diagnostics, result.sources)
    text = film.story.read_text(encoding="utf-8")
    assert format_source(text, "x.story")[0] == text
    assert (tmp_path / "first-film" / ".gitignore").read_text().splitlines()[1:] == ["build/", ".storyboard/"]


def test_the_starter_uses_every_kind_of_block_once(tmp_path: Path):
    story, diags = parse(new_film(tmp_path / "f").files[tmp_path / "f" / "f.story"].decode(), "f.story")
    assert not diags
    items = story.items
    assert sorted(i.kind for i in items if isinstance(i, CastMember)) == ["character", "character", "place", "prop"]
    clips = [i for i in items if isinstance(i, Clip)]
    assert {c.kind for c in clips} == {"shot", "scene", "extend"}
    assert sorted(i.kind for i in items if isinstance(i, Transition)) == sorted(
        ["cut", "continue", "dissolve", "fade", "wipe", "morph"])
    lines = [line for c in clips for line in c.body]
    assert any(isinstance(x, Beat) for x in lines) and any(isinstance(x, Dialogue) for x in lines)
    keys = {s.key for s in story.items if getattr(s, "key", None)}
    assert {"title", "resolution", "ratio", "audio", "seed", "style", "negative"} <= keys


def test_placeholders_are_labelled_and_differ_per_member():
    pictures = {p.name: Image.open(io.BytesIO(placeholder_png(p.name, p.kind))).convert("RGB") for p in CAST}
    assert all(im.size == PLACEHOLDER_SIZE for im in pictures.values())
    corners = {name: im.getpixel((2, PLACEHOLDER_SIZE[1] - 3)) for name, im in pictures.items()}
    assert len(set(corners.values())) == len(corners)  # a colour of its own per member
    for im in pictures.values():  # the label band: dark ink with white letters on it
        band = im.crop((0, int(PLACEHOLDER_SIZE[1] * 0.07), PLACEHOLDER_SIZE[0], int(PLACEHOLDER_SIZE[1] * 0.17)))
        colours = band.getcolors(1 << 16)
        assert (255, 255, 255) in {c for _, c in colours}
    assert placeholder_png("Nell", "character") == placeholder_png("Nell", "character")  # stable
    assert placeholder_png("Nell", "character") != placeholder_png("Nell", "place")


def test_title_from_the_folder(tmp_path: Path):
    assert starter_title(tmp_path / "le-café_noir") == "Le Cafe Noir"
    assert starter_title(tmp_path / "电影") == "My Film"


@pytest.mark.parametrize("existing", [".gitignore", "cast/otto.png", "f.story"])
def test_refuses_to_overwrite_and_writes_nothing(tmp_path: Path, existing: str):
    folder = tmp_path / "f"
    (folder / existing).parent.mkdir(parents=True)
    (folder / existing).write_text("mine")
    before = _tree(folder)
    with pytest.raises(ScaffoldError, match=f"{existing}.*already exists; nothing was written"):
        init(folder)
    assert _tree(folder) == before and (folder / existing).read_text() == "mine"


def test_a_dangling_link_counts_as_existing(tmp_path: Path):
    (tmp_path / ".gitignore").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ScaffoldError, match="already exists"):
        init(tmp_path)
    assert _tree(tmp_path) == [".gitignore"]


def test_a_file_where_a_folder_goes(tmp_path: Path):
    (tmp_path / "cast").write_text("not a folder")
    with pytest.raises(ScaffoldError, match="cast is a file"):
        init(tmp_path)
    assert _tree(tmp_path) == ["cast"]
    (tmp_path / "film").write_text("x")
    with pytest.raises(ScaffoldError, match="is a file, not a folder"):
        init(tmp_path / "film")


def test_a_failed_write_leaves_nothing_behind(tmp_path: Path, monkeypatch):
    real_open, calls = builtins.open, []

    def failing_open(path, mode="r", *a, **kw):
        if "x" in mode:
            calls.append(path)
            if len(calls) == 3:
                raise OSError(28, "No space left on device", str(path))
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr(builtins, "open", failing_open)
    with pytest.raises(OSError):
        init(tmp_path / "f")
    assert len(calls) == 3
    assert not (tmp_path / "f").exists()


def test_write_new_files_refuses_a_file_that_appears_meanwhile(tmp_path: Path, monkeypatch):
    import storyboard.scaffold as scaffold

    files = {tmp_path / "a.txt": b"a", tmp_path / "b.txt": b"b"}
    monkeypatch.setattr(scaffold, "refuse_existing", lambda files: (tmp_path / "b.txt").write_text("theirs"))
    with pytest.raises(FileExistsError):
        write_new_files(files)
    assert not (tmp_path / "a.txt").exists() and (tmp_path / "b.txt").read_text() == "theirs"


def test_cli_init_prints_next_steps_and_refuses_a_second_time(tmp_path: Path):
    proc = run("init", "my-film", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "my-film/my-film.story\n"
    for words in ("cd my-film", "storyboard check my-film.story", "storyboard preview my-film.story",
                  "build/storyboard.html", "build/My Film.mp4", "placeholder"):
        assert words in proc.stderr
    before = _tree(tmp_path)
    again = run("init", "my-film", cwd=tmp_path)
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.startswith("storyboard: my-film/my-film.story, my-film/.gitignore")
    assert "nothing was written" in again.stderr and len(again.stderr.splitlines()) == 1
    assert _tree(tmp_path) == before


@pytest.mark.slow
def test_init_then_check_and_a_preview_render(tmp_path: Path):
    """`make demo` for a new film: init into an empty folder, check it, render its preview."""
    assert run("init", cwd=tmp_path).returncode == 0
    story = f"{tmp_path.name.lower()}.story" if (tmp_path / f"{tmp_path.name.lower()}.story").exists() else \
        next(p.name for p in tmp_path.glob("*.story"))
    checked = run("check", story, cwd=tmp_path)
    assert checked.returncode == 0 and "no problems" in checked.stderr
    rendered = run("preview", story, cwd=tmp_path)
    assert rendered.returncode == 0, rendered.stderr
    page = Path(rendered.stdout.strip())
    assert page == tmp_path / "build" / "storyboard.html" and page.is_file()
    assert (tmp_path / "build" / "contact-sheet.png").is_file()
