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
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import hashlib
import hmac
import io
import json
import logging
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

from ..plan import DEFAULT_SECONDS
from ..providers.seedance import (
    LIMITS, MODEL_ID, RATIOS, RESOLUTIONS, audio_enabled, body_seconds, body_size,
)
from ..providers.together import price_body

log = logging.getLogger("storyboard.testing.fake_together")

SEEDANCE_2 = MODEL_ID
CHAOS_KINDS = ("429", "500", "503", "ambiguous", "drop", "expired", "fail", "slow")
Renderer = Callable[[dict[str, Any], Path], None]


# ---- configuration -------------------------------------------------------------------------

@dataclass
class Faults:
    """Faults to inject. Counts (`create_429=2`) apply to the next N matching requests and
    count down; the other fields are settings. All can be changed at run time."""

    create_429: int = 0
    get_429: int = 0
    retry_after: float = 1.0          # seconds, sent as `Retry-After` (ceil) and `retry-after-ms`
    create_500: int = 0
    create_503: int = 0
    create_402: int = 0               # billing: monthly spend limit reached
    get_500: int = 0
    get_503: int = 0
    drop_before_create: int = 0       # close the socket, nothing created
    drop_after_create: int = 0        # create the job, then close the socket: the ambiguous case
    drop_get: int = 0
    drop_download: int = 0            # send half the file, then close
    expire_downloads: int = 0         # the next N file requests answer 403 "expired"
    download_delay: float = 0.0       # pause this long halfway through each file (a slow download)
    create_delay: float = 0.0         # accept, then wait this long before answering (timeouts)
    url_ttl: float | None = None      # video URLs expire this long after they are issued
    fail_every: int = 0               # every Nth accepted job fails
    fail_on: str | None = None        # jobs whose prompt contains this fail
    slow_every: int = 0               # every Nth accepted job takes `slow_latency`
    slow_latency: float = 30.0
    chaos: int | None = None          # seed of the random mode; None = off
    chaos_rate: float = 0.2
    chaos_kinds: tuple[str, ...] = CHAOS_KINDS

    def update(self, changes: dict[str, Any]) -> None:
        """Apply changes (from kwargs or JSON), checking names and coercing types."""
        types = {f.name: f.type for f in dataclasses.fields(self)}
        unknown = set(changes) - set(types)
        if unknown:
            raise ValueError(f"unknown faults: {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            setattr(self, name, _coerce(name, types[name], value))

    def public(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["chaos_kinds"] = list(self.chaos_kinds)
        return data


def _coerce(name: str, type_: Any, value: Any) -> Any:
    # dataclass field types are strings here (postponed annotations)
    if value is None and "None" in str(type_):
        return None
    try:
        if name == "chaos_kinds":
            return _chaos_kinds(value)
        if str(type_).startswith("int"):
            return int(value)
        if str(type_).startswith("float"):
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad value for {name}: {value!r} ({exc})") from None


def _chaos_kinds(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in (value.split(",") if isinstance(value, str) else value) if k.strip())
    bad = [k for k in kinds if k not in CHAOS_KINDS]
    if bad:
        raise ValueError(f"unknown chaos kinds {bad}; choose from {', '.join(CHAOS_KINDS)}")
    return kinds


class ApiError(Exception):
    """An answer in Together's error shape."""

    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error",
                 param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def _invalid(message: str, param: str | None, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, param=param, code=code)


# ---- validation (Seedance 2.0 on Together) ---------------------------------------------------

def validate(body: Any, *, max_image_bytes: int) -> None:
    """Raise ApiError(400) where the real API would refuse the body."""
    if not isinstance(body, dict):
        raise _invalid("Request body must be a JSON object.", None, "invalid_json")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _invalid("Missing required parameter: 'model'.", "model", "missing_required_parameter")
    _check_types(body)
    if model == SEEDANCE_2:
        _check_seedance_fields(body)
        _check_media(body.get("media"), max_image_bytes=max_image_bytes)


def _check_types(body: dict[str, Any]) -> None:
    typed = {"prompt": str, "negative_prompt": str, "resolution": str, "ratio": str,
             "generate_audio": bool, "settings": dict, "media": dict}
    for name, kind in typed.items():
        if name in body and not isinstance(body[name], kind):
            raise _invalid(f"'{name}' must be of type {kind.__name__}.", name, "invalid_type")
    for name in ("seed", "fps", "steps", "width", "height", "output_quality"):
        if name in body and (isinstance(body[name], bool) or not isinstance(body[name], int)):
            raise _invalid(f"'{name}' must be an integer.", name, "invalid_type")
    if "audio" in (body.get("settings") or {}) and not isinstance(body["settings"]["audio"], bool):
        raise _invalid("'settings.audio' must be a boolean.", "settings.audio", "invalid_type")
    if body.get("output_format", "MP4") not in ("MP4", "WEBM"):
        raise _invalid("'output_format' must be MP4 or WEBM.", "output_format")


def _check_seedance_fields(body: dict[str, Any]) -> None:
    prompt = body.get("prompt")
    if prompt is None:
        raise _invalid("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    if not LIMITS.min_prompt <= len(prompt) <= LIMITS.max_prompt:
        raise _invalid(f"'prompt' must be {LIMITS.min_prompt} to {LIMITS.max_prompt} characters "
                       f"(got {len(prompt)}).", "prompt")
    seconds = body_seconds(body)
    if not isinstance(seconds, str):
        raise _invalid("'seconds' must be a string such as \"5\".", "seconds", "invalid_type")
    if not seconds.isdigit() or not LIMITS.min_seconds <= int(seconds) <= LIMITS.max_seconds:
        raise _invalid(f"'seconds' must be an integer between {LIMITS.min_seconds} and "
                       f"{LIMITS.max_seconds} (got {seconds!r}).", "seconds")
    if "resolution" in body and body["resolution"] not in RESOLUTIONS:
        raise _invalid(f"'resolution' must be one of {', '.join(RESOLUTIONS)}.", "resolution")
    if "ratio" in body and body["ratio"] not in RATIOS:
        raise _invalid(f"'ratio' must be one of {', '.join(RATIOS)}.", "ratio")
    has_w, has_h = "width" in body, "height" in body
    if has_w != has_h:
        raise _invalid("'width' and 'height' must be given together.", "width" if has_w else "height")
    if has_w and "resolution" in body:
        raise _invalid("'resolution' cannot be combined with 'width'/'height'.", "resolution",
                       "invalid_combination")
    if has_w and not (64 <= body["width"] <= 4096 and 64 <= body["height"] <= 4096):
        raise _invalid("'width' and 'height' must be between 64 and 4096 pixels.", "width")


def _check_media(media: dict[str, Any] | None, *, max_image_bytes: int) -> None:
    media = media or {}
    frames = _list(media, "frame_images", LIMITS.max_frame_images)
    images = _list(media, "reference_images", LIMITS.max_reference_images)
    videos = _list(media, "reference_videos", LIMITS.max_reference_videos)
    audios = _list(media, "reference_audios", LIMITS.max_reference_audios)
    audios += _list(media, "audio_inputs", LIMITS.max_reference_audios)
    if len(audios) > LIMITS.max_reference_audios:
        raise _invalid(f"At most {LIMITS.max_reference_audios} reference audios are allowed.",
                       "media.audio_inputs", "too_many_items")
    seen_frames: set[str] = set()
    for i, item in enumerate(frames):
        param = f"media.frame_images[{i}]"
        if not isinstance(item, dict) or "input_image" not in item:
            raise _invalid("Each frame image must be an object with 'input_image'.", param)
        frame = item.get("frame", "first" if i == 0 else "last")
        if frame not in ("first", "last") or frame in seen_frames:
            raise _invalid("'frame' must be \"first\" or \"last\", each at most once.", f"{param}.frame")
        seen_frames.add(frame)
        _check_image(item["input_image"], f"{param}.input_image", max_image_bytes)
    for i, item in enumerate(images):
        _check_image(item, f"media.reference_images[{i}]", max_image_bytes)
    for i, item in enumerate(videos):
        if not isinstance(item, dict):
            raise _invalid("Each reference video must be an object {\"video\": url}.", f"media.reference_videos[{i}]")
        _check_url(item.get("video"), f"media.reference_videos[{i}].video")
    for i, item in enumerate(audios):
        _check_url(item.get("audio") if isinstance(item, dict) else item, f"media.reference_audios[{i}]")
    if frames and (images or videos or audios):
        raise _invalid("'frame_images' cannot be combined with reference images, videos or audios.",
                       "media.frame_images", "invalid_combination")
    if audios and not (images or videos):
        raise _invalid("Reference audios require at least one reference image or reference video.",
                       "media.reference_audios", "invalid_combination")
    total = len(frames) + len(images) + len(videos) + len(audios)
    if total > LIMITS.max_files:
        raise _invalid(f"At most {LIMITS.max_files} media files are allowed in all (got {total}).",
                       "media", "too_many_items")


def _list(media: dict[str, Any], name: str, limit: int) -> list[Any]:
    value = media.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(f"'media.{name}' must be an array.", f"media.{name}", "invalid_type")
    if len(value) > limit:
        raise _invalid(f"At most {limit} items are allowed in 'media.{name}' (got {len(value)}).",
                       f"media.{name}", "too_many_items")
    return value


_DATA_URI = re.compile(r"data:image/(png|jpeg|jpg|webp|gif|bmp|tiff);base64,(.*)", re.S)


def _check_image(value: Any, param: str, max_bytes: int) -> None:
    if isinstance(value, str) and value.startswith("data:"):
        match = _DATA_URI.fullmatch(value)
        if not match:
            raise _invalid("Image data URIs must look like data:image/<png|jpeg|webp>;base64,<data>.", param,
                           "invalid_image")
        # Rough pre-check so a huge payload is refused before it is decoded.
        if len(match.group(2)) * 3 // 4 > max_bytes + 3:
            raise _invalid(f"Image is larger than {max_bytes} bytes.", param, "image_too_large")
        try:
            data = base64.b64decode(match.group(2), validate=True)
        except (binascii.Error, ValueError):
            raise _invalid("Image data is not valid base64.", param, "invalid_image") from None
        if len(data) > max_bytes:
            raise _invalid(f"Image is larger than {max_bytes} bytes.", param, "image_too_large")
        if not _is_image(data):
            raise _invalid("Image data could not be decoded as an image.", param, "invalid_image")
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
        raise _invalid("Must be an http(s) URL" + (" or a base64 image data URI." if "image" in param else "."),
                       param, "invalid_url")


# ---- jobs ------------------------------------------------------------------------------------

@dataclass
class _Job:
    id: str
    body: dict[str, Any]
    body_sha256: str
    prompt_sha256: str
    created_at: float            # wall clock, for the API
    started: float               # monotonic
    duration: float              # seconds until the model is "done"
    queued_for: float
    fail: tuple[str, str] | None = None           # (code, message)
    rendered: threading.Event = field(default_factory=threading.Event)
    render_error: str | None = None
    render_done_at: float | None = None
    clip: Path | None = None
    cost: float = 0.0
    token: str | None = None
    token_issued: float = 0.0
    gets: int = 0
    downloads: int = 0

    def status(self, now: float) -> str:
        elapsed = now - self.started
        if elapsed < self.queued_for:
            return "queued"
        if elapsed < self.duration:
            return "in_progress"
        if self.fail:
            return "failed"
        if not self.rendered.is_set():
            return "in_progress"
        return "failed" if self.render_error else "completed"

    def completed_at(self) -> float:
        return max(self.created_at + self.duration, self.render_done_at or 0.0)


def _size(body: dict[str, Any]) -> tuple[int, int]:
    try:
        return body_size(body)
    except (KeyError, TypeError, ValueError):  # other models may name sizes we do not know
        return 1280, 720


def _seconds(body: dict[str, Any]) -> int:
    value = body_seconds(body)
    return int(value) if str(value).isdigit() else DEFAULT_SECONDS


def _job_id() -> str:
    """UUIDv7-like, as in Together's docs: 48 bits of milliseconds, then random bits."""
    ms = int(time.time() * 1000)
    rand = secrets.randbits(80)
    value = (ms << 80) | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)          # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)          # RFC 4122 variant
    return str(uuid.UUID(int=value))


def _sha(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def _canonical(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# ---- renderers -------------------------------------------------------------------------------

def render_testcard(body: dict[str, Any], out: Path) -> None:
    """A solid-colour clip at the body's duration and size (fast; no captions)."""
    import imageio_ffmpeg

    w, h = _size(body)
    w, h = w - w % 2, h - h % 2
    seconds = _seconds(body)
    colour = _sha(body.get("prompt") or "")[:6]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y",
           "-f", "lavfi", "-i", f"color=c=0x{colour}:s={w}x{h}:r=24:d={seconds}"]
    if audio_enabled(body):
        cmd += ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-c:a", "aac", "-t", str(seconds)]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-threads", "1",
            "-movflags", "+faststart", "-f", "mp4", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def render_animatic(body: dict[str, Any], out: Path) -> None:
    from ..animatic.render import render_animatic as render  # written alongside; imported late

    render(body, out)


RENDERERS: dict[str, Renderer] = {"animatic": render_animatic, "testcard": render_testcard}


# ---- the server ------------------------------------------------------------------------------

class FakeTogether:
    """The fake server. Start it with `with FakeTogether(...) as fake:` or `start()`/`close()`.

    Args: api_key (the one Bearer token accepted), host, port (0 = free port), latency (seconds
    a job takes), queued (seconds a job reports `queued` first; 0 by default because the SDK's
    VideoJob type has no such status), clip_size ((w, h) to render smaller clips than requested),
    renderer ("animatic", "testcard" or a callable(body, out)), max_image_bytes (per inline
    image), max_body_bytes, render_workers, and any `Faults` field as a keyword.
    """

    def __init__(self, *, api_key: str | None = None, host: str = "127.0.0.1", port: int = 0,
                 latency: float = 1.0, queued: float = 0.0, clip_size: tuple[int, int] | None = None,
                 renderer: str | Renderer = "animatic", max_image_bytes: int = 10 * 2**20,
                 max_body_bytes: int = 64 * 2**20, render_workers: int = 2, **faults: Any):
        self._api_key = api_key if api_key is not None else os.environ.get("TOGETHER_API_KEY") or "fake-key"
        self.host, self.port = host, port
        self.latency, self.queued = latency, queued
        self.clip_size = clip_size
        self.renderer: Renderer = RENDERERS[renderer] if isinstance(renderer, str) else renderer
        self.max_image_bytes, self.max_body_bytes = max_image_bytes, max_body_bytes
        self._initial_faults = dict(faults)
        self._lock = threading.Lock()
        self._render_workers = render_workers
        self._reset_state()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._dir: Path | None = None

    def __repr__(self) -> str:  # never show the key
        return f"FakeTogether(base_url={self.base_url if self._server else None!r})"

    # ---- lifecycle ----
    def start(self) -> "FakeTogether":
        self._dir = Path(tempfile.mkdtemp(prefix="fake-together-"))
        self._pool = ThreadPoolExecutor(self._render_workers, thread_name_prefix="fake-together-render")
        self._server = _Server((self.host, self.port), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="fake-together", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._pool:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._server = self._pool = self._dir = None

    def __enter__(self) -> "FakeTogether":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        assert self._server, "FakeTogether is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ---- control (also over HTTP under /_fake) ----
    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            jobs = [self._job_stats(job, now) for job in self._jobs.values()]
            return {**self._counts, "jobs": jobs}

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        with self._lock:
            self.faults.update(changes)
            return self.faults.public()

    def reset(self) -> None:
        """Forget jobs and counters; restore the faults given at construction."""
        with self._lock:
            self._reset_state()

    def _reset_state(self) -> None:
        self.faults = Faults()
        self.faults.update(self._initial_faults)
        self._jobs: dict[str, _Job] = {}
        self._tokens: dict[str, str] = {}  # live video URL token -> job id
        self._dead_tokens: set[str] = set()  # expired ones keep answering "expired"
        self._counts = {"creates": 0, "rejected": 0, "dropped": 0, "gets": 0, "downloads": 0,
                        "expired": 0}
        self._accepted = 0
        self._chaos_seen: dict[tuple[str, str], int] = {}

    @staticmethod
    def _job_stats(job: _Job, now: float) -> dict[str, Any]:
        return {"id": job.id, "status": job.status(now), "prompt_sha256": job.prompt_sha256,
                "body_sha256": job.body_sha256, "seconds": body_seconds(job.body),
                "model": job.body.get("model"), "created_at": job.created_at,
                "cost": job.cost, "gets": job.gets, "downloads": job.downloads,
                "error": job.fail[1] if job.fail else job.render_error}

    # ---- fault decisions (call with the lock held) ----
    def _take(self, name: str) -> bool:
        """Consume one of a counted fault."""
        left = getattr(self.faults, name)
        if left > 0:
            setattr(self.faults, name, left - 1)
            return True
        return False

    def _chaos(self, where: str, key: str, kinds: tuple[str, ...]) -> str | None:
        """A seeded choice keyed by what is asked (not by arrival order), so concurrent clients
        see the same faults for the same requests on every run with the same seed."""
        if self.faults.chaos is None:
            return None
        allowed = [k for k in kinds if k in self.faults.chaos_kinds]
        n = self._chaos_seen[(where, key)] = self._chaos_seen.get((where, key), 0) + 1
        rng = random.Random(f"{self.faults.chaos}:{where}:{key}:{n}")
        if not allowed or rng.random() >= self.faults.chaos_rate:
            return None
        return rng.choice(allowed)

    def _rate_limited(self) -> ApiError:
        wait = max(0.0, float(self.faults.retry_after))
        return ApiError(429, "Rate limit exceeded: too many requests. Please retry after the indicated time.",
                        type_="rate_limit_error", code="dynamic_request_limited",
                        headers={"Retry-After": str(math.ceil(wait)), "retry-after-ms": str(int(wait * 1000)),
                                 "x-ratelimit-limit": "60", "x-ratelimit-remaining": "0",
                                 "x-ratelimit-reset": str(math.ceil(wait))})

    @staticmethod
    def _server_error(status: int) -> ApiError:
        if status == 503:
            return ApiError(503, "The server is overloaded or not ready yet.", type_="server_error",
                            code="service_unavailable")
        return ApiError(500, "Internal server error.", type_="server_error", code="internal_error")

    def _create_fault(self, body_sha: str) -> str | ApiError | None:
        """'drop', 'drop_after', an ApiError, or None."""
        chaos = self._chaos("create", body_sha, ("ambiguous", "429", "500", "503"))
        if chaos == "ambiguous":
            return random.Random(f"{self.faults.chaos}:{body_sha}").choice(["drop", "drop_after"])
        if self._take("drop_before_create"):
            return "drop"
        if self._take("drop_after_create"):
            return "drop_after"
        if self._take("create_429") or chaos == "429":
            return self._rate_limited()
        if self._take("create_503") or chaos == "503":
            return self._server_error(503)
        if self._take("create_500") or chaos == "500":
            return self._server_error(500)
        if self._take("create_402"):
            return ApiError(402, "Payment required: your organization has reached its monthly spend limit.",
                            type_="billing_error", code="payment_required")
        return None

    def _get_fault(self, key: str) -> str | ApiError | None:
        chaos = self._chaos("get", key, ("drop", "429", "500", "503"))
        if self._take("drop_get") or chaos == "drop":
            return "drop"
        if self._take("get_429") or chaos == "429":
            return self._rate_limited()
        if self._take("get_503") or chaos == "503":
            return self._server_error(503)
        if self._take("get_500") or chaos == "500":
            return self._server_error(500)
        return None

    # ---- API ----
    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer "):].strip().encode(), self._api_key.encode())

    def create(self, raw: bytes) -> tuple[str, dict[str, Any] | ApiError]:
        """Returns ('ok'|'drop'|'drop_after', job or error). Faults come before validation, as a
        gateway's would; the body is hashed as sent so chaos is keyed by content."""
        body_sha = _sha(raw)
        with self._lock:
            fault = self._create_fault(body_sha)
        if fault == "drop":
            self.count("dropped")
            return "drop", ApiError(0, "dropped")
        if isinstance(fault, ApiError):
            return self._rejected(fault)
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self._rejected(_invalid(f"Invalid JSON body: {exc}", None, "invalid_json"))
        try:
            validate(body, max_image_bytes=self.max_image_bytes)
        except ApiError as err:
            return self._rejected(err)
        job = self._accept(body)
        if fault == "drop_after":
            self.count("dropped")
            return "drop_after", self._video_job(job)
        return "ok", self._video_job(job)

    def _rejected(self, err: ApiError) -> tuple[str, ApiError]:
        self.count("rejected")
        return "ok", err

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def _accept(self, body: dict[str, Any]) -> _Job:
        body_sha = _sha(_canonical(body))
        with self._lock:
            self._accepted += 1
            n = self._accepted
            f = self.faults
            chaos = self._chaos("job", body_sha, ("fail", "slow"))
            duration = self.latency
            if (f.slow_every and n % f.slow_every == 0) or chaos == "slow":
                duration = max(duration, f.slow_latency)
            fail = None
            if f.fail_on and f.fail_on in (body.get("prompt") or ""):
                fail = ("content_policy_violation", f"The request was rejected by the content filter "
                                                    f"(prompt contains {f.fail_on!r}).")
            elif (f.fail_every and n % f.fail_every == 0) or chaos == "fail":
                fail = ("generation_failed", "Video generation failed on the model server. Please try again.")
            job = _Job(id=_job_id(), body=body, body_sha256=body_sha,
                       prompt_sha256=_sha(body.get("prompt") or ""), created_at=time.time(),
                       started=time.monotonic(), duration=duration, queued_for=min(self.queued, duration),
                       fail=fail)
            seconds = _seconds(body)
            usd = price_body(body).usd if body["model"] == SEEDANCE_2 else None
            if usd is None:  # no published price (1080p, other models): scale the 720p rate by pixels
                w, h = _size(body)
                usd = round(0.16 * seconds * w * h / (1280 * 720), 4)
            job.cost = usd
            self._jobs[job.id] = job
            self._counts["creates"] += 1
        if fail:
            job.rendered.set()
        else:
            assert self._pool is not None
            self._pool.submit(self._render, job)
        return job

    def _render(self, job: _Job) -> None:
        assert self._dir is not None
        out = self._dir / f"{job.id}.mp4"
        body = dict(job.body)
        if self.clip_size:
            for key in ("resolution", "ratio"):
                body.pop(key, None)
            body["width"], body["height"] = self.clip_size
        try:
            self.renderer(body, out)
            if not out.is_file() or out.stat().st_size == 0:
                raise RuntimeError("the renderer wrote no file")
            job.clip = out
        except Exception as exc:  # noqa: BLE001 - a broken renderer must fail the job, visibly
            log.exception("fake together: rendering job %s failed", job.id)
            job.render_error = f"Rendering failed: {type(exc).__name__}: {exc}"
        finally:
            job.render_done_at = time.time()
            job.rendered.set()

    def get(self, job_id: str, base_url: str) -> tuple[str, dict[str, Any] | ApiError]:
        with self._lock:
            self._counts["gets"] += 1
            job = self._jobs.get(job_id)
            fault = self._get_fault(job.body_sha256 if job else "unknown")
            if fault == "drop":
                self._counts["dropped"] += 1
                return "drop", ApiError(0, "dropped")
            if isinstance(fault, ApiError):
                return "ok", fault
            if job is None:
                return "ok", ApiError(404, f"Video ID not found: {job_id}", code="not_found")
            job.gets += 1
            return "ok", self._video_job(job, base_url)

    def _video_job(self, job: _Job, base_url: str | None = None) -> dict[str, Any]:
        w, h = _size(job.body)
        data: dict[str, Any] = {"id": job.id, "object": "video", "model": job.body["model"],
                                "status": "in_progress", "created_at": job.created_at,
                                "size": f"{w}x{h}", "seconds": str(_seconds(job.body))}
        # A create is always answered `in_progress`, whatever the clock says.
        status = job.status(time.monotonic()) if base_url else "in_progress"
        data["status"] = status
        if status == "completed":
            data["completed_at"] = job.completed_at()
            data["outputs"] = {"cost": job.cost, "video_url": f"{base_url}/files/{self._token(job)}.mp4"}
        elif status == "failed":
            data["completed_at"] = job.completed_at()
            code, message = job.fail or ("render_error", job.render_error or "failed")
            data["error"] = {"code": code, "message": message}
        return data

    def _token(self, job: _Job) -> str:
        """A stable URL while it is valid; a fresh one once it expired (the client re-GETs)."""
        if job.token is None or self._expired(job):
            self._retire(job)
            job.token = secrets.token_urlsafe(12)
            job.token_issued = time.monotonic()
            self._tokens[job.token] = job.id
        return job.token

    def _expired(self, job: _Job) -> bool:
        ttl = self.faults.url_ttl
        return ttl is not None and time.monotonic() - job.token_issued >= ttl

    def _retire(self, job: _Job) -> None:
        if job.token:
            self._tokens.pop(job.token, None)
            self._dead_tokens.add(job.token)
            job.token = None

    def open_file(self, token: str) -> tuple[str, Path | ApiError]:
        """('ok', path) | ('ok', error) | ('truncate', path) | ('drop', error)."""
        expired = ApiError(403, "Request has expired.", type_="AccessDenied", code="expired")
        with self._lock:
            if token in self._dead_tokens:
                self._counts["expired"] += 1
                return "ok", expired
            job = self._jobs.get(self._tokens.get(token, ""))
            if job is None or job.clip is None:
                return "ok", ApiError(404, "Not found.", code="not_found")
            chaos = self._chaos("download", job.body_sha256, ("expired", "drop", "503"))
            if self._expired(job) or self._take("expire_downloads") or chaos == "expired":
                self._counts["expired"] += 1
                self._retire(job)  # the next GET of the job issues a fresh URL
                return "ok", expired
            if chaos == "503":
                return "ok", self._server_error(503)
            self._counts["downloads"] += 1
            job.downloads += 1
            if self._take("drop_download") or chaos == "drop":
                self._counts["dropped"] += 1
                return "truncate", job.clip
            return "ok", job.clip


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeTogether

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (timeouts, the faults we inject) are routine, not tracebacks.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            log.debug("fake together: connection from %s ended: %s", client_address, exc)
            return
        log.exception("fake together: error while answering %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeTogether/1.0"
    timeout = 30  # idle keep-alive connections end
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # ---- routing ----
    def do_POST(self) -> None:  # noqa: N802
        self._safely(self._post)

    def do_GET(self) -> None:  # noqa: N802
        self._safely(self._get_route)

    def _safely(self, route: Callable[[], None]) -> None:
        # A bug here must answer 500, not drop the connection (which a client reads as ambiguous).
        try:
            route()
        except (ConnectionError, TimeoutError):
            raise
        except Exception:  # noqa: BLE001
            log.exception("fake together: internal error on %s %s", self.command, self.path)
            self.close_connection = True
            self._error(ApiError(500, "Internal server error (fake).", type_="server_error"))

    def _post(self) -> None:
        path = urlsplit(self.path).path.rstrip("/")
        if path == "/v2/videos":
            return self._create()
        if path in ("/_fake/faults", "/_fake/reset"):
            return self._control(path)
        self._discard_body()
        self._error(ApiError(404, f"Unknown path: POST {path}", code="not_found"))

    def _get_route(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/v2/videos/"):
            return self._get(path[len("/v2/videos/"):])
        if path.startswith("/files/") and path.endswith(".mp4"):
            return self._file(path[len("/files/"):-len(".mp4")])
        if path == "/_fake/stats":
            return self._json(200, self.fake.stats())
        self._error(ApiError(404, f"Unknown path: GET {path}", code="not_found"))

    @property
    def fake(self) -> FakeTogether:
        return self.server.fake

    # ---- endpoints ----
    def _create(self) -> None:
        raw = self._read_body()
        if raw is None:
            return
        if not self.fake.authorized(self.headers.get("Authorization")):
            self.fake.count("rejected")
            return self._error(_unauthorized())
        outcome, result = self.fake.create(raw)
        if outcome in ("drop", "drop_after"):
            return self._drop()
        if isinstance(result, ApiError):
            return self._error(result)
        delay = self.fake.faults.create_delay
        if delay:
            time.sleep(delay)
        self._json(200, result)

    def _get(self, job_id: str) -> None:
        if not self.fake.authorized(self.headers.get("Authorization")):
            return self._error(_unauthorized())
        outcome, result = self.fake.get(job_id, self._base_url())
        if outcome == "drop":
            return self._drop()
        if isinstance(result, ApiError):
            return self._error(result)
        self._json(200, result)

    def _file(self, token: str) -> None:
        outcome, result = self.fake.open_file(token)
        if isinstance(result, ApiError):
            if result.status == 403:  # signed-URL stores answer in their own dialect
                return self._send(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired"
                                       b"</Message></Error>", "application/xml")
            return self._error(result)
        size = result.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with result.open("rb") as f:
            if outcome == "truncate":
                self.wfile.write(f.read(size // 2))
                self.wfile.flush()
                return self._drop()
            delay = self.fake.faults.download_delay
            if delay > 0:  # half now, the rest later: a slow transfer
                self.wfile.write(f.read(size // 2))
                self.wfile.flush()
                time.sleep(delay)
            shutil.copyfileobj(f, self.wfile, 64 * 1024)

    def _control(self, path: str) -> None:
        raw = self._read_body()
        if raw is None:
            return
        if path == "/_fake/reset":
            self.fake.reset()
            return self._json(200, {"ok": True})
        try:
            changes = json.loads(raw or b"{}")
            faults = self.fake.set_faults(**changes)
        except (ValueError, TypeError) as exc:  # JSONDecodeError is a ValueError
            return self._error(_invalid(str(exc), None))
        self._json(200, faults)

    # ---- plumbing ----
    def _base_url(self) -> str:
        host = self.headers.get("Host") or "%s:%s" % self.server.server_address[:2]
        return f"http://{host}"

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding"):
                self.close_connection = True
                self._error(ApiError(411, "Content-Length is required.", code="length_required"))
                return None
            return b""
        size = int(length)
        if size > self.fake.max_body_bytes:
            self._discard(size)
            self._error(ApiError(413, f"Request body is larger than {self.fake.max_body_bytes} bytes.",
                                 code="request_too_large"))
            return None
        return self.rfile.read(size)

    def _discard_body(self) -> None:
        self._discard(int(self.headers.get("Content-Length") or 0))

    def _discard(self, size: int) -> None:
        while size > 0:
            chunk = self.rfile.read(min(size, 1 << 20))
            if not chunk:
                break
            size -= len(chunk)

    def _drop(self) -> None:
        """Close without answering, as a crashed proxy would."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _error(self, err: ApiError) -> None:
        self._json(err.status, err.body(), err.headers)

    def _json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), "application/json", headers)

    def _send(self, status: int, payload: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # Request lines and status codes only: headers (and so the key) are never logged.
        log.info("%s %s", self.address_string(), format % args)


def _unauthorized() -> ApiError:
    return ApiError(401, "Invalid API key provided. Pass a valid key as 'Authorization: Bearer <key>'.",
                    type_="invalid_request_error", code="invalid_api_key")


# ---- command line ----------------------------------------------------------------------------

def _wxh(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)[xX](\d+)", text)
    if not match:
        raise argparse.ArgumentTypeError("expected WxH, e.g. 160x90")
    return int(match.group(1)), int(match.group(2))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m storyboard.testing.fake_together",
                                description="A fake Together video API on loopback. Prints its base URL first.")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--api-key", help="the one key accepted (default: $TOGETHER_API_KEY or 'fake-key')")
    p.add_argument("--latency", type=float, default=2.0, help="seconds a job takes")
    p.add_argument("--queued", type=float, default=0.0, help="seconds a job reports 'queued' first")
    p.add_argument("--clip-size", type=_wxh, help="render clips at WxH instead of the requested size "
                                                    "(faster; duration unchanged, `size` still reports the request)")
    p.add_argument("--renderer", choices=sorted(RENDERERS), default="animatic")
    p.add_argument("--max-image-bytes", type=int, default=10 * 2**20)
    p.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    f = p.add_argument_group("faults (counts apply to the next N requests)")
    for fld in dataclasses.fields(Faults):
        flag, help_ = "--" + fld.name.replace("_", "-"), FAULT_HELP.get(fld.name)
        if fld.name == "chaos_kinds":
            f.add_argument(flag, type=_chaos_kinds, default=CHAOS_KINDS, metavar="LIST",
                           help=f"comma list of {','.join(CHAOS_KINDS)} (default: all)")
        elif fld.name == "fail_on":
            f.add_argument(flag, metavar="TEXT", help=help_)
        elif fld.name == "chaos":
            f.add_argument(flag, type=int, metavar="SEED", help=help_)
        elif fld.name == "chaos_rate":
            f.add_argument(flag, type=float, default=fld.default, metavar="RATE", help=help_)
        elif fld.type in ("float", "float | None"):
            f.add_argument(flag, type=float, default=fld.default, metavar="SECONDS", help=help_)
        else:
            f.add_argument(flag, type=int, default=fld.default, metavar="N", help=help_)
    return p


FAULT_HELP = {
    "create_429": "answer creates 429 with Retry-After", "get_429": "answer GETs 429 with Retry-After",
    "retry_after": "the Retry-After of 429s (default 1)", "create_500": "answer creates 500",
    "create_503": "answer creates 503", "create_402": "answer creates 402 (spend limit)",
    "get_500": "answer GETs 500", "get_503": "answer GETs 503",
    "drop_before_create": "close the connection without creating the job",
    "drop_after_create": "create the job, then close the connection unanswered (ambiguous)",
    "drop_get": "close GET connections unanswered", "drop_download": "send half a file, then close",
    "expire_downloads": "answer file requests 403 expired", "create_delay": "answer creates this late",
    "download_delay": "pause this long halfway through each file (a slow download)",
    "url_ttl": "video URLs expire this long after they are issued",
    "fail_every": "every Nth job fails", "fail_on": "jobs whose prompt contains TEXT fail, e.g. FAIL",
    "slow_every": "every Nth job takes --slow-latency", "slow_latency": "how long slow jobs take (default 30)",
    "chaos": "seeded random mix of faults", "chaos_rate": "share of requests hit in chaos mode (default 0.2)",
}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(message)s")
    faults = {fld.name: getattr(args, fld.name) for fld in dataclasses.fields(Faults)}
    fake = FakeTogether(api_key=args.api_key, host=args.host, port=args.port, latency=args.latency,
                        queued=args.queued, clip_size=args.clip_size, renderer=args.renderer,
                        max_image_bytes=args.max_image_bytes, **faults)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with fake:
        print(fake.base_url, flush=True)
        print(f"fake Together API at {fake.base_url} (stats: {fake.base_url}/_fake/stats); "
              "Ctrl-C to stop", file=sys.stderr, flush=True)
        while not stop.wait(0.2):
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
