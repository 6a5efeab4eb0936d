"""Running a render: the gate, then the scheduler. Each clip is one task that waits for its
dependencies, then for a slot, then produces its video through the parts of a run: submission
(`submit`), waiting (`waiting`), downloading and storing (`store`), inputs (`inputs`), all
journaled (`journaling`) and sharing one `RunContext`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..disk import local_disk_problem
from ..plan import PlannedClip, RenderPlan
from ..providers.base import Job, Provider, ProviderError
from .context import EventSink, RunContext
from .inputs import InputResolver
from .journal import JobRecord, JournalError
from .journaling import JournalWriter
from .opening import OpenedRender, opened, settled_outcome
from .policy import PollPolicy, RetryPolicy
from .slots import CreatesFirst, Held, Slots, keep_slot_for
from .results import (
    SETTLED_ACTIONS, WORK_ACTIONS, ClipOutcome, ClipStatus, ClipTask, Reason, ReasonCode, RenderEvent, RenderReport,
    RenderSummary, tell,
)
from .store import ClipStore
from .submit import Submitter
from .waiting import JobWaiter

DEFAULT_POLL = PollPolicy()
DEFAULT_RETRY = RetryPolicy()


async def render_plan(plan: RenderPlan, provider: Provider, *, state_dir: Path | None = None,
                      concurrency: int = 4, only: Iterable[str] | None = None,
                      on_event: EventSink | None = None,
                      approve: Callable[[RenderSummary], bool] | None = None,
                      max_cost: float | None = None, resubmit_in_doubt: bool = False,
                      poll: PollPolicy = DEFAULT_POLL, retry: RetryPolicy = DEFAULT_RETRY,
                      stop: asyncio.Event | None = None, media: Any = None) -> RenderReport:
    """Render every clip of `plan` that is not cached (or `only` those, plus what they need).

    Raises RenderError (nothing submitted) when the story is locked by another render, a paid
    plan is not approved, or `max_cost` is exceeded. Otherwise returns a report: clip failures
    are outcomes, not exceptions. Setting `stop` ends the render gracefully (no new creates;
    in-flight creates are answered and journaled; the report says `interrupted`).
    """
    with opened(plan, provider, state_dir=state_dir, concurrency=concurrency, only=only, approve=approve,
                max_cost=max_cost, resubmit_in_doubt=resubmit_in_doubt, media=media) as start:
        return await run_opened(start, provider, concurrency=concurrency, on_event=on_event, poll=poll,
                                retry=retry, stop=stop)


async def run_opened(start: OpenedRender, provider: Provider, *, concurrency: int = 4,
                     on_event: EventSink | None = None, poll: PollPolicy = DEFAULT_POLL,
                     retry: RetryPolicy = DEFAULT_RETRY, stop: asyncio.Event | None = None) -> RenderReport:
    """The scheduler's run of an opened render (the story's lock held)."""
    ctx = RunContext(start.plan, provider, start.summary, state_dir=start.state_dir, on_event=on_event, poll=poll,
                     retry=retry, stop=stop or asyncio.Event(), media=start.media, film=start.film)
    run = _Run(ctx, concurrency)
    outcomes = await run.go()
    return RenderReport(outcomes, start.summary, interrupted=run.interrupted, elapsed=time.monotonic() - start.started)


class _Run:
    """The scheduler: one task per clip; a clip waits for its dependencies, then for a slot (at
    most `concurrency` jobs between submit and the provider's end of the job; the download
    follows outside it), highest critical-path priority first."""

    def __init__(self, ctx: RunContext, concurrency: int):
        self.ctx = ctx
        self.writer = JournalWriter(ctx)
        self.submitter = Submitter(ctx, self.writer)
        self.waiter = JobWaiter(ctx, self.writer)
        self.store = ClipStore(ctx, self.writer)
        self.inputs = InputResolver(ctx)
        self.slots = Slots(concurrency)
        self.creates = CreatesFirst(self.slots)
        self._tickets: dict[str, asyncio.Future] = {}  # slot reservations of clips just made ready
        self.dependants: dict[str, list[str]] = {name: [] for name in ctx.clips}
        for c in ctx.plan.clips:
            for d in c.after:
                self.dependants[d].append(c.name)
        ctx.on_finished = self._reserve_for_dependants
        self.interrupted = False

    def _reserve_for_dependants(self, done: ClipOutcome) -> None:
        """Queue, right now, the dependants this clip's completion makes ready (see Slots)."""
        ctx = self.ctx
        if not done.ok:
            return
        for dep in self.dependants.get(done.name, ()):
            t = ctx.tasks[dep]
            if (t.action in WORK_ACTIONS and dep not in self._tickets and dep not in ctx.results
                    and not ctx.stop.is_set()
                    and all(d in ctx.results and ctx.results[d].ok for d in ctx.clips[dep].after)):
                self._tickets[dep] = self.slots.reserve(t.priority)

    # ---- the whole run ----
    async def go(self) -> tuple[ClipOutcome, ...]:
        ctx = self.ctx
        self.store.sweep_temps()
        self.store.quarantine_corrupt()
        for t in ctx.summary.tasks:
            if t.action in WORK_ACTIONS:
                ctx.emit(t.name, "queued", t.reason or "")
        # Started critical-path first, so the clips that are ready at once take the free slots
        # in that order too (later arrivals are ordered by the slot queue).
        for t in ctx.summary.tasks:  # settled before anything runs, so no slot is reserved early
            if t.action in SETTLED_ACTIONS:
                self._settle(ctx.clips[t.name], t)
        order = sorted((t for t in ctx.summary.tasks if t.name not in ctx.results), key=lambda t: -t.priority)
        tasks = [asyncio.create_task(self._clip(ctx.clips[t.name]), name=f"clip:{t.name}") for t in order]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            # Hard cancel: let each clip task finish its cleanup (journal writes, shielded creates).
            self.interrupted = True
            await asyncio.gather(*tasks, return_exceptions=True)  # gather cancelled them already
            await self.writer.drain()
            raise
        await self.writer.drain()
        if ctx.stop.is_set():
            self.interrupted = True
        return tuple(ctx.results[c.name] for c in ctx.plan.clips)

    def _settle(self, clip: PlannedClip, task: ClipTask) -> ClipOutcome:
        """The outcome of a clip that needs no work."""
        record = self.store.cached_record(clip) if task.action == "cached" else None
        return self.ctx.record(settled_outcome(clip, task, self.ctx.cache.clip_path(clip.key), record))

    async def _clip(self, clip: PlannedClip) -> ClipOutcome:
        ctx = self.ctx
        task = ctx.tasks[clip.name]
        try:
            if task.same_as:
                return await self._follow(clip, task.same_as)
            blocked = await self._wait_for_inputs(clip)
            if blocked is not None:
                return blocked
            if ctx.stop.is_set():
                return ctx.finish(clip, "interrupted", job_id=task.job_id)
            async with self.slots.slot(task.priority, self._tickets.pop(clip.name, None)) as held:
                if ctx.stop.is_set():
                    return ctx.finish(clip, "interrupted", job_id=task.job_id)
                return await self._produce(clip, task, held)
        except asyncio.CancelledError:
            if clip.name not in ctx.results:
                ctx.finish(clip, "interrupted", job_id=task.job_id)
            raise
        except Exception as exc:  # a bug or an unexpected provider exception: this clip only
            return ctx.results.get(clip.name) or self._crashed(clip, exc)
        finally:
            ctx.done[clip.name].set()
            ticket = self._tickets.pop(clip.name, None)
            if ticket is not None:  # reserved for us but not used (stopped, skipped)
                self.slots.cancel(ticket)

    def _crashed(self, clip: PlannedClip, exc: Exception) -> ClipOutcome:
        try:
            rec = self.ctx.journal.get(clip.key)
        except JournalError:
            rec = None
        note = f" (job {rec.job_id} is in the journal and will be resumed)" if rec and rec.job_id else ""
        return self.ctx.finish(clip, "failed", error=f"{type(exc).__name__}: {exc}{note}",
                               job_id=rec.job_id if rec else None)

    async def _follow(self, clip: PlannedClip, maker: str) -> ClipOutcome:
        """A clip whose request is `maker`'s: one generation serves both, so it waits for that
        one's outcome and takes it (its video, its job; the cost is counted once, at `maker`)."""
        ctx = self.ctx
        ctx.emit(clip.name, "waiting", f"for {maker}: the same request, one generation")
        await ctx.done[maker].wait()  # not cut short by a stop: `maker` always finishes
        made = ctx.results[maker]
        if maker in ctx.durations:
            ctx.durations[clip.name] = ctx.durations[maker]
        if maker in ctx.run_urls:
            ctx.run_urls[clip.name] = ctx.run_urls[maker]
        error = f"the same request as {maker}, which {made.status}: {made.error}" if made.error else None
        return ctx.finish(clip, made.status, path=made.path, job_id=made.job_id, error=error,
                          provider_seconds=made.provider_seconds, same_as=maker)

    async def _wait_for_inputs(self, clip: PlannedClip) -> ClipOutcome | None:
        ctx = self.ctx
        if clip.after:
            ctx.emit(clip.name, "waiting", f"for {', '.join(clip.after)}")
        for dep in clip.after:
            if not ctx.done[dep].is_set():
                await ctx.sleep(float("inf"), ctx.done[dep])
                if not ctx.done[dep].is_set():  # stopped while waiting
                    return ctx.finish(clip, "interrupted")
            got = ctx.results[dep]
            if not got.ok:
                what = {"failed": "failed", "in-doubt": "is in doubt", "skipped": "was skipped",
                        "interrupted": "was interrupted"}.get(got.status, got.status)
                status: ClipStatus = "interrupted" if got.status == "interrupted" else "skipped"
                return ctx.finish(clip, status, error=f"depends on {dep} which {what}")
        return None

    # ---- one clip ----
    async def _produce(self, clip: PlannedClip, task: ClipTask, held: Held) -> ClipOutcome:
        if task.action == "submit":
            started = await self._start_job(clip)
        else:  # resume / redownload: the job exists and is paid for; never create again
            started = await self._resume_job(clip, task, held)
        if isinstance(started, ClipOutcome):
            return started
        record, job, origin = started
        if self.ctx.stop.is_set():
            return self.ctx.finish(clip, "interrupted", job_id=job.id)
        waited = await self.waiter.wait(clip, record, job, origin)
        if isinstance(waited, ClipOutcome):
            return waited
        # The job is over at the provider: its slot (a job in flight there) serves the next one
        # while the video downloads, unless a clip that needs this video should have it.
        if not keep_slot_for(self._made_ready_by(clip.name), self.slots.best_waiting()):
            held.release()
            await self.creates.give_way()  # to the create the slot just went to, among others
        return await self.store.fetch(clip, *waited)

    def _made_ready_by(self, name: str) -> list[float]:
        """The priorities of the clips that `name` finishing would make ready to start."""
        ctx = self.ctx
        return [ctx.tasks[dep].priority for dep in self.dependants.get(name, ())
                if ctx.tasks[dep].action in WORK_ACTIONS and dep not in ctx.results
                and all(d == name or (d in ctx.results and ctx.results[d].ok) for d in ctx.clips[dep].after)]

    async def _start_job(self, clip: PlannedClip) -> ClipOutcome | tuple[JobRecord, Job, float | None]:
        with self.creates.preparing():
            try:
                body = await self.inputs.resolve(clip)
            except Exception as exc:  # ProviderError, OSError, ValueError; media.MediaError from frame extraction
                return self.ctx.finish(clip, "failed", error=local_disk_problem(exc, self.ctx.cache.root / "frames")
                                       or f"cannot prepare the request: {exc}")
            return await self.submitter.submit(clip, body)

    async def _resume_job(self, clip: PlannedClip, task: ClipTask,
                          held: Held) -> ClipOutcome | tuple[JobRecord, Job, float | None]:
        ctx = self.ctx
        record = ctx.journal.get(clip.key) or JobRecord(
            key=clip.key, clip=clip.name, provider=ctx.provider.namespace, state="completed",
            job_id=task.job_id, source=clip.source)
        if record.job_id != task.job_id:
            record = replace(record, job_id=task.job_id)
        ctx.emit(clip.name, "running", f"resuming job {task.job_id}", task.job_id)
        try:
            job = await ctx.provider.get(task.job_id)  # type: ignore[arg-type]
        except ProviderError as exc:
            if not exc.retryable and not ctx.provider.paid:  # free: just make it again
                ctx.emit(clip.name, "note", f"job {task.job_id} is gone ({exc}); rendering again")
                return await self._produce(clip, replace(task, action="submit", job_id=None), held)
            if not exc.retryable:
                return self._unknown_job(clip, task.job_id, exc)  # type: ignore[arg-type]
            job = Job(id=task.job_id, state="running")  # type: ignore[arg-type]
        return record, job, None

    def _unknown_job(self, clip: PlannedClip, job_id: str, exc: ProviderError) -> ClipOutcome:
        error = f"cannot look up job {job_id}: {exc}"
        if exc.status == 404:
            return self.ctx.finish(clip, "failed", job_id=job_id, error=f"{error}; the provider does not know this job",
                                   why=Reason(ReasonCode.UNKNOWN_JOB, clip.name, job_id))
        return self.ctx.finish(clip, "failed", job_id=job_id, error=f"{error}; run again to retry")


def run_on_new_loop(start: OpenedRender, provider: Provider, *, close_provider: bool = False,
                    on_event: EventSink | None = None, **scheduling: Any) -> RenderReport:
    """`run_opened` on a fresh event loop. The first Ctrl-C stops gracefully (no new jobs,
    in-flight requests answered and journaled); a second one cancels at once (raises
    KeyboardInterrupt). `close_provider` closes the provider's connections on that loop."""

    async def main() -> RenderReport:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()

        def on_sigint() -> None:
            if not stop.is_set():
                stop.set()
                tell(on_event, RenderEvent("*", "note", "stopping: no new jobs will be submitted; "
                                                        "press Ctrl-C again to abort at once"))
            elif me is not None:
                me.cancel()

        installed = False
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
            installed = True
        try:
            return await run_opened(start, provider, on_event=on_event, stop=stop, **scheduling)
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGINT)
            if close_provider:
                with contextlib.suppress(Exception):
                    await provider.aclose()

    try:
        return asyncio.run(main())
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None
