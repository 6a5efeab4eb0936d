"""Headless Chromium for the page tests (Debian's `chromium` package), driven over the DevTools
protocol with websocket-client: the `browser` fixture (one page target; a test module imports
`browser_fixture` and `websocket_module_fixture` to use it), `LOADED` (a script that waits for
the page's pictures and players and reports what loaded) and `screenshot`.

A module that imports these skips as a whole when Chromium is not installed (`make test` as root
installs it), so the summary gives the reason once."""

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

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio"]


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


# Tests never install anything: `make test` installs chromium when run as root. Without it the
# whole module skips, so the summary gives the reason once.
CHROMIUM = _find_chromium()
if CHROMIUM is None:
    pytest.skip("chromium is not installed (`make test` as root installs it; or apt-get install -y chromium)",
                allow_module_level=True)


@pytest.fixture(scope="session", name="websocket_module")
def websocket_module_fixture():
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


@pytest.fixture(name="browser")
def browser_fixture(websocket_module, tmp_path):
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




def screenshot(browser: DevTools, width: int, height: int, name: str, folder: Path) -> bytes:
    """A PNG of the page's top `height` pixels once its players show a frame, saved as
    `folder/name` and, when STORYBOARD_SCREENSHOT_DIR is set, there too (for a person to look at
    the design)."""
    browser.evaluate("new Promise(r => { const t0 = Date.now(); (function w() { "
                     "if ([...document.querySelectorAll('video')].every(v => v.readyState >= 2 || v.error) "
                     "|| Date.now() - t0 > 5000) r(true); else setTimeout(w, 50); })(); })")
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG")
    (folder / name).write_bytes(png)
    keep = os.environ.get("STORYBOARD_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / name).write_bytes(png)
    return png
