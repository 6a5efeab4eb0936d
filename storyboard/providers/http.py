"""The HTTP runtime every job-API vendor shares: create once, poll, download, never pay twice.

A vendor module subclasses `JobApiProvider` and says only what is its own: its name, key
variable, URLs, how a job answer reads (`parse_job`) and what its error statuses mean. This
class does the rest, the way `together.py` does it (the model it was generalised from):

- `create` posts exactly once. `ProviderError(retryable=True)` only when an answer proves
  nothing was created (a refused connection, 408/429/500/502/503); `AmbiguousSubmit` when the
  request may have arrived (the connection dropped after sending, a gateway timeout, a 2xx
  without a job id). A create is never retried here.
- `get` and `download` are idempotent, so they retry on their own (jittered backoff, honouring
  Retry-After up to `MAX_RETRY_AFTER`).
- The key is sent only to the API's origin, per request (never a client default, so it cannot
  follow a download to another host), and every message is scrubbed by `ProviderError`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..credentials import read_key, remember_url_credentials, scrub, secret_problem
from .base import AmbiguousSubmit, Job, Provider, ProviderError
from .together import (
    CREATE_AMBIGUOUS,
    CREATE_RETRYABLE,
    GET_RETRYABLE,
    MAX_DOWNLOAD_BYTES,
    MAX_RETRY_AFTER,
    URL_GONE,
    _check_video_head,
    _describe,
    _error_detail,
    _retry_after,
    _same_origin,
)

log = logging.getLogger("storyboard.providers.http")

IMAGE_HEADS = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF")  # PNG, JPEG, WebP
MAX_FRAME_BYTES = 50 * 2**20


class JobApiProvider(Provider):
    """A vendor whose API creates a job, answers its status by id and hands out a video URL."""

    paid = True
    vendor = "the provider"           # how messages name the vendor
    key_variable = "API_KEY"          # the environment variable of the key
    base_url_variable = "BASE_URL"    # the environment variable that overrides the base URL
    default_base_url = ""
    auth_scheme = "Bearer"
    hints: dict[int, str] = {}        # HTTP status -> what the user can do about it

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
    def create_url(self, body: dict[str, Any]) -> str:
        raise NotImplementedError

    def job_url(self, job_id: str) -> str:
        raise NotImplementedError

    def parse_job(self, data: dict[str, Any], job_id: str | None = None) -> Job | None:
        """The vendor's answer (to a create or a get) as a Job; None when it is not one."""
        raise NotImplementedError

    # ---- run time ----
    def credential_problem(self) -> str | None:
        if not self.api_key:
            return (f"the {self.name} provider needs an API key: set {self.key_variable} "
                    "(or use --provider preview, which is free and offline)")
        return secret_problem(self.key_variable, self.api_key)

    async def create(self, body: dict[str, Any], *, workdir: Path | None = None, **_: Any) -> Job:
        """POST once. ProviderError(retryable=True) only when nothing can have been created;
        AmbiguousSubmit when the request may have arrived (never retry those blindly)."""
        request = self._create_request(body)
        try:
            resp = await self._http().send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError) as exc:
            raise ProviderError(f"cannot reach {self.vendor} at {self.base_url}: {_describe(exc)}",
                                code="connect", retryable=True) from exc
        except httpx.UnsupportedProtocol as exc:
            raise ProviderError(f"bad {self.vendor} base URL {self.base_url!r}: {exc}", code="config") from exc
        except httpx.LocalProtocolError as exc:  # refused by h11 before the request was complete
            raise ProviderError(f"the create request was refused on this machine before it was sent "
                                f"({_describe(exc)})", code="not_sent") from exc
        except httpx.TransportError as exc:
            raise AmbiguousSubmit(
                f"the create request failed after it may have reached {self.vendor} ({_describe(exc)}); "
                "the job may exist and be billed, so it is not retried", code="ambiguous") from exc
        if resp.is_success:
            job = self._job_or_none(resp)
            if job is None:
                raise AmbiguousSubmit(f"{self.vendor} accepted the create request (HTTP {resp.status_code}) "
                                      "but its answer has no job id", status=resp.status_code, code="ambiguous")
            log.info("%s: created job %s", self.name, job.id)
            return job
        status = resp.status_code
        raise self._error(resp, "create", retryable=status in CREATE_RETRYABLE,
                          ambiguous=status in CREATE_AMBIGUOUS)

    def _create_request(self, body: dict[str, Any]) -> httpx.Request:
        """Built in full before anything is sent: whatever fails here is a plain refusal."""
        headers = {**self._auth(), "Content-Type": "application/json"}
        try:
            content = json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            raise ProviderError(f"the request body is not valid JSON: {exc}", code="bad_body") from exc
        try:
            return self._http().build_request("POST", self.create_url(body), content=content, headers=headers)
        except httpx.UnsupportedProtocol as exc:
            raise ProviderError(f"bad {self.vendor} base URL {self.base_url!r}: {exc}", code="config") from exc
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise ProviderError(f"cannot build the create request: {_describe(exc)}", code="not_sent") from exc

    async def get(self, job_id: str) -> Job:
        resp = await self._get_with_retries(self.job_url(job_id), self._auth(), what=f"job {job_id}")
        if resp.status_code == 404:
            raise ProviderError(f"{self.vendor} does not know job {job_id} (HTTP 404)", status=404, code="not_found")
        if not resp.is_success:
            raise self._error(resp, f"get job {job_id}", retryable=False)
        job = self._job_or_none(resp, job_id)
        if job is None:
            raise ProviderError(f"{self.vendor}'s answer for job {job_id} is not a job", status=resp.status_code,
                                code="bad_answer", retryable=True)
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
        if client is not None and loop is asyncio.get_running_loop():
            await client.aclose()

    # ---- helpers ----
    def _http(self) -> httpx.AsyncClient:
        # Lazily, and again under a new event loop (pooled connections belong to their loop).
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
        return {"Authorization": f"{self.auth_scheme} {self.api_key}"}

    def _job_or_none(self, resp: httpx.Response, job_id: str | None = None) -> Job | None:
        try:
            data = resp.json()
        except ValueError:
            return None
        if not isinstance(data, dict) or not (data.get("id") or job_id):
            return None
        return self.parse_job(data, job_id)

    def _error(self, resp: httpx.Response, action: str, *, retryable: bool,
               ambiguous: bool = False) -> ProviderError:
        message, code = _error_detail(resp)
        status = resp.status_code
        hint = self.hints.get(status)
        text = f"{self.vendor} refused to {action}: HTTP {status}: {message}" + (f" ({hint})" if hint else "")
        if ambiguous:
            text += "; the job may exist and be billed, so it is not retried"
        cls = AmbiguousSubmit if ambiguous else ProviderError
        return cls(text, status=status, code=code, retryable=retryable and not ambiguous,
                   retry_after=_retry_after(resp.headers) if retryable else None)

    async def _pause(self, delay: float, retry_after: float | None, what: str, attempt: int) -> float:
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
                raise ProviderError(f"bad {self.vendor} base URL {self.base_url!r}: {exc}", code="config") from exc
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
        raise ProviderError(f"cannot get {what} from {self.vendor} after {attempt} attempts: {reason}",
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
                    raise _Transient(f"HTTP {resp.status_code}", _retry_after(resp.headers))
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
        head = await _save_capped(job, resp, dest, self.max_download_bytes, "video")
        _check_video_head(job, head, resp)

    async def _save_image(self, job: Job, resp: httpx.Response, dest: Path) -> None:
        head = await _save_capped(job, resp, dest, MAX_FRAME_BYTES, "last frame")
        if not head.startswith(IMAGE_HEADS):
            raise ProviderError(f"the last frame served for job {job.id} is not a PNG, JPEG or WebP image "
                                f"(starts with {head[:8]!r})", code="bad_content")


async def _save_capped(job: Job, resp: httpx.Response, dest: Path, cap: int, what: str) -> bytes:
    """Write the body to `dest`, at most `cap` bytes; returns its first 12 bytes."""
    length = resp.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > cap:
        raise ProviderError(f"the {what} of job {job.id} is {int(length)} bytes, over the {cap}-byte cap",
                            code="too_large")
    total, head = 0, b""
    with dest.open("wb") as f:
        async for chunk in resp.aiter_bytes(1 << 20):
            if len(head) < 12:
                head += chunk[:12 - len(head)]
            total += len(chunk)
            if total > cap:
                raise ProviderError(f"the {what} of job {job.id} exceeds the {cap}-byte cap", code="too_large")
            f.write(chunk)
    return head


class _Transient(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after
