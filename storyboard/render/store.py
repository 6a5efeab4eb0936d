"""Getting a finished job's video into the cache (downloaded to a temp file, checked, renamed into
place) and keeping the cache sound around a run: leftovers of a killed render swept, bad cached
files moved aside, missing records written again."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path

from ..credentials import scrub
from ..disk import os_reason
from ..plan import PlannedClip
from ..providers.base import Job, ProviderError
from .cache import CacheRecord, check_media, probe_summary
from .context import RunContext
from .graph import expectation
from .journal import JobRecord, JournalError
from .journaling import JournalWriter
from .results import ClipOutcome
from .waiting import provider_seconds


class ClipStore:
    def __init__(self, ctx: RunContext, writer: JournalWriter):
        self.ctx, self.writer = ctx, writer
        self.cache = ctx.cache

    # ---- before the run ----
    def sweep_temps(self) -> None:
        """Partial downloads and journal temp files left by a render that was killed: we hold the
        story's lock, so no other render can be writing them. (A killed download may be large.)"""
        stale = list((self.cache.root / "tmp").glob("*.part.mp4")) + list(self.ctx.journal.dir.glob(".*.tmp"))
        for path in stale:
            with contextlib.suppress(OSError):
                path.unlink()

    def quarantine_corrupt(self) -> None:
        for t in self.ctx.summary.tasks:
            if t.corrupt and t.action != "not-requested" and not t.same_as:  # one file per generation
                aside = self.cache.quarantine(t.key)
                self.ctx.emit(t.name, "note", f"cached file {t.corrupt}; moved aside to {aside}")

    def cached_record(self, clip: PlannedClip) -> CacheRecord | None:
        """The record of a clip whose file is in the cache (written again when it is missing)."""
        path = self.cache.clip_path(clip.key)
        rec = self.cache.read_record(clip.key) or self._rewrite_record(clip, path)
        self._note_duration(clip, path, rec)
        return rec

    def _rewrite_record(self, clip: PlannedClip, path: Path) -> CacheRecord | None:
        """A verified cached clip whose record is missing or unreadable: write the record again
        from the journal and a fresh probe (its job id is what lets a paid clip that goes bad be
        downloaded again instead of paid for again)."""
        ctx = self.ctx
        try:
            job = ctx.journal.get(clip.key)
        except JournalError:
            job = None
        try:
            rec = CacheRecord(name=clip.name, key=clip.key, provider=ctx.provider.namespace,
                              job_id=job.job_id if job else None, cost=job.cost if job else None,
                              video_url=job.video_url if job else None,
                              probe=probe_summary(ctx.media.probe(path)), source=clip.source)
            rec = rec.with_identity(path.stat())
            self.cache.write_record(rec)
        except Exception as exc:  # a read-only folder, a probe error: the clip itself is fine
            ctx.emit(clip.name, "note", f"the cache record is missing or unreadable and cannot be "
                                        f"written again: {getattr(exc, 'strerror', None) or exc}")
            return None
        ctx.emit(clip.name, "note", "the cache record was missing or unreadable; written again")
        return rec

    def _note_duration(self, clip: PlannedClip, path: Path, rec: CacheRecord | None) -> None:
        if rec and rec.probe.get("duration"):
            self.ctx.durations[clip.name] = float(rec.probe["duration"])
        else:
            with contextlib.suppress(Exception):
                self.ctx.durations[clip.name] = float(probe_summary(self.ctx.media.probe(path))["duration"])

    # ---- a finished job ----
    async def fetch(self, clip: PlannedClip, record: JobRecord, job: Job) -> ClipOutcome:
        """`download`, with the local disk's refusals (full, read-only) as a clear failure: the
        job stays in the journal as `completed`, so the next run downloads it, never re-creates it."""
        try:
            return await self._download(clip, record, job)
        except OSError as exc:
            for part in (self.cache.root / "tmp").glob(f"{clip.key}.{os.getpid()}.*"):
                with contextlib.suppress(OSError):
                    part.unlink()  # a partial download must not keep the space it took
            return self.ctx.finish(clip, "failed", job_id=job.id, error=(
                f"cannot write the video of job {job.id} in {self.cache.root}: {os_reason(exc)}; the job is "
                "kept in the journal: free some space (or make the folder writable) and run again to download it"))

    async def _download(self, clip: PlannedClip, record: JobRecord, job: Job) -> ClipOutcome:
        """Download to a temp file, check it, rename it into the cache. A failed download gets
        one fresh URL (re-GET); a bad file gets one more download; then the clip fails clearly."""
        ctx = self.ctx
        expect = expectation(clip, ctx.durations)
        refreshed, downloads = False, 0
        while True:
            tmp = self.cache.temp_path(clip.key)
            got = await self._transfer(clip, job, tmp, refreshed)
            if isinstance(got, ClipOutcome):
                return got
            if got is not None:  # the transfer failed; `got` is the job looked up again
                job, refreshed = got, True
                continue
            downloads += 1
            summary, problem = await self._check(tmp, expect)
            if problem is None:
                return await self._keep(clip, record, job, tmp, summary)
            if downloads >= 2:
                break
            self.cache.discard_temp(tmp)  # maybe a truncated transfer: once more
            ctx.emit(clip.name, "note", f"downloaded video {problem}; downloading it again", job.id)
            with contextlib.suppress(ProviderError):
                job = await ctx.provider.get(job.id)
        aside = self.cache.root / "corrupt" / f"{clip.key}-job-{job.id}.mp4"
        aside.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, aside)
        await self.writer.put(record.advance("rejected", job_id=job.id, error=f"video {problem}"))
        return ctx.finish(clip, "failed", job_id=job.id, error=f"the video of job {job.id} {problem} (kept at {aside})")

    async def _transfer(self, clip: PlannedClip, job: Job, tmp: Path, refreshed: bool) -> Job | ClipOutcome | None:
        """Download `job` to `tmp`: None when it worked; after a failed download, the job looked up
        again (an expired or broken URL: its GET hands out a fresh one), once; else the clip's
        failure."""
        ctx = self.ctx
        ctx.emit(clip.name, "downloading", "", job.id)
        try:
            await ctx.provider.download(job, tmp)
        except ProviderError as exc:
            self.cache.discard_temp(tmp)
            if refreshed:
                return self._download_failed(clip, job, scrub(str(exc)))
            try:
                return await ctx.provider.get(job.id)
            except ProviderError as exc2:
                return self._download_failed(clip, job, f"{exc}; then looking the job up again: {exc2}")
        except BaseException:
            self.cache.discard_temp(tmp)
            raise
        return None

    async def _check(self, tmp: Path, expect) -> tuple[dict, str | None]:
        try:
            summary = probe_summary(await asyncio.to_thread(self.ctx.media.probe, tmp))
            return summary, check_media(summary, expect)
        except Exception as exc:  # media.MediaError: not a readable video
            return {}, f"cannot be read ({exc})"

    async def _keep(self, clip: PlannedClip, record: JobRecord, job: Job, tmp: Path, summary: dict) -> ClipOutcome:
        ctx = self.ctx
        path = await asyncio.to_thread(self.cache.store, tmp, CacheRecord(
            name=clip.name, key=clip.key, provider=ctx.provider.namespace, job_id=job.id,
            cost=job.cost, video_url=job.video_url, probe=summary, source=clip.source))
        ctx.durations[clip.name] = float(summary["duration"])
        if job.last_frame_url:
            await self._keep_last_frame(clip, job)
        if job.video_url:
            ctx.run_urls[clip.name] = job.video_url
        out = ctx.finish(clip, "rendered", path=path, job_id=job.id, cost=job.cost,
                         provider_seconds=provider_seconds(job))
        # Dependants may start now: the clip is in the cache, which is what counts.
        self.writer.put_soon(record.advance("downloaded", job_id=job.id, video_url=job.video_url, cost=job.cost))
        return out

    async def _keep_last_frame(self, clip: PlannedClip, job: Job) -> None:
        """The provider's own last frame (asked for with the request), stored where the inputs
        look for frames, so no dependant decodes the video for it. On any failure it is decoded."""
        png = self.cache.frame_path(clip.key, "last")
        tmp = png.with_name(f".{png.stem}.{os.getpid()}.got.png")
        try:
            png.parent.mkdir(parents=True, exist_ok=True)
            if await self.ctx.provider.download_last_frame(job, tmp):
                os.replace(tmp, png)
        except (ProviderError, OSError) as exc:
            self.ctx.emit(clip.name, "note", f"the provider's last frame was not kept ({scrub(str(exc))}); "
                                             "it will be taken from the video", job.id)
        finally:
            tmp.unlink(missing_ok=True)

    def _download_failed(self, clip: PlannedClip, job: Job, message: str) -> ClipOutcome:
        # The journal keeps the job as `completed`: the next run downloads it again, no new job.
        return self.ctx.finish(clip, "failed", job_id=job.id,
                               error=f"cannot download the video of job {job.id}: {message} "
                                     "(the job is kept in the journal; run again to retry the download)")
