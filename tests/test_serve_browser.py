"""Picking a take by clicking its button on the served page, in headless Chromium (issue 12): the
picks file is written, the film is re-stitched from the picked take, the page reloads itself with
the take marked and says what happened; a POST from another origin, or without the token, is
refused and changes nothing. Set STORYBOARD_SCREENSHOT_DIR to keep the screenshots."""

from __future__ import annotations

import json
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from browser_helpers import LOADED, browser_fixture, screenshot, websocket_module_fixture  # noqa: F401
from storyboard.cli.serve import PickServer, Studio
from storyboard.picks import picks_path, read_picks
from storyboard.providers import get
from takes_page_helpers import centre, near, render_takes_film, take_file

pytestmark = pytest.mark.slow  # renders clips with ffmpeg and starts a browser

def wait_for(browser, condition: str, seconds: float = 60) -> bool:
    """Poll a condition from here: a reload ends any promise the page was running."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if browser.evaluate(f"(() => {{ try {{ return !!({condition}); }} catch (e) {{ return false; }} }})()"):
                return True
        except RuntimeError:  # the page is between two documents
            pass
        time.sleep(0.2)
    return False


@pytest.fixture
def served(tmp_path):
    path = render_takes_film(tmp_path / "film")
    said: list[str] = []
    studio = Studio(path, get("preview"), log=said.append)
    studio.rebuild()
    server = PickServer(studio).start()
    server.said = said
    yield path, server
    server.stop()


def test_clicking_pick_writes_the_picks_file_and_the_page_plays_the_new_film(browser, served, tmp_path):
    path, server = served
    film = path.parent / "build" / "Takes Page.animatic.mp4"
    browser.call("Page.enable")
    browser.call("Page.navigate", url=server.url)
    state = browser.evaluate(LOADED)
    assert state["cards"] == ["opening", "second", "second+1"]
    for v in state["videos"]:
        assert v["error"] is None and v["ready"] >= 1, f"video did not load over http: {v}"
    assert browser.evaluate("document.documentElement.classList.contains('can-pick')")
    enabled = browser.evaluate("document.querySelectorAll('.pick-button:not([disabled])').length")
    assert enabled == 7  # a button on every take: none is picked yet
    screenshot(browser, 1400, 1100, "served-takes.png", tmp_path)

    browser.evaluate("window.__before = true; document.querySelector("
                     "'figure.take[data-clip=\"opening\"][data-take=\"2\"] .pick-button').click(); true")
    assert wait_for(browser, "!window.__before && document.readyState === 'complete' && "
                             "document.querySelector('figure.take[data-clip=\"opening\"][data-take=\"2\"]')"
                             ".classList.contains('picked')"), "the page did not reload with take 2 picked"
    status = browser.evaluate("document.getElementById('serve-status').textContent")
    assert "opening: take 2 picked" in status and "film re-stitched" in status
    assert read_picks(path).of("preview")["opening"].take == 2
    assert near(centre(film, 1.0), centre(take_file(path, "opening", 2), 1.0))
    assert browser.evaluate("document.querySelector('figure.take[data-clip=\"opening\"][data-take=\"2\"] .cmd')"
                            ".textContent") == "storyboard unpick takes.story opening -p preview"
    screenshot(browser, 1400, 1100, "served-picked.png", tmp_path)

    # the page's own script cannot be tricked into sending without its token ...
    no_token = browser.evaluate("fetch('/api/unpick', {method: 'POST', headers: {'Content-Type': 'application/json'},"
                                " body: JSON.stringify({clip: 'opening'})}).then(r => r.status)")
    assert no_token == 403
    # ... and a page of another origin (another local server) is refused: its simple POST is
    # answered 403 and logged; a POST with the token header needs a preflight, which is refused
    evil = tmp_path / "evil"
    evil.mkdir()
    (evil / "index.html").write_text("<!doctype html><title>elsewhere</title><p>elsewhere</p>", encoding="utf-8")
    other = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(evil)))
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        browser.call("Page.navigate", url=f"http://127.0.0.1:{other.server_address[1]}/index.html")
        assert wait_for(browser, "document.title === 'elsewhere'")
        target = f"http://127.0.0.1:{server.port}/api/unpick"
        simple = json.dumps({"clip": "opening"})
        browser.evaluate(f"fetch({target!r}, {{method: 'POST', mode: 'no-cors', body: {json.dumps(simple)}}})"
                         ".then(() => true, () => true)")
        preflighted = browser.evaluate(
            f"fetch({target!r}, {{method: 'POST', headers: {{'Content-Type': 'application/json', "
            f"'X-Storyboard-Token': {server.token!r}}}, body: '{{}}'}}).then(r => r.status, e => 'blocked')")
        assert preflighted == "blocked"
    finally:
        other.shutdown()
        other.server_close()
    assert read_picks(path).of("preview")["opening"].take == 2 and picks_path(path).exists()
    refused = [line for line in server.said if "refused" in line]
    assert len(refused) == 3 and f"http://127.0.0.1:{other.server_address[1]}" in refused[1], server.said
    assert Path(film).is_file()
