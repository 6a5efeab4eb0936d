"""Seedance 2.0 on Replicate: predictions on `bytedance/seedance-2.0`, Bearer REPLICATE_API_TOKEN.

Where each fact comes from:
- [confirmed: the `replicate` client 1.0.7's source] the base URL `https://api.replicate.com` and
  its override `REPLICATE_BASE_URL`; `Authorization: Bearer <token>`; a create is
  `POST /v1/models/{owner}/{name}/predictions` with `{"input": {...}}`, a poll
  `GET /v1/predictions/{id}`; the statuses `starting`, `processing`, `succeeded`, `failed`,
  `canceled`; errors are RFC 7807 problem details (`type`, `title`, `status`, `detail`,
  `instance`); the client retries 429/503/504 on GETs only, never a POST, and sends no
  idempotency key; `Prefer: wait[=N]` holds a create open until the prediction finishes; the
  client's "base64" file strategy sends inputs as `data:` URIs, its default one uploads them with
  `files.create`: `POST /v1/files`, multipart, the bytes in the `content` part (with a file name
  and a type) and optional `metadata` (JSON), answered 201 with a file whose `urls.get` is what a
  model input takes (`replicate.run` sends exactly that).
- [confirmed: the client's recorded files cassette] a file answer holds `checksums.sha256` and
  `expires_at` (a day after `created_at`).
- [confirmed: the model's API page] the input fields and defaults, `duration` -1..15 (-1: the
  model picks), `aspect_ratio` with `adaptive`, at most 9 reference images, 3 reference videos
  and 3 reference audios (audios need an image or a video), first/last frame images not with
  reference images, `last_frame_image` only with `image`, the output a single URI, and the
  prompt naming references `[Image1]`, `[Video1]`, `[Audio1]`.
- [unconfirmed] the `resolution` values (Seedance's 480p/720p/1080p), the 4 s minimum
  (Seedance's), 422 as the status of an invalid input, size limits of `data:` URIs, and the
  price: no price was published on the page read, so estimates are "unknown", never a guess.

The HTTP runtime (one client per event loop, GET retries, download checks, the key kept to the
API's origin) is `http.JobApiProvider`'s; local videos and audios go to a named bucket, else to
Replicate's files API (`hosted.FileHosting`); what differs is here: the body, the URLs, the
prediction shape, the error shape, the files API, and which create answers prove nothing was
created.
We never send `Prefer: wait`: a create held open for a minute is a minute in which a dropped
connection leaves the prediction in doubt.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from .base import ClipSpec, Job, Limits, MediaKind, Price, ProviderError
from .hosted import FileHosting, Upload, VendorStorage, content_name, content_type, http_url, parse_time
from .http import JobApiProvider, create_outcome, number_or_none, plain_text
from .seedance import RATIOS, RESOLUTIONS, SeedanceProvider

log = logging.getLogger("storyboard.providers.replicate")

DEFAULT_BASE_URL = "https://api.replicate.com"
BASE_URL_VARIABLE = "REPLICATE_BASE_URL"  # the official client's own override
TOKEN_VARIABLE = "REPLICATE_API_TOKEN"

MODEL = "bytedance/seedance-2.0"
MODELS = (MODEL, "bytedance/seedance-2.0-fast")  # both have this input schema (their API pages)
MODEL_SETTINGS = {"seedance-2.0": MODEL, "seedance-2.0-fast": "bytedance/seedance-2.0-fast"}

LIMITS = Limits(
    max_reference_images=9, max_reference_videos=3, max_reference_audios=3, max_files=12,
    max_frame_images=2, min_prompt=2, max_prompt=3000, min_seconds=4, max_seconds=15,
    resolutions=RESOLUTIONS, ratios=RATIOS,
    # Images go inline as data URIs; videos and audios need URLs: a named bucket's, else the files API's.
    local_media=frozenset({"image"}),
    custom_size=False,  # the model takes `resolution` and `aspect_ratio` only
)

FILE_LIFETIME = 24 * 3600  # how long an uploaded file lives (its answers' expires_at, a day on)
UNKNOWN_PRICE = "Replicate publishes no Seedance 2.0 price that was read; cost unknown"
RUNNING = {"starting", "processing"}
FAILED = {"failed", "canceled"}
SUCCEEDED = "succeeded"
# A create answered 429 was throttled before anything ran; a 503 that names a Retry-After is
# the same refusal. Any other 5xx may come after the prediction was made: in doubt.
CREATE_REFUSED = frozenset({429})
CREATE_REFUSED_WITH_RETRY_AFTER = frozenset({503})
CREATE_AMBIGUOUS = frozenset(range(500, 600))
HINTS = {
    401: f"the token was refused; check {TOKEN_VARIABLE}",
    402: "payment required: add credit or a payment method to the Replicate account",
    403: "the token may not run this model",
    404: "check the base URL and the model name (owner/name)",
    413: "the request is too large; inline images must be smaller",
    422: "Replicate refused the input",
    429: "throttled",
}


class ReplicateFiles(VendorStorage):
    """Replicate's files API: the bytes posted (multipart) to `/v1/files` with the token; the
    answer's `urls.get` is the input, its `expires_at` when it goes. The answer's SHA-256 must
    be the file's: a damaged upload is never sent to a model."""

    label = "Replicate files"

    @property
    def origin(self) -> str:
        return urlsplit(self.provider.base_url).netloc

    def upload(self, path: Path, digest: str) -> Upload:
        started = time.time()
        with self.client() as client, open(path, "rb") as body:
            post = client.build_request(
                "POST", f"{self.provider.base_url}/v1/files", headers=self.provider._auth(),
                files={"content": (content_name(path, digest), body, content_type(path))},
                data={"metadata": json.dumps({"sha256": digest})})
            answer = self.answer(path, self.send(client, path, post, "upload"), "urls")
        url = (answer["urls"] or {}).get("get") if isinstance(answer["urls"], dict) else None
        if not http_url(url):
            raise self.error(path, "its answer holds no urls.get")
        checksum = (answer.get("checksums") or {}).get("sha256") if isinstance(answer.get("checksums"), dict) else None
        if checksum and checksum != digest:
            raise self.error(path, "the upload was damaged on the way (its SHA-256 did not match); run again")
        expires = parse_time(answer.get("expires_at"))  # a file without one is taken to live a day, as they do
        return Upload(str(url), expires if expires is not None else started + FILE_LIFETIME)


class ReplicateProvider(FileHosting, JobApiProvider, SeedanceProvider):
    name = "replicate"
    label = "Replicate"
    key_variable = TOKEN_VARIABLE
    key_noun = "API token"
    base_url_variable = BASE_URL_VARIABLE
    default_base_url = DEFAULT_BASE_URL
    hints = HINTS
    job_noun = "prediction"
    in_doubt = "the prediction may exist and be billed"
    create_retryable = CREATE_REFUSED
    create_retryable_with_retry_after = CREATE_REFUSED_WITH_RETRY_AFTER
    create_ambiguous = CREATE_AMBIGUOUS
    default_model = MODEL
    limits = LIMITS
    storage_class = ReplicateFiles

    def __init__(self, *, api_key: str | None = None, host: Any = None, **options: Any):
        super().__init__(api_key=api_key, **options)
        self._init_settings(api_key, host)

    # ---- compile time ----
    def model_id(self, model_setting: str | None) -> str:
        if not model_setting:
            return MODEL
        return MODEL_SETTINGS.get(model_setting, model_setting)

    def index_word(self, kind: MediaKind, n: int) -> str:
        return f"[{kind.capitalize()}{n}]"  # the model page's own words: [Image1], [Video2]

    def build_request(self, spec: ClipSpec) -> dict[str, Any]:
        """The prediction's `input` with the model beside it: `create` posts
        `{"input": body - model}` to the model's URL. The model stays in the plan's body so that
        the cache key changes with it."""
        if spec.width or spec.height:
            raise ProviderError("Replicate takes a resolution and an aspect ratio, not a pixel size",
                                code="custom_size")
        body: dict[str, Any] = {"model": spec.model, "prompt": spec.prompt, "duration": spec.seconds,
                                "resolution": spec.resolution, "aspect_ratio": spec.ratio,
                                "generate_audio": spec.audio}
        if spec.seed is not None:
            body["seed"] = spec.seed
        # The model has no negative prompt, so a story's `negative:` is not sent [model page].
        frames = {f.frame: f.source for f in spec.frame_images}
        if "first" in frames:
            body["image"] = frames["first"]
        if "last" in frames:
            body["last_frame_image"] = frames["last"]
        for name in ("reference_images", "reference_videos", "reference_audios"):
            if getattr(spec, name):
                body[name] = list(getattr(spec, name))
        return body

    def price(self, spec: ClipSpec) -> Price:
        return Price(None, UNKNOWN_PRICE)

    def quote(self, body: dict[str, Any], tier: str | None = None) -> Price:
        return Price(None, UNKNOWN_PRICE)

    # ---- run time ----
    def create_target(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        model = str(body.get("model") or MODEL)
        owner, _, name = model.partition("/")
        if not owner or not name or "/" in name:
            raise ProviderError(f"the Replicate model must be written owner/name, not {model!r}", code="config")
        url = f"{self.base_url}/v1/models/{quote(owner, safe='')}/{quote(name, safe='')}/predictions"
        return url, {"input": {k: v for k, v in body.items() if k != "model"}}

    def job_url(self, job_id: str) -> str:
        return f"{self.base_url}/v1/predictions/{quote(job_id, safe='')}"

    def parse_job(self, data: dict[str, Any], job_id: str | None = None) -> Job | None:
        return job_from_prediction(data, job_id)

    def error_detail(self, resp: httpx.Response) -> tuple[str, str | None]:
        return problem_detail(resp)


def _create_outcome(resp: httpx.Response) -> tuple[bool, bool]:
    """(retryable, ambiguous) for a create's error answer, by Replicate's rules."""
    return create_outcome(resp, CREATE_REFUSED, CREATE_REFUSED_WITH_RETRY_AFTER, CREATE_AMBIGUOUS)


# ---- answers ---------------------------------------------------------------------------------

def job_from_prediction(data: dict[str, Any], job_id: str | None = None) -> Job:
    """A Replicate prediction as a provider Job."""
    jid = str(data.get("id") or job_id or "")
    status = str(data.get("status") or "").lower()
    cost = number_or_none((data.get("metrics") or {}).get("cost"))  # not in the API today; kept if it comes
    if status == SUCCEEDED:
        url = _output_url(data.get("output"))
        if not url:
            return Job(jid, "failed", error_code="no_output", raw=data,
                       error="Replicate reported the prediction succeeded but gave no output URL")
        took = number_or_none((data.get("metrics") or {}).get("predict_time"))  # [reference §3b] seconds
        return Job(jid, "completed", video_url=url, cost=cost, seconds=took, raw=data)
    if status in FAILED:
        error = data.get("error")
        message = str(error) if error else f"Replicate reported the prediction {status} without a reason"
        return Job(jid, "failed", error=message, error_code=status, raw=data)
    if status not in RUNNING:
        log.warning("replicate: prediction %s has an unknown status %r; treating it as running", jid, status)
    return Job(jid, "running", raw=data)


def _output_url(output: Any) -> str | None:
    # The model's output schema is one URI; older models answer a list of them.
    if isinstance(output, list):
        output = output[-1] if output else None
    return output if isinstance(output, str) and output else None


def problem_detail(resp: httpx.Response) -> tuple[str, str | None]:
    """The message and code of a problem-details answer (or of plain text)."""
    try:
        data = resp.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and (data.get("detail") or data.get("title")):
        detail = " ".join(str(data.get("detail") or data.get("title")).split())
        return detail, (str(data["title"]) if data.get("title") else None)
    return plain_text(resp), None

