"""Seedance 2.0 on Together: `POST /v2/videos`, `GET /v2/videos/{id}`, Bearer TOGETHER_API_KEY.

Run time: one httpx.AsyncClient per provider. `create` posts exactly once and classifies the
failure (retryable only when an answer proves nothing was created; `AmbiguousSubmit` when the
request may have been received); `get` and `download` are idempotent and retry on their own.
The API key is sent only to the API's origin and never appears in messages, reprs or logs.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import email.utils
import io
import json
import logging
import math
import os
import random
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from .. import config
from ..config import Sourced
from ..credentials import key_source, read_key, remember_url_credentials, scrub, secret_problem
from ..plan import DEFAULT_SECONDS
from .base import AmbiguousSubmit, ClipSpec, Job, MediaKind, Price, ProviderError
from .seedance import DOCS_FIELDS, LIMITS, OPENAPI_FIELDS, PIXELS, SeedanceProvider, media_lists

log = logging.getLogger("storyboard.providers.together")

DEFAULT_BASE_URL = "https://api.together.ai"
API_KEY_VARIABLE = "TOGETHER_API_KEY"

# $/second from the Seedance 2.0 page. Video inputs are billed "from" the second row.
PRICES = {
    "text": {"480p": 0.07, "720p": 0.16},
    "video": {"480p": 0.13, "720p": 0.28},
}
# Seedance 2.0 takes at most 15 s of reference video in all: with the input seconds billed too,
# the most a video-input clip can cost is (15 + output seconds) at the video-input rate.
MAX_INPUT_VIDEO_SECONDS = 15

# The two spellings of the audio fields (see seedance.py): the Seedance page's, and the OpenAPI
# spec's and SDK's. We cannot see which one the server honours, so the user picks.
FIELD_DIALECTS = {"page": DOCS_FIELDS, "docs": DOCS_FIELDS, "openapi": OPENAPI_FIELDS}
FIELDS_VARIABLE = config.DEFAULTS["together_fields"]

MAX_DOWNLOAD_BYTES = 2 * 2**30
MAX_RETRY_AFTER = 60.0  # like the SDK: a longer Retry-After is left to the caller
CREATE_RETRYABLE = frozenset({408, 429})  # answers that prove nothing was created
# A 503 is a refusal only when it says when to come back (an overloaded server shedding load);
# a bare 503, like a 500, 502 or 504, may come from behind a server that already made the job.
CREATE_RETRYABLE_WITH_RETRY_AFTER = frozenset({503})
CREATE_AMBIGUOUS = frozenset(range(500, 600))  # any other 5xx: the job may exist
GET_RETRYABLE = {408, 429, 500, 502, 503, 504}
URL_GONE = {403, 404, 410}
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


class TogetherProvider(SeedanceProvider):
    """Together's dialect, and the HTTP transport other hosted-Seedance vendors share (fal and
    replicate subclass it): one client per event loop, one create classified as refused /
    retryable / in doubt, GETs retried with Retry-After, capped streamed downloads."""

    name = "together"
    label = "Together"  # how messages name the vendor (a subclass reusing this runtime renames it)
    paid = True
    create_retryable = CREATE_RETRYABLE
    create_retryable_with_retry_after = CREATE_RETRYABLE_WITH_RETRY_AFTER
    create_ambiguous = CREATE_AMBIGUOUS
    limits = dataclasses.replace(LIMITS, local_media=frozenset({"image"}))  # images inline; video/audio need URLs
    hosts_files = True  # with a bucket (`host`), local videos and audios are uploaded and sent as URLs
    host: Any = None  # the S3Host, once one is named
    _host_problem: str | None = None

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None,
                 field_names: str | None = None, timeout: float = 60.0, connect_timeout: float = 10.0,
                 get_attempts: int = 6, backoff: tuple[float, float] = (0.5, 8.0),
                 max_download_bytes: int = MAX_DOWNLOAD_BYTES, host: Any = None, **_: Any):
        self.api_key = read_key(API_KEY_VARIABLE, api_key)
        self.base_url = (base_url or os.environ.get("TOGETHER_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        remember_url_credentials(self.base_url)
        # where each setting came from (an option, its variable, the config file), for `plan`
        self.sources: dict[str, str] = {"key": key_source(API_KEY_VARIABLE) if api_key is None else "given"}
        dialect = _sourced(field_names, "--together-fields", "together_fields")
        self.field_dialect = (dialect.value if dialect else "page").strip().lower()
        self.sources["together_fields"] = dialect.source if dialect else "default"
        self.fields = FIELD_DIALECTS.get(self.field_dialect, DOCS_FIELDS)
        self._setup_transport(timeout, connect_timeout, get_attempts, backoff, max_download_bytes)
        self._base_host = _sourced(host, "--host", "host")
        self._use_host(self._base_host)

    def _setup_transport(self, timeout: float, connect_timeout: float, get_attempts: int,
                         backoff: tuple[float, float], max_download_bytes: int) -> None:
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self.get_attempts = max(1, get_attempts)
        self.backoff = backoff
        self.max_download_bytes = max_download_bytes
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"TogetherProvider(base_url={self.base_url!r})"

    # ---- compile time ----
    def price(self, spec: ClipSpec) -> Price:
        tier = spec.resolution
        if spec.width and spec.height:
            tier = _tier_for_pixels(spec.width * spec.height)
        return _price(tier, spec.seconds, spec.has_video_input)

    def quote(self, body: dict[str, Any], tier: str | None = None) -> Price:
        return price_body(body, tier)

    # ---- run time ----
    def resolve_media(self, kind: MediaKind, *, path: Path | None, url: str | None) -> str:
        """Images go inline as data URIs (Together fetches nothing from this machine); videos
        and audios must already be reachable by URL, since there is no upload endpoint."""
        if kind == "image" and path is not None:
            return image_data_uri(path)
        if url and urlsplit(url).scheme in ("http", "https"):
            return url
        if path is not None and self.host is not None:
            return self._hosted(path)
        raise ProviderError(f"{self.label} needs a public http(s) URL for {kind} inputs "
                            f"({path or url or 'none given'}); local {kind} files cannot be sent "
                            "(name a bucket with --host s3://bucket/prefix to upload them)", code="needs_url")

    def setting_sources(self) -> dict[str, str]:
        return dict(getattr(self, "sources", {}))  # fal reuses the transport, not these settings

    def use_story_host(self, url: str | None) -> None:
        """The story's `host:` setting: it overrides STORYBOARD_HOST and the config file, and
        `--host` overrides it. None (a story without one) goes back to those."""
        if not self.hosts_files:  # fal reuses the transport, not the hosting
            return
        base = self._base_host
        if url and not (base and base.source == "--host"):
            self._use_host(Sourced(url, "the story's host:"))
        else:
            self._use_host(base)

    def _use_host(self, chosen: Sourced | None) -> None:
        """Host local videos and audios in this bucket (an S3Host or s3:// URL). A URL that is
        not a bucket's is reported before anything is sent (`credential_problem`)."""
        self.host, self._host_problem = _host(chosen)
        self.sources["host"] = chosen.source if chosen else "none"
        self.limits = type(self).limits
        if self.host is not None:  # a bucket carries videos and audios; images still go inline
            self.limits = dataclasses.replace(self.limits, local_media=frozenset({"image", "video", "audio"}))

    def prepare_inputs(self, files: list[tuple[MediaKind, Path]]) -> None:
        """Upload the local videos and audios to the bucket before any create."""
        if self.host is None:
            return
        for kind, path in files:
            if kind != "image":
                self._hosted(path)

    def _hosted(self, path: Path) -> str:
        from ..hosting import HostingError

        assert self.host is not None
        try:
            return self.host.url_for(path)
        except HostingError as exc:
            raise ProviderError(str(exc), code="hosting") from None

    def credential_problem(self) -> str | None:
        if self._host_problem:
            return self._host_problem
        if self.field_dialect not in FIELD_DIALECTS:  # checked before anything is sent, like the key
            return (f"unknown Together field dialect {self.field_dialect!r} (from "
                    f"{self.sources['together_fields']}): choose page or openapi")
        if not self.api_key:
            return (f"the {self.name} provider needs an API key: set {API_KEY_VARIABLE} "
                    "(or use --provider preview, which is free and offline)")
        return secret_problem(API_KEY_VARIABLE, self.api_key)

    async def create(self, body: dict[str, Any], *, workdir: Path | None = None, **_: Any) -> Job:
        """POST once. ProviderError(retryable=True) only when nothing can have been created;
        AmbiguousSubmit when the request may have arrived (never retry those blindly)."""
        request = self._create_request(body)
        try:
            resp = await self._http().send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError) as exc:
            raise ProviderError(f"cannot reach {self.label} at {self.base_url}: {_describe(exc)}",
                                code="connect", retryable=True) from exc
        except httpx.UnsupportedProtocol as exc:
            raise ProviderError(f"bad {self.label} base URL {self.base_url!r}: {exc}", code="config") from exc
        except httpx.LocalProtocolError as exc:
            # h11 checks the request line and headers before writing a byte of them, and a body
            # it refuses midway is incomplete, so the server cannot have acted on it.
            raise ProviderError(f"the create request was refused on this machine before it was sent "
                                f"({_describe(exc)})", code="not_sent") from exc
        except httpx.TransportError as exc:
            raise AmbiguousSubmit(
                f"the create request failed after it may have reached {self.label} ({_describe(exc)}); "
                "the job may exist and be billed, so it is not retried", code="ambiguous") from exc
        if resp.is_success:
            job = self._parse_job(resp)
            if job is None:
                raise AmbiguousSubmit(f"{self.label} accepted the create request (HTTP {resp.status_code}) "
                                      "but its answer has no job id", status=resp.status_code, code="ambiguous")
            log.info("%s: created job %s", self.name, job.id)
            return job
        refused = create_refused(resp, self.create_retryable, self.create_retryable_with_retry_after)
        raise self._error(resp, "create", retryable=refused,
                          ambiguous=not refused and resp.status_code in self.create_ambiguous)

    def _create_request(self, body: dict[str, Any]) -> httpx.Request:
        """The create request, built in full before anything is sent: whatever fails here (the
        key, a header, the body) is a plain refusal, never mistaken for a failed send."""
        headers = {**self._auth(), "Content-Type": "application/json"}
        url, body = self._create_target(body)
        try:
            content = json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise ProviderError(f"the request body is not valid JSON: {exc}", code="bad_body") from exc
        try:
            return self._http().build_request("POST", url, content=content,
                                              headers=headers)
        except httpx.UnsupportedProtocol as exc:
            raise ProviderError(f"bad {self.label} base URL {self.base_url!r}: {exc}", code="config") from exc
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            raise ProviderError(f"cannot build the create request: {_describe(exc)}", code="not_sent") from exc

    def _create_target(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Where a create is posted and the JSON it sends."""
        return f"{self.base_url}/v2/videos", body

    async def get(self, job_id: str) -> Job:
        headers = self._auth()
        resp = await self._get_with_retries(f"{self.base_url}/v2/videos/{quote(job_id, safe='')}",
                                            headers, what=f"job {job_id}")
        if resp.status_code == 404:
            raise ProviderError(f"Together does not know job {job_id} (HTTP 404)", status=404, code="not_found")
        if not resp.is_success:
            raise self._error(resp, f"get job {job_id}", retryable=False)
        job = _job_or_none(resp, job_id)
        if job is None:
            raise ProviderError(f"Together's answer for job {job_id} is not a job", status=resp.status_code,
                                code="bad_answer", retryable=True)
        return job

    async def download(self, job: Job, dest: Path) -> None:
        """Stream the video to `dest`. A gone URL raises ProviderError(code="expired"): get the
        job again for a fresh URL. Network errors and 5xx are retried here."""
        if not job.video_url:
            raise ProviderError(f"job {job.id} has no video URL", code="no_video_url")
        headers = self._auth() if _same_origin(job.video_url, self.base_url) and self.api_key else {}
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        delay, reason = self.backoff[0], ""
        for attempt in range(1, self.get_attempts + 1):
            try:
                await self._fetch(job, dest, headers)
                return
            except _Transient as exc:
                reason, wait = str(exc), exc.retry_after
            dest.unlink(missing_ok=True)
            if attempt == self.get_attempts or (wait or 0) > MAX_RETRY_AFTER:
                break
            delay = await self._pause(delay, wait, f"download of job {job.id}: {reason}", attempt)
        raise ProviderError(f"downloading the video of job {job.id} failed after {attempt} attempts: {reason}",
                            code="download", retryable=True)

    async def aclose(self) -> None:
        client, loop = self._client, self._client_loop
        self._client = self._client_loop = None
        # A client from an earlier, finished loop has nothing left to close.
        if client is not None and loop is asyncio.get_running_loop():
            await client.aclose()

    # ---- helpers ----
    def _http(self) -> httpx.AsyncClient:
        # Created lazily so compile-time use opens nothing, and again under a new event loop
        # (pooled connections belong to the loop that opened them). The key is per request,
        # never a client default, so it cannot follow a download to another host.
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(timeout=self.timeout,
                                             headers={"User-Agent": f"storyboard ({self.name} provider)"})
            self._client_loop = loop
        return self._client

    def _auth(self) -> dict[str, str]:
        problem = self.credential_problem()
        if problem:
            raise ProviderError(problem, code="no_api_key" if not self.api_key else "bad_api_key")
        return {"Authorization": f"Bearer {self.api_key}"}

    def _parse_job(self, resp: httpx.Response, job_id: str | None = None) -> Job | None:
        """The job in a successful answer, or None when the answer holds no job."""
        return _job_or_none(resp, job_id)

    def _error(self, resp: httpx.Response, action: str, *, retryable: bool,
               ambiguous: bool = False) -> ProviderError:
        message, code = _error_detail(resp)
        status = resp.status_code
        hint = HINTS.get(status)
        text = f"Together refused to {action}: HTTP {status}: {message}" + (f" ({hint})" if hint else "")
        if ambiguous:
            text += "; the job may exist and be billed, so it is not retried"
        cls = AmbiguousSubmit if ambiguous else ProviderError
        return cls(text, status=status, code=code, retryable=retryable and not ambiguous,
                   retry_after=_retry_after(resp.headers) if retryable else None)

    async def _pause(self, delay: float, retry_after: float | None, what: str, attempt: int) -> float:
        """Sleep a jittered `delay` (or the server's Retry-After if longer); return the next delay."""
        wait = max(retry_after or 0.0, delay * random.uniform(0.8, 1.2))
        log.info("%s: %s; retrying in %.1f s (attempt %d/%d)", self.name, scrub(what), wait, attempt + 1,
                 self.get_attempts)
        await asyncio.sleep(wait)
        return min(delay * 2, self.backoff[1])

    async def _get_with_retries(self, url: str, headers: dict[str, str], *, what: str) -> httpx.Response:
        delay = self.backoff[0]
        for attempt in range(1, self.get_attempts + 1):
            wait: float | None = None
            try:
                resp = await self._http().get(url, headers=headers)
            except httpx.UnsupportedProtocol as exc:
                raise ProviderError(f"bad {self.label} base URL {self.base_url!r}: {exc}", code="config") from exc
            except httpx.TransportError as exc:
                reason, resp = _describe(exc), None
            else:
                if resp.status_code not in GET_RETRYABLE:
                    return resp
                reason, wait = f"HTTP {resp.status_code}", _retry_after(resp.headers)
            if attempt == self.get_attempts or (wait or 0) > MAX_RETRY_AFTER:
                break
            delay = await self._pause(delay, wait, f"{what}: {reason}", attempt)
        if resp is not None:
            raise self._error(resp, f"get {what}", retryable=True)
        raise ProviderError(f"cannot get {what} from {self.label} after {attempt} attempts: {reason}",
                            code="network", retryable=True)

    async def _fetch(self, job: Job, dest: Path, headers: dict[str, str]) -> None:
        assert job.video_url
        host = urlsplit(job.video_url).netloc  # never the full URL: signed URLs are credentials
        try:
            async with self._http().stream("GET", job.video_url, headers=headers, follow_redirects=True) as resp:
                if resp.status_code in URL_GONE:
                    raise ProviderError(f"the video URL of job {job.id} (on {host}) has expired or is gone "
                                        f"(HTTP {resp.status_code}); get the job again for a fresh URL",
                                        status=resp.status_code, code="expired")
                if resp.status_code in GET_RETRYABLE:
                    raise _Transient(f"HTTP {resp.status_code}", _retry_after(resp.headers))
                if not resp.is_success:
                    raise ProviderError(f"downloading the video of job {job.id} from {host} failed: "
                                        f"HTTP {resp.status_code}", status=resp.status_code, code="download")
                await self._save(job, resp, dest)
        except httpx.TransportError as exc:
            raise _Transient(_describe(exc)) from exc
        except ProviderError:
            dest.unlink(missing_ok=True)
            raise

    async def _save(self, job: Job, resp: httpx.Response, dest: Path) -> None:
        cap = self.max_download_bytes
        length = resp.headers.get("Content-Length")
        if length and length.isdigit() and int(length) > cap:
            raise ProviderError(f"the video of job {job.id} is {int(length)} bytes, over the {cap}-byte cap",
                                code="too_large")
        total, head = 0, b""
        with dest.open("wb") as f:
            async for chunk in resp.aiter_bytes(1 << 20):
                if len(head) < 12:
                    head += chunk[:12]
                    if len(head) >= 12:
                        _check_video_head(job, head, resp)
                total += len(chunk)
                if total > cap:
                    raise ProviderError(f"the video of job {job.id} exceeds the {cap}-byte cap", code="too_large")
                f.write(chunk)
        if len(head) < 12:
            _check_video_head(job, head, resp)


def _sourced(option: Any, option_name: str, default_name: str) -> Sourced | None:
    """An option given here, else its default from the environment or the config file."""
    if option is not None:
        return Sourced(option, option_name)
    return config.default(default_name)


def _host(chosen: Sourced | None) -> tuple[Any, str | None]:
    """The bucket to host local files in (from an S3Host or a URL), and the problem with it if
    it is not a bucket URL (reported before anything is sent)."""
    from ..hosting import S3Host

    if chosen is None or not chosen.value:
        return None, None
    if not isinstance(chosen.value, str):
        return chosen.value, None
    try:
        return S3Host(chosen.value), None
    except ValueError as exc:
        return None, f"{exc} (from {chosen.source})"


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


# ---- answers ---------------------------------------------------------------------------------

def job_from_answer(data: dict[str, Any], job_id: str | None = None) -> Job:
    """A Together job (the VideoJob shape, or the older VideoResource one) as a provider Job."""
    jid = str(data.get("id") or job_id or "")
    status = str(data.get("status") or "").lower()
    if status in COMPLETED:
        outputs = data.get("outputs") or {}
        cost = _number(outputs.get("cost"))
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
    """Whether an error answer to a create proves that no job was made (so sending it again
    cannot pay twice): a status in `retryable`, or one in `with_retry_after` that says when to
    come back. Any other 5xx may have made one: the create is in doubt."""
    status = resp.status_code
    return status in retryable or (status in with_retry_after and _retry_after(resp.headers) is not None)


def _job_or_none(resp: httpx.Response, job_id: str | None = None) -> Job | None:
    try:
        data = resp.json()
    except ValueError:
        return None
    if not isinstance(data, dict) or not (data.get("id") or job_id):
        return None
    return job_from_answer(data, job_id)


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


def _error_detail(resp: httpx.Response) -> tuple[str, str | None]:
    """The message and code of any of the error shapes seen: {"error": {...}}, {"error": "..."},
    {"message": ...}, or plain text."""
    try:
        data = resp.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and (err.get("message") or err.get("code")):
            return str(err.get("message") or err.get("code")), _str_or_none(err.get("code") or err.get("type"))
        if isinstance(err, str) and err:
            return err, _str_or_none(data.get("code"))
        if data.get("message"):
            return str(data["message"]), _str_or_none(data.get("code"))
    text = resp.text.strip()[:300] if resp.content else ""
    return text or resp.reason_phrase or "no details", None


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds from `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _check_video_head(job: Job, head: bytes, resp: httpx.Response) -> None:
    if head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3":  # MP4/MOV, WebM/Matroska
        return
    kind = resp.headers.get("Content-Type", "unknown type")
    raise ProviderError(f"the file served for job {job.id} is not an MP4 or WebM video "
                        f"({kind}, starts with {head[:12]!r})", code="bad_content")


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


# ---- prices ----------------------------------------------------------------------------------

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


# ---- inline images ---------------------------------------------------------------------------

MIME = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
MAX_INLINE_IMAGE = 4 * 2**20


def image_data_uri(path: Path, max_bytes: int = MAX_INLINE_IMAGE, *, max_side: int = 6000) -> str:
    """A `data:image/...;base64,` URI for a local image, at most `max_bytes` of image data.

    PNG/JPEG/WebP files that already fit are sent byte for byte (stable cache keys); others are
    re-encoded (other formats become PNG), with EXIF orientation applied, and downscaled until
    they fit. Raises ProviderError when the file is not an image or cannot be made to fit."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        data = path.read_bytes()
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            if fmt in MIME and len(data) <= max_bytes and max(img.size) <= max_side:
                return _data_uri(MIME[fmt], data)
            img.load()
            fmt = fmt if fmt in MIME else "PNG"
            data = _shrink(img, fmt, max_bytes, max_side, path)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ProviderError(f"{path}: not an image that can be sent inline ({exc})", code="bad_image") from exc
    return _data_uri(MIME[fmt], data)


def _shrink(img: Any, fmt: str, max_bytes: int, max_side: int, path: Path) -> bytes:
    from PIL import Image, ImageOps

    img = ImageOps.exif_transpose(img)
    scale = min(1.0, max_side / max(img.size))
    quality = 90
    for _ in range(16):
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        if min(size) < 16:
            break
        candidate = img if size == img.size else img.resize(size, Image.Resampling.LANCZOS)
        out = _encode(candidate, fmt, quality)
        if len(out) <= max_bytes:
            return out
        scale *= min(0.9, math.sqrt(max_bytes / len(out)) * 0.95)
        quality = max(70, quality - 5)
    raise ProviderError(f"{path}: cannot shrink the image under {max_bytes} bytes", code="bad_image")


def _encode(img: Any, fmt: str, quality: int) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, "JPEG", quality=quality, optimize=True)
    elif fmt == "WEBP":
        img.convert("RGBA" if "A" in img.getbands() else "RGB").save(buf, "WEBP", quality=quality, method=4)
    else:
        if img.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
            img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
        img.save(buf, "PNG", optimize=True)
    return buf.getvalue()


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
