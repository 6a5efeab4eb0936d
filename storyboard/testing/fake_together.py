"""A fake Together video API: a real HTTP server on loopback (standard library only).

It speaks the protocol of `POST /v2/videos` and `GET /v2/videos/{id}` as the Seedance 2.0 page
and the OpenAPI spec describe it (see the provider survey in the design notes): Bearer auth, the Seedance 2.0
validation rules with Together's error body, `VideoJob` answers, a job lifecycle driven by a
clock, and signed-looking video URLs that expire. Clips are real MP4 files made by the preview
animatic renderer (or a fast solid-colour "testcard"), so downstream stages can stitch them.

Faults are injected on demand (constructor args, CLI flags, or `POST /_fake/faults` at run time)
and a seeded chaos mode mixes them deterministically. `GET /_fake/stats` tells tests what the
server really saw, e.g. that a create whose answer was lost was accepted exactly once.

    with FakeTogether(api_key="test-key", latency=0.3, clip_size=(64, 36)) as fake:
        TogetherProvider(api_key="test-key", base_url=fake.base_url)

    python -m storyboard.testing.fake_together --port 0 --latency 2 --chaos 7

With `clip_size` the served files are smaller than the requested size (faster); their duration
is still the requested one, and the job's `size` field still reports the requested size.

What every fake shares (server, faults, jobs, command line) lives in `storyboard/testing/fakes/`;
this module holds what is Together's: its routes, validation rules and error wording, its prices
and the shape of its `VideoJob` answers.
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from ..providers.seedance import LIMITS, MODEL_ID, RATIOS, RESOLUTIONS, body_seconds
from .fakes.cli import fake_parser, serve, server_options
from .fakes.handler import ApiError, FakeHandler, Route, invalid
from .fakes.jobs import Job, clip_seconds, clip_size
from .fakes.server import FakeServer

__all__ = ["FakeTogether", "main", "validate"]

SEEDANCE_2 = MODEL_ID
MAX_IMAGE_BYTES = 10 * 2**20  # per inline image

# The fake's own bill, copied from Together's Seedance 2.0 page ($/second) and never computed by
# the product's estimate, so a wrong estimate shows up as a difference in a test.
PRICE_PER_SECOND = {("text", "480p"): 0.07, ("text", "720p"): 0.16,
                    ("video", "480p"): 0.13, ("video", "720p"): 0.28}
PRICE_720P_PER_SECOND = 0.16  # the basis of costs for sizes without a published price
# How many input seconds a video-input job is billed for when the fake does not fetch the
# inputs: the most Seedance takes (15 s of reference video in all).
UNFETCHED_INPUT_SECONDS = 15

# The spellings of the audio fields in each dialect: a strict server refuses the other one's.
DIALECT_FIELDS = {"page": ("media.reference_audios", "settings.audio"),
                  "openapi": ("media.audio_inputs", "generate_audio")}


# ---- validation (Seedance 2.0 on Together) ---------------------------------------------------

def validate(body: Any, *, max_image_bytes: int, fields: str = "any") -> None:
    """Raise ApiError(400) where the real API would refuse the body. `fields` is the dialect
    the server speaks ("page" or "openapi"; "any" takes both spellings)."""
    if not isinstance(body, dict):
        raise invalid("Request body must be a JSON object.", None, "invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    _check_dialect(body, fields)
    _check_types(body)
    if model == SEEDANCE_2:
        _check_seedance_fields(body)
        _check_media(body.get("media"), max_image_bytes=max_image_bytes)


def _check_dialect(body: dict[str, Any], fields: str) -> None:
    """A strict server knows one spelling of the audio fields and refuses the other's."""
    for dialect, names in DIALECT_FIELDS.items():
        if fields in (dialect, "any"):
            continue
        for name in names:
            if _has_field(body, name):
                raise invalid(f"Unrecognized request argument supplied: '{name}'.", name, "unknown_parameter")


def _has_field(body: dict[str, Any], dotted: str) -> bool:
    node: Any = body
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _check_types(body: dict[str, Any]) -> None:
    typed = {"prompt": str, "negative_prompt": str, "resolution": str, "ratio": str,
             "generate_audio": bool, "settings": dict, "media": dict}
    for name, kind in typed.items():
        if name in body and not isinstance(body[name], kind):
            raise invalid(f"'{name}' must be of type {kind.__name__}.", name, "invalid_type")
    for name in ("seed", "fps", "steps", "width", "height", "output_quality"):
        if name in body and (isinstance(body[name], bool) or not isinstance(body[name], int)):
            raise invalid(f"'{name}' must be an integer.", name, "invalid_type")
    if "audio" in (body.get("settings") or {}) and not isinstance(body["settings"]["audio"], bool):
        raise invalid("'settings.audio' must be a boolean.", "settings.audio", "invalid_type")
    if body.get("output_format", "MP4") not in ("MP4", "WEBM"):
        raise invalid("'output_format' must be MP4 or WEBM.", "output_format")


def _check_seedance_fields(body: dict[str, Any]) -> None:
    prompt = body.get("prompt")
    if prompt is None:
        raise invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    if not LIMITS.min_prompt <= len(prompt) <= LIMITS.max_prompt:
        raise invalid(f"'prompt' must be {LIMITS.min_prompt} to {LIMITS.max_prompt} characters "
                       f"(got {len(prompt)}).", "prompt")
    seconds = body_seconds(body)
    if not isinstance(seconds, str):
        raise invalid("'seconds' must be a string such as \"5\".", "seconds", "invalid_type")
    if not seconds.isdigit() or not LIMITS.min_seconds <= int(seconds) <= LIMITS.max_seconds:
        raise invalid(f"'seconds' must be an integer between {LIMITS.min_seconds} and "
                       f"{LIMITS.max_seconds} (got {seconds!r}).", "seconds")
    if "resolution" in body and body["resolution"] not in RESOLUTIONS:
        raise invalid(f"'resolution' must be one of {', '.join(RESOLUTIONS)}.", "resolution")
    if "ratio" in body and body["ratio"] not in RATIOS:
        raise invalid(f"'ratio' must be one of {', '.join(RATIOS)}.", "ratio")
    has_w, has_h = "width" in body, "height" in body
    if has_w != has_h:
        raise invalid("'width' and 'height' must be given together.", "width" if has_w else "height")
    if has_w and "resolution" in body:
        raise invalid("'resolution' cannot be combined with 'width'/'height'.", "resolution",
                       "invalid_combination")
    if has_w and not (64 <= body["width"] <= 4096 and 64 <= body["height"] <= 4096):
        raise invalid("'width' and 'height' must be between 64 and 4096 pixels.", "width")


def _check_media(media: dict[str, Any] | None, *, max_image_bytes: int) -> None:
    media = media or {}
    frames = _list(media, "frame_images", LIMITS.max_frame_images)
    images = _list(media, "reference_images", LIMITS.max_reference_images)
    videos = _list(media, "reference_videos", LIMITS.max_reference_videos)
    audios = _list(media, "reference_audios", LIMITS.max_reference_audios)
    audios += _list(media, "audio_inputs", LIMITS.max_reference_audios)
    if len(audios) > LIMITS.max_reference_audios:
        raise invalid(f"At most {LIMITS.max_reference_audios} reference audios are allowed.",
                       "media.audio_inputs", "too_many_items")
    seen_frames: set[str] = set()
    for i, item in enumerate(frames):
        param = f"media.frame_images[{i}]"
        if not isinstance(item, dict) or "input_image" not in item:
            raise invalid("Each frame image must be an object with 'input_image'.", param)
        frame = item.get("frame", "first" if i == 0 else "last")
        if frame not in ("first", "last") or frame in seen_frames:
            raise invalid("'frame' must be \"first\" or \"last\", each at most once.", f"{param}.frame")
        seen_frames.add(frame)
        _check_image(item["input_image"], f"{param}.input_image", max_image_bytes)
    for i, item in enumerate(images):
        _check_image(item, f"media.reference_images[{i}]", max_image_bytes)
    for i, item in enumerate(videos):
        if not isinstance(item, dict):
            raise invalid("Each reference video must be an object {\"video\": url}.", f"media.reference_videos[{i}]")
        _check_url(item.get("video"), f"media.reference_videos[{i}].video")
    for i, item in enumerate(audios):
        _check_url(item.get("audio") if isinstance(item, dict) else item, f"media.reference_audios[{i}]")
    if frames and (images or videos or audios):
        raise invalid("'frame_images' cannot be combined with reference images, videos or audios.",
                       "media.frame_images", "invalid_combination")
    if audios and not (images or videos):
        raise invalid("Reference audios require at least one reference image or reference video.",
                       "media.reference_audios", "invalid_combination")
    total = len(frames) + len(images) + len(videos) + len(audios)
    if total > LIMITS.max_files:
        raise invalid(f"At most {LIMITS.max_files} media files are allowed in all (got {total}).",
                       "media", "too_many_items")


def _list(media: dict[str, Any], name: str, limit: int) -> list[Any]:
    value = media.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(f"'media.{name}' must be an array.", f"media.{name}", "invalid_type")
    if len(value) > limit:
        raise invalid(f"At most {limit} items are allowed in 'media.{name}' (got {len(value)}).",
                       f"media.{name}", "too_many_items")
    return value


_DATA_URI = re.compile(r"data:image/(png|jpeg|jpg|webp|gif|bmp|tiff);base64,(.*)", re.S)


def _check_image(value: Any, param: str, max_bytes: int) -> None:
    if isinstance(value, str) and value.startswith("data:"):
        match = _DATA_URI.fullmatch(value)
        if not match:
            raise invalid("Image data URIs must look like data:image/<png|jpeg|webp>;base64,<data>.", param,
                           "invalid_image")
        # Rough pre-check so a huge payload is refused before it is decoded.
        if len(match.group(2)) * 3 // 4 > max_bytes + 3:
            raise invalid(f"Image is larger than {max_bytes} bytes.", param, "image_too_large")
        try:
            data = base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            raise invalid("Image data is not valid base64.", param, "invalid_image") from None
        if len(data) > max_bytes:
            raise invalid(f"Image is larger than {max_bytes} bytes.", param, "image_too_large")
        if not _is_image(data):
            raise invalid("Image data could not be decoded as an image.", param, "invalid_image")
        return
    _check_url(value, param)


def _is_image(data: bytes) -> bool:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
        return True
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return False


def _check_url(value: Any, param: str) -> None:
    # Videos and audios must be fetchable by the provider: URLs (or asset ids), never inline data.
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https", "asset") \
            or not urlsplit(value).netloc:
        raise invalid("Must be an http(s) URL" + (" or a base64 image data URI." if "image" in param else "."),
                       param, "invalid_url")


# ---- the bill ---------------------------------------------------------------------------------

def bill(body: dict[str, Any]) -> float:
    """What the job costs, from the fake's own table: Seedance 2.0 at 480p and 720p (the tier
    whose pixel table holds the size), video-input jobs billed for their input seconds too;
    anything without a published price at the 720p rate scaled by pixels."""
    w, h = clip_size(body)
    seconds = clip_seconds(body)
    videos = ((body.get("media") or {}).get("reference_videos")) or []
    kind = "video" if videos else "text"
    rate = PRICE_PER_SECOND.get((kind, _tier(w * h))) if body["model"] == SEEDANCE_2 else None
    if rate is None:
        return round(PRICE_720P_PER_SECOND * seconds * w * h / (1280 * 720), 4)
    billed = seconds + (UNFETCHED_INPUT_SECONDS if videos else 0)
    return round(rate * billed, 4)


def _tier(pixels: int) -> str | None:
    if pixels <= 992 * 432:  # 480p's largest (21:9; 864x496 has as many)
        return "480p"
    if pixels <= 1112 * 834:  # 720p's largest (4:3)
        return "720p"
    return None


# ---- the server ------------------------------------------------------------------------------

class FakeTogether(FakeServer):
    """The fake Together server. Start it with `with FakeTogether(...) as fake:` or `start()`/`close()`.

    Args: api_key (the one Bearer token accepted; default $TOGETHER_API_KEY or "fake-key"), host,
    port (0 = free port), latency (seconds a job takes), queued (seconds a job reports `queued`
    first; 0 by default because the SDK's VideoJob type has no such status), clip_size ((w, h) to
    render smaller clips than requested), renderer ("animatic", "testcard" or a callable(body,
    out)), max_image_bytes (per inline image), max_body_bytes, render_workers, and any `Faults`
    field as a keyword.
    """

    label = "fake together"
    server_version = "FakeTogether/1.0"
    key_variable = "TOGETHER_API_KEY"

    def __init__(self, *, max_image_bytes: int = MAX_IMAGE_BYTES, fields: str = "page", **options: Any):
        super().__init__(**options)
        if fields not in (*DIALECT_FIELDS, "any"):
            raise ValueError(f"fields must be page, openapi or any, not {fields!r}")
        self.max_image_bytes = max_image_bytes
        self.fields = fields

    def routes(self) -> list[Route]:
        return [("POST", re.compile(r"/v2/videos"), FakeHandler.serve_create),
                ("GET", re.compile(r"/v2/videos/(.*)"), FakeHandler.serve_job),
                *super().routes()]

    def validate(self, body: Any) -> None:
        validate(body, max_image_bytes=self.max_image_bytes, fields=self.fields)

    def price(self, body: dict[str, Any]) -> float:
        return bill(body)

    def job_answer(self, job: Job, base_url: str | None = None) -> dict[str, Any]:
        """The job as the SDK's `VideoJob`."""
        w, h = clip_size(job.body)
        data: dict[str, Any] = {"id": job.id, "object": "video", "model": job.body["model"],
                                "status": "in_progress", "created_at": job.created_at,
                                "size": f"{w}x{h}", "seconds": str(clip_seconds(job.body))}
        # A create is always answered `in_progress`, whatever the clock says.
        status = job.status(time.monotonic()) if base_url else "in_progress"
        data["status"] = status
        if status == "completed":
            data["completed_at"] = job.completed_at()
            data["outputs"] = {"cost": job.cost, "video_url": self.download_url(job, base_url)}
        elif status == "failed":
            data["completed_at"] = job.completed_at()
            code, message = job.fail or ("render_error", job.render_error or "failed")
            data["error"] = {"code": code, "message": message}
        return data

    def fault_error(self, kind: str) -> ApiError:
        if kind == "429":
            return self._rate_limited()
        if kind == "402":
            return ApiError(402, "Payment required: your organization has reached its monthly spend limit.",
                            type_="billing_error", code="payment_required")
        if kind == "503":  # shedding load: it says when to come back, like the 429
            wait = max(0.0, float(self.faults.retry_after))
            return ApiError(503, "The server is overloaded or not ready yet.", type_="server_error",
                            code="service_unavailable", headers={"Retry-After": str(math.ceil(wait))})
        return ApiError(500, "Internal server error.", type_="server_error", code="internal_error")

    def _rate_limited(self) -> ApiError:
        wait = max(0.0, float(self.faults.retry_after))
        return ApiError(429, "Rate limit exceeded: too many requests. Please retry after the indicated time.",
                        type_="rate_limit_error", code="dynamic_request_limited",
                        headers={"Retry-After": str(math.ceil(wait)), "retry-after-ms": str(int(wait * 1000)),
                                 "x-ratelimit-limit": "60", "x-ratelimit-remaining": "0",
                                 "x-ratelimit-reset": str(math.ceil(wait))})

    def failure(self, kind: str) -> tuple[str, str]:
        if kind == "refused":
            return ("content_policy_violation", f"The request was rejected by the content filter "
                                                f"(prompt contains {self.faults.fail_on!r}).")
        return ("generation_failed", "Video generation failed on the model server. Please try again.")

    def unauthorized(self) -> ApiError:
        return ApiError(401, "Invalid API key provided. Pass a valid key as 'Authorization: Bearer <key>'.",
                        type_="invalid_request_error", code="invalid_api_key")

    def job_not_found(self, job_id: str) -> ApiError:
        return ApiError(404, f"Video ID not found: {job_id}", code="not_found")


# ---- command line ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = fake_parser("python -m storyboard.testing.fake_together",
                         "A fake Together video API on loopback. Prints its base URL first.",
                         key_variable=FakeTogether.key_variable)
    parser.add_argument("--max-image-bytes", type=int, default=MAX_IMAGE_BYTES)
    parser.add_argument("--fields", choices=[*DIALECT_FIELDS, "any"], default="page",
                        help="the audio fields' spelling accepted: the Seedance page's (default), "
                             "the OpenAPI spec's, or both")
    args = parser.parse_args(argv)
    fake = FakeTogether(**server_options(args), max_image_bytes=args.max_image_bytes, fields=args.fields)
    return serve(fake, "fake Together API", verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
