"""Providers, one module each (like SQL dialects). `get(name)` returns a fresh instance."""

from __future__ import annotations

from .base import AmbiguousSubmit, ClipSpec, Job, Limits, Provider, ProviderError

NAMES = ("preview", "together", "modelark", "fal", "replicate")


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


__all__ = ["AmbiguousSubmit", "ClipSpec", "Job", "Limits", "Provider", "ProviderError", "get", "NAMES"]
