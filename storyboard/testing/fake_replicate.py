"""A fake Replicate predictions API for Seedance 2.0: a real HTTP server on loopback.

It speaks what the official `replicate` client speaks (read in its source): Bearer auth,
`POST /v1/models/{owner}/{name}/predictions` with `{"input": {...}}` answered 201 with a
prediction, `GET /v1/predictions/{id}`, `POST /v1/predictions/{id}/cancel`, the statuses
`starting` -> `processing` -> `succeeded` | `failed` | `canceled`, `Prefer: wait[=N]` holding a
create open, and errors as RFC 7807 problem details (`title`, `detail`, `status`). Inputs are
checked against the model page's schema (types, enums, minimum/maximum, array sizes) with a
422; the rules the model itself applies (frames with references, audio alone) fail the
prediction instead, as a model's own checks do [where each rule is enforced: unconfirmed].

It also holds Replicate's files API as the client's `files.create` uses it: `POST /v1/files`,
multipart, the bytes in a `content` part (a file name of at most 255 bytes and a type) and an
optional `metadata` part holding a JSON object, answered 201 with the file (`id`, `name`,
`content_type`, `size`, `etag`, `checksums` {sha256, md5}, `metadata`, `created_at`, `expires_at`
a day later, `urls.get`), and `GET /v1/files/{id}`. An input naming a file of this API must name
one it holds, or the prediction fails [how Replicate words that: unconfirmed].

Clips are made by the animatic renderer from the input, turned into the Seedance body it reads.
Replicate's answers carry no cost and no price was published on the page read, so the fake
bills nothing (`cost` 0 in the stats).

    python -m storyboard.testing.fake_replicate --port 0 --api-key K --latency 2
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import urlsplit

from ..providers.seedance import RATIOS, RESOLUTIONS
from .fakes.cli import fake_parser, serve, server_options
from .fakes.files import FileStore, StoredFile, receive
from .fakes.handler import ApiError, FakeHandler, Route
from .fakes.jobs import RENDERERS, Job, Renderer
from .fakes.server import FakeServer

__all__ = ["FakeReplicate", "main", "validate", "seedance_body"]

MODELS = ("bytedance/seedance-2.0", "bytedance/seedance-2.0-fast")
VERSION = "d456b64a60da3903c3692f7128d491004d021bbc2e1e19c63bccb117d3f4ab7b"  # as on the model page
ASPECT_RATIOS = (*RATIOS, "adaptive")
MAX_WAIT = 60  # seconds `Prefer: wait` may hold a create (the client's documented range is 1..60)
ARRAYS = {"reference_images": 9, "reference_videos": 3, "reference_audios": 3}
STRINGS = ("prompt", "image", "last_frame_image")
TITLES = {400: "Bad request", 401: "Unauthenticated", 402: "Payment required", 404: "Not found",
          411: "Length required", 413: "Request too large", 422: "Input validation failed",
          429: "Request was throttled", 500: "Internal server error", 503: "Service unavailable"}
STATUS = {"queued": "starting", "in_progress": "processing", "completed": "succeeded", "failed": "failed"}
FILE_TTL = 24 * 3600.0  # a file expires a day after it is created (the client's recorded answer)
FILE_URL = re.compile(r"/v1/files/([0-9a-f]+)")
INPUT_URLS = ("image", "last_frame_image", "reference_images", "reference_videos", "reference_audios")


# ---- validation (the model page's input schema) -------------------------------------------

def invalid_input(field: str, description: str, kind: str = "invalid") -> ApiError:
    return ApiError(422, f"- input.{field}: {description}", param=f"input.{field}", code=kind)


def validate(body: Any) -> None:
    """Raise ApiError(422) where Replicate's schema check would refuse the body."""
    if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
        raise ApiError(422, "- input: Invalid type. Expected: object", param="input", code="invalid_type")
    data = body["input"]
    if "prompt" not in data:
        raise invalid_input("prompt", "prompt is required", "required")
    for name in STRINGS:
        if name in data and not isinstance(data[name], str):
            raise invalid_input(name, "Invalid type. Expected: string", "invalid_type")
    for name, most in ARRAYS.items():
        _check_array(data, name, most)
    _check_numbers(data)
    if data.get("resolution", "720p") not in RESOLUTIONS:
        raise invalid_input("resolution", f"resolution must be one of the following: {', '.join(RESOLUTIONS)}", "enum")
    if data.get("aspect_ratio", "16:9") not in ASPECT_RATIOS:
        raise invalid_input("aspect_ratio", "aspect_ratio must be one of the following: "
                            + ", ".join(ASPECT_RATIOS), "enum")
    if not isinstance(data.get("generate_audio", True), bool):
        raise invalid_input("generate_audio", "Invalid type. Expected: boolean", "invalid_type")


def _check_array(data: dict[str, Any], name: str, most: int) -> None:
    value = data.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_input(name, "Invalid type. Expected: array of strings", "invalid_type")
    if len(value) > most:
        raise invalid_input(name, f"Array must have at most {most} items", "array_max_items")


def _check_numbers(data: dict[str, Any]) -> None:
    for name in ("duration", "seed"):
        if name in data and (isinstance(data[name], bool) or not isinstance(data[name], int)):
            raise invalid_input(name, "Invalid type. Expected: integer", "invalid_type")
    duration = data.get("duration", 5)
    if duration < -1:
        raise invalid_input("duration", "Must be greater than or equal to -1", "number_gte")
    if duration > 15:
        raise invalid_input("duration", "Must be less than or equal to 15", "number_lte")


def model_refusal(data: dict[str, Any]) -> str | None:
    """What the model itself refuses at run time (the prediction fails with this error)."""
    frames = bool(data.get("image") or data.get("last_frame_image"))
    if frames and data.get("reference_images"):
        return "First/last frame images cannot be combined with reference images."
    if data.get("last_frame_image") and not data.get("image"):
        return "last_frame_image only works with a first frame image (image)."
    if data.get("reference_audios") and not (data.get("reference_images") or data.get("reference_videos")):
        return "Reference audios require at least one reference image or reference video."
    if 0 <= data.get("duration", 5) < 4:
        return "Duration must be between 4 and 15 seconds, or -1."
    return None


# ---- clips -----------------------------------------------------------------------------------

def seedance_body(body: dict[str, Any]) -> dict[str, Any]:
    """The Seedance body the animatic renderer reads, from a prediction's `{"input": ...}`
    (plus `width`/`height` when the fake renders smaller than requested)."""
    data = body.get("input") or {}
    duration = data.get("duration", 5)
    out: dict[str, Any] = {"prompt": data.get("prompt", ""), "seconds": str(duration if duration > 0 else 5),
                           "resolution": data.get("resolution", "720p")}
    ratio = data.get("aspect_ratio", "16:9")
    out["ratio"] = ratio if ratio in RATIOS else "16:9"
    if body.get("width") and body.get("height"):
        out.update(width=body["width"], height=body["height"])
        out.pop("resolution"), out.pop("ratio")
    frames = [{"input_image": data[k], "frame": f} for k, f in (("image", "first"), ("last_frame_image", "last"))
              if data.get(k)]
    media = {"frame_images": frames, **{k: list(data.get(k) or []) for k in ARRAYS}}
    out["media"] = {k: v for k, v in media.items() if v}
    if data.get("generate_audio") is False:
        out["generate_audio"] = False
    return out


def _renderer(renderer: str | Renderer) -> Renderer:
    inner = RENDERERS[renderer] if isinstance(renderer, str) else renderer
    return lambda body, out: inner(seedance_body(body), out)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


# ---- the server ------------------------------------------------------------------------------

def serve_prediction_create(handler: FakeHandler, match: re.Match[str]) -> None:
    """A create on a model's URL: the model must be one the fake serves; answered 201, or, with
    `Prefer: wait[=N]`, once the prediction is done or N seconds have passed."""
    fake: FakeReplicate = handler.fake  # type: ignore[assignment]
    model = f"{match.group(1)}/{match.group(2)}"
    if model not in MODELS:
        handler._discard(int(handler.headers.get("Content-Length") or 0))
        return handler.send_error_answer(ApiError(404, f"Model {model} not found or not permitted."))
    raw = handler._read_body()
    if raw is None:
        return None
    if not fake.authorized(handler.headers.get("Authorization")):
        fake.count("rejected")
        return handler.send_error_answer(fake.unauthorized())
    outcome, result = fake.create(raw, model=model)
    if outcome in ("drop", "drop_after"):
        return handler._drop()
    if isinstance(result, ApiError):
        return handler.send_error_answer(result)
    wait = _prefer_wait(handler.headers.get("Prefer"))
    if wait:
        result = fake.wait_for(result["id"], wait, handler._base_url())
    if fake.faults.create_delay:
        time.sleep(fake.faults.create_delay)
    handler.send_json(201, result)


def serve_cancel(handler: FakeHandler, match: re.Match[str]) -> None:
    fake: FakeReplicate = handler.fake  # type: ignore[assignment]
    if handler._read_body() is None:
        return None
    if not fake.authorized(handler.headers.get("Authorization")):
        return handler.send_error_answer(fake.unauthorized())
    answer = fake.cancel(match.group(1), handler._base_url())
    if isinstance(answer, ApiError):
        return handler.send_error_answer(answer)
    handler.send_json(200, answer)


def _prefer_wait(header: str | None) -> float:
    match = re.fullmatch(r"\s*wait(?:\s*=\s*(\d+))?\s*", header or "")
    if not match:
        return 0.0
    return float(min(MAX_WAIT, int(match.group(1) or MAX_WAIT)))


def serve_file_create(handler: FakeHandler, match: re.Match[str]) -> None:
    """`files.create`: the token, then faults, then the multipart form as Replicate reads it."""
    fake: FakeReplicate = handler.fake  # type: ignore[assignment]
    if not fake.authorized(handler.headers.get("Authorization")):
        handler._discard(int(handler.headers.get("Content-Length") or 0))
        return handler.send_error_answer(fake.unauthorized())
    if fake.take_fault("upload_500"):
        handler._discard(int(handler.headers.get("Content-Length") or 0))
        return handler.send_error_answer(ApiError(500, "Internal server error."))
    raw = receive(handler, fake.take_fault("upload_cut"))
    if raw is None:
        return None
    try:
        content, name, kind, metadata = _file_form(handler.headers.get("Content-Type") or "", raw)
    except ApiError as err:
        return handler.send_error_answer(err)
    stored = fake.store(content, name, kind)
    handler.send_json(201, fake.file_answer(stored, metadata, handler._base_url()))


def _file_form(content_type: str, raw: bytes) -> tuple[bytes, str, str, dict[str, Any]]:
    """(bytes, file name, type, metadata) of a files.create form; ApiError as Replicate refuses."""
    if not content_type.startswith("multipart/form-data"):
        raise ApiError(400, "The request must be multipart/form-data with a `content` part.")
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()} \
        if message.is_multipart() else {}
    content = parts.get("content")
    if content is None:
        raise ApiError(422, "- content: content is required", param="content", code="required")
    name = content.get_filename() or ""
    if not name or len(name.encode()) > 255:
        raise ApiError(422, "- filename: a file name of 1 to 255 bytes is required", param="filename",
                       code="invalid")
    metadata: Any = {}
    if "metadata" in parts:
        try:
            metadata = json.loads(parts["metadata"].get_payload(decode=True) or b"{}")
        except ValueError:
            metadata = None
        if not isinstance(metadata, dict):
            raise ApiError(422, "- metadata: must be a JSON object", param="metadata", code="invalid_type")
    return (content.get_payload(decode=True) or b"", name, content.get_content_type() or "application/octet-stream",
            metadata)


def _file_id(url: Any) -> str | None:
    """The id of a file of this API that an input URL names, if it names one."""
    match = FILE_URL.fullmatch(urlsplit(url).path) if isinstance(url, str) and url.startswith("http") else None
    return match.group(1) if match else None


class FakeReplicate(FakeServer):
    """The fake Replicate server: `with FakeReplicate(api_key=..., latency=...) as fake:`.
    Takes every `FakeServer` option (faults included)."""

    label = "fake replicate"
    server_version = "FakeReplicate/1.0"
    key_variable = "REPLICATE_API_TOKEN"

    def __init__(self, *, renderer: str | Renderer = "animatic", **options: Any):
        super().__init__(renderer=_renderer(renderer), **options)
        self._canceled: set[str] = set()
        self._request = threading.local()  # the model of the create this thread is answering
        self.files = FileStore(self.label)
        self._metadata: dict[str, dict[str, Any]] = {}

    def close(self) -> None:
        super().close()
        self.files.close()

    def routes(self) -> list[Route]:
        return [("POST", re.compile(r"/v1/files"), serve_file_create),
                ("GET", FILE_URL, self._serve_file),
                ("POST", re.compile(r"/v1/models/([^/]+)/([^/]+)/predictions"), serve_prediction_create),
                ("POST", re.compile(r"/v1/predictions/([^/]+)/cancel"), serve_cancel),
                ("GET", re.compile(r"/v1/predictions/([^/]+)"), FakeHandler.serve_job),
                *super().routes()]

    def create(self, raw: bytes, model: str = MODELS[0]) -> Any:  # type: ignore[override]
        self._request.model = model  # each request has its own thread
        return super().create(raw)

    def validate(self, body: Any) -> None:
        validate(body)
        body["model"] = getattr(self._request, "model", MODELS[0])  # kept with the job, for its answers

    def prompt_of(self, body: dict[str, Any]) -> str:
        return str((body.get("input") or {}).get("prompt") or "")

    def price(self, body: dict[str, Any]) -> float:
        return 0.0  # no published price; predictions carry no cost

    def _accept(self, body: dict[str, Any]) -> Job:
        job = super()._accept(body)
        refusal = model_refusal(body["input"]) or self._missing_file(body["input"])
        if refusal and not job.fail:
            job.fail = ("model_error", refusal)
        return job

    def _missing_file(self, data: dict[str, Any]) -> str | None:
        for name in INPUT_URLS:
            values = data.get(name) if isinstance(data.get(name), list) else [data.get(name)]
            for url in values:
                file_id = _file_id(url)
                if file_id and self.files.get(file_id) is None:
                    return f"Failed to download input {name}: the file {file_id} does not exist or has expired."
        return None

    # ---- files ----
    def store(self, data: bytes, name: str, content_type: str) -> StoredFile:
        ttl = self.faults.upload_ttl if self.faults.upload_ttl is not None else FILE_TTL
        return self.files.add(data, name, content_type, ttl)

    def file_answer(self, stored: StoredFile, metadata: dict[str, Any] | None, base_url: str) -> dict[str, Any]:
        if metadata is not None:
            self._metadata[stored.id] = metadata
        return {"id": stored.id, "name": stored.name, "content_type": stored.content_type, "size": stored.size,
                "etag": stored.md5, "checksums": {"sha256": stored.sha256, "md5": stored.md5},
                "metadata": self._metadata.get(stored.id, {}), "created_at": _iso(stored.created),
                "expires_at": _iso(stored.expires) if stored.expires else None,
                "urls": {"get": f"{base_url}/v1/files/{stored.id}"}}

    def _serve_file(self, handler: FakeHandler, match: re.Match[str]) -> None:
        if not self.authorized(handler.headers.get("Authorization")):
            return handler.send_error_answer(self.unauthorized())
        stored = self.files.get(match.group(1))
        if stored is None:
            return handler.send_error_answer(self.job_not_found(match.group(1)))
        handler.send_json(200, self.file_answer(stored, None, handler._base_url()))

    def status_of(self, job: Job, now: float) -> str:
        if job.id in self._canceled:
            return "canceled"
        return STATUS[job.status(now)]

    def job_answer(self, job: Job, base_url: str | None = None) -> dict[str, Any]:
        """The prediction, as the client's `Prediction` reads it."""
        status = self.status_of(job, time.monotonic()) if base_url else "starting"
        root = base_url or f"http://{self.host}:{self.port}"
        data: dict[str, Any] = {
            "id": job.id, "model": job.body["model"], "version": VERSION, "input": job.body["input"],
            "logs": "", "output": None, "error": None, "status": status, "data_removed": False,
            "created_at": _iso(job.created_at), "started_at": None, "completed_at": None, "metrics": {},
            "urls": {"get": f"{root}/v1/predictions/{job.id}", "cancel": f"{root}/v1/predictions/{job.id}/cancel",
                     "web": f"{root}/p/{job.id}"}}
        if status != "starting":
            data["started_at"] = _iso(job.created_at + min(job.queued_for, job.duration))
        if status in ("succeeded", "failed", "canceled"):
            data["completed_at"] = _iso(job.completed_at())
            data["metrics"] = {"predict_time": round(job.duration - job.queued_for, 3)}
        if status == "succeeded":
            data["output"] = self.download_url(job, base_url) if base_url else None
        elif status == "failed":
            data["error"] = job.fail[1] if job.fail else (job.render_error or "Prediction failed.")
        return data

    def wait_for(self, job_id: str, seconds: float, base_url: str) -> dict[str, Any]:
        """The prediction once it is done, or as it is after `seconds` (Prefer: wait)."""
        deadline = time.monotonic() + seconds
        while True:
            with self._lock:
                job = self._jobs[job_id]
                answer = self.job_answer(job, base_url)
            if answer["status"] in ("succeeded", "failed", "canceled") or time.monotonic() >= deadline:
                return answer
            time.sleep(0.02)

    def cancel(self, job_id: str, base_url: str) -> dict[str, Any] | ApiError:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return self.job_not_found(job_id)
            if self.status_of(job, time.monotonic()) in ("starting", "processing"):
                self._canceled.add(job_id)
            return self.job_answer(job, base_url)

    def _job_stats(self, job: Job, now: float) -> dict[str, Any]:  # type: ignore[override]
        stats = FakeServer._job_stats(job, now)
        stats.update(status=self.status_of(job, now), seconds=job.body["input"].get("duration", 5),
                     model=job.body["model"])
        return stats

    # ---- Replicate's words ----
    def error_body(self, err: ApiError) -> dict[str, Any]:
        """RFC 7807 problem details, as the client's `ReplicateError.from_response` reads them."""
        body: dict[str, Any] = {"title": TITLES.get(err.status, "Error"), "detail": err.message, "status": err.status}
        if err.status == 422 and err.param:
            body["invalid_fields"] = [{"type": err.code, "field": err.param,
                                       "description": err.message.split(": ", 1)[-1]}]
        return body

    def fault_error(self, kind: str) -> ApiError:
        wait = max(1, round(self.faults.retry_after))
        if kind == "429":
            return ApiError(429, f"Request was throttled. Expected available in {wait} second.",
                            headers={"Retry-After": str(wait)})
        if kind == "402":
            return ApiError(402, "You have insufficient credit to run this model.")
        if kind == "503":  # an overloaded front door that refused before creating anything
            return ApiError(503, "Service unavailable.", headers={"Retry-After": str(wait)})
        return ApiError(500, "Internal server error.")

    def failure(self, kind: str) -> tuple[str, str]:
        if kind == "refused":
            return ("model_error", f"The input or output was flagged as sensitive (prompt contains "
                                   f"{self.faults.fail_on!r}).")
        return ("model_error", "Prediction failed: the model server hit an internal error.")

    def unauthorized(self) -> ApiError:
        return ApiError(401, "You did not pass a valid authentication token")

    def job_not_found(self, job_id: str) -> ApiError:
        return ApiError(404, "The requested resource could not be found.")


# ---- command line ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = fake_parser("python -m storyboard.testing.fake_replicate",
                         "A fake Replicate predictions API (Seedance 2.0) on loopback. Prints its base URL first.",
                         key_variable=FakeReplicate.key_variable)
    args = parser.parse_args(argv)
    return serve(FakeReplicate(**server_options(args)), "fake Replicate API", verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
