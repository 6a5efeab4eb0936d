"""Submitting one clip: journaled as `submitting` before the create is sent and with its job id as
soon as it is known; retried only when the provider proves nothing was created; in doubt, never
sent again, when it cannot tell."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..credentials import scrub
from ..disk import local_disk_problem, os_reason
from ..plan import PlannedClip, clip_of, film_overlaps
from ..providers.base import AmbiguousSubmit, Job, ProviderError
from .context import RunContext
from .decide import in_doubt_message
from .journal import DuplicateCreate, JobRecord
from .journaling import JournalWriter
from .policy import rate_limit_wait
from .results import ClipOutcome, Reason, ReasonCode

CREATE_GRACE = 60.0  # seconds to wait for an in-flight create's answer after a cancel


def rate_limited(exc: ProviderError) -> bool:
    """A create refused for the vendor's rate limit: HTTP 429, which proves nothing was created."""
    return exc.retryable and exc.status == 429


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
        self._told_rate_limit = False

    async def submit(self, clip: PlannedClip, body: dict[str, Any]) -> ClipOutcome | tuple[JobRecord, Job, float]:
        """Create the clip's job: (its journal record, the job, when the create's answer came:
        monotonic, the moment the job surely existed), or the clip's outcome when no job could
        be created (or it is not known whether one was)."""
        ctx = self.ctx
        hints = create_hints(ctx, clip)
        attempt, began, throttled = 0, time.monotonic(), False
        while True:
            if ctx.stop.is_set():
                return ctx.finish(clip, "interrupted")
            record = await self._start(clip)
            if isinstance(record, ClipOutcome):
                return record
            if not throttled:  # waiting out a rate limit is one state, not a line per try
                ctx.emit(clip.name, "submitting", "" if not attempt else f"attempt {attempt + 1}")
            try:
                job = await self._create(record, body, hints)
                answered = time.monotonic()
            except AmbiguousSubmit as exc:
                return await self._in_doubt(clip, record, scrub(str(exc)))
            except ProviderError as exc:
                msg = scrub(str(exc))
                # Nothing was created (that is the contract of ProviderError outside AmbiguousSubmit).
                await self.writer.put(record.advance("unsent", error=msg))
                throttled = rate_limited(exc)
                wait = None if ctx.stop.is_set() else self._retry_wait(exc, attempt, time.monotonic() - began)
                if wait is None:
                    return ctx.finish(clip, "failed", error=local_disk_problem(exc, ctx.workdir)
                                      or self._refusal(exc, msg, attempt, time.monotonic() - began))
                self._say_retrying(clip, exc, msg, wait)
                await ctx.sleep(wait)
                attempt += 1
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # we cannot tell whether it reached the provider: in doubt
                return await self._in_doubt(clip, record, scrub(f"{type(exc).__name__}: {exc}"))
            submitted = await self._submitted(clip, record, job)
            return submitted if isinstance(submitted, ClipOutcome) else (*submitted, answered)

    def _retry_wait(self, exc: ProviderError, attempt: int, waited: float) -> float | None:
        """Seconds to wait before sending the create again, or None to give up. A rate limit
        (429: nothing was created) is waited out for as long as the vendor asks, within the job
        timeout; other refusals that prove nothing was created get the retry budget."""
        ctx = self.ctx
        if rate_limited(exc):
            return rate_limit_wait(ctx.retry, attempt, exc.retry_after, waited, ctx.poll.deadline)
        if exc.retryable and attempt + 1 < ctx.retry.attempts:
            return ctx.retry.delay(attempt, exc.retry_after)
        return None

    def _say_retrying(self, clip: PlannedClip, exc: ProviderError, msg: str, wait: float) -> None:
        ctx = self.ctx
        if not rate_limited(exc):
            ctx.emit(clip.name, "retrying", f"{msg}; retrying in {wait:.1f} s")
            return
        ctx.emit(clip.name, "waiting", f"for {ctx.provider.label}'s rate limit")
        if not self._told_rate_limit:  # once per run, however many clips wait
            self._told_rate_limit = True
            ctx.emit("*", "note", f"{ctx.provider.label} is rate limiting new jobs (HTTP 429: nothing was "
                                  f"created); waiting as long as it asks, up to {ctx.poll.deadline / 60:.0f} min "
                                  "per clip")

    def _refusal(self, exc: ProviderError, msg: str, attempt: int, waited: float) -> str:
        if rate_limited(exc):
            label, budget = self.ctx.provider.label, self.ctx.poll.deadline
            if exc.retry_after and waited + exc.retry_after > budget:
                return (f"{label} is rate limiting new jobs and asks to come back in {exc.retry_after:.0f} s, "
                        f"past the {budget / 60:.0f} min job timeout; nothing was created for this clip "
                        f"(run again later): {msg}")
            return (f"{label} kept refusing new jobs for its rate limit for {waited / 60:.1f} min; nothing "
                    f"was created for this clip (run again later): {msg}")
        tries = f" (after {attempt + 1} attempts)" if attempt else ""
        return f"provider refused the request{tries}: {msg}"

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
