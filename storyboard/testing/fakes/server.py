"""`FakeServer`: the base of every fake provider, a real HTTP server on loopback.

It owns what does not depend on the vendor: start and stop, the one Bearer key accepted, the
job API (create, get, download) with its faults drawn in a fixed order, the clips, counters for
`GET /_fake/stats`, and run-time control (`POST /_fake/faults`, `POST /_fake/reset`). A vendor's
fake subclasses it and fills in its protocol: `routes`, `validate`, `job_answer`, `price`, and
the wording of its errors (`fault_error`, `failure`, `unauthorized`, `job_not_found`).
"""

from __future__ import annotations

import hmac
import json
import re
import threading
import time
from pathlib import Path
from typing import Any

from ...credentials import read_secret
from ...plan import canonical_json
from .faults import ANSWERED_KINDS, FaultDraws, Faults
from .handler import ApiError, FakeHandler, LoopbackServer, Route, invalid
from .jobs import ClipMaker, Job, Renderer, SignedUrls, new_job_id, sha256_hex

Answer = tuple[str, Any]  # (outcome, JSON answer or ApiError); outcomes: ok, drop, drop_after, truncate
DROPPED = ApiError(0, "dropped")  # what a dropped connection "answers"; never sent


class FakeServer:
    """Start it with `with Fake(...) as fake:` or `start()`/`close()`.

    Args: api_key (the one Bearer token accepted; default: the environment variable named by
    `key_variable`, else "fake-key"), host, port (0 = free port), latency (seconds a job takes),
    queued (seconds a job reports `queued` first), clip_size ((w, h) to render smaller clips than
    requested), renderer ("animatic", "testcard" or a callable(body, out)), max_body_bytes,
    render_workers, and any `Faults` field as a keyword.
    """

    label = "fake server"               # in logs, thread names and temporary folders
    server_version = "FakeServer/1.0"   # the Server header
    key_variable = "FAKE_API_KEY"

    def __init__(self, *, api_key: str | None = None, host: str = "127.0.0.1", port: int = 0,
                 latency: float = 1.0, queued: float = 0.0, clip_size: tuple[int, int] | None = None,
                 renderer: str | Renderer = "animatic", max_body_bytes: int = 64 * 2**20,
                 render_workers: int = 2, **faults: Any):
        # read like the client reads it (stripped), so one environment value serves both sides
        self._api_key = read_secret(self.key_variable, api_key) or "fake-key"
        self.host, self.port = host, port
        self.latency, self.queued = latency, queued
        self.max_body_bytes = max_body_bytes
        self._clips = ClipMaker(renderer, clip_size, render_workers, self.label.replace(" ", "-"))
        self._initial_faults = dict(faults)
        self._lock = threading.Lock()
        self._reset_state()
        self._server: LoopbackServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # never show the key
        return f"{type(self).__name__}(base_url={self.base_url if self._server else None!r})"

    @property
    def clip_size(self) -> tuple[int, int] | None:
        return self._clips.size

    @property
    def renderer(self) -> Renderer:
        return self._clips.renderer

    @property
    def faults(self) -> Faults:
        return self._draws.faults

    # ---- lifecycle ----
    def start(self) -> FakeServer:
        self._clips.start()
        self._server = LoopbackServer((self.host, self.port), FakeHandler)
        self._server.fake = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=self.label.replace(" ", "-"), daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        self._clips.close()
        self._server = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def base_url(self) -> str:
        assert self._server, f"{type(self).__name__} is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # ---- control (also over HTTP under /_fake) ----
    def stats(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            jobs = [self._job_stats(job, now) for job in self._jobs.values()]
            return {**self._counts, "jobs": jobs}

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        with self._lock:
            self.faults.update(changes)
            return self.faults.public()

    def reset(self) -> None:
        """Forget jobs and counters; restore the faults given at construction."""
        with self._lock:
            self._reset_state()

    def _reset_state(self) -> None:
        self._draws = FaultDraws(self._initial_faults)
        self._jobs: dict[str, Job] = {}
        self._urls = SignedUrls()
        self._create_times: list[float] = []  # when the creates of the last minute arrived
        self._counts = {"creates": 0, "rejected": 0, "dropped": 0, "gets": 0, "downloads": 0,
                        "expired": 0}

    @staticmethod
    def _job_stats(job: Job, now: float) -> dict[str, Any]:
        return {"id": job.id, "status": job.status(now), "prompt_sha256": job.prompt_sha256,
                "body_sha256": job.body_sha256, "seconds": job.body.get("seconds", "5"),
                "model": job.body.get("model"), "created_at": job.created_at,
                "cost": job.cost, "gets": job.gets, "downloads": job.downloads,
                "error": job.fail[1] if job.fail else job.render_error}

    def take_fault(self, name: str) -> bool:
        """Consume one of a counted fault that a vendor's own endpoints apply (uploads)."""
        with self._lock:
            return self._draws.take(name)

    def count(self, name: str) -> None:
        with self._lock:
            self._counts[name] += 1

    def authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Bearer "):
            return False
        return hmac.compare_digest(header[len("Bearer "):].strip().encode(), self._api_key.encode())

    # ---- the vendor's protocol (a subclass fills it in) ----
    def routes(self) -> list[Route]:
        """(method, path pattern, endpoint) in the order they are tried; a vendor's come first."""
        return [("GET", re.compile(r"/files/(.*)\.mp4"), FakeHandler.serve_file),
                ("GET", re.compile(r"/_fake/stats"), FakeHandler.serve_stats),
                ("POST", re.compile(r"/_fake/faults"), FakeHandler.serve_faults),
                ("POST", re.compile(r"/_fake/reset"), FakeHandler.serve_reset)]

    def validate(self, body: Any) -> None:
        """Raise ApiError(400) where the real API would refuse the body."""
        raise NotImplementedError

    def job_answer(self, job: Job, base_url: str | None = None) -> dict[str, Any]:
        """The job in the vendor's shape; without base_url, as the answer to its create. With
        base_url it is called with the lock held (it may issue a download URL)."""
        raise NotImplementedError

    def price(self, body: dict[str, Any]) -> float:
        raise NotImplementedError

    def error_body(self, err: ApiError) -> dict[str, Any]:
        """The JSON body of an error answer in the vendor's shape (default: OpenAI-style)."""
        return err.body()

    def prompt_of(self, body: dict[str, Any]) -> str:
        """The prompt of a request body (stats trace jobs by it; `fail_on` matches it)."""
        return body.get("prompt") or ""

    def fault_error(self, kind: str) -> ApiError:
        """The vendor's answer to an answered fault kind ("402", "429", "500", "503")."""
        raise NotImplementedError

    def failure(self, kind: str) -> tuple[str, str]:
        """(code, message) of a job the faults fail: "refused" or "failed"."""
        raise NotImplementedError

    def unauthorized(self) -> ApiError:
        raise NotImplementedError

    def job_not_found(self, job_id: str) -> ApiError:
        raise NotImplementedError

    # ---- the job API ----
    def create(self, raw: bytes) -> Answer:
        """Returns ('ok'|'drop'|'drop_after', job or error). Faults come before validation, as a
        gateway's would; the body is hashed as sent so chaos is keyed by content."""
        with self._lock:
            fault = self._answered(self._draws.on_create(sha256_hex(raw)) or self._over_rate_limits())
        if fault == "drop":
            self.count("dropped")
            return "drop", DROPPED
        if isinstance(fault, ApiError):
            return self._rejected(fault)
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return self._rejected(invalid(f"Invalid JSON body: {exc}", None, "invalid_json"))
        try:
            self.validate(body)
        except ApiError as err:
            return self._rejected(err)
        job = self._accept(body)
        if fault == "drop_after":
            self.count("dropped")
            return "drop_after", self.job_answer(job)
        return "ok", self.job_answer(job)

    def _over_rate_limits(self) -> str | None:
        """"429" when a create now would pass the vendor's rate limits (as the fake was told them:
        jobs running at once, creates in the last minute). Called with the lock held."""
        f, now = self.faults, time.monotonic()
        running = sum(1 for job in self._jobs.values() if job.status(now) in ("queued", "in_progress"))
        recent = [t for t in self._create_times if now - t < 60.0]
        self._create_times = recent
        if f.max_running and running >= f.max_running:
            return "429"
        if f.creates_per_minute and len(recent) >= f.creates_per_minute:
            return "429"
        self._create_times.append(now)
        return None

    def new_job_id(self) -> str:
        """A fresh job id in the vendor's shape (UUIDv7-like by default, as Together's)."""
        return new_job_id()

    def latency_for(self, body: dict[str, Any]) -> float:
        """Seconds the job of this body takes (a subclass may make it depend on the body)."""
        return self.latency

    def _answered(self, kind: str | None) -> str | ApiError | None:
        """Fault kinds answered with an HTTP error become the vendor's error; the others stay words."""
        return self.fault_error(kind) if kind in ANSWERED_KINDS else kind

    def _rejected(self, err: ApiError) -> Answer:
        self.count("rejected")
        return "ok", err

    def _accept(self, body: dict[str, Any]) -> Job:
        body_sha = sha256_hex(canonical_json(body))
        prompt = self.prompt_of(body)
        with self._lock:
            fate = self._draws.on_job(body_sha, prompt)
            latency = self.latency_for(body)
            duration = max(latency, self.faults.slow_latency) if fate.slow else latency
            job = Job(id=self.new_job_id(), body=body, body_sha256=body_sha, prompt_sha256=sha256_hex(prompt),
                      created_at=time.time(), started=time.monotonic(), duration=duration,
                      queued_for=min(self.queued, duration),
                      fail=self.failure(fate.failure) if fate.failure else None, cost=self.price(body))
            self._jobs[job.id] = job
            self._counts["creates"] += 1
        self._clips.make(job)
        return job

    def get(self, job_id: str, base_url: str) -> Answer:
        with self._lock:
            self._counts["gets"] += 1
            job = self._jobs.get(job_id)
            fault = self._answered(self._draws.on_get(job.body_sha256 if job else "unknown"))
            if fault == "drop":
                self._counts["dropped"] += 1
                return "drop", DROPPED
            if isinstance(fault, ApiError):
                return "ok", fault
            if job is None:
                return "ok", self.job_not_found(job_id)
            job.gets += 1
            return "ok", self.job_answer(job, base_url)

    def download_url(self, job: Job, base_url: str) -> str:
        """The clip's URL; a fresh one once the last expired. Called with the lock held."""
        return f"{base_url}/files/{self._urls.token(job, self.faults.url_ttl)}.mp4"

    def open_file(self, token: str) -> tuple[str, Path | ApiError]:
        """('ok', path) | ('ok', error) | ('truncate', path)."""
        expired = ApiError(403, "Request has expired.", type_="AccessDenied", code="expired")
        with self._lock:
            if self._urls.is_dead(token):
                self._counts["expired"] += 1
                return "ok", expired
            job = self._jobs.get(self._urls.job_id(token))
            if job is None or job.clip is None:
                return "ok", ApiError(404, "Not found.", code="not_found")
            fault = self._draws.on_download(job.body_sha256, self._urls.expired(job, self.faults.url_ttl))
            if fault == "expired":
                self._counts["expired"] += 1
                self._urls.retire(job)  # the next GET of the job issues a fresh URL
                return "ok", expired
            if fault == "503":
                return "ok", self.fault_error("503")
            self._counts["downloads"] += 1
            job.downloads += 1
            if fault == "drop":
                self._counts["dropped"] += 1
                return "truncate", job.clip
            return "ok", job.clip
