"""A fake BytePlus ModelArk content-generation API: a real HTTP server on loopback.

It speaks `POST /api/v3/contents/generations/tasks` and `GET .../tasks/{id}` as the official
`byteplus-python-sdk-v2` runtime sends and reads them (see `storyboard/providers/modelark.py`
for which facts are confirmed): Bearer auth, ModelArk's validation rules with its error body
`{"error": {"code", "message", "param", "type"}}` (codes such as `MissingParameter`,
`InvalidParameter`, `AuthenticationError`, `RateLimitExceeded.EndpointRPMExceeded`), tasks that
move `queued -> running -> succeeded | failed`, `content.video_url` and, when asked with
`return_last_frame`, `content.last_frame_url` (a PNG of the clip's last frame), and
`usage.completion_tokens` by the token formula (ModelArk bills tokens; no dollar table).

    python -m storyboard.testing.fake_modelark --port 0 --api-key K --latency 2

The printed base URL ends in `/api/v3`, like the real one, so it goes straight into
`--base-url` or `Ark(base_url=...)`. What every fake shares lives in `storyboard/testing/fakes/`.
"""

from __future__ import annotations

import math
import re
import secrets
import string
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..media.frames import extract_frame
from ..providers.modelark import (
    FAST_MODEL,
    MODEL_RESOLUTIONS,
    RATIO_VALUES,
    STANDARD_MODEL,
    spec_from_body,
    token_count,
)
from ..providers.seedance import PIXELS
from ..providers.seedance import build_body as seedance_body
from .fakes.cli import fake_parser, serve, server_options
from .fakes.handler import ApiError, FakeHandler, Route
from .fakes.jobs import RENDERERS, Job, Renderer
from .fakes.server import FakeServer

__all__ = ["FakeModelArk", "main", "validate"]

PREFIX = "/api/v3"
MODELS = (STANDARD_MODEL, FAST_MODEL)
TYPES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
         429: "TooManyRequests", 500: "InternalServiceError", 503: "ServiceUnavailable"}
ROLES = {"image_url": ("first_frame", "last_frame", "reference_image"), "video_url": ("reference_video",),
         "audio_url": ("reference_audio",)}
MAX_COUNTS = {"reference_image": 9, "reference_video": 3, "reference_audio": 3,
              "first_frame": 1, "last_frame": 1}
MAX_FILES = 12
MAX_SEED = 2**31 - 1


def ark_error(status: int, code: str, message: str, param: str = "") -> ApiError:
    """An error in ModelArk's shape; its messages end with the request id, as the real ones do."""
    request_id = time.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10)
    return ApiError(status, f"{message} Request id: {request_id}", type_=TYPES.get(status, "InternalServiceError"),
                    param=param, code=code)


def _bad(message: str, param: str = "", code: str = "InvalidParameter") -> ApiError:
    return ark_error(400, code, message, param)


# ---- validation ------------------------------------------------------------------------------

def validate(body: Any) -> None:
    """Raise ApiError where ModelArk would refuse the body."""
    if not isinstance(body, dict):
        raise _bad("The request body must be a JSON object.")
    body = present(body)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("The parameter `model` specified in the request is missing.", "model", "MissingParameter")
    if model not in MODELS and not model.startswith("ep-"):
        raise ark_error(404, "InvalidEndpointOrModel.NotFound",
                        f"The model or endpoint {model} does not exist or you do not have access to it.", "model")
    _check_fields(body, MODEL_RESOLUTIONS.get(model, MODEL_RESOLUTIONS[STANDARD_MODEL]))
    _check_content(body.get("content"))


def present(body: dict[str, Any]) -> dict[str, Any]:
    """The fields that are set: the official SDK sends every optional field, as null when unset."""
    return {k: v for k, v in body.items() if v is not None}


def _check_fields(body: dict[str, Any], resolutions: tuple[str, ...]) -> None:
    for name in ("generate_audio", "watermark", "return_last_frame", "camera_fixed", "draft"):
        if name in body and not isinstance(body[name], bool):
            raise _bad(f"The parameter `{name}` specified in the request must be a boolean.", name)
    if "resolution" in body and body["resolution"] not in resolutions:
        raise _bad(f"The parameter `resolution` specified in the request is not valid for model "
                   f"{body['model']}: use one of {', '.join(resolutions)}.", "resolution")
    if "ratio" in body and body["ratio"] not in RATIO_VALUES:
        raise _bad(f"The parameter `ratio` specified in the request is not valid: use one of "
                   f"{', '.join(RATIO_VALUES)}.", "ratio")
    duration = body.get("duration", 5)
    if not _is_int(duration) or not (4 <= duration <= 15 or duration == -1):
        raise _bad("The parameter `duration` specified in the request must be an integer from 4 to 15, "
                   "or -1.", "duration")
    seed = body.get("seed", -1)
    if not _is_int(seed) or not -1 <= seed <= MAX_SEED:
        raise _bad(f"The parameter `seed` specified in the request must be an integer from -1 to {MAX_SEED}.",
                   "seed")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_content(content: Any) -> None:
    if not content:
        raise _bad("The parameter `content` specified in the request is missing.", "content", "MissingParameter")
    if not isinstance(content, list):
        raise _bad("The parameter `content` specified in the request must be an array.", "content")
    counts: dict[str, int] = {}
    texts = 0
    for i, item in enumerate(content):
        role = _check_item(item, f"content[{i}]")
        if role is None:
            texts += 1
        else:
            counts[role] = counts.get(role, 0) + 1
    if texts > 1:
        raise _bad("At most one text item is allowed in `content`.", "content")
    _check_counts(counts)


def _check_item(item: Any, param: str) -> str | None:
    """The item's role (None for text); raises for a malformed item."""
    kind = item.get("type") if isinstance(item, dict) else None
    if kind == "text":
        if not isinstance(item.get("text"), str) or not item["text"].strip():
            raise _bad(f"The parameter `{param}.text` specified in the request is missing.", f"{param}.text",
                       "MissingParameter")
        return None
    if kind not in ROLES:
        raise _bad(f"The parameter `{param}.type` specified in the request is not valid: use text, "
                   "image_url, video_url or audio_url.", f"{param}.type")
    role = item.get("role", "first_frame" if kind == "image_url" else None)  # a bare image opens the clip
    if role not in ROLES[kind]:
        raise _bad(f"The parameter `{param}.role` specified in the request is not valid for {kind}: use "
                   f"{' or '.join(ROLES[kind])}.", f"{param}.role")
    url = (item.get(kind) or {}).get("url") if isinstance(item.get(kind), dict) else None
    _check_url(url, kind, f"{param}.{kind}.url")
    return role


def _check_url(url: Any, kind: str, param: str) -> None:
    if not isinstance(url, str) or not url:
        raise _bad(f"The parameter `{param}` specified in the request is missing.", param, "MissingParameter")
    if kind == "image_url" and re.match(r"data:image/(png|jpeg|jpg|webp|bmp|tiff|gif);base64,", url):
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "asset") or not parts.netloc:
        what = "an http(s) URL or asset:// id" + (" or a base64 data URI" if kind == "image_url" else "")
        raise _bad(f"The parameter `{param}` specified in the request must be {what}.", param)


def _check_counts(counts: dict[str, int]) -> None:
    for role, most in MAX_COUNTS.items():
        if counts.get(role, 0) > most:
            raise _bad(f"At most {most} {role} item(s) are allowed in `content`.", "content")
    frames = counts.get("first_frame", 0) + counts.get("last_frame", 0)
    references = sum(counts.get(r, 0) for r in ("reference_image", "reference_video", "reference_audio"))
    if frames and references:
        raise _bad("first_frame/last_frame images cannot be combined with reference images, videos or "
                   "audios in one request.", "content")
    if counts.get("last_frame") and not counts.get("first_frame"):
        raise _bad("A last_frame image needs a first_frame image.", "content")
    if counts.get("reference_audio") and not (counts.get("reference_image") or counts.get("reference_video")):
        raise _bad("Reference audio needs at least one reference image or reference video.", "content")
    if frames + references > MAX_FILES:
        raise _bad(f"At most {MAX_FILES} media items are allowed in `content`.", "content")


# ---- the server ------------------------------------------------------------------------------

def seedance_renderer(renderer: str | Renderer) -> Renderer:
    """The shared renderers read Seedance bodies: hand them the ModelArk body translated."""
    render = RENDERERS[renderer] if isinstance(renderer, str) else renderer

    def run(body: dict[str, Any], out: Path) -> None:
        translated = seedance_body(spec_from_body(body))
        if "width" in body:  # the fake's `clip_size` (smaller, faster clips)
            translated.pop("resolution", None)
            translated.pop("ratio", None)
            translated["width"], translated["height"] = body["width"], body["height"]
        render(translated, out)

    return run


class FakeModelArk(FakeServer):
    """The fake ModelArk server. Start it with `with FakeModelArk(...) as fake:`; its
    `base_url` ends in `/api/v3`. Keywords as `FakeServer`."""

    label = "fake modelark"
    server_version = "FakeModelArk/1.0"
    key_variable = "ARK_API_KEY"

    def __init__(self, *, renderer: str | Renderer = "animatic", **options: Any):
        super().__init__(renderer=seedance_renderer(renderer), **options)
        self._frames = Path(tempfile.mkdtemp(prefix="fake-modelark-frames-"))

    @property
    def base_url(self) -> str:
        return super().base_url + PREFIX

    def routes(self) -> list[Route]:
        shared = super().routes()
        return [("POST", re.compile(PREFIX + r"/contents/generations/tasks"), FakeHandler.serve_create),
                ("GET", re.compile(PREFIX + r"/contents/generations/tasks/([^/]+)"), FakeHandler.serve_job),
                ("GET", re.compile(r"/frames/(.*)\.png"), serve_frame),
                *[(m, re.compile(PREFIX + p.pattern), e) for m, p, e in shared if "_fake" in p.pattern],
                *shared]

    def new_job_id(self) -> str:
        alphabet = string.ascii_lowercase + string.digits
        return f"cgt-{time.strftime('%Y%m%d%H%M%S')}-{''.join(secrets.choice(alphabet) for _ in range(5))}"

    def validate(self, body: Any) -> None:
        validate(body)

    def prompt_of(self, body: dict[str, Any]) -> str:
        return spec_from_body(present(body)).prompt

    def price(self, body: dict[str, Any]) -> float:
        return 0.0  # ModelArk answers tokens (`usage`), not dollars: see `job_answer`

    def job_answer(self, job: Job, base_url: str | None = None) -> dict[str, Any]:
        if base_url is None:  # a create answers the task id alone
            return {"id": job.id}
        body = present(job.body)
        status = {"in_progress": "running", "completed": "succeeded"}.get(s := job.status(time.monotonic()), s)
        resolution, ratio = body.get("resolution", "720p"), body.get("ratio", "16:9")
        seconds = body.get("duration", 5) if body.get("duration", 5) != -1 else 5
        w, h = PIXELS.get(resolution, PIXELS["720p"]).get(ratio, (1280, 720))
        finished = status in ("succeeded", "failed")  # a finished task was last updated when it finished
        data: dict[str, Any] = {
            "id": job.id, "model": body["model"], "status": status, "created_at": int(job.created_at),
            "updated_at": int(job.completed_at() if finished else time.time()),
            "seed": body.get("seed", 17918), "resolution": resolution,
            "ratio": ratio, "duration": seconds, "framespersecond": 24,
            "generate_audio": body.get("generate_audio", True), "service_tier": "default",
            "execution_expires_after": 172800, "draft": False, "priority": 0, "output_format": "mp4"}
        if status == "succeeded":
            url = self.download_url(job, base_url.removesuffix(PREFIX))
            data["content"] = {"video_url": url}
            if body.get("return_last_frame"):
                data["content"]["last_frame_url"] = url.replace("/files/", "/frames/").removesuffix(".mp4") + ".png"
            tokens = token_count(w, h, seconds)
            data["usage"] = {"completion_tokens": tokens, "total_tokens": tokens}
        elif status == "failed":
            code, message = job.fail or ("InternalServiceError", job.render_error or "failed")
            data["error"] = {"code": code, "message": message}
        return data

    def last_frame(self, token: str) -> Path | ApiError:
        """A PNG of the clip's last frame, decoded here as the real service does it on its side."""
        outcome, clip = self.open_file(token)
        if isinstance(clip, ApiError):
            return clip
        png = self._frames / f"{clip.stem}.png"
        if not png.is_file():
            extract_frame(clip, "last", png)
        return png

    def close(self) -> None:
        super().close()
        import shutil

        shutil.rmtree(self._frames, ignore_errors=True)

    def fault_error(self, kind: str) -> ApiError:
        if kind == "429":
            wait = max(0.0, float(self.faults.retry_after))
            err = ark_error(429, "RateLimitExceeded.EndpointRPMExceeded",
                            "The request exceeded the endpoint's requests-per-minute limit.")
            err.headers = {"Retry-After": str(math.ceil(wait))}  # [unconfirmed] on the real service
            return err
        if kind == "402":
            return ark_error(403, "AccountOverdueError", "Your account has an overdue balance.")
        if kind == "503":
            return ark_error(503, "ServiceUnavailable", "The service is temporarily overloaded.")
        return ark_error(500, "InternalServiceError", "The service encountered an unexpected internal error.")

    def failure(self, kind: str) -> tuple[str, str]:
        if kind == "refused":
            return ("OutputVideoSensitiveContentDetected",
                    f"The output video may contain sensitive information (prompt contains {self.faults.fail_on!r}).")
        return ("InternalServiceError", "The task failed on the model server. Please try again.")

    def unauthorized(self) -> ApiError:
        return ark_error(401, "AuthenticationError", "The API key in the request is missing or invalid.")

    def job_not_found(self, job_id: str) -> ApiError:
        return ark_error(404, "ResourceNotFound", f"The specified task {job_id} is not found.")


def serve_frame(handler: FakeHandler, match: re.Match[str]) -> None:
    fake = handler.fake
    assert isinstance(fake, FakeModelArk)
    result = fake.last_frame(match.group(1))
    if isinstance(result, ApiError):
        return handler.send_error_answer(result)
    handler._send(200, result.read_bytes(), "image/png")


# ---- command line ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = fake_parser("python -m storyboard.testing.fake_modelark",
                         "A fake BytePlus ModelArk video API on loopback. Prints its base URL first.",
                         key_variable=FakeModelArk.key_variable)
    args = parser.parse_args(argv)
    return serve(FakeModelArk(**server_options(args)), "fake ModelArk API", verbose=args.verbose)


if __name__ == "__main__":
    sys.exit(main())
