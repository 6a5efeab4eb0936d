"""Watch mode: a save re-renders exactly the clips that changed and refreshes the page; a story
with errors keeps the last good page; Ctrl-C exits 130."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from storyboard.cli.watch import Cycle, watch

pytestmark = pytest.mark.slow  # every test here renders clips (ffmpeg)

STORY = """\
title: Watched
size: 320x180

character Cat:
  image: cast/cat.png

shot a 4s:
  @Cat sits by the window.

shot b 4s:
  Rain on the glass.
"""


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def story(tmp_path):
    (tmp_path / "cast").mkdir()
    Image.new("RGB", (64, 64), (200, 100, 50)).save(tmp_path / "cast" / "cat.png")
    path = tmp_path / "w.story"
    write(path, STORY)
    return path


def test_edits_rerender_exactly_the_changed_clips(story, tmp_path):
    cycles: list[Cycle] = []
    arrived = threading.Condition()

    def on_cycle(c: Cycle) -> None:
        with arrived:
            cycles.append(c)
            arrived.notify_all()

    def wait_for(n: int) -> Cycle:
        with arrived:
            assert arrived.wait_for(lambda: len(cycles) >= n or not runner.is_alive(), timeout=60)
        assert len(cycles) >= n, "the watcher stopped early"
        return cycles[n - 1]

    logs: list[str] = []
    stop = threading.Event()
    runner = threading.Thread(target=watch, args=(story,), daemon=True,
                              kwargs=dict(iterations=5, on_cycle=on_cycle, stop=stop, interval=0.05,
                                          debounce=0.15, log=logs.append))
    runner.start()
    try:
        first = wait_for(1)
        assert first.ok and sorted(first.rendered) == ["a", "b"]
        page = tmp_path / "build" / "storyboard.html"
        assert first.page == page and "Rain on the glass." in page.read_text()

        # 2: change shot b only -> b is rendered again, a comes from the cache
        write(story, STORY.replace("Rain on the glass.", "Snow on the glass."))
        second = wait_for(2)
        assert second.ok and second.rendered == ["b"] and second.cached == ["a"]
        assert second.changed == [story.resolve()]
        assert "Snow on the glass." in page.read_text()

        # 3: an error -> diagnostics, nothing rendered, the last good page stays
        good_page = page.read_text()
        write(story, STORY.replace("@Cat sits", "@Dog sits"))
        third = wait_for(3)
        assert not third.ok and third.rendered == [] and third.page == page
        assert any(d.is_error for d in third.diagnostics)
        assert page.read_text() == good_page
        assert any("Dog" in line for line in logs)

        # 4: fixed again, with a new line for a -> only a is rendered
        write(story, STORY.replace("Rain on the glass.", "Snow on the glass.")
              .replace("sits by the window.", "sleeps by the window."))
        fourth = wait_for(4)
        assert fourth.ok and fourth.rendered == ["a"] and fourth.cached == ["b"]

        # 5: a referenced file changes -> the clip that sends it is rendered again
        Image.new("RGB", (64, 64), (20, 200, 50)).save(tmp_path / "cast" / "cat.png")
        fifth = wait_for(5)
        assert fifth.changed == [(tmp_path / "cast" / "cat.png").resolve()]
        assert fifth.rendered == ["a"] and fifth.cached == ["b"]
        runner.join(timeout=30)
        assert not runner.is_alive()
    finally:
        stop.set()
        runner.join(timeout=30)


def test_stop_event_ends_the_loop(story):
    stop = threading.Event()
    done: list[int] = []
    t = threading.Thread(target=lambda: done.append(watch(story, stop=stop, interval=0.05, log=lambda m: None,
                                                          on_cycle=lambda c: stop.set())))
    t.start()
    t.join(timeout=60)
    assert done == [0]


def test_ctrl_c_exits_130(story):
    proc = subprocess.Popen([sys.executable, "-m", "storyboard", "watch", str(story), "--interval", "0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # the page's path, once the first build is done
        assert line.strip().endswith("storyboard.html"), proc.stderr.read() if proc.poll() is not None else line
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "stopped watching" in err and "Traceback" not in err
