"""A fake fal.ai queue for Seedance 2.0: a real HTTP server on loopback (standard library only).

It speaks fal's queue protocol as `fal-client` uses it: `POST /bytedance/seedance-2.0[/fast]/{mode}`
with `Authorization: Key ...` answers `{request_id, status_url, response_url, cancel_url}`;
`GET .../requests/{id}/status` answers `IN_QUEUE` / `IN_PROGRESS` (HTTP 202) then `COMPLETED`
(200, with `error` and `error_type` when the request failed); `GET .../requests/{id}` answers the
model's own status and body: `{"video": {...}, "seed": n}`, or the model's 422
`{"detail": [{loc, msg, type, url}]}` for an input it refuses. Like fal's queue, a submit is taken
whatever its input (the model validates when it runs), so an invalid request is refused at its
result, quickly and unbilled. Infrastructure errors use fal's `{"detail": "...", "error_type"}`.

It also holds fal's storage, both ways `fal_client.upload_file` uploads (read in fal-client
1.0.3's source): `POST /storage/upload/initiate?storage_type=gcs` (`Key` auth, `{"file_name",
"content_type"}`) answers `{"upload_url", "file_url"}`, and the bytes go by `PUT` to that signed
URL, which, like a signed cloud-storage URL, takes only the content type it was signed for;
and the v3 CDN, `POST /storage/auth/token?storage_type=fal-cdn-v3` for a token, then
`POST /files/upload` with the bytes (`Bearer` token) answering `{"access_url"}`.
`X-Fal-Object-Lifecycle-Preference` (`{"expiration_duration_seconds": N}`) sets when a file goes.
A model input that names a file of this storage must name one it holds (else the model fails
the input, `file_download_error` [the type name is unconfirmed]), and a reference video it holds
is billed for its real length; one elsewhere, which the fake cannot fetch, for the 15 s most.

    python -m storyboard.testing.fake_fal --port 0 --api-key K --latency 2

Not imitated: cancel (`PUT .../cancel`), webhooks, logs, streaming status, multipart uploads.
"""

from __future__ import annotations

import json
import math
import re
import secrets
import sys
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from ..providers.seedance import LIMITS, PIXELS, RATIOS
from .fake_together import _is_image
from .fakes.cli import fake_parser, serve, server_options
from .fakes.files import FileStore, StoredFile, new_file_id, receive, serve_stored
from .fakes.handler import ApiError, FakeHandler, Route
from .fakes.jobs import Job, Renderer
from .fakes.server import Answer, FakeServer

__all__ = ["FakeFal", "main", "model_errors"]

APP = "bytedance/seedance-2.0"
FAST = f"{APP}/fast"
ENDPOINT = re.compile(r"/(bytedance/seedance-2\.0(?:/fast)?/(?:text|image|reference)-to-video)")
RESOLUTIONS = {APP: ("480p", "720p", "1080p"), FAST: ("480p", "720p")}
ASPECT_RATIOS = ("auto", *RATIOS)
DURATIONS = ("auto", *(str(s) for s in range(LIMITS.min_seconds, LIMITS.max_seconds + 1)))
# fal's published prices ($ per second at 720p, 1280x720) and its token formula: the fake's bill.
PRICE_PER_SECOND_720P = {APP: 0.3024, FAST: 0.2419}
TOKENS_PER_DOLLAR_BASIS = 1280 * 720
VIDEO_INPUT_FACTOR = 0.6
MAX_INPUT_SECONDS = 15.0  # reference videos in all, per fal's reference-to-video page (2..15 s combined)
UNFETCHED_INPUT_SECONDS = MAX_INPUT_SECONDS  # a video elsewhere is not fetched: billed at the most it can be
ERRORS_URL = "https://docs.fal.ai/errors"
# fal's storage, as fal-client speaks to it
FILES_PATH = "/storage/files"             # where stored files are served (fal's are on v3.fal.media)
SIGNED_PUT_PATH = "/_fake_gcs/upload"     # the signed upload URLs (fal's are on storage.googleapis.com)
SIGNED_URL_TTL = 3600.0
STORED_FILE = re.compile(FILES_PATH + r"/([0-9a-f]+)/[^/]+")


class FalError(ApiError):
    """An error in fal's shapes: `detail` is a model's list of errors or a request's sentence."""

    def __init__(self, status: int, detail: str | list[dict[str, Any]], *, error_type: str | None = None,
                 headers: dict[str, str] | None = None):
        message = detail if isinstance(detail, str) else "; ".join(
            ": ".join(filter(None, (".".join(str(p) for p in d["loc"][1:]), d["msg"]))) for d in detail)
        extra = {"X-Fal-Error-Type": error_type} if error_type else {}
        super().__init__(status, message, code=error_type, headers={**extra, **(headers or {})})
        self.detail, self.error_type = detail, error_type

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, **({"error_type": self.error_type} if self.error_type else {})}


def _problem(field: str | None, msg: str, type_: str, value: Any = None) -> dict[str, Any]:
    path = [int(p) if p.isdigit() else p for p in field.split(".")] if field else []
    loc = ["body", *path]  # e.g. ["body", "video_urls", 0]
    return {"loc": loc, "msg": msg, "type": type_, "url": f"{ERRORS_URL}#{type_}", "input": value}


# ---- the model's validation (Seedance 2.0 on fal) ---------------------------------------------

def model_errors(envelope: dict[str, Any], files: FileStore | None = None) -> list[dict[str, Any]]:
    """What the model refuses in a submitted request, as fal's `detail` items ([] when valid).
    With `files`, an input naming a file of that storage must name one it holds."""
    arguments = envelope.get("input")
    if not isinstance(arguments, dict):
        return [_problem(None, "Input should be a valid dictionary", "dict_type", arguments)]
    endpoint = str(envelope.get("endpoint") or "")
    app, mode = endpoint.rsplit("/", 1)
    problems = _common_errors(arguments, app)
    problems += {"text-to-video": lambda a: [], "image-to-video": _frame_errors,
                 "reference-to-video": _reference_errors}[mode](arguments)
    if files is not None:
        problems += _missing_files(arguments, files) + _too_long_videos(arguments, files)
    return problems


def stored_file_id(url: Any) -> str | None:
    """The id of a file of the fake's storage that `url` names, if it names one."""
    match = STORED_FILE.fullmatch(urlsplit(url).path) if isinstance(url, str) and url.startswith("http") else None
    return match.group(1) if match else None


def _too_long_videos(a: dict[str, Any], files: FileStore) -> list[dict[str, Any]]:
    """The reference videos this storage holds, over the 15 s the model takes in all."""
    videos = a.get("video_urls") if isinstance(a.get("video_urls"), list) else []
    known = [files.seconds(fid) for url in videos if (fid := stored_file_id(url))]
    total = sum(s for s in known if s is not None)
    if total <= MAX_INPUT_SECONDS + 0.05:  # container rounding
        return []
    return [_problem("video_urls", f"The reference videos last {total:.1f} s in all; at most "
                                   f"{MAX_INPUT_SECONDS:g} s is allowed", "value_error", total)]


def _missing_files(a: dict[str, Any], files: FileStore) -> list[dict[str, Any]]:
    named = [(k, a[k]) for k in ("image_url", "end_image_url") if isinstance(a.get(k), str)]
    named += [(f"{k}.{i}", v) for k in ("image_urls", "video_urls", "audio_urls") if isinstance(a.get(k), list)
              for i, v in enumerate(a[k])]
    return [_problem(field, "Failed to download the file: it does not exist or has expired", "file_download_error",
                     url) for field, url in named if (fid := stored_file_id(url)) and files.get(fid) is None]


def _common_errors(a: dict[str, Any], app: str) -> list[dict[str, Any]]:
    problems = []
    if not isinstance(a.get("prompt"), str):
        problems.append(_problem("prompt", "Field required" if "prompt" not in a else "Input should be a valid string",
                                 "missing" if "prompt" not in a else "string_type", a.get("prompt")))
    enums = {"duration": DURATIONS, "resolution": RESOLUTIONS[app], "aspect_ratio": ASPECT_RATIOS}
    for name, allowed in enums.items():
        if name in a and a[name] not in allowed:
            problems.append(_problem(name, f"Input should be {', '.join(repr(v) for v in allowed)}", "literal_error",
                                     a[name]))
    if "generate_audio" in a and not isinstance(a["generate_audio"], bool):
        problems.append(_problem("generate_audio", "Input should be a valid boolean", "bool_type", a["generate_audio"]))
    if "seed" in a and (isinstance(a["seed"], bool) or not isinstance(a["seed"], int)):
        problems.append(_problem("seed", "Input should be a valid integer", "int_type", a["seed"]))
    return problems


def _frame_errors(a: dict[str, Any]) -> list[dict[str, Any]]:
    if "image_url" not in a:
        return [_problem("image_url", "Field required", "missing")]
    return [p for name in ("image_url", "end_image_url") if name in a
            for p in _file_errors(name, a[name], image=True)]


def _reference_errors(a: dict[str, Any]) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []
    counts = {}
    for name, limit in (("image_urls", LIMITS.max_reference_images), ("video_urls", LIMITS.max_reference_videos),
                        ("audio_urls", LIMITS.max_reference_audios)):
        values = a.get(name) or []
        if not isinstance(values, list):
            problems.append(_problem(name, "Input should be a valid list", "list_type", values))
            values = []
        elif len(values) > limit:
            problems.append(_problem(name, f"List should have at most {limit} items after validation, "
                                           f"not {len(values)}", "too_long", len(values)))
        counts[name] = len(values)
        for i, value in enumerate(values):
            problems += _file_errors(f"{name}.{i}", value, image=name == "image_urls")
    if sum(counts.values()) > LIMITS.max_files:
        problems.append(_problem(None, f"At most {LIMITS.max_files} files in all", "too_many_files",
                                 sum(counts.values())))
    if counts.get("audio_urls") and not (counts.get("image_urls") or counts.get("video_urls")):
        problems.append(_problem("audio_urls", "Reference audio needs at least one reference image or video",
                                 "value_error"))
    if not (counts.get("image_urls") or counts.get("video_urls")):
        problems.append(_problem("image_urls", "Give at least one reference image or video", "value_error"))
    return problems


def _file_errors(field: str, value: Any, *, image: bool) -> list[dict[str, Any]]:
    if not isinstance(value, str):
        return [_problem(field, "Input should be a valid string", "string_type", value)]
    if image and value.startswith("data:"):
        ok = re.fullmatch(r"data:image/(png|jpeg|jpg|webp);base64,(.+)", value, re.S)
        import base64
        import binascii

        try:
            good = bool(ok) and _is_image(base64.b64decode(ok.group(2), validate=True))
        except (binascii.Error, ValueError):
            good = False
        return [] if good else [_problem(field, "The image could not be decoded", "image_load_error", value[:40])]
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [_problem(field, "Input should be a valid URL", "url_parsing", value[:80])]
    return []


def seedance_body(envelope: dict[str, Any]) -> dict[str, Any]:
    """The request as the animatic renderer reads Seedance bodies (Together's field names)."""
    a = envelope.get("input") or {}
    body: dict[str, Any] = {"prompt": a.get("prompt") or "", "seed": a.get("seed")}
    if envelope.get("width"):  # the fake renders smaller than asked (ClipMaker's clip_size)
        body["width"], body["height"] = envelope["width"], envelope["height"]
    else:
        body["resolution"] = a.get("resolution") or "720p"
        body["ratio"] = a.get("aspect_ratio") if a.get("aspect_ratio") in RATIOS else "16:9"
    body["seconds"] = a.get("duration") if str(a.get("duration")).isdigit() else "5"
    frames = [{"input_image": a[k], "frame": f} for k, f in (("image_url", "first"), ("end_image_url", "last"))
              if a.get(k)]
    body["media"] = {"frame_images": frames, "reference_images": list(a.get("image_urls") or []),
                     "reference_videos": [{"video": v} for v in a.get("video_urls") or []],
                     "reference_audios": list(a.get("audio_urls") or [])}
    if a.get("generate_audio") is False:
        body["settings"] = {"audio": False}
    return body


# ---- the server ------------------------------------------------------------------------------

class FakeFal(FakeServer):
    """The fake fal queue. Args as `FakeServer` (the key is `FAL_KEY`'s)."""

    label = "fake fal"
    server_version = "FakeFal/1.0"
    key_variable = "FAL_KEY"

    def __init__(self, **options: Any):
        super().__init__(**options)
        self._clips.renderer = _seedance_renderer(self._clips.renderer)
        self._request = threading.local()  # the endpoint and base URL of the submit being served
        self.files = FileStore(self.label)
        self._signed: dict[str, dict[str, Any]] = {}   # signed upload URL token -> what it may carry
        self._cdn_tokens: dict[str, float] = {}        # v3 CDN token -> when it expires
        self.signed_puts: list[bool] = []              # whether each PUT to a signed URL carried a key

    def close(self) -> None:
        super().close()
        self.files.close()

    def authorized(self, header: str | None) -> bool:
        import hmac

        if not header or not header.startswith("Key "):
            return False
        return hmac.compare_digest(header[len("Key "):].strip().encode(), self._api_key.encode())

    def routes(self) -> list[Route]:
        requests = r"/bytedance/seedance-2\.0/requests/([^/]+)"
        return [("POST", ENDPOINT, _serve_submit),
                ("GET", re.compile(requests + "/status"), _serve_status),
                ("GET", re.compile(requests), _serve_result),
                ("POST", re.compile(r"/storage/upload/initiate"), _serve_initiate),
                ("PUT", re.compile(SIGNED_PUT_PATH + r"/([A-Za-z0-9_-]+)"), _serve_signed_put),
                ("POST", re.compile(r"/storage/auth/token"), _serve_cdn_token),
                ("POST", re.compile(r"/files/upload"), _serve_cdn_upload),
                ("GET", STORED_FILE, lambda h, m: serve_stored(h, self.files.get(m.group(1)))),
                *super().routes()]

    def create(self, raw: bytes) -> Answer:
        """The queue takes any JSON object; what was submitted is kept with its endpoint."""
        try:
            arguments = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self.count("rejected")
            return "ok", FalError(422, [_problem(None, f"JSON decode error: {exc}", "json_invalid")])
        prompt = arguments.get("prompt") if isinstance(arguments, dict) else None
        # `prompt`, `model` and `seconds` beside the input are for the shared faults and stats
        envelope = {"endpoint": self._request.endpoint, "input": arguments, "model": self._request.endpoint,
                    "prompt": prompt if isinstance(prompt, str) else "",
                    "seconds": str(arguments.get("duration", "5")) if isinstance(arguments, dict) else "5"}
        return super().create(json.dumps(envelope).encode())

    def validate(self, body: Any) -> None:
        return None  # the model validates when it runs: see `job_answer`

    def latency_for(self, body: dict[str, Any]) -> float:
        return min(self.latency, 0.05) if model_errors(body, self.files) else self.latency

    def price(self, body: dict[str, Any]) -> float:
        """fal's token formula from its own table: pixels x (input video seconds + output
        seconds), x0.6 with video inputs; a refused input is not billed."""
        if model_errors(body, self.files):
            return 0.0
        a, app = body["input"], FAST if body["endpoint"].startswith(FAST + "/") else APP
        ratio = a.get("aspect_ratio") if a.get("aspect_ratio") in RATIOS else "16:9"
        w, h = PIXELS[a.get("resolution") or "720p"][ratio]
        seconds = int(a["duration"]) if str(a.get("duration")).isdigit() else 5
        videos = a.get("video_urls") or []
        # the model takes at most 15 s of reference video in all (longer known inputs are refused)
        seconds += min(MAX_INPUT_SECONDS, sum(self.input_seconds(url) for url in videos))
        usd = PRICE_PER_SECOND_720P[app] * seconds * w * h / TOKENS_PER_DOLLAR_BASIS
        return round(usd * (VIDEO_INPUT_FACTOR if videos else 1.0), 4)

    def input_seconds(self, url: str) -> float:
        """A reference video's billed seconds: its length when this storage holds it."""
        file_id = stored_file_id(url)
        known = self.files.seconds(file_id) if file_id else None
        return known if known is not None else UNFETCHED_INPUT_SECONDS

    # ---- storage ----
    def sign_upload(self, name: str, content_type: str, ttl: float | None) -> tuple[str, str]:
        """(token of a signed upload URL, the file id it will fill)."""
        token, file_id = secrets.token_urlsafe(18), new_file_id()
        with self._lock:
            self._signed[token] = {"name": name, "content_type": content_type, "ttl": ttl, "id": file_id,
                                   "until": time.time() + SIGNED_URL_TTL}
        return token, file_id

    def signed_upload(self, token: str) -> dict[str, Any] | None:
        with self._lock:
            grant = self._signed.get(token)
        return grant if grant and grant["until"] > time.time() else None

    def store(self, data: bytes, name: str, content_type: str, ttl: float | None, file_id: str | None = None,
              token: str | None = None) -> StoredFile:
        ttl = self.faults.upload_ttl if self.faults.upload_ttl is not None else ttl
        stored = self.files.add(data, name, content_type, ttl, file_id)
        with self._lock:
            self._signed.pop(token or "", None)  # a signed URL carries one file
        return stored

    def cdn_token(self) -> tuple[str, float]:
        token, until = secrets.token_urlsafe(24), time.time() + 3600
        with self._lock:
            self._cdn_tokens[token] = until
        return token, until

    def cdn_authorized(self, header: str | None) -> bool:
        token = header[len("Bearer "):].strip() if header and header.startswith("Bearer ") else ""
        with self._lock:
            return self._cdn_tokens.get(token, 0.0) > time.time()

    def job_answer(self, job: Job, base_url: str | None = None) -> dict[str, Any]:
        """Without base_url the submit's answer; with it `{"status": (code, body), "result":
        (code, body or FalError)}` for the two GET endpoints to pick from."""
        urls = self._urls_of(job, base_url or self._request.base_url)
        if base_url is None:
            return {"status": "IN_QUEUE", "request_id": job.id, "queue_position": 0, **urls}
        state = job.status(time.monotonic())
        errors = model_errors(job.body, self.files) if state in ("completed", "failed") else []
        if state in ("queued", "in_progress"):
            view = {"status": "IN_QUEUE" if state == "queued" else "IN_PROGRESS", "queue_position": 0,
                    "logs": None, "response_url": urls["response_url"]}
            return {"status": (202, view), "result": (400, FalError(400, "Request is still in progress",
                                                                     error_type="request_in_progress"))}
        result = self._result(job, base_url, errors)
        done = {"status": "COMPLETED", "logs": None, "metrics": {"inference_time": job.duration},
                "response_url": urls["response_url"]}
        if isinstance(result, FalError):
            done.update(error=result.message, error_type=result.error_type or "validation_error")
        return {"status": (200, done), "result": (result.status if isinstance(result, FalError) else 200, result)}

    def _result(self, job: Job, base_url: str, errors: list[dict[str, Any]]) -> dict[str, Any] | FalError:
        if errors:
            return FalError(422, errors, error_type="validation_error")
        if job.fail:
            code, message = job.fail
            if code == "content_policy_violation":
                return FalError(422, [_problem("prompt", message, code)], error_type=code)
            return FalError(500, message, error_type=code)
        if job.render_error or job.clip is None:
            return FalError(500, job.render_error or "failed", error_type="runner_server_error")
        return {"video": {"url": self.download_url(job, base_url), "content_type": "video/mp4",
                          "file_name": f"{job.id}.mp4", "file_size": job.clip.stat().st_size},
                "seed": job.body["input"].get("seed", 42)}

    @staticmethod
    def _urls_of(job: Job, base_url: str) -> dict[str, str]:
        base = f"{base_url}/{APP}/requests/{job.id}"  # owner/app only, as fal's are
        return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}

    def fault_error(self, kind: str) -> ApiError:
        wait = str(math.ceil(max(0.0, float(self.faults.retry_after))))
        if kind == "429":
            return FalError(429, "Too many requests: the concurrent request limit was reached.",
                            error_type="rate_limited", headers={"Retry-After": wait})
        if kind == "402":  # fal answers an exhausted balance with 403
            return FalError(403, "User is locked. Reason: Exhausted balance. Top up your balance at "
                                 "fal.ai/dashboard/billing.", error_type="exhausted_balance")
        if kind == "503":
            return FalError(503, "No runner could be allocated to handle the request.",
                            error_type="runner_scheduling_failure", headers={"Retry-After": wait})
        return FalError(500, "An unexpected internal error occurred.", error_type="internal_error")

    def failure(self, kind: str) -> tuple[str, str]:
        if kind == "refused":
            return ("content_policy_violation", f"The content could not be processed because it contained "
                                                f"material flagged by a content checker ({self.faults.fail_on!r}).")
        return ("runner_server_error", "The runner encountered an internal server error.")

    def unauthorized(self) -> ApiError:
        return FalError(401, "No user found for Key ID and Secret", error_type="unauthorized")

    def job_not_found(self, job_id: str) -> ApiError:
        return FalError(404, f"Request {job_id} not found", error_type="request_not_found")


def _seedance_renderer(render: Renderer) -> Renderer:
    def render_fal(envelope: dict[str, Any], out: Any) -> None:
        render(seedance_body(envelope), out)
    return render_fal


# ---- endpoints (fal's shapes on the shared handler) ---------------------------------------------

def _serve_submit(handler: FakeHandler, match: re.Match[str]) -> None:
    fake: FakeFal = handler.fake  # type: ignore[assignment]
    fake._request.endpoint = match.group(1)
    fake._request.base_url = handler._base_url()
    handler.serve_create(match)


def _serve_status(handler: FakeHandler, match: re.Match[str]) -> None:
    _serve_view(handler, match, "status")


def _serve_result(handler: FakeHandler, match: re.Match[str]) -> None:
    _serve_view(handler, match, "result")


def _serve_view(handler: FakeHandler, match: re.Match[str], view: str) -> None:
    fake = handler.fake
    if not fake.authorized(handler.headers.get("Authorization")):
        return handler.send_error_answer(fake.unauthorized())
    outcome, answer = fake.get(match.group(1), handler._base_url())
    if outcome == "drop":
        return handler._drop()
    if isinstance(answer, ApiError):
        return handler.send_error_answer(answer)
    code, body = answer[view]
    if isinstance(body, ApiError):
        return handler.send_error_answer(body)
    handler.send_json(code, body)


# ---- storage endpoints ---------------------------------------------------------------------------

def _serve_initiate(handler: FakeHandler, match: re.Match[str]) -> None:
    """The upload's start: a signed URL for the bytes, and the URL the file will have."""
    fake: FakeFal = handler.fake  # type: ignore[assignment]
    raw = handler._read_body()
    if raw is None:
        return None
    try:
        name, kind, ttl = _upload_request(handler, raw, ("gcs", "fal-cdn-v3"), "X-Fal-Object-Lifecycle-Preference")
    except ApiError as err:
        return handler.send_error_answer(err)
    token, file_id = fake.sign_upload(name, kind, ttl)
    base = handler._base_url()
    handler.send_json(200, {"upload_url": f"{base}{SIGNED_PUT_PATH}/{token}?X-Goog-Algorithm=GOOG4-RSA-SHA256"
                                          f"&X-Goog-Expires={int(SIGNED_URL_TTL)}&X-Goog-Signature={token[:16]}",
                            "file_url": f"{base}{FILES_PATH}/{file_id}/{quote(name)}"})


def _upload_request(handler: FakeHandler, raw: bytes, storage_types: tuple[str, ...],
                    lifecycle_header: str) -> tuple[str, str, float | None]:
    """(file name, content type, seconds to keep it) of an upload's start, checked as fal's
    storage checks it; ApiError otherwise (the key first, then faults, then the request)."""
    fake: FakeFal = handler.fake  # type: ignore[assignment]
    if not fake.authorized(handler.headers.get("Authorization")):
        raise fake.unauthorized()
    storage_type = (parse_qs(urlsplit(handler.path).query).get("storage_type") or [""])[0]
    if storage_type not in storage_types:
        raise FalError(422, [_query_problem("storage_type", storage_type, storage_types)])
    if fake.take_fault("upload_500"):
        raise FalError(500, "Failed to initiate the upload.", error_type="internal_error")
    body = json.loads(raw or b"{}") if _is_json(raw) else None
    if not isinstance(body, dict):
        raise FalError(422, [_problem(None, "Input should be a valid dictionary", "dict_type")])
    if not re.fullmatch(r"[\w.+-]+/[\w.+-]+", str(body.get("content_type") or "")):
        raise FalError(422, [_problem("content_type", "Field required", "missing", body.get("content_type"))])
    name = body.get("file_name") or "upload.bin"
    if not isinstance(name, str) or len(name.encode()) > 255 or "/" in name:
        raise FalError(422, [_problem("file_name", "Invalid file name", "value_error", name)])
    return name, body["content_type"], _lifecycle(handler.headers.get(lifecycle_header))


def _lifecycle(header: str | None) -> float | None:
    """Seconds to keep an upload, from a lifecycle header (None: the account's default, kept)."""
    if not header:
        return None
    try:
        value = json.loads(header).get("expiration_duration_seconds")
    except (ValueError, AttributeError):
        raise FalError(400, "Invalid object lifecycle preference: not a JSON object",
                       error_type="invalid_lifecycle") from None
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise FalError(400, "expiration_duration_seconds must be a whole number of seconds, at least 1",
                       error_type="invalid_lifecycle")
    return None if value is None else float(value)


def _query_problem(name: str, value: str, allowed: tuple[str, ...]) -> dict[str, Any]:
    return {"loc": ["query", name], "msg": f"Input should be {', '.join(repr(v) for v in allowed)}",
            "type": "literal_error", "input": value}


def _is_json(raw: bytes) -> bool:
    try:
        json.loads(raw or b"{}")
    except (UnicodeDecodeError, ValueError):
        return False
    return True


def _serve_signed_put(handler: FakeHandler, match: re.Match[str]) -> None:
    """The bytes to a signed URL: the content type it was signed for, and the whole body, or
    nothing is kept. The signature is the credential; whether a key came too is recorded
    (`signed_puts`: fal-client sends its key along, storyboard does not)."""
    fake: FakeFal = handler.fake  # type: ignore[assignment]
    fake.signed_puts.append(bool(handler.headers.get("Authorization")))
    grant = fake.signed_upload(match.group(1))
    refusal = None
    if grant is None:
        refusal = (403, b"<Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message></Error>")
    elif handler.headers.get("Content-Type") != grant["content_type"]:
        refusal = (403, b"<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated "
                        b"does not match the signature you provided.</Message></Error>")
    if refusal is not None or grant is None:
        handler._discard(int(handler.headers.get("Content-Length") or 0))
        return handler._send(*refusal, "application/xml")  # type: ignore[misc]
    data = receive(handler, fake.take_fault("upload_cut"))
    if data is None:
        return None
    fake.store(data, grant["name"], grant["content_type"], grant["ttl"], grant["id"], token=match.group(1))
    handler._send(200, b"", "text/plain")


def _serve_cdn_token(handler: FakeHandler, match: re.Match[str]) -> None:
    fake: FakeFal = handler.fake  # type: ignore[assignment]
    if handler._read_body() is None:
        return None
    if not fake.authorized(handler.headers.get("Authorization")):
        return handler.send_error_answer(fake.unauthorized())
    token, until = fake.cdn_token()
    handler.send_json(200, {"token": token, "token_type": "Bearer", "base_url": handler._base_url(),
                            "expires_at": datetime.fromtimestamp(until, UTC).isoformat()})


def _serve_cdn_upload(handler: FakeHandler, match: re.Match[str]) -> None:
    """The v3 CDN's one-request upload: the bytes, with a CDN token (not the key)."""
    fake: FakeFal = handler.fake  # type: ignore[assignment]
    if not fake.cdn_authorized(handler.headers.get("Authorization")):
        handler._discard(int(handler.headers.get("Content-Length") or 0))
        return handler.send_error_answer(FalError(401, "Invalid or expired token", error_type="unauthorized"))
    kind = handler.headers.get("Content-Type") or ""
    try:
        ttl = _lifecycle(handler.headers.get("X-Fal-Object-Lifecycle"))
        if fake.take_fault("upload_500"):
            raise FalError(500, "Failed to store the file.", error_type="internal_error")
    except ApiError as err:
        handler._discard(int(handler.headers.get("Content-Length") or 0))
        return handler.send_error_answer(err)
    data = receive(handler, fake.take_fault("upload_cut"))
    if data is None:
        return None
    name = handler.headers.get("X-Fal-File-Name") or "upload.bin"
    stored = fake.store(data, name, kind or "application/octet-stream", ttl)
    handler.send_json(200, {"access_url": f"{handler._base_url()}{FILES_PATH}/{stored.id}/{quote(name)}"})


# ---- command line ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = fake_parser("python -m storyboard.testing.fake_fal",
                         "A fake fal.ai queue (Seedance 2.0) on loopback. Prints its base URL first.",
                         key_variable=FakeFal.key_variable)
    args = parser.parse_args(argv)
    return serve(FakeFal(**server_options(args)), "fake fal queue", verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
