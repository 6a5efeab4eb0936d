"""Seedance 2.0 on Together: `POST /v2/videos`, `GET /v2/videos/{id}`, Bearer TOGETHER_API_KEY.

The transport (one create classified as refused / retryable / in doubt, GETs and downloads
retried, the key kept to the API's origin) is `http.JobApiProvider`'s; Together's URLs, answers,
prices, field dialects and bucket hosting are here.
"""

from __future__ import annotations

import dataclasses
import logging
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import httpx

from .. import config
from ..plan import DEFAULT_SECONDS
from .base import ClipSpec, Job, Price
from .hosted import FileHosting, sourced
from .http import JobApiProvider, create_outcome, number_or_none
from .seedance import (DOCS_FIELDS, LIMITS, MAX_INPUT_VIDEO_SECONDS, OPENAPI_FIELDS, PIXELS, SeedanceProvider,
                       media_lists)

log = logging.getLogger("storyboard.providers.together")

DEFAULT_BASE_URL = "https://api.together.ai"
API_KEY_VARIABLE = "TOGETHER_API_KEY"

# $/second from the Seedance 2.0 page. Video inputs are billed "from" the second row.
PRICES = {
    "text": {"480p": 0.07, "720p": 0.16},
    "video": {"480p": 0.13, "720p": 0.28},
}

# The two spellings of the audio fields (see seedance.py): the Seedance page's, and the OpenAPI
# spec's and SDK's. We cannot see which one the server honours, so the user picks.
FIELD_DIALECTS = {"page": DOCS_FIELDS, "docs": DOCS_FIELDS, "openapi": OPENAPI_FIELDS}
FIELDS_VARIABLE = config.DEFAULTS["together_fields"]

CREATE_RETRYABLE = frozenset({408, 429})  # answers that prove nothing was created
# A 503 is a refusal only when it says when to come back (an overloaded server shedding load);
# a bare 503, like a 500, 502 or 504, may come from behind a server that already made the job.
CREATE_RETRYABLE_WITH_RETRY_AFTER = frozenset({503})
CREATE_AMBIGUOUS = frozenset(range(500, 600))  # any other 5xx: the job may exist
RUNNING = {"queued", "in_progress", "pending", "running", "processing"}
COMPLETED = {"completed", "succeeded"}
FAILED = {"failed", "cancelled", "canceled", "expired", "error"}
HINTS = {
    401: "the API key was refused; check TOGETHER_API_KEY",
    402: "payment required: the account's credits or monthly spend limit are exhausted",
    403: "the API key may not use this model or endpoint",
    404: "check the base URL and the model name",
    413: "the request is too large; inline images must be smaller",
    429: "rate limited",
}


class TogetherProvider(FileHosting, JobApiProvider, SeedanceProvider):
    """Together's dialect on the shared job-API runtime, with its field dialects. Together has no
    storage of its own: local videos and audios need a bucket (`host`, see `hosted.FileHosting`)."""

    name = "together"
    label = "Together"
    needs_url_hint = " (name a bucket with --host s3://bucket/prefix to upload them)"
    key_variable = API_KEY_VARIABLE
    base_url_variable = "TOGETHER_BASE_URL"
    default_base_url = DEFAULT_BASE_URL
    hints = HINTS
    create_retryable = CREATE_RETRYABLE
    create_retryable_with_retry_after = CREATE_RETRYABLE_WITH_RETRY_AFTER
    create_ambiguous = CREATE_AMBIGUOUS
    limits = dataclasses.replace(LIMITS, local_media=frozenset({"image"}))  # images inline; video/audio need URLs

    def __init__(self, *, api_key: str | None = None, field_names: str | None = None, host: Any = None,
                 **options: Any):
        super().__init__(api_key=api_key, **options)
        # where each setting came from (an option, its variable, the config file), for `plan`
        self._init_settings(api_key, host)
        dialect = sourced(field_names, "--together-fields", "together_fields")
        self.field_dialect = (dialect.value if dialect else "page").strip().lower()
        self.sources["together_fields"] = dialect.source if dialect else "default"
        self.fields = FIELD_DIALECTS.get(self.field_dialect, DOCS_FIELDS)

    # ---- compile time ----
    def price(self, spec: ClipSpec) -> Price:
        tier = spec.resolution
        if spec.width and spec.height:
            tier = _tier_for_pixels(spec.width * spec.height)
        return _price(tier, spec.seconds, spec.has_video_input)

    def quote(self, body: dict[str, Any], tier: str | None = None) -> Price:
        return price_body(body, tier)

    # ---- run time ----
    def create_target(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return f"{self.base_url}/v2/videos", body

    def job_url(self, job_id: str) -> str:
        return f"{self.base_url}/v2/videos/{quote(job_id, safe='')}"

    def parse_job(self, data: dict[str, Any], job_id: str | None = None) -> Job | None:
        return job_from_answer(data, job_id)

    def credential_problem(self) -> str | None:
        if self.field_dialect not in FIELD_DIALECTS:  # checked before anything is sent, like the key
            return (f"unknown Together field dialect {self.field_dialect!r} (from "
                    f"{self.sources['together_fields']}): choose page or openapi")
        return super().credential_problem()


# ---- answers ---------------------------------------------------------------------------------

def job_from_answer(data: dict[str, Any], job_id: str | None = None) -> Job:
    """A Together job (the VideoJob shape, or the older VideoResource one) as a provider Job."""
    jid = str(data.get("id") or job_id or "")
    status = str(data.get("status") or "").lower()
    if status in COMPLETED:
        outputs = data.get("outputs") or {}
        cost = number_or_none(outputs.get("cost"))
        if not outputs.get("video_url"):
            return Job(jid, "failed", cost=cost, error_code="no_video_url", raw=data,
                       error="Together reported the job completed but gave no outputs.video_url")
        return Job(jid, "completed", video_url=str(outputs["video_url"]), cost=cost, raw=data)
    if status in FAILED:
        message, code = _failure(data, status)
        return Job(jid, "failed", error=message, error_code=code, raw=data)
    if status not in RUNNING:
        log.warning("together: job %s has an unknown status %r; treating it as running", jid, status)
    return Job(jid, "running", raw=data)



def create_refused(resp: httpx.Response, retryable: frozenset[int] = CREATE_RETRYABLE,
                   with_retry_after: frozenset[int] = CREATE_RETRYABLE_WITH_RETRY_AFTER) -> bool:
    """Whether an error answer to a create proves that no job was made (see
    `http.create_outcome`), by Together's rules unless told others."""
    return create_outcome(resp, retryable, with_retry_after, CREATE_AMBIGUOUS)[0]


def _failure(data: dict[str, Any], status: str) -> tuple[str, str | None]:
    err = data.get("error")
    if isinstance(err, dict) and err.get("message"):
        return str(err["message"]), _str_or_none(err.get("code"))
    if isinstance(err, str) and err:
        return err, None
    errors = (data.get("info") or {}).get("errors") or []  # the 2025-10 VideoResource shape
    messages = [str(e.get("message") or e) if isinstance(e, dict) else str(e) for e in errors]
    codes = [e.get("code") for e in errors if isinstance(e, dict) and e.get("code")]
    if messages:
        return "; ".join(messages), _str_or_none(codes[0] if codes else None)
    return f"Together reported the job {status} without a reason", status



def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


# ---- prices ----------------------------------------------------------------------------------

@lru_cache(maxsize=256)  # every clip asks; a film has a few tiers and lengths (a Price is frozen)
def _price(tier: str | None, seconds: int, video_input: bool) -> Price:
    rate = PRICES["video" if video_input else "text"].get(tier or "")
    if rate is None:
        return Price(None, f"Together publishes no Seedance 2.0 price for {tier or 'this size'}; cost unknown")
    if not video_input:
        return Price(round(rate * seconds, 4))
    # Together prices video input "from" its rate and does not say how input seconds count: the
    # estimate (and so --max-cost) is the most it can be, every input second billed too.
    usd = round(rate * (MAX_INPUT_VIDEO_SECONDS + seconds), 4)
    return Price(usd, f"a video-input clip is estimated at its upper bound: up to {MAX_INPUT_VIDEO_SECONDS} s "
                      f"of input plus {seconds} s of output at ${rate:.2f}/s")


def price_body(body: dict[str, Any], tier: str | None = None) -> Price:
    """The price of a request body (what `price` gives for its spec), or of the same body at
    another `tier`; the fake server bills with it."""
    if tier is None:
        tier = body.get("resolution") or "720p"
        if body.get("width") and body.get("height"):
            tier = _tier_for_pixels(int(body["width"]) * int(body["height"]))
    seconds = int(body.get("seconds") or DEFAULT_SECONDS)
    return _price(tier, seconds, bool(media_lists(body)["reference_videos"]))


def _tier_for_pixels(pixels: int) -> str:
    """The tier an explicit size is billed at: the smallest whose pixel table reaches it (the
    720p table's 1470x630 and 1112x834 have more pixels than 1280x720 and are still 720p)."""
    for tier in ("480p", "720p"):
        if pixels <= max(w * h for w, h in PIXELS[tier].values()):
            return tier
    return "1080p"


