"""A clip's planned generation and its price, quoted by the paid provider the storyboard page
quotes (`providers.quoted`), whichever provider the story is checked against."""

from __future__ import annotations

from functools import lru_cache

from ..language.model import Clip
from ..plan import PlannedClip
from ..providers import quoted
from ..providers.base import Price, Provider


@lru_cache(maxsize=1)
def quoting() -> Provider:
    return quoted()


def planned_clip(result, clip: Clip) -> PlannedClip | None:
    """The plan's clip made from this block (the plan names each clip's source line)."""
    if result.plan is None or clip.span is None:
        return None
    source = f"{clip.span.file}:{clip.span.line}:{clip.span.column}"
    return next((c for c in result.plan.clips if c.source == source), None)


def tier_of(planned: PlannedClip) -> str:
    return str(planned.request.get("resolution") or f"{planned.width}x{planned.height}")


def clip_price(planned: PlannedClip) -> tuple[Price, str]:
    """Its price at its own resolution."""
    return quoting().quote(planned.request), tier_of(planned)


def tier_prices(planned: PlannedClip) -> list[tuple[str, Price]]:
    """Its price at each resolution the quoting provider renders."""
    provider = quoting()
    return [(tier, provider.quote(planned.request, tier)) for tier in provider.limits.resolutions]
