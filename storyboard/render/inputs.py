"""A clip's request made sendable: every `{{kind:name}}` placeholder replaced by what the provider
accepts (a story file, a rendered clip's video or URL, its first or last frame)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import paths
from ..plan import PlannedClip, placeholders_in, substitute
from .context import RunContext
from .placeholders import media_kind
from .results import ClipOutcome


class InputResolver:
    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self._frames: dict[Path, asyncio.Future] = {}  # frame extractions, shared

    async def resolve(self, clip: PlannedClip) -> dict[str, Any]:
        """The request body with every placeholder replaced by what the provider accepts."""
        found: dict[str, str] = {}
        for kind, raw, value in placeholders_in(clip.request):
            if raw not in found:
                found[raw] = await self._resolve_one(kind, raw, value)
        return substitute(clip.request, found)

    async def _resolve_one(self, kind: str | None, raw: str, value: tuple[str, str]) -> str:
        ph_kind, arg = value
        provider = self.ctx.provider
        if ph_kind == "file":
            base = Path(self.ctx.plan.base_dir).resolve()
            found = paths.resolve(base, arg)  # the rule the checker and compiler used
            if not found.ok:
                raise ValueError(f"{raw} {found.reason_in(base)}")
            path = found.path
            if not path.is_file():
                raise ValueError(f"{arg} does not exist (looked in {base})")
            return provider.resolve_media(media_kind(kind, path), path=path, url=None)
        dep = self.ctx.results.get(arg)
        if dep is None or not dep.ok or dep.path is None:
            raise ValueError(f"{raw} refers to clip {arg!r}, which is not rendered")
        if ph_kind == "video":
            # A URL handed out in this run is fresh; an older one (a cached clip) may have expired.
            url = self.ctx.run_urls.get(arg) or await self._fresh_url(dep)
            return provider.resolve_media("video", path=dep.path, url=url)
        png = await self._frame(dep, "last" if ph_kind == "last-frame" else "first")
        return provider.resolve_media("image", path=png, url=None)

    async def _frame(self, dep: ClipOutcome, which: str) -> Path:
        """The first or last frame of a rendered clip, extracted once (cached beside the clips;
        two dependants asking at once share one extraction)."""
        png = self.ctx.cache.frame_path(dep.key, which)
        if png not in self._frames:
            async def extract() -> Path:
                if not png.is_file():
                    png.parent.mkdir(parents=True, exist_ok=True)
                    tmp = png.with_name(f".{png.stem}.{os.getpid()}.png")
                    await asyncio.to_thread(self.ctx.media.extract_frame, dep.path, which, tmp)
                    os.replace(tmp, png)
                return png
            self._frames[png] = asyncio.ensure_future(extract())
        return await asyncio.shield(self._frames[png])

    async def _fresh_url(self, dep: ClipOutcome) -> str | None:
        """A rendered clip's provider URL, refreshed when possible (signed URLs expire)."""
        cache = self.ctx.cache
        rec = cache.read_record(dep.key)
        url = rec.video_url if rec else None
        if dep.job_id:
            with contextlib.suppress(Exception):
                job = await self.ctx.provider.get(dep.job_id)
                if job.state == "completed" and job.video_url:
                    url = job.video_url
                    if rec:
                        cache.write_record(replace(rec, video_url=url))
        return url
