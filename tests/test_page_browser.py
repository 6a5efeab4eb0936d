"""The page's layout in headless Chromium at a wide and a phone width (and one between, where the
page margin is narrow): nothing hangs off the left edge (the transition badges of cards that
start a row did), every timeline label fits or ends in an ellipsis under a title with the whole
name (the morph's was cut to its middle), and the header's length is the film file's (it said
0:32.0 over a player at 0:31). And a bundle: opened from a copy of its folder, every request the
page makes stays inside that folder.

Screenshots: storyboard-1400.png and storyboard-420.png (kept in STORYBOARD_SCREENSHOT_DIR)."""

from __future__ import annotations

import math
import shutil
import subprocess

import pytest

from browser_helpers import LOADED, browser_fixture, screenshot, websocket_module_fixture  # noqa: F401
from preview_helpers import FILM_SECONDS, compile_story, make_clips, write_story
from storyboard.media.probe import ffmpeg_exe
from storyboard.present.bundle import write_bundle
from storyboard.present.page import write_all

pytestmark = pytest.mark.slow  # renders clips with ffmpeg and starts a browser

FPS = 24

# Everything the layout tests look at, measured in the page (CSS pixels).
MEASURE = """
(() => {
  const box = (el) => el.getBoundingClientRect();
  const shown = (el) => { const r = box(el); return r.width > 0 && r.height > 0; };
  const offLeft = [...document.querySelectorAll('body *')].filter(shown)
    .filter(el => box(el).left < -0.5)
    .map(el => `${el.tagName.toLowerCase()}.${el.className} @ ${Math.round(box(el).left)}`);
  const labels = [...document.querySelectorAll('nav.strip a')].map(a => {
    const label = a.querySelector('.label') || a; const style = getComputedStyle(label);
    return {name: a.getAttribute('aria-label') || a.title.split(' · ')[0], title: a.title, text: label.textContent,
            fits: label.scrollWidth <= label.clientWidth + 0.5,
            ellipsis: style.textOverflow === 'ellipsis' && style.overflow === 'hidden',
            startClipped: box(label).left < box(a).left - 0.5, width: box(a).width};
  });
  const joins = [...document.querySelectorAll('li.card > .join')].map(j => {
    const card = box(j.parentElement), r = box(j);
    return {text: j.textContent.trim(), inside: r.left >= card.left - 0.5 && r.right <= card.right + 0.5};
  });
  const film = document.querySelector('video#film');
  const length = document.querySelector('.length') || {dataset: {}};
  const lengthText = document.querySelector('#film-length');
  return {offLeft, labels, joins,
          scrollWidth: document.documentElement.scrollWidth, viewport: window.innerWidth,
          length: length.dataset.seconds, lengthOf: length.dataset.of,
          lengthText: lengthText ? lengthText.textContent : null,
          filmDuration: film ? film.duration : null};
})()
"""


def _film(path, frames: int):
    """A stand-in film of exactly `frames` frames at 24 fps (video only: its length is exact)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=s=320x180:r={FPS}",
                    "-frames:v", str(frames), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    str(path)], check=True, capture_output=True, timeout=60)
    return path


@pytest.fixture(scope="module")
def film_page(tmp_path_factory):
    """The test story's page with every clip rendered and a film one frame shorter than planned
    (what the stitcher makes when it drops a seam's repeated frame)."""
    root = tmp_path_factory.mktemp("layout")
    plan = compile_story(write_story(root / "film"))
    clips = make_clips(plan, root / "clips")
    out = root / "film" / "build"
    film = _film(out / "Test -Film.mp4", round(FILM_SECONDS * FPS) - 1)
    outputs = write_all(plan, clips, out, statuses={n: "rendered" for n in clips}, film=film)
    return plan, clips, film, outputs


# The layout settled: the document and its fonts loaded, every player read its file's header.
# (Not every picture: thumbnails below the fold load lazily, and their boxes have fixed sizes.)
SETTLED = """
new Promise((resolve) => {
  const started = Date.now();
  (function poll() {
    const ready = document.readyState === 'complete'
      && [...document.querySelectorAll('video')].every(v => v.readyState >= 1 || v.error);
    if (ready || Date.now() - started > 15000) { document.fonts.ready.then(() => resolve(ready)); }
    else { setTimeout(poll, 50); }
  })();
})
"""


def _open(browser, url: str, width: int):
    browser.call("Emulation.setDeviceMetricsOverride", width=width, height=1000, deviceScaleFactor=1,
                 mobile=width < 600)
    browser.call("Page.navigate", url=url)
    assert browser.evaluate(SETTLED), "the page's players did not load"
    return browser.evaluate(MEASURE)


def test_layout_at_wide_middle_and_phone_widths(browser, film_page, tmp_path):
    plan, _, film, outputs = film_page
    for width in (1400, 820, 420):
        m = _open(browser, outputs.page.resolve().as_uri(), width)
        assert m["offLeft"] == [], f"{width}px: outside the viewport's left edge: {m['offLeft']}"
        assert m["scrollWidth"] <= m["viewport"], f"{width}px: the page scrolls sideways"
        assert [j["text"] for j in m["joins"]] == ["dissolve 1s", "extends", "fade 1s", "morph", "cut",
                                                   "wipe left 0.5s"]
        outside = [j["text"] for j in m["joins"] if not j["inside"]]
        assert outside == [], f"{width}px: transition badges outside their card: {outside}"
        assert [lab["name"] for lab in m["labels"]] == [c.name for c in plan.clips]
        for lab in m["labels"]:
            # it fits, or it is the whole name cut at its end with an ellipsis, the segment's
            # title naming it in full (never its middle, as `at+2~da` was)
            assert lab["text"] == lab["name"] and lab["title"].startswith(lab["name"] + " · "), lab
            assert not lab["startClipped"], f"{width}px: label cut at its start: {lab}"
            assert lab["fits"] or lab["ellipsis"], f"{width}px: label neither fits nor ends in an ellipsis: {lab}"
        if width in (1400, 420):
            screenshot(browser, width, 1900 if width == 1400 else 2400, f"storyboard-{width}.png", tmp_path)
    assert any(not lab["fits"] for lab in m["labels"]), "at 420 px some label should need its ellipsis"


def test_header_length_is_the_film_files(browser, film_page):
    plan, _, film, outputs = film_page
    m = _open(browser, outputs.page.resolve().as_uri(), 1400)
    # the film is a frame shorter than the plan: the header follows the file the player plays
    assert m.get("lengthOf") == "file"
    assert m["filmDuration"] == pytest.approx(float(m["length"]), abs=0.002)
    assert abs(float(m["length"]) - plan.total_seconds) == pytest.approx(1 / FPS, abs=0.002)
    # and reads as the player's clock does: the same whole seconds (0:26, not 0:26.5 rounded up)
    minutes, seconds = m["lengthText"].split(":")
    assert int(minutes) * 60 + math.floor(float(seconds)) == math.floor(m["filmDuration"])
    assert float(seconds) == pytest.approx(m["filmDuration"] % 60, abs=0.01)


def test_bundle_opens_from_a_copy_with_no_request_outside_it(browser, film_page, tmp_path):
    plan, clips, film, _ = film_page
    bundle = write_bundle(plan, clips, tmp_path / "made" / "bundle", film=film,
                          statuses={n: "rendered" for n in clips})
    copy = tmp_path / "elsewhere" / "received"
    shutil.copytree(bundle.folder, copy)
    shutil.rmtree(bundle.folder)  # nothing of the original is left to lean on
    browser.call("Network.enable")
    browser.events.clear()
    m = _open(browser, (copy / "storyboard.html").resolve().as_uri(), 1400)
    state = browser.evaluate(LOADED)
    assert state["cards"] == [c.name for c in plan.clips]
    assert len(state["videos"]) == len(plan.clips) + 1  # every clip and the film
    for v in state["videos"]:
        assert v["error"] is None and v["ready"] >= 1, f"video did not load: {v}"
    for img in state["images"]:
        assert img["w"] > 0, f"image did not load: {img}"
    urls = {e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"}
    inside = copy.resolve().as_uri() + "/"
    assert len(urls) > len(plan.clips), urls  # the page, its players and its pictures were requested
    # (data: URLs are the browser's own player controls: no file, no network)
    assert sorted(u for u in urls if not u.startswith((inside, "data:"))) == []
    assert m["lengthOf"] == "file" and m["filmDuration"] == pytest.approx(float(m["length"]), abs=0.002)
