"""The HTTP runtime every job-API vendor shares: create once, poll, download, never pay twice.

A vendor module subclasses `JobApiProvider` and says only what is its own: its label, key
variable, URLs (`create_target`, `job_url`), how a job answer reads (`parse_job`), how an error
answer reads (`error_detail`), its hints, and which create statuses are refused or in doubt.
This class does the rest:

- `create` posts exactly once. `ProviderError(retryable=True)` only when an answer proves
  nothing was created (a refused connection, a status in `create_retryable`, or one in
  `create_retryable_with_retry_after` that says when to come back); `AmbiguousSubmit` when the
  request may have arrived (the connection dropped after sending, a status in
  `create_ambiguous`, a 2xx without a job id). A create is never retried here.
- `get` and `download` are idempotent, so they retry on their own (jittered backoff, honouring
  Retry-After up to `MAX_RETRY_AFTER`).
- The key is sent only to the API's origin, per request (never a client default, so it cannot
  follow a download to another host), and every message is scrubbed by `ProviderError`.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import logging
import os
import random
import ssl
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..credentials import read_key, remember_url_credentials, scrub, secret_problem
from .base import AmbiguousSubmit, Job, MediaKind, Provider, ProviderError
from .inline import image_data_uri

log = logging.getLogger("storyboard.providers.http")

MAX_DOWNLOAD_BYTES = 2 * 2**30
MAX_FRAME_BYTES = 50 * 2**20
MAX_RETRY_AFTER = 60.0  # like the vendors' SDKs: a longer Retry-After is left to the caller
GET_RETRYABLE = {408, 429, 500, 502, 503, 504}
URL_GONE = {403, 404, 410}
IMAGE_HEADS = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF")  # PNG, JPEG, WebP
HEAD_BYTES = 12  # enough of a file to tell what it is


class JobApiProvider(Provider):
    """A vendor whose API creates a job, answers its status by id and hands out a video URL."""

    paid = True
    key_variable = "API_KEY"          # the environment variable of the key
    key_noun = "API key"              # how messages name the key
    base_url_variable = "BASE_URL"    # the environment variable that overrides the base URL
    default_base_url = ""
    auth_scheme = "Bearer"
    hints: dict[int, str] = {}        # HTTP status -> what the user can do about it
    needs_url_hint = ""  # said after "local files cannot be sent": how this provider could send them
    job_noun = "job"                  # how messages name a job ("prediction", "request")
    id_field = "id"                   # the answer field a job is known by
    in_doubt = "the job may exist and be billed"
    # Which error answers to a create prove nothing was made, and which leave it in doubt.
    create_retryable: Collection[int] = frozenset({408, 429})
    create_retryable_with_retry_after: Collection[int] = frozenset()
    create_ambiguous: Collection[int] = frozenset(range(500, 600))

    def __init__(self, *, api_key: str | None = None, base_url: str | None = None,
                 timeout: float = 60.0, connect_timeout: float = 10.0, get_attempts: int = 6,
                 backoff: tuple[float, float] = (0.5, 8.0),
                 max_download_bytes: int = MAX_DOWNLOAD_BYTES, **_: Any):
        self.api_key = read_key(self.key_variable, api_key)
        self.base_url = (base_url or os.environ.get(self.base_url_variable) or self.default_base_url).rstrip("/")
        remember_url_credentials(self.base_url)
        self.timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self.get_attempts = max(1, get_attempts)
        self.backoff = backoff
        self.max_download_bytes = max_download_bytes
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # ---- what a vendor fills in ----
    def create_target(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Where a create is posted and the JSON it sends."""
        raise NotImplementedError

    def job_url(self, job_id: str) -> str:
        raise NotImplementedError

    def parse_job(self, data: dict[str, Any], job_id: str | None = None) -> Job | None:
        """The vendor's answer (to a create or a get) as a Job; None when it is not one."""
        raise NotImplementedError

    def error_detail(self, resp: httpx.Response) -> tuple[str, str | None]:
        """The message and code of an error answer."""
        return error_detail(resp)

    # ---- run time ----
    def resolve_media(self, kind: MediaKind, *, path: Path | None, url: str | None) -> str:
        """Images inline as data URIs (the APIs fetch nothing from this machine); videos and
        audios by an http(s) URL they can download, or a local file the vendor can host."""
        if kind == "image" and path is not None:
            return image_data_uri(path)
        if url and urlsplit(url).scheme in ("http", "https"):
            return url
        hosted = self.hosted_url(path) if path is not None else None
        if hosted:
            return hosted
        raise ProviderError(f"{self.label} needs a public http(s) URL for {kind} inputs "
                            f"({path or url or 'none given'}); local {kind} files cannot be sent"
                            + self.needs_url_hint, code="needs_url")

    def hosted_url(self, path: Path) -> str | None:
        """A URL for a local file, where the vendor (or a bucket) can host it; None otherwise."""
        return None

    def credential_problem(self) -> str | None:
        if not self.api_key:
            return (f"the {self.name} provider needs an {self.key_noun}: set {self.key_variable} "
                    "(or use --provider preview, which is free and offline)")
        return secret_problem(self.key_variable, self.api_key)

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
            raise self._bad_base_url(exc) from exc
        except httpx.LocalProtocolError as exc:
            # h11 checks the request line and headers before writing a byte of them, and a body
            # it refuses midway is incomplete, so the server cannot have acted on it.
            raise ProviderError(f"the create request was refused on this machine before it was sent "
                                f"({_describe(exc)})", code="not_sent") from exc
        except httpx.TransportError as exc:
            raise AmbiguousSubmit(
                f"the create request failed after it may have reached {self.label} ({_describe(exc)}); "
                f"{self.in_doubt}, so it is not retried", code="ambiguous") from exc
        if resp.is_success:
            job = self._job_or_none(resp)
            if job is None:
                raise AmbiguousSubmit(f"{self.label} accepted the create request (HTTP {resp.status_code}) "
                                      "but its answer has no job id", status=resp.status_code, code="ambiguous")
            log.info("%s: created job %s", self.name, job.id)
            return job
        retryable, ambiguous = self.create_outcome(resp)
        raise self._error(resp, "create", retryable=retryable, ambiguous=ambiguous)

    def create_outcome(self, resp: httpx.Response) -> tuple[bool, bool]:
        """(retryable, ambiguous) for a create's error answer, by this vendor's status sets."""
        return create_outcome(resp, self.create_retryable, self.create_retryable_with_retry_after,
                              self.create_ambiguous)

    def _create_request(self, body: dict[str, Any]) -> httpx.Request:
        """The create request, built in full before anything is sent: whatever fails here (the
        key, a header, the body) is a plain refusal, never mistaken for a failed send."""
        headers = {**self._auth(), "Content-Type": "application/json"}
        url, payload = self.create_target(body)
        try:
            content = json.dumps(payload, ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise ProviderError(f"the request body is not valid JSON: {exc}", code="bad_body") from exc
        try:
            return self._http().build_request("POST", url, content=content, headers=headers)
        except httpx.UnsupportedProtocol as exc:
            raise self._bad_base_url(exc) from exc
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:  # UnicodeEncodeError is a ValueError
            raise ProviderError(f"cannot build the create request: {_describe(exc)}", code="not_sent") from exc

    async def get(self, job_id: str) -> Job:
        what = f"{self.job_noun} {job_id}"
        resp = await self._get_answer(self.job_url(job_id), what)
        job = self._job_or_none(resp, job_id)
        if job is None:
            raise ProviderError(f"{self.label}'s answer for {what} is not a {self.job_noun}",
                                status=resp.status_code, code="bad_answer", retryable=True)
        return job

    async def download(self, job: Job, dest: Path) -> None:
        """Stream the video to `dest`. A gone URL raises ProviderError(code="expired"): get the
        job again for a fresh URL. Network errors and 5xx are retried here."""
        if not job.video_url:
            raise ProviderError(f"job {job.id} has no video URL", code="no_video_url")
        await self._download_to(job, job.video_url, Path(dest), self._save_video, "video")

    async def download_last_frame(self, job: Job, dest: Path) -> bool:
        if not job.last_frame_url:
            return False
        await self._download_to(job, job.last_frame_url, Path(dest), self._save_image, "last frame")
        return True

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
            self._client = httpx.AsyncClient(timeout=self.timeout, verify=shared_ssl_context(),
                                             headers={"User-Agent": f"storyboard ({self.name} provider)"})
            self._client_loop = loop
        return self._client

    def _auth(self) -> dict[str, str]:
        problem = self.credential_problem()
        if problem:
            raise ProviderError(problem, code="no_api_key" if not self.api_key else "bad_api_key")
        return {"Authorization": f"{self.auth_scheme} {self.api_key}"}

    def _bad_base_url(self, exc: Exception) -> ProviderError:
        return ProviderError(f"bad {self.label} base URL {self.base_url!r}: {exc}", code="config")

    def _job_or_none(self, resp: httpx.Response, job_id: str | None = None) -> Job | None:
        """The job in a successful answer, or None when the answer holds no job."""
        data = _json_object(resp)
        if data is None or not (data.get(self.id_field) or job_id):
            return None
        return self.parse_job(data, job_id)

    async def _get_answer(self, url: str, what: str) -> httpx.Response:
        """A successful answer to a GET (retried); a 404 or another refusal raises."""
        resp = await self._get_with_retries(url, self._auth(), what=what)
        if resp.status_code == 404:
            raise ProviderError(f"{self.label} does not know {what} (HTTP 404)", status=404, code="not_found")
        if not resp.is_success:
            raise self._error(resp, f"get {what}", retryable=False)
        return resp

    def _error(self, resp: httpx.Response, action: str, *, retryable: bool,
               ambiguous: bool = False) -> ProviderError:
        message, code = self.error_detail(resp)
        status = resp.status_code
        hint = self.hints.get(status)
        text = f"{self.label} refused to {action}: HTTP {status}: {message}" + (f" ({hint})" if hint else "")
        if ambiguous:
            text += f"; {self.in_doubt}, so it is not retried"
        cls = AmbiguousSubmit if ambiguous else ProviderError
        return cls(text, status=status, code=code, retryable=retryable and not ambiguous,
                   retry_after=retry_after(resp.headers) if retryable else None)

    async def _pause(self, delay: float, wait: float | None, what: str, attempt: int) -> float:
        """Sleep a jittered `delay` (or the server's Retry-After if longer); return the next delay."""
        wait = max(wait or 0.0, delay * random.uniform(0.8, 1.2))
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
                raise self._bad_base_url(exc) from exc
            except httpx.TransportError as exc:
                reason, resp = _describe(exc), None
            else:
                if resp.status_code not in GET_RETRYABLE:
                    return resp
                reason, wait = f"HTTP {resp.status_code}", retry_after(resp.headers)
            if attempt == self.get_attempts or (wait or 0) > MAX_RETRY_AFTER:
                break
            delay = await self._pause(delay, wait, f"{what}: {reason}", attempt)
        if resp is not None:
            raise self._error(resp, f"get {what}", retryable=True)
        raise ProviderError(f"cannot get {what} from {self.label} after {attempt} attempts: {reason}",
                            code="network", retryable=True)

    async def _download_to(self, job: Job, url: str, dest: Path, save: Any, what: str) -> None:
        headers = self._auth() if _same_origin(url, self.base_url) and self.api_key else {}
        dest.parent.mkdir(parents=True, exist_ok=True)
        delay, reason = self.backoff[0], ""
        for attempt in range(1, self.get_attempts + 1):
            try:
                await self._fetch(job, url, dest, headers, save, what)
                return
            except _Transient as exc:
                reason, wait = str(exc), exc.retry_after
            dest.unlink(missing_ok=True)
            if attempt == self.get_attempts or (wait or 0) > MAX_RETRY_AFTER:
                break
            delay = await self._pause(delay, wait, f"download of job {job.id}: {reason}", attempt)
        raise ProviderError(f"downloading the {what} of job {job.id} failed after {attempt} attempts: {reason}",
                            code="download", retryable=True)

    async def _fetch(self, job: Job, url: str, dest: Path, headers: dict[str, str], save: Any, what: str) -> None:
        host = urlsplit(url).netloc  # never the full URL: signed URLs are credentials
        try:
            async with self._http().stream("GET", url, headers=headers, follow_redirects=True) as resp:
                if resp.status_code in URL_GONE:
                    raise ProviderError(f"the {what} URL of job {job.id} (on {host}) has expired or is gone "
                                        f"(HTTP {resp.status_code}); get the job again for a fresh URL",
                                        status=resp.status_code, code="expired")
                if resp.status_code in GET_RETRYABLE:
                    raise _Transient(f"HTTP {resp.status_code}", retry_after(resp.headers))
                if not resp.is_success:
                    raise ProviderError(f"downloading the {what} of job {job.id} from {host} failed: "
                                        f"HTTP {resp.status_code}", status=resp.status_code, code="download")
                await save(job, resp, dest)
        except httpx.TransportError as exc:
            raise _Transient(_describe(exc)) from exc
        except ProviderError:
            dest.unlink(missing_ok=True)
            raise

    async def _save_video(self, job: Job, resp: httpx.Response, dest: Path) -> None:
        await _save_capped(job, resp, dest, self.max_download_bytes, "video",
                           lambda head: _check_video_head(job, head, resp))

    async def _save_image(self, job: Job, resp: httpx.Response, dest: Path) -> None:
        await _save_capped(job, resp, dest, MAX_FRAME_BYTES, "last frame", lambda head: _check_image_head(job, head))


async def _save_capped(job: Job, resp: httpx.Response, dest: Path, cap: int, what: str,
                       check_head: Callable[[bytes], None]) -> None:
    """Write the body to `dest`, at most `cap` bytes. Its head is checked as soon as it has
    arrived, so a page of HTML served in place of a 2 GB video is refused at once."""
    length = resp.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > cap:
        raise ProviderError(f"the {what} of job {job.id} is {int(length)} bytes, over the {cap}-byte cap",
                            code="too_large")
    total, head = 0, b""
    with dest.open("wb") as f:
        async for chunk in resp.aiter_bytes(1 << 20):
            if len(head) < HEAD_BYTES:
                head += chunk[:HEAD_BYTES - len(head)]
                if len(head) == HEAD_BYTES:
                    check_head(head)
            total += len(chunk)
            if total > cap:
                raise ProviderError(f"the {what} of job {job.id} exceeds the {cap}-byte cap", code="too_large")
            f.write(chunk)
    if len(head) < HEAD_BYTES:
        check_head(head)


def _check_video_head(job: Job, head: bytes, resp: httpx.Response) -> None:
    if head[4:8] == b"ftyp" or head[:4] == b"\x1a\x45\xdf\xa3":  # MP4/MOV, WebM/Matroska
        return
    kind = resp.headers.get("Content-Type", "unknown type")
    raise ProviderError(f"the file served for job {job.id} is not an MP4 or WebM video "
                        f"({kind}, starts with {head[:12]!r})", code="bad_content")


def _check_image_head(job: Job, head: bytes) -> None:
    if not head.startswith(IMAGE_HEADS):
        raise ProviderError(f"the last frame served for job {job.id} is not a PNG, JPEG or WebP image "
                            f"(starts with {head[:8]!r})", code="bad_content")


class _Transient(Exception):
    """A download failure worth another attempt (a dropped connection, a 5xx)."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """httpx's own default verification (certifi's bundle, or SSL_CERT_FILE / SSL_CERT_DIR),
    built once per process: building it reads the whole CA bundle, ~0.1 s with the event loop
    blocked, and every render (a new loop) makes a new client."""
    return httpx.create_ssl_context()


# ---- answers every vendor reads alike ----------------------------------------------------------

def create_outcome(resp: httpx.Response, retryable: Collection[int], with_retry_after: Collection[int],
                   ambiguous: Collection[int]) -> tuple[bool, bool]:
    """(retryable, ambiguous) for a create's error answer. Retryable only when the answer proves
    that no job was made (so sending it again cannot pay twice): a status in `retryable`, or one
    in `with_retry_after` that says when to come back. Otherwise in doubt when in `ambiguous`."""
    status = resp.status_code
    refused = status in retryable or (status in with_retry_after and retry_after(resp.headers) is not None)
    return refused, not refused and status in ambiguous


def error_detail(resp: httpx.Response) -> tuple[str, str | None]:
    """The message and code of any of the common error shapes: {"error": {...}},
    {"error": "..."}, {"message": ...}, or plain text."""
    data = _json_object(resp)
    if data is not None:
        err = data.get("error")
        if isinstance(err, dict) and (err.get("message") or err.get("code")):
            return str(err.get("message") or err.get("code")), _str_or_none(err.get("code") or err.get("type"))
        if isinstance(err, str) and err:
            return err, _str_or_none(data.get("code"))
        if data.get("message"):
            return str(data["message"]), _str_or_none(data.get("code"))
    return plain_text(resp), None


def plain_text(resp: httpx.Response) -> str:
    """The start of an answer's body as text, or its reason phrase."""
    text = resp.text.strip()[:300] if resp.content else ""
    return text or resp.reason_phrase or "no details"


def retry_after(headers: httpx.Headers) -> float | None:
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


def number_or_none(value: Any) -> float | None:
    """A number in an answer (a cost, a duration), or None when it is absent or not one."""
    if isinstance(value, bool):
        return None
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _json_object(resp: httpx.Response) -> dict[str, Any] | None:
    try:
        data = resp.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)
