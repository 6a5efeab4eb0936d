"""Seedance 2.0 on fal.ai: the queue API, `Authorization: Key $FAL_KEY`.

What is confirmed and where (see the provider survey, §3, and the `fal-client` 1.0.3 source):
- [confirmed, fal docs] endpoints `bytedance/seedance-2.0/{text-to-video,image-to-video,
  reference-to-video}` and the same under `.../fast/...` (fast: 480p and 720p only); inputs
  `prompt`, `image_url`, `end_image_url`, `image_urls` (<= 9), `video_urls` (<= 3), `audio_urls`
  (<= 3, need an image or a video), <= 12 files, `duration` as text ("4".."15" or "auto"),
  `resolution`, `aspect_ratio`, `generate_audio`, `seed`; output `{"video": {"url": ...}, "seed"}`;
  prompts cite inputs as `@Image1`, `@Video1`, `@Audio1`.
- [confirmed, fal-client source + fal inference-API page] submit is `POST {queue}/{endpoint id}`
  answering `request_id`, `status_url`, `response_url`, `cancel_url`; status and result URLs use
  only the owner and the app (`{queue}/bytedance/seedance-2.0/requests/{id}[/status]`), which is
  how the client's own `get_handle(app, request_id)` rebuilds them, and how `get` does here (a
  job id is all the journal keeps); statuses `IN_QUEUE`, `IN_PROGRESS`, `COMPLETED` (a failed
  request is `COMPLETED` with `error` and `error_type`); the result URL answers with the model's
  own status and body, so a refused input is a 422 `{"detail": [{loc, msg, type}]}` there.
- [confirmed, fal docs] 720p prices, $0.3024/s standard and $0.2419/s fast, and fal's token
  formula (tokens = W x H x 24 x (input video seconds + output seconds) / 1024, x0.6 with video
  inputs), from which the other sizes follow. The input seconds are billed but not known here
  (a URL's video is never fetched), so a video-input clip is estimated, and `--max-cost`
  checked, at its upper bound: the 15 s of reference video Seedance takes at most, plus the
  output seconds, at the video-input rate.
- [confirmed, fal-client 1.0.3 source] storage: `fal_client.upload_file` tries the v3 CDN
  (a token from `POST {rest}/storage/auth/token?storage_type=fal-cdn-v3`, then the bytes to
  `POST https://v3.fal.media/files/upload`) and falls back to `POST {rest}/storage/upload/initiate
  ?storage_type=gcs` with `{"file_name", "content_type"}` answering `{"upload_url", "file_url"}`,
  then a `PUT` of the bytes to the signed `upload_url` (no key). The rest host is
  `https://rest.fal.ai`; `X-Fal-Object-Lifecycle-Preference: {"expiration_duration_seconds": N}`
  sets how long a file is kept [fal data-retention page]. We use the initiate flow: one host
  with the key, and an upload that either lands whole at the signed URL or not at all.
- [unconfirmed] a prompt length limit (fal states none; Together's 2..3000 is kept); whether
  fal fetches data URIs for videos (images are documented as URL or base64 data URI).

The transport (one client per loop, GET retries, streamed downloads, the create's refused /
retryable / in-doubt classification) is `http.JobApiProvider`'s; fal's URLs, auth, answers,
error shapes and which create answers are refused or in doubt are here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from .base import ClipSpec, Job, Limits, MediaKind, Price, ProviderError
from .hosted import FileHosting, Upload, VendorStorage, content_name, content_type, env_url, http_url
from .http import JobApiProvider, plain_text
from .seedance import LIMITS, MAX_INPUT_VIDEO_SECONDS, RATIOS, SeedanceProvider

log = logging.getLogger("storyboard.providers.fal")

DEFAULT_BASE_URL = "https://queue.fal.run"
API_KEY_VARIABLE = "FAL_KEY"
# Ours: fal-client's FAL_QUEUE_RUN_HOST names a host and always means https.
BASE_URL_VARIABLE = "FAL_QUEUE_URL"
APP = "bytedance/seedance-2.0"            # owner/app: where status and result live
FAST = f"{APP}/fast"
MODELS = {"seedance-2.0": APP, "seedance-2.0-fast": FAST, APP: APP, FAST: FAST}
MODES = ("text-to-video", "image-to-video", "reference-to-video")
RESOLUTIONS = {APP: ("480p", "720p", "1080p"), FAST: ("480p", "720p")}
ASPECT_RATIOS = ("auto", *RATIOS)

# fal's published 720p price per output second and its token formula (see the module notes).
PRICE_720P = {APP: 0.3024, FAST: 0.2419}
VIDEO_INPUT_DISCOUNT = 0.6
PIXELS_720P_16_9 = 1280 * 720

# fal's storage (see the module notes): where uploads start, and how long we ask it to keep a file.
DEFAULT_REST_URL = "https://rest.fal.ai"
REST_URL_VARIABLE = "FAL_REST_URL"  # ours, like FAL_QUEUE_URL
UPLOAD_INITIATE = "/storage/upload/initiate?storage_type=gcs"
KEEP_UPLOADS = 7 * 24 * 3600  # a week, like the bucket's presigned URLs

RUNNING = {"IN_QUEUE": "queued", "IN_PROGRESS": "running"}
HINTS = {
    401: f"the API key was refused; check {API_KEY_VARIABLE}",
    403: "the key may not use this model, or the account's balance is exhausted",
    404: "check the base URL and the model name",
    422: "fal refused the input",
    429: "rate limited (too many requests in flight)",
}


class FalStorage(VendorStorage):
    """fal's own storage: `POST {rest}/storage/upload/initiate` (with the key), then the bytes
    `PUT` to the signed URL it answers (without the key); the file's URL is `file_url`."""

    label = "fal storage"

    @property
    def origin(self) -> str:
        return urlsplit(self.provider.rest_url).netloc

    def upload(self, path: Path, digest: str) -> Upload:
        mime = content_type(path)
        lifecycle = json.dumps({"expiration_duration_seconds": KEEP_UPLOADS})
        headers = {**self.provider._auth(), "Accept": "application/json",
                   "X-Fal-Object-Lifecycle-Preference": lifecycle}
        with self.client() as client:
            started = time.time()
            start = client.build_request("POST", self.provider.rest_url + UPLOAD_INITIATE, headers=headers,
                                         json={"file_name": content_name(path, digest), "content_type": mime})
            answer = self.answer(path, self.send(client, path, start, "upload's start"), "upload_url", "file_url")
            if not (http_url(answer["upload_url"]) and http_url(answer["file_url"])):
                raise self.error(path, "its answer holds no http(s) upload_url and file_url")
            with open(path, "rb") as body:
                put = client.build_request("PUT", answer["upload_url"], content=body, headers={"Content-Type": mime})
                self.send(client, path, put, "upload")
        return Upload(str(answer["file_url"]), started + KEEP_UPLOADS)


class FalProvider(FileHosting, JobApiProvider, SeedanceProvider):
    name = "fal"
    label = "fal"
    key_variable = API_KEY_VARIABLE
    base_url_variable = BASE_URL_VARIABLE
    default_base_url = DEFAULT_BASE_URL
    auth_scheme = "Key"
    hints = HINTS
    id_field = "request_id"
    in_doubt = "the request may be queued and billed"
    default_model = APP
    # Images inline as data URIs; videos and audios need URLs: a named bucket's, else fal storage's.
    limits = dataclasses.replace(LIMITS, local_media=frozenset({"image"}))
    storage_class = FalStorage
    create_retryable = frozenset({408, 429})  # answers that say the queue took nothing
    # A 503 without Retry-After may come from a proxy in front of a queue that took the request.
    create_retryable_with_retry_after = frozenset({503})
    create_ambiguous = frozenset({500, 502, 503, 504})  # the request may be queued (and billed)

    def __init__(self, *, api_key: str | None = None, host: Any = None, rest_url: str | None = None,
                 **options: Any):
        super().__init__(api_key=api_key, **options)
        given = rest_url or env_url(REST_URL_VARIABLE)
        self.rest_url = (given or self._rest_beside_queue()).rstrip("/")
        self._rest_named = f"fal's storage URL (set {REST_URL_VARIABLE})" if given else \
            f"the fal base URL (--base-url or {BASE_URL_VARIABLE})"
        self._init_settings(api_key, host)

    def credential_problem(self) -> str | None:
        if self.storage is self.uploader and not http_url(self.rest_url):  # checked before anything is sent
            return f"{self._rest_named} must be an http(s) URL, not {self.rest_url!r}"
        return super().credential_problem()

    def _rest_beside_queue(self) -> str:
        """fal's rest host for fal's queue; for another queue (a proxy, the fake) the same origin,
        which serves both (FAL_REST_URL says otherwise)."""
        if self.base_url == DEFAULT_BASE_URL:
            return DEFAULT_REST_URL
        if not http_url(self.base_url):  # said before anything is sent (credential_problem)
            return self.base_url
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    # ---- compile time ----
    def model_id(self, model_setting: str | None) -> str:
        return MODELS.get(model_setting or "seedance-2.0", model_setting or APP)

    def limits_for(self, model: str) -> Limits:
        return dataclasses.replace(self.limits, resolutions=RESOLUTIONS.get(model, self.limits.resolutions))

    def index_word(self, kind: MediaKind, n: int) -> str:
        return f"@{kind.capitalize()}{n}"

    def build_request(self, spec: ClipSpec) -> dict[str, Any]:
        """`{"endpoint": fal endpoint id, "input": its arguments}`, as `fal_client.submit` takes them."""
        mode, media = _mode_and_media(spec)
        resolution, ratio = spec.resolution, spec.ratio
        if spec.width and spec.height:  # fal takes no pixel sizes: the nearest tier and ratio
            resolution, ratio = _tier_for_pixels(spec.width * spec.height), _nearest_ratio(spec.width, spec.height)
        arguments: dict[str, Any] = {"prompt": spec.prompt, **media, "duration": str(spec.seconds),
                                     "resolution": resolution or "720p", "aspect_ratio": ratio or "16:9",
                                     "generate_audio": spec.audio}
        if spec.seed is not None:
            arguments["seed"] = spec.seed
        return {"endpoint": f"{spec.model}/{mode}", "input": arguments}

    def price(self, spec: ClipSpec) -> Price:
        return price_body(self.build_request(spec))

    # ---- run time ----
    def create_target(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        endpoint = body.get("endpoint")
        if not isinstance(endpoint, str) or not isinstance(body.get("input"), dict):
            raise ProviderError("a fal request body is {\"endpoint\": ..., \"input\": {...}}", code="bad_body")
        return f"{self.base_url}/{endpoint.strip('/')}", body["input"]

    def parse_job(self, data: dict[str, Any], job_id: str | None = None) -> Job | None:
        return Job(str(data["request_id"]), "running", raw=data)  # a submit's answer: queued

    def error_detail(self, resp: httpx.Response) -> tuple[str, str | None]:
        return _error_detail(resp)

    async def get(self, job_id: str) -> Job:
        base = f"{self.base_url}/{APP}/requests/{quote(job_id, safe='')}"
        status = await self._answer(f"{base}/status", f"request {job_id}")
        state = str(status.get("status") or "")
        if state in RUNNING:
            return Job(job_id, "running", raw=status)
        if state != "COMPLETED":
            log.warning("fal: request %s has an unknown status %r; treating it as running", job_id, state)
            return Job(job_id, "running", raw=status)
        if status.get("error"):
            return Job(job_id, "failed", error=str(status["error"]), error_code=_str(status.get("error_type")),
                       raw=status)
        job = await self._result(base, job_id)
        metrics = status.get("metrics")
        took = metrics.get("inference_time") if isinstance(metrics, dict) else None
        if isinstance(took, (int, float)) and not isinstance(took, bool) and took >= 0:
            job.seconds = float(took)  # fal's own clock [unconfirmed: its status shape with metrics]
        return job

    async def _answer(self, url: str, what: str) -> dict[str, Any]:
        resp = await self._get_answer(url, what)
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ProviderError(f"fal's answer for {what} is not a JSON object", status=resp.status_code,
                                code="bad_answer", retryable=True)
        return data

    async def _result(self, base: str, job_id: str) -> Job:
        resp = await self._get_with_retries(base, self._auth(), what=f"the result of request {job_id}")
        if 400 <= resp.status_code < 500 and resp.status_code not in (401, 403, 404):
            message, code = _error_detail(resp)  # the model refused the input: the job failed
            return Job(job_id, "failed", error=message, error_code=code)
        if not resp.is_success:
            raise self._error(resp, f"get the result of request {job_id}", retryable=False)
        data = resp.json() if resp.content else {}
        video = (data.get("video") or {}) if isinstance(data, dict) else {}
        url = video.get("url") if isinstance(video, dict) else None
        if not url:
            return Job(job_id, "failed", error="fal completed the request but gave no video.url",
                       error_code="no_video_url", raw=data)
        return Job(job_id, "completed", video_url=str(url), raw=data)


# ---- bodies ----------------------------------------------------------------------------------

def _mode_and_media(spec: ClipSpec) -> tuple[str, dict[str, Any]]:
    """fal's endpoint for the clip and its media fields: frames go to image-to-video (which takes
    no references), references to reference-to-video, nothing to text-to-video."""
    refs = spec.reference_images or spec.reference_videos or spec.reference_audios
    if spec.frame_images:
        first = [f.source for f in spec.frame_images if f.frame == "first"]
        last = [f.source for f in spec.frame_images if f.frame == "last"]
        if refs or not first:
            raise ProviderError("fal's image-to-video takes a first frame (and optionally a last one) "
                                "and no references", code="unsupported")
        media: dict[str, Any] = {"image_url": first[0]}
        if last:
            media["end_image_url"] = last[0]
        return "image-to-video", media
    if refs:
        media = {}
        for name, values in (("image_urls", spec.reference_images), ("video_urls", spec.reference_videos),
                             ("audio_urls", spec.reference_audios)):
            if values:
                media[name] = list(values)
        return "reference-to-video", media
    return "text-to-video", {}


def _tier_for_pixels(pixels: int) -> str:
    if pixels <= 864 * 496:
        return "480p"
    return "720p" if pixels <= PIXELS_720P_16_9 else "1080p"


def _nearest_ratio(width: int, height: int) -> str:
    def distance(ratio: str) -> float:
        a, b = ratio.split(":")
        return abs(width / height - int(a) / int(b))
    return min(RATIOS, key=distance)


def price_body(body: dict[str, Any]) -> Price:
    """fal's price of a request body: its per-second 720p price scaled by pixels (the token
    formula). With video inputs, x0.6 on the input seconds plus the output seconds, the input
    counted at the most Seedance takes (15 s): the upper bound."""
    from .seedance import PIXELS

    endpoint = str(body.get("endpoint") or "")
    app = FAST if endpoint.startswith(FAST + "/") else APP if endpoint.startswith(APP + "/") else None
    arguments = body.get("input") or {}
    if app is None:
        return Price(None, f"fal publishes no Seedance 2.0 price for {endpoint or 'this endpoint'}; cost unknown")
    ratio = arguments.get("aspect_ratio")
    w, h = PIXELS.get(arguments.get("resolution") or "720p", {}).get(ratio if ratio in RATIOS else "16:9", (0, 0))
    seconds = str(arguments.get("duration") or "5")
    if not w or not seconds.isdigit():
        return Price(None, "fal's price depends on the size and duration, which this request leaves to the model")
    per_second = PRICE_720P[app] * w * h / PIXELS_720P_16_9
    if not arguments.get("video_urls"):
        return Price(round(per_second * int(seconds), 4))
    rate = per_second * VIDEO_INPUT_DISCOUNT
    usd = round(rate * (MAX_INPUT_VIDEO_SECONDS + int(seconds)), 4)
    return Price(usd, f"a video-input clip is estimated at its upper bound: up to {MAX_INPUT_VIDEO_SECONDS} s "
                      f"of input plus {seconds} s of output at ${rate:.4f}/s")


# ---- answers ---------------------------------------------------------------------------------

def _error_detail(resp: httpx.Response) -> tuple[str, str | None]:
    """fal's two error shapes: a model's `{"detail": [{loc, msg, type}, ...]}` and a request's
    `{"detail": "...", "error_type": "..."}` (also in `X-Fal-Error-Type`)."""
    try:
        data = resp.json()
    except ValueError:
        data = None
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, list) and detail:
        items = [d for d in detail if isinstance(d, dict)]
        parts = [_located(d) for d in items] or [str(d) for d in detail]
        return "; ".join(parts), _str(items[0].get("type")) if items else None
    code = _str(data.get("error_type")) if isinstance(data, dict) else None
    code = code or resp.headers.get("x-fal-error-type")
    if isinstance(detail, str) and detail:
        return detail, code
    return plain_text(resp), code


def _located(item: dict[str, Any]) -> str:
    loc = [str(p) for p in item.get("loc") or [] if p != "body"]
    msg = str(item.get("msg") or item.get("type") or "invalid")
    return f"{'.'.join(loc)}: {msg}" if loc else msg


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
