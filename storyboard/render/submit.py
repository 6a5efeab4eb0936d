"""Submitting one clip: journaled as `submitting` before the create is sent and with its job id as
soon as it is known; retried only when the provider proves nothing was created; in doubt, never
sent again, when it cannot tell."""

from __future__ import annotations

import asyncio
from typing import Any

from ..credentials import scrub
from ..disk import local_disk_problem, os_reason
from ..plan import PlannedClip, clip_of, film_overlaps
from ..providers.base import AmbiguousSubmit, Job, ProviderError
from .context import RunContext
from .decide import in_doubt_message
from .journal import DuplicateCreate, JobRecord
from .journaling import JournalWriter
from .results import ClipOutcome, Reason, ReasonCode

CREATE_GRACE = 60.0  # seconds to wait for an in-flight create's answer after a cancel


def create_hints(ctx: RunContext, clip: PlannedClip) -> dict[str, Any]:
    """Presentation hints for a provider that declares it draws them (`takes_captions`: the
    preview animatic): the clip itself as structured captions, and its name as the title."""
    if not getattr(ctx.provider, "takes_captions", False):
        return {}
    # every take of a clip is drawn where the clip plays (the compiler keys its picture so)
    return {"captions": clip, "title": clip.name, "edges": film_edges(ctx.film, clip_of(clip))}


def film_edges(plan, name: str) -> tuple[float, float]:
    """The seconds a clip overlaps the clips before and after it in the film (dissolves, wipes).
    `plan` is the engine's, without its cards: their lengths are not needed for this."""
    return film_overlaps(plan, name)


class Submitter:
    def __init__(self, ctx: RunContext, writer: JournalWriter):
        self.ctx, self.writer = ctx, writer

    async def submit(self, clip: PlannedClip, body: dict[str, Any]) -> ClipOutcome | tuple[JobRecord, Job]:
        """Create the clip's job: (its journal record, the job), or the clip's outcome when no job
        could be created (or it is not known whether one was)."""
        ctx = self.ctx
        hints = create_hints(ctx, clip)
        for attempt in range(ctx.retry.attempts):
            if ctx.stop.is_set():
                return ctx.finish(clip, "interrupted")
            record = await self._start(clip)
            if isinstance(record, ClipOutcome):
                return record
            ctx.emit(clip.name, "submitting", "" if not attempt else f"attempt {attempt + 1}")
            try:
                job = await self._create(record, body, hints)
            except AmbiguousSubmit as exc:
                return await self._in_doubt(clip, record, scrub(str(exc)))
            except ProviderError as exc:
                msg = scrub(str(exc))
                # Nothing was created (that is the contract of ProviderError outside AmbiguousSubmit).
                await self.writer.put(record.advance("unsent", error=msg))
                if exc.retryable and attempt + 1 < ctx.retry.attempts and not ctx.stop.is_set():
                    wait = ctx.retry.delay(attempt, exc.retry_after)
                    ctx.emit(clip.name, "retrying", f"{msg}; retrying in {wait:.1f} s")
                    await ctx.sleep(wait)
                    continue
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                return ctx.finish(clip, "failed", error=local_disk_problem(exc, ctx.workdir)
                                  or f"provider refused the request{tries}: {msg}")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # we cannot tell whether it reached the provider: in doubt
                return await self._in_doubt(clip, record, scrub(f"{type(exc).__name__}: {exc}"))
            return await self._submitted(clip, record, job)
        raise AssertionError("unreachable")

    async def _start(self, clip: PlannedClip) -> JobRecord | ClipOutcome:
        """The `submitting` record, durable BEFORE the request is sent; or why nothing is sent."""
        ctx = self.ctx
        try:
            ctx.workdir.mkdir(parents=True, exist_ok=True)
            return await self.writer.start(clip)
        except DuplicateCreate as exc:  # never paid twice, whatever asked for it
            return ctx.finish(clip, "failed", error=f"{exc}; nothing was submitted for this clip")
        except OSError as exc:
            return ctx.finish(clip, "failed", error=(
                f"cannot write the job journal in {ctx.journal.dir}: {os_reason(exc)}; nothing was "
                "submitted for this clip: free some space (or make the folder writable) and run again"))

    async def _in_doubt(self, clip: PlannedClip, record: JobRecord, cause: str) -> ClipOutcome:
        # The cause is said once, inside the in-doubt message.
        record = await self.writer.put(record.advance("in_doubt", error=cause))
        return self.ctx.finish(clip, "in-doubt", error=in_doubt_message(record),
                               why=Reason(ReasonCode.IN_DOUBT, clip.name))

    async def _submitted(self, clip: PlannedClip, record: JobRecord, job: Job) -> ClipOutcome | tuple[JobRecord, Job]:
        ctx = self.ctx
        try:
            record = await self.writer.put(record.advance("submitted", job_id=job.id))
        except OSError as exc:  # paid for, and only this process knows the id: say it
            why = Reason(ReasonCode.JOB_NOT_JOURNALED, clip.name, job.id)
            return ctx.finish(clip, "failed", job_id=job.id, why=why,
                              error=(f"job {job.id} was created, but the journal in {ctx.journal.dir} cannot "
                                     f"record it ({os_reason(exc)})"))
        ctx.emit(clip.name, "running", f"job {job.id}", job.id)
        return record, job

    async def _create(self, record: JobRecord, body: dict[str, Any], hints: dict[str, Any]) -> Job:
        """The create call, shielded: once a request is out, a hard cancel waits (bounded) for
        its answer so the job id reaches the journal instead of leaving the clip in doubt."""
        fut = asyncio.ensure_future(self.ctx.provider.create(body, workdir=self.ctx.workdir, **hints))
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            try:
                job = await asyncio.wait_for(asyncio.shield(fut), CREATE_GRACE)
            except AmbiguousSubmit as exc:
                await self.writer.put(record.advance("in_doubt", error=scrub(str(exc))))
            except ProviderError as exc:
                await self.writer.put(record.advance("unsent", error=scrub(str(exc))))
            except BaseException:
                pass  # still `submitting`: in doubt, which is the truth
            else:
                await self.writer.put(record.advance("submitted", job_id=job.id))
            raise
