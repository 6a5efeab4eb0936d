"""Fixtures shared by the test modules (helpers that are not fixtures: render_helpers.py)."""

from __future__ import annotations

import pytest

from render_helpers import KEY


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
