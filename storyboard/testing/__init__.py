"""Test doubles that run for real: `FakeTogether` is an HTTP server on loopback that speaks the
Together video protocol, so the `together` provider is tested over real sockets and users can
try the paid pipeline offline. What every such fake shares lives in `fakes/`."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["FakeTogether", "Faults"]

_HOMES = {"FakeTogether": ".fake_together", "Faults": ".fakes.faults"}


def __getattr__(name: str) -> Any:
    # Lazy, so `python -m storyboard.testing.fake_together` does not import itself twice.
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name], __name__), name)
    raise AttributeError(name)
