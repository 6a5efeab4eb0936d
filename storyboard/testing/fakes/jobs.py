"""Jobs of a fake video API: their lifecycle on a clock, the clips they make and the expiring
URLs those clips are downloaded from.

Clips are real MP4 files made by the preview animatic renderer (or a fast solid-colour
"testcard") from a Seedance request body, so downstream stages can stitch them.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...providers.seedance import audio_enabled, body_size

log = logging.getLogger(__name__)

Renderer = Callable[[dict[str, Any], Path], None]


@dataclass
class Job:
    id: str
    body: dict[str, Any]
    body_sha256: str
    prompt_sha256: str
    created_at: float            # wall clock, for the API
    started: float               # monotonic
    duration: float              # seconds until the model is "done"
    queued_for: float
    fail: tuple[str, str] | None = None           # (code, message)
    rendered: threading.Event = field(default_factory=threading.Event)
    render_error: str | None = None
    render_done_at: float | None = None
    clip: Path | None = None
    cost: float = 0.0
    token: str | None = None
    token_issued: float = 0.0
    gets: int = 0
    downloads: int = 0

    def status(self, now: float) -> str:
        elapsed = now - self.started
        if elapsed < self.queued_for:
            return "queued"
        if elapsed < self.duration:
            return "in_progress"
        if self.fail:
            return "failed"
        if not self.rendered.is_set():
            return "in_progress"
        return "failed" if self.render_error else "completed"

    def completed_at(self) -> float:
        return max(self.created_at + self.duration, self.render_done_at or 0.0)


def new_job_id() -> str:
    """UUIDv7-like, as in Together's docs: 48 bits of milliseconds, then random bits."""
    ms = int(time.time() * 1000)
    rand = secrets.randbits(80)
    value = (ms << 80) | rand
    value = (value & ~(0xF << 76)) | (0x7 << 76)          # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)          # RFC 4122 variant
    return str(uuid.UUID(int=value))


def sha256_hex(data: bytes | str) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def clip_size(body: dict[str, Any]) -> tuple[int, int]:
    try:
        return body_size(body)
    except (KeyError, TypeError, ValueError):  # other models may name sizes we do not know
        return 1280, 720


def clip_seconds(body: dict[str, Any]) -> int:
    value = body.get("seconds", "5")
    return int(value) if str(value).isdigit() else 5


# ---- renderers -------------------------------------------------------------------------------

def render_testcard(body: dict[str, Any], out: Path) -> None:
    """A solid-colour clip at the body's duration and size (fast; no captions)."""
    import imageio_ffmpeg

    w, h = clip_size(body)
    w, h = w - w % 2, h - h % 2
    seconds = clip_seconds(body)
    colour = sha256_hex(body.get("prompt") or "")[:6]
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y",
           "-f", "lavfi", "-i", f"color=c=0x{colour}:s={w}x{h}:r=24:d={seconds}"]
    if audio_enabled(body):
        cmd += ["-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo", "-c:a", "aac", "-t", str(seconds)]
    cmd += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-threads", "1",
            "-movflags", "+faststart", "-f", "mp4", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)


def render_animatic(body: dict[str, Any], out: Path) -> None:
    from ...animatic.render import render_animatic as render  # heavy; only when a clip is made

    render(body, out)


RENDERERS: dict[str, Renderer] = {"animatic": render_animatic, "testcard": render_testcard}


class ClipMaker:
    """Renders the clips of accepted jobs on a small thread pool, into a temporary folder."""

    def __init__(self, renderer: str | Renderer, size: tuple[int, int] | None, workers: int, name: str):
        self.renderer: Renderer = RENDERERS[renderer] if isinstance(renderer, str) else renderer
        self.size = size  # render smaller than requested (faster); the duration is unchanged
        self._workers, self._name = workers, name
        self._pool: ThreadPoolExecutor | None = None
        self._dir: Path | None = None

    def start(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix=f"{self._name}-"))
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix=f"{self._name}-render")

    def close(self) -> None:
        if self._pool:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._pool = self._dir = None

    def make(self, job: Job) -> None:
        """Start the job's clip; a job the faults failed has none."""
        if job.fail:
            job.rendered.set()
            return
        assert self._pool is not None, "ClipMaker is not started"
        self._pool.submit(self._render, job)

    def _render(self, job: Job) -> None:
        assert self._dir is not None
        out = self._dir / f"{job.id}.mp4"
        body = dict(job.body)
        if self.size:
            for key in ("resolution", "ratio"):
                body.pop(key, None)
            body["width"], body["height"] = self.size
        try:
            self.renderer(body, out)
            if not out.is_file() or out.stat().st_size == 0:
                raise RuntimeError("the renderer wrote no file")
            job.clip = out
        except Exception as exc:  # noqa: BLE001 - a broken renderer must fail the job, visibly
            log.exception("%s: rendering job %s failed", self._name, job.id)
            job.render_error = f"Rendering failed: {type(exc).__name__}: {exc}"
        finally:
            job.render_done_at = time.time()
            job.rendered.set()


class SignedUrls:
    """The tokens in clip URLs: stable while valid, fresh once expired (the client re-GETs the
    job); expired tokens keep answering "expired". Call with the server's lock held."""

    def __init__(self) -> None:
        self._live: dict[str, str] = {}  # token -> job id
        self._dead: set[str] = set()

    def token(self, job: Job, ttl: float | None) -> str:
        if job.token is None or self.expired(job, ttl):
            self.retire(job)
            job.token = secrets.token_urlsafe(12)
            job.token_issued = time.monotonic()
            self._live[job.token] = job.id
        return job.token

    @staticmethod
    def expired(job: Job, ttl: float | None) -> bool:
        return ttl is not None and time.monotonic() - job.token_issued >= ttl

    def retire(self, job: Job) -> None:
        if job.token:
            self._live.pop(job.token, None)
            self._dead.add(job.token)
            job.token = None

    def is_dead(self, token: str) -> bool:
        return token in self._dead

    def job_id(self, token: str) -> str:
        return self._live.get(token, "")
