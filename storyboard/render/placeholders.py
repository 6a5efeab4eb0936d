"""The plan's `{{kind:name}}` placeholders in request bodies: found, resolved and typed (pure)."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from collections.abc import Iterable

from ..plan import parse_placeholder

_EXT_KINDS = {".png": "image", ".jpg": "image", ".jpeg": "image", ".webp": "image",
              ".mp4": "video", ".mov": "video", ".mp3": "audio", ".wav": "audio"}


def _key_kind(key: str) -> str | None:
    for kind in ("image", "video", "audio"):
        if kind in key:
            return kind
    return None


def placeholders_in(value: Any, kind: str | None = None) -> Iterable[tuple[str | None, str, tuple[str, str]]]:
    """(media kind from the field it sits in, raw string, parsed placeholder) for each one."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from placeholders_in(v, _key_kind(k) or kind)
    elif isinstance(value, list):
        for v in value:
            yield from placeholders_in(v, kind)
    else:
        parsed = parse_placeholder(value)
        if parsed:
            yield kind, value, parsed


def substitute(value: Any, found: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: substitute(v, found) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, found) for v in value]
    if isinstance(value, str) and value in found:
        return found[value]
    return value


def media_kind(kind: str | None, path: Path) -> str:
    if kind in ("image", "video", "audio"):
        return kind
    guess = _EXT_KINDS.get(path.suffix.lower())
    if guess:
        return guess
    mime = (mimetypes.guess_type(path.name)[0] or "").split("/")[0]
    return mime if mime in ("image", "video", "audio") else "image"
