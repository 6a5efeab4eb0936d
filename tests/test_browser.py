"""The storyboard page in a real browser (headless Chromium, Debian's `chromium` package):
every card, image and video loads from file:// with no server and no network, and a prompt
holding `<script>alert(1)</script>` is shown as text and never runs. Talks to Chromium over the
DevTools protocol (websocket-client, see browser_helpers) and takes a screenshot of the page.

Set STORYBOARD_SCREENSHOT_DIR to keep the screenshot (for a person to look at the design)."""

from __future__ import annotations

import time

import pytest

from browser_helpers import LOADED, browser_fixture, screenshot, websocket_module_fixture  # noqa: F401
from preview_helpers import SCRIPT, compile_story, make_clip, make_clips, write_story
from storyboard.present.page import write_all

pytestmark = pytest.mark.slow  # renders clips with ffmpeg and starts a browser


def test_page_loads_in_chromium(browser, tmp_path):
    story = write_story(tmp_path / "film")
    plan = compile_story(story)
    clips = make_clips(plan, tmp_path / "clips")
    out = tmp_path / "film" / "build"
    film = make_clip(out / "Test -Film.mp4", 3, "0x202020")
    outputs = write_all(plan, clips, out, statuses={n: "rendered" for n in clips}, film=film)

    browser.call("Page.enable")
    browser.call("Page.addScriptToEvaluateOnNewDocument",
                 source="window.alert = function () { window.__alerted = true; };")
    browser.call("Page.navigate", url=outputs.page.resolve().as_uri())
    state = browser.evaluate(LOADED)

    assert state["cards"] == [c.name for c in plan.clips]
    assert state["h1"] == "Test <Film>"
    assert {"dissolve 1s", "fade 1s", "wipe left 0.5s", "morph", "extends"} <= set(state["joins"])
    # every picture is a small file beside the page that the browser decoded
    assert state["images"], "no reference thumbnails on the page"
    for img in state["images"]:
        assert img["w"] > 0, f"image did not load: {img}"
        assert img["src"].startswith("thumbs/"), img
    # every clip's player and the film's player found their file and read its header
    assert len(state["videos"]) == len(plan.clips) + 1
    for v in state["videos"]:
        assert v["error"] is None and v["ready"] >= 1, f"video did not load: {v}"
        assert not v["src"].startswith(("/", "file:")), v
    # the prompt is text, not markup; nothing ran
    assert state["scripts"] == 0
    assert any(SCRIPT in a for a in state["actions"])
    assert any(SCRIPT in p for p in state["prompts"])
    assert not state["alerted"]
    assert not [e for e in browser.events if e.get("method") == "Page.javascriptDialogOpening"]
    # the layout fits the window (no horizontal scrolling)
    assert state["width"] <= state["viewport"]

    screenshot(browser, 1400, 1900, "storyboard.png", tmp_path)


def test_narrow_window_has_one_column(browser, tmp_path):
    story = write_story(tmp_path / "film")
    plan = compile_story(story)
    out = tmp_path / "film" / "build"
    outputs = write_all(plan, {}, out)  # nothing rendered: placeholders, no players
    browser.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=1, mobile=True)
    browser.call("Page.navigate", url=outputs.page.resolve().as_uri())
    state = browser.evaluate(LOADED)
    assert state["cards"] == [c.name for c in plan.clips]
    assert state["videos"] == []
    assert state["width"] <= state["viewport"]
    lefts = browser.evaluate("[...new Set([...document.querySelectorAll('li.card')]"
                             ".map(c => Math.round(c.getBoundingClientRect().left)))]")
    assert len(lefts) == 1, f"cards are not in one column on a phone: {lefts}"


def test_watch_page_reloads_itself_when_rewritten(browser, tmp_path):
    """Watch mode's page polls live.js (a script file: fetch() is not allowed on file://) and
    reloads when the build stamp changes."""
    from storyboard.present.page import write_page

    story = write_story(tmp_path / "film")
    plan = compile_story(story)
    page = write_page(plan, {}, tmp_path / "build", live=True)
    browser.call("Page.navigate", url=page.resolve().as_uri())
    browser.evaluate(LOADED)
    browser.evaluate("window.__marker = 1")
    time.sleep(2.0)  # a poll or two with the same stamp: no reload
    assert browser.evaluate("window.__marker") == 1
    write_page(plan, {}, tmp_path / "build", live=True)
    deadline = time.monotonic() + 10
    while browser.evaluate("window.__marker === undefined && document.readyState === 'complete'") is not True:
        assert time.monotonic() < deadline, "the page did not reload after it was rewritten"
        time.sleep(0.2)
