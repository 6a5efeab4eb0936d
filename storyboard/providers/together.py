"""Seedance 2.0 on Together: `POST /v2/videos`, `GET /v2/videos/{id}`, Bearer TOGETHER_API_KEY."""

from __future__ import annotations

import os
from typing import Any

from .base import ClipSpec, Limits, Price, Provider
from .seedance import DOCS_FIELDS, OPENAPI_FIELDS, build_body

DEFAULT_BASE_URL = "https://api.together.ai"

# $/second from the Seedance 2.0 page. Video inputs are billed "from" the second row.
PRICES = {
    "text": {"480p": 0.07, "720p": 0.16},
    "video": {"480p": 0.13, "720p": 0.28},
}


class TogetherProvider(Provider):
    name = "together"
    paid = True
    limits = Limits(local_media=frozenset({"image"}))  # images inline as data URIs; video/audio need URLs

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None,
                 field_names: str = "docs", **_: Any):
        self.api_key = api_key if api_key is not None else os.environ.get("TOGETHER_API_KEY")
        self.base_url = (base_url or os.environ.get("TOGETHER_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.fields = OPENAPI_FIELDS if field_names == "openapi" else DOCS_FIELDS

    def build_request(self, spec: ClipSpec) -> dict[str, Any]:
        return build_body(spec, self.fields)

    def price(self, spec: ClipSpec) -> Price:
        tier = spec.resolution
        if spec.width and spec.height:
            tier = _tier_for_pixels(spec.width * spec.height)
        table = PRICES["video" if spec.has_video_input else "text"]
        rate = table.get(tier or "")
        if rate is None:
            return Price(None, f"Together publishes no Seedance 2.0 price for {tier or 'this size'}; cost unknown")
        usd = round(rate * spec.seconds, 4)
        if spec.has_video_input:
            return Price(usd, "video-input clips are priced 'from' the listed rate; the estimate is a lower bound")
        return Price(usd)


def _tier_for_pixels(pixels: int) -> str:
    if pixels <= 864 * 496:
        return "480p"
    if pixels <= 1280 * 720:
        return "720p"
    return "1080p"
