"""Seedance 2.0 on BytePlus ModelArk: the content-generation tasks API, Bearer ARK_API_KEY.

    POST {base}/contents/generations/tasks        -> {"id": "cgt-..."}
    GET  {base}/contents/generations/tasks/{id}   -> the task: status, content.video_url, ...

Facts and where they come from (see shared/reference/seedance-providers.md §2):
- [confirmed: the official `byteplus-python-sdk-v2` runtime, `byteplussdkarkruntime`] the paths
  above, the default base URL, `Authorization: Bearer <key>`, the create fields (`model`,
  `content`, `ratio`, `resolution`, `duration`, `seed`, `generate_audio`, `watermark`,
  `return_last_frame`), the `content[]` items (`text`, `image_url`, `video_url`, `audio_url`,
  each media item with a `role`), the task fields (`content.video_url`, `content.last_frame_url`,
  `usage.completion_tokens`, `error{code,message}`), and the error body `{"error": {"code",
  "message", "param", "type"}}` the SDK unwraps. The SDK's own retries re-send a create after a
  5xx or a dropped connection; this module never does (see `http.JobApiProvider`).
- [confirmed: SDK docstring] statuses `queued`, `running`, `succeeded`, `failed`, `cancelled`;
  [third-party] `expired` (past `execution_expires_after`).
- [third-party, consistent across gateways and ComfyUI] the model strings, that the `-fast-`
  model renders 480p and 720p only, durations 4-15 s, the ratios, the counts of references,
  first/last frames not mixed with references, images as URLs or base64 data URIs but videos
  (and, to be safe, audios) as URLs only.
- [unconfirmed] the official prompt length limit (Together's 3000 is kept); whether 2.0 reads a
  negative prompt (there is no field: it goes into the text as an "Avoid:" sentence); the price.
  ModelArk bills by tokens and our reference has no published dollar table, so a clip's price is
  unknown, never guessed.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import quote

from .base import ClipSpec, FrameImage, Job, Limits, Price
from .hosted import FileHosting
from .http import JobApiProvider
from .seedance import LIMITS, PIXELS, RATIOS, SeedanceProvider

DEFAULT_BASE_URL = "https://ark.ap-southeast.bytepluses.com/api/v3"
API_KEY_VARIABLE = "ARK_API_KEY"
BASE_URL_VARIABLE = "ARK_BASE_URL"
TASKS_PATH = "/contents/generations/tasks"

STANDARD_MODEL = "dreamina-seedance-2-0-260128"
FAST_MODEL = "dreamina-seedance-2-0-fast-260128"
# The story's `model` words, and the resolutions each ModelArk model renders: "fast" trades the
# 1080p (and 4k) tier for speed and price.
MODEL_WORDS = {"seedance-2.0": STANDARD_MODEL, "seedance-2.0-fast": FAST_MODEL}
MODEL_RESOLUTIONS = {STANDARD_MODEL: ("480p", "720p", "1080p"), FAST_MODEL: ("480p", "720p")}
RATIO_VALUES = (*RATIOS, "adaptive")  # what the API takes; the story language names the fixed ones

RUNNING = {"queued", "running"}
COMPLETED = {"succeeded"}
FAILED = {"failed", "cancelled", "expired"}
ROLES = {"first": "first_frame", "last": "last_frame"}
HINTS = {
    401: "the API key was refused; check ARK_API_KEY",
    403: "the account is overdue or the key may not use this model",
    404: "check the base URL and the model name (or the ep-... endpoint id)",
    429: "rate limited",
}


class ModelArkProvider(FileHosting, JobApiProvider, SeedanceProvider):
    name = "modelark"
    label = "ModelArk"
    needs_url_hint = " (name a bucket with --host s3://bucket/prefix to upload them)"
    key_variable = API_KEY_VARIABLE
    base_url_variable = BASE_URL_VARIABLE
    default_base_url = DEFAULT_BASE_URL
    default_model = STANDARD_MODEL
    hints = HINTS
    # Only a 408 or 429 proves nothing was made; any 5xx (even a 503 with Retry-After) may have.
    create_retryable = frozenset({408, 429})
    create_retryable_with_retry_after = frozenset()
    create_ambiguous = frozenset(range(500, 600))
    # Images go inline as data URIs; videos and audios need URLs: a named bucket's (ModelArk has
    # no upload of its own that a task can name).
    limits = dataclasses.replace(LIMITS, local_media=frozenset({"image"}))

    def __init__(self, *, api_key: str | None = None, host: Any = None, **options: Any):
        super().__init__(api_key=api_key, **options)
        self._init_settings(api_key, host)

    # ---- compile time ----
    def model_id(self, model_setting: str | None) -> str:
        if not model_setting:
            return self.default_model
        return MODEL_WORDS.get(model_setting, model_setting)

    def limits_for(self, model: str) -> Limits:
        return dataclasses.replace(self.limits, resolutions=MODEL_RESOLUTIONS.get(model, self.limits.resolutions))

    def build_request(self, spec: ClipSpec) -> dict[str, Any]:
        return build_body(spec)

    def price(self, spec: ClipSpec) -> Price:
        return Price(None, "ModelArk bills Seedance 2.0 by tokens and publishes no per-clip price we "
                           "can rely on; cost unknown")

    # ---- run time ----
    def create_target(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return f"{self.base_url}{TASKS_PATH}", body

    def job_url(self, job_id: str) -> str:
        return f"{self.base_url}{TASKS_PATH}/{quote(job_id, safe='')}"

    def parse_job(self, data: dict[str, Any], job_id: str | None = None) -> Job | None:
        return job_from_task(data, job_id)

# ---- the request body ------------------------------------------------------------------------

def build_body(spec: ClipSpec) -> dict[str, Any]:
    """A ClipSpec as a create-task body: the prompt and every input in one `content` array."""
    resolution, ratio = _resolution_and_ratio(spec)
    text = spec.prompt if not spec.negative else f"{spec.prompt}\nAvoid: {spec.negative}"
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    content += [_item("image_url", f.source, ROLES[f.frame]) for f in spec.frame_images]
    content += [_item("image_url", v, "reference_image") for v in spec.reference_images]
    content += [_item("video_url", v, "reference_video") for v in spec.reference_videos]
    content += [_item("audio_url", v, "reference_audio") for v in spec.reference_audios]
    body: dict[str, Any] = {"model": spec.model, "content": content, "resolution": resolution,
                            "ratio": ratio, "duration": spec.seconds, "generate_audio": spec.audio,
                            "watermark": False}
    if spec.seed is not None:
        body["seed"] = spec.seed
    if spec.last_frame_wanted:
        body["return_last_frame"] = True
    return body


def _item(kind: str, url: str, role: str) -> dict[str, Any]:
    return {"type": kind, kind: {"url": url}, "role": role}


def _resolution_and_ratio(spec: ClipSpec) -> tuple[str, str]:
    """ModelArk names sizes by resolution and ratio only: a `size` in pixels becomes the table
    entry nearest to it (same orientation first, then the closest pixel count)."""
    if not (spec.width and spec.height):
        return spec.resolution or "720p", spec.ratio or "16:9"
    w, h = spec.width, spec.height

    def distance(entry: tuple[str, str, tuple[int, int]]) -> tuple[float, int]:
        a, b = (int(n) for n in entry[1].split(":"))  # the nominal ratio: the table's sizes round it
        ew, eh = entry[2]
        return round(abs(a / b - w / h), 3), abs(ew * eh - w * h)

    entries = [(res, ratio, size) for res, table in PIXELS.items() for ratio, size in table.items()]
    res, ratio, _ = min(entries, key=distance)
    return res, ratio


def spec_from_body(body: dict[str, Any]) -> ClipSpec:
    """The ClipSpec a create-task body says (the inverse of `build_body`): how the fake server
    hands a ModelArk body to the animatic renderer, which reads Seedance bodies."""
    frames, images, videos, audios = [], [], [], []
    text = ""
    for item in body.get("content") or []:
        kind, role = item.get("type"), item.get("role")
        if kind == "text":
            text = str(item.get("text") or "")
            continue
        url = (item.get(kind) or {}).get("url", "")
        if kind == "image_url" and role in (None, "first_frame", "last_frame"):
            frames.append(FrameImage(url, "last" if role == "last_frame" else "first"))
        elif kind == "image_url":
            images.append(url)
        elif kind == "video_url":
            videos.append(url)
        elif kind == "audio_url":
            audios.append(url)
    ratio = body.get("ratio") if body.get("ratio") in RATIOS else "16:9"  # adaptive: the source's
    return ClipSpec(prompt=text, seconds=int(body.get("duration") or 5), model=str(body.get("model")),
                    resolution=body.get("resolution") or "720p", ratio=ratio, seed=body.get("seed"),
                    audio=body.get("generate_audio", True) is not False, frame_images=tuple(frames),
                    reference_images=tuple(images), reference_videos=tuple(videos),
                    reference_audios=tuple(audios))


# ---- answers ---------------------------------------------------------------------------------

def job_from_task(data: dict[str, Any], job_id: str | None = None) -> Job:
    """A ModelArk task (or the `{"id": ...}` answer to a create) as a provider Job."""
    jid = str(data.get("id") or job_id or "")
    status = str(data.get("status") or "queued").lower()  # a create answers the id alone
    content = data.get("content") or {}
    if status in COMPLETED:
        if not content.get("video_url"):
            return Job(jid, "failed", error_code="no_video_url", raw=data,
                       error="ModelArk reported the task succeeded but gave no content.video_url")
        return Job(jid, "completed", video_url=str(content["video_url"]),
                   last_frame_url=content.get("last_frame_url") or None, seconds=_task_seconds(data), raw=data)
    if status in FAILED:
        err = data.get("error") or {}
        message = err.get("message") if isinstance(err, dict) else None
        code = err.get("code") if isinstance(err, dict) else None
        return Job(jid, "failed", error=str(message or f"ModelArk reported the task {status} without a reason"),
                   error_code=str(code or status), raw=data)
    return Job(jid, "running", raw=data)


def _task_seconds(data: dict[str, Any]) -> float | None:
    """How long a finished task ran by ModelArk's clock: `updated_at - created_at`, Unix seconds
    [confirmed: SDK task fields; that `updated_at` is the finish time is inferred]."""
    a, b = data.get("created_at"), data.get("updated_at")
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool) and b >= a:
        return float(b - a)
    return None


def token_count(width: int, height: int, seconds: int) -> int:
    """ModelArk's `usage.completion_tokens` for a clip: W*H*(24*seconds + 1)/1024, which
    reproduces the real fixture in the reference (864x480, 2 s -> 19845) [derived]."""
    return width * height * (24 * seconds + 1) // 1024
