"""Waiting for a job: polled on the adaptive schedule of `policy` (each job's latency predicted
from the ones that finished), until it completes or fails, or the deadline passes."""

from __future__ import annotations

import time

from ..credentials import scrub
from ..plan import PlannedClip
from ..providers.base import Job, ProviderError
from .context import RunContext
from .journal import JobRecord
from .journaling import JournalWriter
from .policy import next_poll_at, poll_phase
from .slots import LatencyEstimator
from .results import ClipOutcome


def provider_seconds(job: Job) -> float | None:
    """How long the provider's job took by its own clock, when it says."""
    if job.seconds is not None:  # the vendor's own measure (fal, Replicate, ModelArk fill it in)
        return job.seconds
    raw = job.raw or {}
    a, b = raw.get("created_at"), raw.get("completed_at")
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b >= a:
        return float(b - a)
    return None


class JobWaiter:
    def __init__(self, ctx: RunContext, writer: JournalWriter):
        self.ctx, self.writer = ctx, writer
        self.estimator = LatencyEstimator()

    async def wait(self, clip: PlannedClip, record: JobRecord, job: Job,
                   origin: float | None = None) -> ClipOutcome | tuple[JobRecord, Job]:
        """Poll until the job completes or fails, or the deadline passes. `origin` (monotonic) is
        when the job surely existed: the create's answer; for a resumed job, its journaled send."""
        resumed = origin is None
        if origin is None:
            since = time.time() - record.submitted_at if record.submitted_at else 0.0
            origin = time.monotonic() - max(0.0, since)
        token = self.estimator.enter(clip.seconds)
        try:
            polled = await self._poll(clip, job, origin, poll_phase(token), resumed)
        finally:
            self.estimator.leave(token)
        if isinstance(polled, ClipOutcome):
            return polled
        return await self._ended(clip, record, polled, origin)

    async def _poll(self, clip: PlannedClip, job: Job, origin: float, phase: float,
                    resumed: bool) -> ClipOutcome | Job:
        """The job once it is no longer running, or the clip's outcome when waiting ends first."""
        ctx, est = self.ctx, self.estimator

        def due() -> float:
            return next_poll_at(ctx.poll, last, est.predict(clip.seconds), est.scale(clip.seconds), phase)

        waited_from = time.monotonic()
        # A resumed job was just looked up: that counts as its last GET.
        last = max(0.0, waited_from - origin) if resumed and job.state == "running" else 0.0
        while job.state == "running":
            if time.monotonic() - waited_from > ctx.poll.deadline:
                return ctx.finish(clip, "failed", job_id=job.id,
                                  error=f"job {job.id} still running after {ctx.poll.deadline / 60:.0f} min; "
                                        "it stays in the journal: run again to keep waiting for it")
            now = time.monotonic() - origin
            if due() > now:
                await ctx.sleep(due() - now, est.changed)
                if ctx.stop.is_set():
                    return ctx.finish(clip, "interrupted", job_id=job.id)
                if time.monotonic() - origin + 1e-3 < due():  # woken by a new estimate: decide again
                    continue
            last = time.monotonic() - origin
            try:
                job = await ctx.provider.get(job.id)
            except ProviderError as exc:
                if exc.retryable:
                    ctx.emit(clip.name, "note", f"polling job {job.id}: {exc}; will retry", job.id)
                    continue
                return ctx.finish(clip, "failed", job_id=job.id,
                                  error=f"cannot poll job {job.id}: {exc} (the job id is kept in the "
                                        "journal; run again to resume it)")
        return job

    async def _ended(self, clip: PlannedClip, record: JobRecord, job: Job,
                     origin: float) -> ClipOutcome | tuple[JobRecord, Job]:
        took = provider_seconds(job)
        if took is None:  # no provider clock: our own (an upper bound)
            took = max(0.0, time.monotonic() - origin)
        if job.state == "failed":
            msg = scrub(job.error or "the provider reported failure without a message")
            code = f" [{job.error_code}]" if job.error_code else ""
            await self.writer.put(record.advance("failed", job_id=job.id, error=f"{msg}{code}", cost=job.cost))
            return self.ctx.finish(clip, "failed", job_id=job.id, error=f"job {job.id} failed: {msg}{code}")
        self.estimator.observe(clip.seconds, took)
        record = record.advance("completed", job_id=job.id, video_url=job.video_url, cost=job.cost)
        self.writer.put_soon(record)  # while the download runs; the next state is written after it
        return record, job
