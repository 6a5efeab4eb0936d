"""Seedance 2.0's request body as the Together Seedance 2.0 page writes it.

Shared by the `together` provider and the offline `preview` provider (which renders animatics
from the very same bodies), so a plan looks the same whichever provider renders it.
"""

from __future__ import annotations

from typing import Any

from .base import ClipSpec

# The OpenAPI spec and the SDK name two fields differently from the Seedance page; keep both
# spellings switchable (DESIGN.md, providers).
DOCS_FIELDS = {"audio_inputs": "reference_audios", "audio_flag": "settings.audio"}
OPENAPI_FIELDS = {"audio_inputs": "audio_inputs", "audio_flag": "generate_audio"}


def build_body(spec: ClipSpec, fields: dict[str, str] = DOCS_FIELDS) -> dict[str, Any]:
    body: dict[str, Any] = {"model": spec.model, "prompt": spec.prompt}
    if spec.width and spec.height:
        body["width"], body["height"] = spec.width, spec.height
    else:
        body["resolution"] = spec.resolution
        body["ratio"] = spec.ratio
    body["seconds"] = str(spec.seconds)
    if spec.seed is not None:
        body["seed"] = spec.seed
    if spec.negative:
        body["negative_prompt"] = spec.negative
    media: dict[str, Any] = {}
    if spec.frame_images:
        media["frame_images"] = [{"input_image": f.source, "frame": f.frame} for f in spec.frame_images]
    if spec.reference_images:
        media["reference_images"] = list(spec.reference_images)
    if spec.reference_videos:
        media["reference_videos"] = [{"video": v} for v in spec.reference_videos]
    if spec.reference_audios:
        if fields["audio_inputs"] == "audio_inputs":
            media["audio_inputs"] = [{"audio": a} for a in spec.reference_audios]
        else:
            media["reference_audios"] = list(spec.reference_audios)
    if media:
        body["media"] = media
    if not spec.audio:
        if fields["audio_flag"] == "generate_audio":
            body["generate_audio"] = False
        else:
            body["settings"] = {"audio": False}
    return body


def audio_enabled(body: dict[str, Any]) -> bool:
    if body.get("generate_audio") is False:
        return False
    return (body.get("settings") or {}).get("audio", True) is not False


def body_size(body: dict[str, Any]) -> tuple[int, int]:
    from .base import PIXELS

    if body.get("width") and body.get("height"):
        return int(body["width"]), int(body["height"])
    return PIXELS[body.get("resolution") or "720p"][body.get("ratio") or "16:9"]


def media_lists(body: dict[str, Any]) -> dict[str, list]:
    """The media of a body in both field spellings, normalised to plain lists of URLs/values."""
    media = body.get("media") or {}
    audios = media.get("reference_audios") or [a.get("audio") if isinstance(a, dict) else a
                                               for a in media.get("audio_inputs") or []]
    return {
        "frame_images": list(media.get("frame_images") or []),
        "reference_images": list(media.get("reference_images") or []),
        "reference_videos": [v.get("video") if isinstance(v, dict) else v for v in media.get("reference_videos") or []],
        "reference_audios": list(audios),
    }
