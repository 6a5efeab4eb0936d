"""Seedance 2.0: its limits, sizes and model names, and its request body as the Together
Seedance 2.0 page writes it.

Shared by the `together` provider and the offline `preview` provider (which renders animatics
from the very same bodies), so a plan looks the same whichever provider renders it.
"""

from __future__ import annotations

from typing import Any

from ..plan import DEFAULT_SECONDS
from .base import ClipSpec, Limits, MediaKind, Provider

MODEL_ID = "ByteDance/Seedance-2.0"  # the request's `model` by default
MODEL_SETTING = "seedance-2.0"  # what a story may write as `model:` for the default
MODEL_LABEL = "Seedance 2.0"  # how hints name it

RESOLUTIONS = ("480p", "720p", "1080p")
RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9")
# Seedance 2.0 takes at most 15 s of reference video in all. Vendors that bill the input
# seconds too are estimated at (15 + output seconds) at their video-input rate: the most a
# video-input clip can cost.
MAX_INPUT_VIDEO_SECONDS = 15

# Seedance 2.0's pixel table (Together's Seedance 2.0 page): resolution -> ratio -> (w, h).
PIXELS: dict[str, dict[str, tuple[int, int]]] = {
    "480p": {"16:9": (864, 496), "4:3": (752, 560), "1:1": (640, 640), "3:4": (560, 752),
             "9:16": (496, 864), "21:9": (992, 432)},
    "720p": {"16:9": (1280, 720), "4:3": (1112, 834), "1:1": (960, 960), "3:4": (834, 1112),
             "9:16": (720, 1280), "21:9": (1470, 630)},
    "1080p": {"16:9": (1920, 1080), "4:3": (1664, 1248), "1:1": (1440, 1440), "3:4": (1248, 1664),
              "9:16": (1080, 1920), "21:9": (2206, 946)},
}

LIMITS = Limits(
    max_reference_images=9, max_reference_videos=3, max_reference_audios=3, max_files=12,
    max_frame_images=2, min_prompt=2, max_prompt=3000, min_seconds=4, max_seconds=15,
    resolutions=RESOLUTIONS, ratios=RATIOS,
)


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


def body_seconds(body: dict[str, Any]) -> Any:
    """The body's `seconds` as written (a string, by the docs), or Seedance's default."""
    return body.get("seconds", str(DEFAULT_SECONDS))


def body_size(body: dict[str, Any]) -> tuple[int, int]:
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


class SeedanceProvider(Provider):
    """What every provider of Seedance 2.0 shares at compile time: its limits, model names,
    pixel sizes, the way prompts name inputs, and the request body."""

    model_label = MODEL_LABEL
    limits = LIMITS
    draft_caveat = (f"{MODEL_LABEL} does not promise that a seed reproduces a draft at another resolution: "
                    "a finished take keeps its draft's seed and prompt but may not look the same")
    fields = DOCS_FIELDS  # the body's field spelling

    def model_id(self, model_setting: str | None) -> str:
        if not model_setting or model_setting == MODEL_SETTING:
            return MODEL_ID
        return model_setting

    def index_word(self, kind: MediaKind, n: int) -> str:
        return f"{kind.capitalize()} {n}"  # "Image 1", "Video 2": the words of the Seedance docs

    def pixel_size(self, resolution: str, ratio: str) -> tuple[int, int]:
        return PIXELS[resolution][ratio]

    def build_request(self, spec: ClipSpec) -> dict[str, Any]:
        return build_body(spec, self.fields)
