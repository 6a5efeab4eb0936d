"""Local images sent inline as `data:` URIs, the way every hosted Seedance API takes them:
byte for byte when they already fit, else re-encoded and downscaled until they do."""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path
from typing import Any

from .base import ProviderError

MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
MAX_INLINE_IMAGE = 4 * 2**20


def image_data_uri(path: Path, max_bytes: int = MAX_INLINE_IMAGE, *, max_side: int = 6000) -> str:
    """A `data:image/...;base64,` URI for a local image, at most `max_bytes` of image data.

    PNG/JPEG/WebP files that already fit are sent byte for byte (stable cache keys); others are
    re-encoded (other formats become PNG), with EXIF orientation applied, and downscaled until
    they fit. Raises ProviderError when the file is not an image or cannot be made to fit."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            if fmt in MIME and len(data) <= max_bytes and max(img.size) <= max_side:
                return _data_uri(MIME[fmt], data)
            img.load()
            fmt = fmt if fmt in MIME else "PNG"
            data = _shrink(img, fmt, max_bytes, max_side, path)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ProviderError(f"{path}: not an image that can be sent inline ({exc})", code="bad_image") from exc
    return _data_uri(MIME[fmt], data)


def _shrink(img: Any, fmt: str, max_bytes: int, max_side: int, path: Path) -> bytes:
    from PIL import Image, ImageOps

    img = ImageOps.exif_transpose(img)
    scale = min(1.0, max_side / max(img.size))
    quality = 90
    for _ in range(16):
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        if min(size) < 16:
            break
        candidate = img if size == img.size else img.resize(size, Image.Resampling.LANCZOS)
        out = _encode(candidate, fmt, quality)
        if len(out) <= max_bytes:
            return out
        scale *= min(0.9, math.sqrt(max_bytes / len(out)) * 0.95)
        quality = max(70, quality - 5)
    raise ProviderError(f"{path}: cannot shrink the image under {max_bytes} bytes", code="bad_image")


def _encode(img: Any, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, "JPEG", quality=quality, optimize=True)
    elif fmt == "WEBP":
        img.convert("RGBA" if "A" in img.getbands() else "RGB").save(buf, "WEBP", quality=quality, method=4)
    else:
        if img.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
        img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
