"""Providers, one module each (like SQL dialects). `get(name)` returns a fresh instance."""

from __future__ import annotations

from .base import AmbiguousSubmit, ClipSpec, Job, Limits, Provider, ProviderError

NAMES = ("preview", "together", "modelark", "fal", "replicate")
QUOTED = "together"  # the paid provider whose prices the storyboard page quotes beside any plan


def get(name: str, **options) -> Provider:
    if name == "preview":
        from .preview import PreviewProvider

        return PreviewProvider(**options)
    if name == "together":
        from .together import TogetherProvider

        return TogetherProvider(**options)
    if name == "fal":
        from .fal import FalProvider

        return FalProvider(**options)
    if name == "replicate":
        from .replicate import ReplicateProvider

        return ReplicateProvider(**options)
    if name == "modelark":
        from .modelark import ModelArkProvider

        return ModelArkProvider(**options)
    raise KeyError(name)


def quoted() -> Provider:
    """The provider whose prices are quoted for a plan made for another (the free preview)."""
    return get(QUOTED)


__all__ = ["NAMES", "QUOTED", "AmbiguousSubmit", "ClipSpec", "Job", "Limits", "Provider", "ProviderError", "get",
           "quoted"]
