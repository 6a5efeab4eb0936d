"""The offline default: renders each clip as an animatic, locally, with no key and no money."""

from __future__ import annotations

from typing import Any

from .base import ClipSpec, Limits, Price, Provider
from .seedance import build_body


class PreviewProvider(Provider):
    name = "preview"
    paid = False
    limits = Limits()

    def __init__(self, **_: Any):
        pass

    def build_request(self, spec: ClipSpec) -> dict[str, Any]:
        return build_body(spec)

    def price(self, spec: ClipSpec) -> Price:
        return Price(0.0)
