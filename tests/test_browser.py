"""The storyboard page in a real browser (headless Chromium, Debian's `chromium` package):
every card, image and video loads from file:// with no server and no network, and a prompt
holding `<script>alert(1)</script>` is shown as text and never runs. Talks to Chromium over the
DevTools protocol (websocket-client) and takes a screenshot of the page.

Set STORYBOARD_SCREENSHOT_DIR to keep the screenshot (for a person to look at the design)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from preview_helpers import SCRIPT, compile_story, make_clip, make_clips, write_story
from storyboard.present.page import write_all

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"]


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


pytestmark = pytest.mark.slow  # renders clips with ffmpeg and starts a browser

# Tests never install anything: `make test` installs chromium when run as root. Without it the
# whole module skips, so the summary gives the reason once.
CHROMIUM = _find_chromium()
if CHROMIUM is None:
    pytest.skip("chromium is not installed (`make test` as root installs it; or apt-get install -y chromium)",
                allow_module_level=True)


@pytest.fixture(scope="session")
def websocket_module():
    return pytest.importorskip("websocket", reason="the DevTools test needs websocket-client (test extra)")


class DevTools:
    """The smallest DevTools protocol client: one page target, request/response by id."""

    def __init__(self, ws_url: str, websocket):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def evaluate(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError(f"page script failed: {res['exceptionDetails']}")
        return res["result"].get("value")

    def close(self):
        self.ws.close()


@pytest.fixture
def browser(websocket_module, tmp_path):
    profile = Path(tempfile.mkdtemp(prefix="sb-chromium-"))
    proc = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
                             "--window-size=1400,1000", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.is_file() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        page = next(t for t in targets if t.get("type") == "page")
        tools = DevTools(page["webSocketDebuggerUrl"], websocket_module)
        yield tools
        tools.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(profile, ignore_errors=True)


LOADED = """
new Promise((resolve) => {
  const started = Date.now();
  function settled() {
    const imgs = [...document.images];
    const vids = [...document.querySelectorAll('video')];
    return document.readyState === 'complete'
      && imgs.every(i => i.complete)
      && vids.every(v => v.readyState >= 1 || v.error);
  }
  (function poll() {
    if (settled() || Date.now() - started > 15000) {
      resolve({
        title: document.title,
        h1: document.querySelector('h1').textContent,
        cards: [...document.querySelectorAll('li.card')].map(c => c.dataset.clip),
        joins: [...document.querySelectorAll('.join')].map(j => j.textContent.trim()),
        images: [...document.images].map(i => ({src: i.getAttribute('src'), w: i.naturalWidth})),
        videos: [...document.querySelectorAll('video')].map(v => ({src: v.getAttribute('src'),
          ready: v.readyState, error: v.error ? v.error.code : null, duration: v.duration})),
        scripts: document.querySelectorAll('script').length,
        actions: [...document.querySelectorAll('.action')].map(a => a.textContent),
        prompts: [...document.querySelectorAll('.prompt-text')].map(a => a.textContent),
        alerted: window.__alerted === true,
        width: document.documentElement.scrollWidth,
        viewport: window.innerWidth,
      });
    } else { setTimeout(poll, 50); }
  })();
})
"""


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

    # let the players settle (first frames decoded) so the screenshot shows the page as seen
    browser.evaluate("new Promise(r => { const t0 = Date.now(); (function w() { "
                     "if ([...document.querySelectorAll('video')].every(v => v.readyState >= 2 || v.error) "
                     "|| Date.now() - t0 > 5000) r(true); else setTimeout(w, 50); })(); })")
    print("video readyStates:", browser.evaluate("[...document.querySelectorAll('video')].map(v => v.readyState)"))
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": 1400, "height": 1900, "scale": 1})
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG")
    (tmp_path / "storyboard.png").write_bytes(png)
    keep = os.environ.get("STORYBOARD_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / "storyboard.png").write_bytes(png)


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
