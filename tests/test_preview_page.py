"""The storyboard page and the contact sheet (no browser: see test_browser.py for that)."""

from __future__ import annotations

import re
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from preview_helpers import SCRIPT, compile_story, make_clip, make_clips, write_story
from cli_process import storyboard
from storyboard.present.page import (
    THUMB_BOX, ClipState, contact_sheet_size, tier_costs, write_all, write_contact_sheet, write_page,
)


class Page(HTMLParser):
    """Tags with their attributes, in order (enough to check structure without a browser)."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def all(self, tag, **having):
        return [a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in having.items())]


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    plan = compile_story(write_story(root / "film"))
    clips = make_clips(plan, root / "film" / "clips")
    return plan, clips, root


@pytest.fixture
def page(film, tmp_path):
    plan, clips, _ = film
    statuses = {n: ClipState("rendered", job_id=f"job-{n}") for n in clips}
    statuses["five"] = ClipState("failed", error="the provider said no <b>")
    shown = {k: v for k, v in clips.items() if k != "five"}
    out = tmp_path / "build"
    path = write_page(plan, shown, out, statuses=statuses)
    return plan, clips, out, path, path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_every_clip_has_a_card_in_film_order(page):
    plan, _, _, path, html = page
    assert path.name == "storyboard.html"
    doc = Page(html)
    cards = doc.all("li")
    cards = [a for a in cards if "card" in a.get("class", "").split()]
    assert [a["data-clip"] for a in cards] == ["one", "two", "two+1", "three", "three~four", "four", "five"]
    assert [a["data-kind"] for a in cards] == ["shot", "shot", "extend", "shot", "morph", "shot", "shot"]
    assert [a["data-status"] for a in cards] == ["rendered"] * 6 + ["failed"]
    for text in ("slow push in", "Hello there.", "Is anyone home? I have been waiting.", "(softly)",
                 "job job-one", "the provider said no &lt;b&gt;", "reference", "image", "text",
                 "plays <b>1.5s</b> in the film · generated <b>4s</b>"):  # the morph
        assert text in html, text


@pytest.mark.slow
def test_transitions_between_cards(page):
    html = page[4]
    joins = re.findall(r'<div class="join j-([a-z]+)" data-transition="[a-z]+"[^>]*>([^<]+)</div>', html)
    assert joins == [("dissolve", "dissolve 1s"), ("extend", "extends"), ("fade", "fade 1s"),
                     ("morph", "morph"), ("cut", "cut"), ("wipe", "wipe left 0.5s")]


@pytest.mark.slow
def test_prompt_is_escaped_text(page):
    plan, _, _, _, html = page
    assert SCRIPT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html  # not even our own (that is for watch mode only)
    assert "script-src 'none'" in html  # and a CSP that would stop one anyway
    assert "Test &lt;Film&gt;" in html  # the title is user text too
    prompt = plan.clip("one").request["prompt"]
    assert prompt.replace("<", "&lt;").replace(">", "&gt;").replace('"', "&#34;") in html


@pytest.mark.slow
def test_thumbnails_are_small_files_beside_the_page(page):
    plan, _, out, _, html = page
    assert "data:image" not in html and "base64" not in html
    doc = Page(html)
    imgs = doc.all("img")
    assert imgs, "no reference thumbnails"
    for img in imgs:
        src = img["src"]
        assert src.startswith("thumbs/") and not src.startswith(("/", "file:"))
        f = out / src
        assert f.is_file() and f.stat().st_size < 20_000
        with Image.open(f) as im:
            assert im.format == "JPEG"
            assert im.width <= THUMB_BOX[0] and im.height <= THUMB_BOX[1]
    # the cast image; for the extension a frame of the clip it extends; for the morph the last
    # frame of the clip before and the first of the clip after
    assert [i["alt"] for i in imgs] == ["Cat", "Cat", "two", "first", "last"]
    assert 'title="first (frame): last frame of three"' in html
    assert 'title="Cat (character): cast/cat.png"' in html
    assert 'title="two (clip): video of two"' in html


@pytest.mark.slow
def test_videos_and_posters_use_relative_paths(page):
    plan, clips, out, _, html = page
    videos = Page(html).all("video")
    assert len(videos) == 6  # five is failed: a placeholder instead of a player
    for v, name in zip(videos, ["one", "two", "two+1", "three", "three~four", "four"], strict=True):
        assert not v["src"].startswith(("/", "file:"))
        assert (out / v["src"]).resolve() == clips[name].resolve()
        assert v["preload"] == "metadata"
        poster = out / v["poster"]
        assert v["poster"].startswith("posters/") and poster.is_file()
        assert poster.stat().st_size < 40_000
        with Image.open(poster) as im:
            assert im.size == (320, 180)


@pytest.mark.slow
def test_header_costs(page, film):
    plan = film[0]
    html = page[4]
    tiers = {t.tier: t for t in tier_costs(plan)}
    # 24 s of text/reference clips and a 4 s extension (a video input, estimated at its upper
    # bound since issue 14: up to 15 s of input plus the 4 s of output at the video rate)
    assert tiers["480p"].usd == pytest.approx(24 * 0.07 + (15 + 4) * 0.13)
    assert tiers["720p"].usd == pytest.approx(24 * 0.16 + (15 + 4) * 0.28)
    assert tiers["1080p"].usd is None and not tiers["480p"].lower_bound
    assert "$4.15" in html and "$9.16" in html and "from $" not in html and "price not published" in html
    assert "0:24.0" in html  # the film's length after transitions
    assert "The film has not been stitched yet" in html


@pytest.mark.slow
def test_film_player_once_it_exists(film, tmp_path):
    plan, clips, _ = film
    out = tmp_path / "build"
    film_file = make_clip(out / "Test -Film.animatic.mp4", 1)  # the preview provider's film
    outputs = write_all(plan, clips, out)
    html = outputs.page.read_text()
    (player,) = Page(html).all("video", id="film")
    assert player["src"] == "Test%20-Film.animatic.mp4"
    assert (out / "Test -Film.animatic.mp4") == film_file
    assert outputs.subtitles is not None and outputs.subtitles.name == "Test -Film.animatic.srt"
    assert 'href="Test%20-Film.animatic.srt"' in html and 'href="contact-sheet.png"' in html


@pytest.mark.slow
def test_rerender_replaces_the_poster(film, tmp_path):
    plan, clips, _ = film
    out = tmp_path / "build"
    write_page(plan, clips, out)
    before = {p.name for p in (out / "posters").iterdir()}
    time.sleep(0.01)
    new = make_clip(tmp_path / "one-again.mp4", 4, "0xffffff")
    html = write_page(plan, {**clips, "one": new}, out).read_text()
    after = {p.name for p in (out / "posters").iterdir()}
    assert len(before) == len(after) == 7
    gone = before - after
    assert len(gone) == 1 and next(iter(gone)).startswith("one-")
    assert not any(g in html for g in gone)


@pytest.mark.slow
def test_live_page_reloads_itself(film, tmp_path):
    plan, clips, _ = film
    path = write_page(plan, clips, tmp_path / "build", live=True)
    html = path.read_text()
    assert html.count("<script>") == 1 and "live.js" in html
    stamp = re.search(r'var stamp = "([0-9a-f]+)"', html).group(1)
    assert stamp in (tmp_path / "build" / "live.js").read_text()


@pytest.mark.slow
def test_contact_sheet(film, tmp_path):
    plan, clips, _ = film
    outputs = write_all(plan, {k: v for k, v in clips.items() if k != "four"}, tmp_path / "build")
    sheet = outputs.contact_sheet
    assert sheet.name == "contact-sheet.png"
    width, height, cols, rows = contact_sheet_size(7)
    assert (cols, rows) == (4, 2)
    with Image.open(sheet) as im:
        assert im.size == (width, height) == (1356, 528)
        rgb = im.convert("RGB")
        # the first tile shows clip one's poster (blue), four's tile is a dark placeholder
        assert rgb.getpixel((20 + 160, 56 + 20 + 90))[2] > 150
        assert max(rgb.getpixel((20 + 332 + 40, 56 + 20 + 222 + 40))) < 40  # four: 6th, row 2


def test_contact_sheet_of_one_clip(tmp_path):
    plan = compile_story(write_story(tmp_path, "size: 320x180\n\nshot a 4s:\n  Rain.\n"))
    out = write_contact_sheet(plan, {}, tmp_path / "s.png")
    with Image.open(out) as im:
        assert im.size == contact_sheet_size(1)[:2] == (360, 306)


def test_contact_sheet_header_states_the_films_own_length(tmp_path, monkeypatch):
    import storyboard.present.page as page

    plan = compile_story(write_story(tmp_path, "size: 320x180\n\nshot a 4s:\n  Rain.\n\nscene b 6s:\n"
                                               "  shot: Trees bend.\n  shot: Leaves fly.\n"))
    film = tmp_path / "film.mp4"
    film.write_bytes(b"")
    monkeypatch.setattr(page, "film_seconds", lambda path: 9.958)  # a frame dropped at a seam
    headers = []
    monkeypatch.setattr(page, "_draw_header", lambda draw, plan, length, width: headers.append(length))
    write_contact_sheet(plan, {}, tmp_path / "s.png", film=film)
    write_contact_sheet(plan, {}, tmp_path / "t.png")
    assert [h["clock"] for h in headers] == ["0:09.96", "0:10.0"]


@pytest.mark.slow
def test_preview_command_renders_and_writes_the_page(tmp_path):
    """`storyboard preview` end to end with the free preview provider."""
    story = write_story(tmp_path)
    proc = storyboard("preview", story, "--shot", "one")
    assert proc.returncode == 0, proc.stderr
    page = Path(proc.stdout.strip())
    assert page == tmp_path / "build" / "storyboard.html"
    html = page.read_text()
    statuses = re.findall(r'data-clip="([^"]+)" data-kind="[a-z]+" data-status="([a-z-]+)"', html)
    assert statuses[0] == ("one", "rendered")
    assert {s for _, s in statuses[1:]} == {"not-requested"}
    assert (tmp_path / "build" / "contact-sheet.png").is_file()
    # again: everything cached, nothing rendered
    again = storyboard("preview", story, "--shot", "one")
    assert again.returncode == 0 and 'data-clip="one" data-kind="shot" data-status="cached"' in page.read_text()
