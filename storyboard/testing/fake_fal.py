"""A fake fal.ai queue for Seedance 2.0: a real HTTP server on loopback (standard library only).

It speaks fal's queue protocol as `fal-client` uses it: `POST /bytedance/seedance-2.0[/fast]/{mode}`
with `Authorization: Key ...` answers `{request_id, status_url, response_url, cancel_url}`;
`GET .../requests/{id}/status` answers `IN_QUEUE` / `IN_PROGRESS` (HTTP 202) then `COMPLETED`
(200, with `error` and `error_type` when the request failed); `GET .../requests/{id}` answers the
model's own status and body: `{"video": {...}, "seed": n}`, or the model's 422
`{"detail": [{loc, msg, type, url}]}` for an input it refuses. Like fal's queue, a submit is taken
whatever its input (the model validates when it runs), so an invalid request is refused at its
result, quickly and unbilled. Infrastructure errors use fal's `{"detail": "...", "error_type"}`.

    python -m storyboard.testing.fake_fal --port 0 --api-key K --latency 2

Not imitated: cancel (`PUT .../cancel`), webhooks, logs, streaming status.
"""

from __future__ import annotations

import json
import math
import re
import sys
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from ..providers.seedance import LIMITS, PIXELS, RATIOS
from .fake_together import _is_image
from .fakes.cli import fake_parser, serve, server_options
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
ERRORS_URL = "https://docs.fal.ai/errors"


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

def model_errors(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    """What the model refuses in a submitted request, as fal's `detail` items ([] when valid)."""
    arguments = envelope.get("input")
    if not isinstance(arguments, dict):
        return [_problem(None, "Input should be a valid dictionary", "dict_type", arguments)]
    endpoint = str(envelope.get("endpoint") or "")
    app, mode = endpoint.rsplit("/", 1)
    problems = _common_errors(arguments, app)
    problems += {"text-to-video": lambda a: [], "image-to-video": _frame_errors,
                 "reference-to-video": _reference_errors}[mode](arguments)
    return problems


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
        return min(self.latency, 0.05) if model_errors(body) else self.latency

    def price(self, body: dict[str, Any]) -> float:
        if model_errors(body):
            return 0.0  # a refused input is not billed
        a, app = body["input"], FAST if body["endpoint"].startswith(FAST + "/") else APP
        ratio = a.get("aspect_ratio") if a.get("aspect_ratio") in RATIOS else "16:9"
        w, h = PIXELS[a.get("resolution") or "720p"][ratio]
        pixels = w * h
        seconds = int(a["duration"]) if str(a.get("duration")).isdigit() else 5
        usd = PRICE_PER_SECOND_720P[app] * seconds * pixels / TOKENS_PER_DOLLAR_BASIS
        return round(usd * (VIDEO_INPUT_FACTOR if a.get("video_urls") else 1.0), 4)

    def job_answer(self, job: Job, base_url: str | None = None) -> dict[str, Any]:
        """Without base_url the submit's answer; with it `{"status": (code, body), "result":
        (code, body or FalError)}` for the two GET endpoints to pick from."""
        urls = self._urls_of(job, base_url or self._request.base_url)
        if base_url is None:
            return {"status": "IN_QUEUE", "request_id": job.id, "queue_position": 0, **urls}
        state = job.status(time.monotonic())
        errors = model_errors(job.body) if state in ("completed", "failed") else []
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


# ---- command line ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = fake_parser("python -m storyboard.testing.fake_fal",
                         "A fake fal.ai queue (Seedance 2.0) on loopback. Prints its base URL first.",
                         key_variable=FakeFal.key_variable)
    args = parser.parse_args(argv)
    return serve(FakeFal(**server_options(args)), "fake fal queue", verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
