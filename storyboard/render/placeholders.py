"""The media kind of a placeholder's file at submit time (pure). The placeholders themselves
are found and substituted by `plan.placeholders_in` and `plan.substitute`."""

from __future__ import annotations

import mimetypes
from pathlib import Path

_EXT_KINDS = {".png": "image", ".jpg": "image", ".jpeg": "image", ".webp": "image",
              ".mp4": "video", ".mov": "video", ".mp3": "audio", ".wav": "audio"}


def media_kind(kind: str | None, path: Path) -> str:
    if kind in ("image", "video", "audio"):
        return kind
    guess = _EXT_KINDS.get(path.suffix.lower())
    if guess:
        return guess
    mime = (mimetypes.guess_type(path.name)[0] or "").split("/")[0]
    return mime if mime in ("image", "video", "audio") else "image"
