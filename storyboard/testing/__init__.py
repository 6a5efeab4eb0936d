"""Test doubles that run for real: `FakeTogether` is an HTTP server on loopback that speaks the
Together video protocol, so the `together` provider is tested over real sockets and users can
try the paid pipeline offline."""

from __future__ import annotations

from typing import Any

__all__ = ["FakeTogether", "Faults"]


def __getattr__(name: str) -> Any:
    # Lazy, so `python -m storyboard.testing.fake_together` does not import itself twice.
    if name in __all__:
        from . import fake_together

        return getattr(fake_together, name)
    raise AttributeError(name)
