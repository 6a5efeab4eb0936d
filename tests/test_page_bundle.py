"""`preview --bundle DIR`: a folder holding the page and every file it shows, linked relatively;
never written into a folder holding anything else; replaced whole or not at all, so an
interrupted bundle is never taken for a complete one. (Opening a copy in a browser with no
request outside it: test_page_browser.py.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import pytest

from preview_helpers import compile_story, make_clip, make_clips, write_story
from cli_process import storyboard
from storyboard.present import bundle as bundle_module
from storyboard.present.bundle import MARKER, BundleError, bundle_refusal, is_bundle, write_bundle

pytestmark = pytest.mark.slow  # makes stand-in clips with ffmpeg


class Links(HTMLParser):
    """Every URL the page loads or links to (src, poster, href), fragments left out."""

    def __init__(self, html: str):
        super().__init__()
        self.urls: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key in ("src", "poster", "href") and value and not value.startswith("#"):
                self.urls.append(value)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("bundle")
    plan = compile_story(write_story(root / "film"))
    clips = make_clips(plan, root / "cache")
    film = make_clip(root / "film" / "build" / "Test -Film.animatic.mp4", 2, "0x202020")
    return plan, clips, film


def _files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_everything_the_page_shows_is_inside_and_linked_relatively(rendered, tmp_path):
    plan, clips, film = rendered
    b = write_bundle(plan, clips, tmp_path / "share", film=film)
    assert b.folder == tmp_path / "share" and is_bundle(b.folder)
    assert b.outputs.page == b.folder / "storyboard.html"
    html = b.outputs.page.read_text(encoding="utf-8")
    urls = Links(html).urls
    assert len([u for u in urls if u.startswith("clips/")]) == len(plan.clips)
    assert "Test%20-Film.animatic.mp4" in urls and "contact-sheet.png" in urls and "Test%20-Film.animatic.srt" in urls
    for url in urls:
        assert "://" not in url and not url.startswith("/") and ".." not in url, url
        assert (b.folder / unquote(url)).is_file(), url
    # real copies, not links into the render cache (which a recipient does not have)
    for p in (b.folder / "clips").iterdir():
        assert not p.is_symlink() and p.stat().st_nlink == 1
    marker = json.loads((b.folder / MARKER).read_text())
    assert marker["kind"] == "storyboard-bundle" and set(marker["files"]) == _files(b.folder) - {MARKER}
    assert b.files == len(_files(b.folder))
    # nothing is left beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["share"]


def test_refuses_a_folder_holding_other_files(rendered, tmp_path):
    plan, clips, _ = rendered
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "draft.txt").write_text("mine")
    assert "not empty and is not a storyboard bundle" in bundle_refusal(mine)
    with pytest.raises(BundleError, match="nothing was written"):
        write_bundle(plan, clips, mine)
    assert _files(mine) == {"draft.txt"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes"]
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(BundleError, match="is a file"):
        write_bundle(plan, clips, tmp_path / "a-file")


def test_an_empty_folder_takes_it_and_a_previous_bundle_is_replaced_whole(rendered, tmp_path):
    plan, clips, film = rendered
    folder = tmp_path / "share"
    folder.mkdir()
    assert bundle_refusal(folder) is None
    first = write_bundle(plan, clips, folder, film=film)
    assert "Test -Film.animatic.mp4" in _files(first.folder)
    assert bundle_refusal(folder) is None  # a previous bundle may be replaced
    fewer = {k: v for k, v in clips.items() if k != "five"}
    write_bundle(plan, fewer, folder)  # no film this time, one clip less
    files = _files(folder)
    assert "Test -Film.animatic.mp4" not in files
    assert len([f for f in files if f.startswith("clips/")]) == len(plan.clips) - 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["share"]


def test_an_interrupted_bundle_leaves_the_previous_one_and_is_never_taken_for_one(rendered, tmp_path,
                                                                                  monkeypatch):
    plan, clips, _ = rendered
    folder = tmp_path / "share"
    write_bundle(plan, clips, folder)
    before = {f: (folder / f).read_bytes() for f in _files(folder)}

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle_module, "write_all", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_bundle(plan, clips, folder)
    assert {f: (folder / f).read_bytes() for f in _files(folder)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["share"]


def test_leftovers_of_a_killed_run_are_cleared_or_put_back(rendered, tmp_path):
    """A run killed mid-way (no cleanup) leaves a hidden `partial` folder without a marker, or
    the previous bundle renamed aside; the next run deletes the first and restores the second."""
    plan, clips, _ = rendered
    dead = _dead_pid()
    previous = write_bundle(plan, {}, tmp_path / "old-made").folder
    partial = tmp_path / f".share.partial-{dead}-0badf00d"
    partial.mkdir()
    (partial / "storyboard.html").write_text("half")
    assert not is_bundle(partial)
    aside = tmp_path / f".share.old-{dead}-0badf00d"
    os.rename(previous, aside)
    bundle_module._sweep_leftovers(tmp_path / "share")
    assert not partial.exists() and not aside.exists()
    assert is_bundle(tmp_path / "share")  # the previous bundle, back in place


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


ONE_CLIP = """\
title: Tiny
size: 320x180

shot only 4s:
  A grey room.
"""


def test_cli_preview_bundle(tmp_path):
    story = write_story(tmp_path / "film", ONE_CLIP)
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "keep.txt").write_text("mine")

    def run(*args):
        return storyboard("preview", story, *args)

    refused = run("--bundle", str(mine))
    assert refused.returncode == 2 and refused.stdout == ""
    assert "not empty and is not a storyboard bundle" in refused.stderr
    assert not (story.parent / ".storyboard").exists()  # refused before anything rendered
    done = run("--bundle", str(tmp_path / "out" / "tiny"))
    assert done.returncode == 0, done.stderr
    page = Path(done.stdout.strip())
    assert page == tmp_path / "out" / "tiny" / "storyboard.html" and page.is_file()
    assert "bundle " in done.stderr and "zip it to share" in done.stderr
    assert (page.parent / "clips" / "01-only.mp4").is_file() and is_bundle(page.parent)
    assert (story.parent / "build" / "storyboard.html").is_file()  # the usual page as well
