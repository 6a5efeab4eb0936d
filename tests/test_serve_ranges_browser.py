"""Seeking in the served page's players, in headless Chromium: Chromium seeks in a file only when
the server answers its Range requests (206 Partial Content), which `storyboard serve` does for
the film in build/ and the takes in the render state. Setting `currentTime` fires `seeked` with a
frame at the new position, and the network log shows the 206 answers."""

from __future__ import annotations

import pytest

from browser_helpers import LOADED, browser_fixture, websocket_module_fixture  # noqa: F401
from storyboard.cli.serve import PickServer, Studio
from storyboard.providers import get
from takes_page_helpers import render_takes_film

pytestmark = pytest.mark.slow  # renders clips with ffmpeg and starts a browser

SEEK = """
new Promise((resolve) => {
  const v = document.querySelector(%s);
  const target = v.duration * 0.8;
  const done = (what) => resolve({what, target, at: v.currentTime, ready: v.readyState, src: v.currentSrc,
    duration: v.duration, error: v.error ? v.error.code : null,
    seekable: v.seekable.length ? [v.seekable.start(0), v.seekable.end(0)] : null});
  v.addEventListener('seeked', () => done('seeked'), {once: true});
  v.addEventListener('error', () => done('error'), {once: true});
  setTimeout(() => done('timeout'), 20000);
  v.currentTime = target;
})
"""


@pytest.fixture
def served(tmp_path):
    path = render_takes_film(tmp_path / "film")
    studio = Studio(path, get("preview"))
    studio.rebuild()
    server = PickServer(studio).start()
    yield path, server
    server.stop()


def test_the_served_players_seek_with_range_requests(browser, served):
    path, server = served
    browser.call("Network.enable")
    browser.call("Page.navigate", url=server.url)
    state = browser.evaluate(LOADED)
    assert all(v["error"] is None and v["ready"] >= 1 for v in state["videos"]), state["videos"]
    film, take = "video#film", 'figure.take[data-clip="opening"][data-take="3"] video'
    for player, served_from in ((film, "/build/"), (take, "/.storyboard/cache/")):
        seek = browser.evaluate(SEEK % repr(player))
        assert seek["what"] == "seeked" and seek["error"] is None, seek
        assert served_from in seek["src"] and seek["duration"] > 3, seek
        assert seek["ready"] >= 2, f"no frame at the new position: {seek}"  # HAVE_CURRENT_DATA
        assert abs(seek["at"] - seek["target"]) < 0.1, seek
        assert seek["seekable"] and seek["seekable"][1] == pytest.approx(seek["duration"], abs=0.1), seek
    partial = [e["params"]["response"] for e in browser.events if e.get("method") == "Network.responseReceived"
               and e["params"]["response"]["status"] == 206]
    for served_from in ("/build/", "/.storyboard/cache/"):
        answers = [r for r in partial if served_from in r["url"]]
        assert answers, f"no 206 for {served_from}: {[r['url'] for r in partial]}"
        headers = {k.lower(): v for k, v in answers[0]["headers"].items()}
        assert headers["accept-ranges"] == "bytes" and headers["content-range"].startswith("bytes ")
