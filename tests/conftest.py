"""Fixtures shared by the test modules (helpers that are not fixtures: render_helpers.py)."""

from __future__ import annotations

import os
import shlex
import stat
import tempfile
from pathlib import Path

import pytest

from render_helpers import KEY

# `make test-fast` (STORYBOARD_TEST_FAST=1) is the edit loop: it runs no video. There, every ffmpeg
# the product starts (imageio-ffmpeg's IMAGEIO_FFMPEG_EXE, in this process and in the CLI's
# children) goes through a wrapper that notes which test was running, and a test that is not
# marked `slow` and made video fails, so the loop stays fast as tests are added.
_FFMPEG_LOG: Path | None = None


def pytest_configure(config):
    global _FFMPEG_LOG
    if os.environ.get("STORYBOARD_TEST_FAST") != "1":
        return
    import imageio_ffmpeg

    folder = Path(tempfile.mkdtemp(prefix="sb-test-fast-"))
    _FFMPEG_LOG = folder / "ffmpeg-runs.log"
    _FFMPEG_LOG.touch()
    wrapper = folder / "ffmpeg"
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\n" "$PYTEST_CURRENT_TEST" >> {shlex.quote(str(_FFMPEG_LOG))}\n'
                       f'exec {shlex.quote(imageio_ffmpeg.get_ffmpeg_exe())} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    os.environ["IMAGEIO_FFMPEG_EXE"] = str(wrapper)


_LOG_SIZE_BEFORE = pytest.StashKey[int]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    # Before any fixture of the test is set up: a module-scoped fixture that renders a film runs
    # ffmpeg in the setup of the first test that uses it, before the autouse fixture below starts.
    if _FFMPEG_LOG is not None:
        item.stash[_LOG_SIZE_BEFORE] = _FFMPEG_LOG.stat().st_size


@pytest.fixture(autouse=True)
def _no_video_unless_slow(request):
    if _FFMPEG_LOG is None or request.node.get_closest_marker("slow"):
        yield
        return
    seen = request.node.stash.get(_LOG_SIZE_BEFORE, _FFMPEG_LOG.stat().st_size)
    yield
    with _FFMPEG_LOG.open(encoding="utf-8") as log:
        log.seek(seen)
        mine = [line for line in log if line.startswith(request.node.nodeid + " ")]
    if mine:
        pytest.fail(f"{request.node.nodeid} ran ffmpeg {len(mine)} time(s): a test that makes video is marked "
                    "@pytest.mark.slow (make test-fast runs none)", pytrace=False)


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path_factory, monkeypatch):
    """No test reads the developer's own ~/.config/storyboard/config.toml (keys, defaults)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))


@pytest.fixture
def fake_together():
    from storyboard.testing import FakeTogether

    def start(**kw):
        kw.setdefault("latency", 0.2)
        kw.setdefault("clip_size", (64, 36))
        kw.setdefault("renderer", "testcard")
        kw.setdefault("api_key", KEY)
        f = FakeTogether(**kw).start()
        started.append(f)
        return f

    started: list = []
    yield start
    for f in started:
        f.close()
