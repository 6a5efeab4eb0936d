"""Fixtures shared by the test modules (helpers that are not fixtures: render_helpers.py)."""

from __future__ import annotations

import pytest

from render_helpers import KEY


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
