"""The offline default: renders each clip as an animatic, locally, with no key and no money.

Run time: `create` renders the animatic at once (in a worker thread, so several clips render
concurrently) and returns a job that is already completed; its `video_url` is a `file://` URI of
the rendered mp4 in `workdir`. Media values in the body are local absolute paths (the engine
resolves placeholders), data URIs, or URLs (not fetched: the clip shows a card instead).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from ..plan import PlannedClip
from .base import Job, ProviderError
from .seedance import SeedanceProvider


class PreviewProvider(SeedanceProvider):
    """Seedance-shaped requests, so a plan is the one a paid provider would be sent."""

    name = "preview"
    label = "preview"
    paid = False
    takes_captions = True
    picture_version = 3  # the animatic's drawing: part of each clip's cache key (compiler)

    def __init__(self, *, base_dir: Path | str | None = None, **_: Any):
        # base_dir: where relative media paths are resolved (the engine normally sends absolute ones).
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self._jobs: dict[str, Job] = {}

    # ---- run time ----
    async def create(self, body: dict[str, Any], *, workdir: Path, captions: Any = None,
                     title: str | None = None, edges: tuple[float, float] = (0.0, 0.0), **_: Any) -> Job:
        """Render the clip now. `captions` may be an `animatic.Captions`, a PlannedClip (what the
        engine passes), or a list of caption lines [name, action, "camera: ...", 'Speaker: "line"', ...]. A body the
        renderer cannot draw (unreadable image, bad size) raises ProviderError(retryable=False).
        A PlannedClip also gives the animatic its beats and cast; `edges` are the seconds the clip
        overlaps its neighbours in the film (its caption stays out of them)."""
        from ..animatic.render import AnimaticError, Captions, render_animatic

        clip = captions if isinstance(captions, PlannedClip) else None
        caps = Captions.coerce(captions)
        job_id = _job_id(body, caps, title, {"beats": [b.model_dump() for b in clip.beats] if clip else None,
                                             "edges": list(edges), "picture": self.picture_version})
        out = Path(workdir) / f"{job_id}.mp4"
        started = time.time()
        try:
            await asyncio.to_thread(render_animatic, body, out, title=title, captions=caps, base_dir=self.base_dir,
                                    clip=clip, edges=tuple(edges))
        except (AnimaticError, OSError) as e:  # rendered here, sent nowhere: nothing was created
            raise ProviderError(f"preview: {e}", code="animatic_failed", retryable=False) from e
        job = Job(id=job_id, state="completed", video_url=out.resolve().as_uri(), cost=0.0,
                  raw={"path": str(out), "created_at": started, "completed_at": time.time()})
        self._jobs[job_id] = job
        return job

    async def get(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise ProviderError(f"preview: no job {job_id} in this session", status=404,
                                code="not_found", retryable=False) from None

    async def download(self, job: Job, dest: Path) -> None:
        src = _local_file(job.video_url or job.raw.get("path") or "")
        if not src.is_file():
            raise ProviderError(f"preview: the rendered clip {src} is gone", code="not_found", retryable=False)
        await asyncio.to_thread(shutil.copyfile, src, dest)


def _job_id(body: dict[str, Any], captions: Any, title: str | None, look: dict[str, Any] | None = None) -> str:
    # Captions, title, beats and edges change the picture, so they are part of the job's identity.
    extra = {"captions": captions.as_dict() if captions else None, "title": title, "look": look}
    text = json.dumps({"body": body, **extra}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return f"preview-{digest[:16]}"


def _local_file(url: str) -> Path:
    """A `file://` URI (what `create` hands out) or a plain path."""
    if url.startswith("file:"):
        return Path(url2pathname(urlparse(url).path))
    return Path(url)


__all__ = ["PreviewProvider"]
