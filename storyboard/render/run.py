"""Running a render: the approval and cost gate, then the scheduler that submits, polls and
downloads, journaling every create before and after it is sent."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterable

from .cache import Cache, CacheRecord, check_media, probe_summary
from ..disk import disk_cause, disk_message
from .journal import JournalError, JobRecord
from .. import paths
from ..credentials import remember, scrub
from .journal import DuplicateCreate
from ..plan import PlannedClip, RenderPlan
from ..providers.base import AmbiguousSubmit, Job, Provider, ProviderError
from .decide import default_state_dir, in_doubt_message, inspect_render, media_module, provider_journal
from .graph import expectation
from .lock import StoryLock
from .placeholders import media_kind, placeholders_in, substitute
from .policy import LatencyEstimator, next_poll_at, PollPolicy, RetryPolicy, Slots
from .results import (
    ApprovalRequired, ClipOutcome, ClipStatus, ClipTask, CostLimitExceeded, NotApproved,
    RenderError, RenderEvent, RenderReport, RenderSummary,
)

EventSink = Callable[[RenderEvent], None]
CREATE_GRACE = 60.0  # seconds to wait for an in-flight create's answer after a cancel


async def render_plan(plan: RenderPlan, provider: Provider, *, state_dir: Path | None = None,
                      concurrency: int = 4, only: Iterable[str] | None = None,
                      on_event: EventSink | None = None,
                      approve: Callable[[RenderSummary], bool] | None = None,
                      max_cost: float | None = None, resubmit_in_doubt: bool = False,
                      poll: PollPolicy = PollPolicy(), retry: RetryPolicy = RetryPolicy(),
                      stop: asyncio.Event | None = None, media: Any = None) -> RenderReport:
    """Render every clip of `plan` that is not cached (or `only` those, plus what they need).

    Raises RenderError (nothing submitted) when the story is locked by another render, a paid
    plan is not approved, or `max_cost` is exceeded. Otherwise returns a report: clip failures
    are outcomes, not exceptions. Setting `stop` ends the render gracefully (no new creates;
    in-flight creates are answered and journaled; the report says `interrupted`).
    """
    if plan.provider != provider.name:
        raise RenderError(f"this plan was compiled for provider {plan.provider!r}, not {provider.name!r}; "
                          "compile it again for this provider")
    if concurrency < 1:
        raise RenderError("concurrency must be at least 1")
    state_dir = Path(state_dir) if state_dir else default_state_dir(plan)
    media = media or media_module()
    started = time.monotonic()
    with StoryLock(state_dir):
        summary = inspect_render(plan, provider, state_dir=state_dir, only=only,
                                 resubmit_in_doubt=resubmit_in_doubt, media=media)
        _gate(summary, provider, approve, max_cost)
        run = _Run(plan, provider, summary, state_dir=state_dir, concurrency=concurrency,
                   on_event=on_event, poll=poll, retry=retry, stop=stop or asyncio.Event(), media=media)
        outcomes = await run.go()
    return RenderReport(outcomes, summary, interrupted=run.interrupted, elapsed=time.monotonic() - started)


def check_cost(summary: RenderSummary, max_cost: float | None) -> None:
    """Raise CostLimitExceeded when what would be submitted may cost more than `max_cost`
    (an unknown estimate may, so it is refused too)."""
    if max_cost is None or not summary.submits:
        return
    cost = summary.estimated_cost_usd
    if cost is None:
        unknown = ", ".join(t.name for t in summary.submits if t.estimated_cost_usd is None)
        raise CostLimitExceeded(f"refusing to start: the cost of {unknown} is unknown, so the plan "
                                f"cannot be shown to stay under --max-cost ${max_cost:.2f}", summary)
    if cost > max_cost + 1e-9:
        raise CostLimitExceeded(f"refusing to start: the estimate ${cost:.2f} for "
                                f"{len(summary.submits)} clip(s) exceeds --max-cost ${max_cost:.2f}", summary)


def approved_subset(approved: RenderSummary) -> Callable[[RenderSummary], bool]:
    """An `approve` callback for a decision taken earlier (e.g. a prompt shown before the render
    started): yes only if the render would now submit nothing the user did not see."""
    keys = {t.key for t in approved.submits}
    return lambda now: {t.key for t in now.submits} <= keys


def _gate(summary: RenderSummary, provider: Provider,
          approve: Callable[[RenderSummary], bool] | None, max_cost: float | None) -> None:
    """Refuse to spend money nobody agreed to. Nothing has been sent when this raises."""
    if not summary.submits:
        return
    problem = provider.credential_problem()  # a missing or malformed key: no create could succeed
    if problem:
        raise RenderError(f"{problem}; nothing was submitted")
    check_cost(summary, max_cost)
    if not provider.paid:
        return
    if approve is None:
        raise ApprovalRequired(f"{len(summary.submits)} paid job(s) would be submitted to {provider.name} "
                               "and nobody approved them", summary)
    if not approve(summary):
        raise NotApproved("not confirmed; nothing was submitted", summary)


class _Run:
    """One render's mutable state. Each clip is one task; a clip waits for its dependencies,
    then for a slot (at most `concurrency` jobs between submit and download), highest
    critical-path priority first."""

    def __init__(self, plan: RenderPlan, provider: Provider, summary: RenderSummary, *, state_dir: Path,
                 concurrency: int, on_event: EventSink | None, poll: PollPolicy, retry: RetryPolicy,
                 stop: asyncio.Event, media: Any):
        self.plan, self.provider, self.summary = plan, provider, summary
        self.cache = Cache(state_dir, provider.namespace)
        self.journal = provider_journal(state_dir, provider)
        self.workdir = state_dir / "work" / provider.namespace
        self.clips = {c.name: c for c in plan.clips}
        self.tasks = {t.name: t for t in summary.tasks}
        self.poll, self.retry, self.stop, self.media = poll, retry, stop, media
        self.slots = Slots(concurrency)
        self.estimator = LatencyEstimator()
        self.results: dict[str, ClipOutcome] = {}
        self.durations: dict[str, float] = {}  # actual lengths of available clips (extend checks)
        self._run_urls: dict[str, str] = {}  # provider URLs of clips rendered in this run
        self._writes: dict[str, asyncio.Future] = {}  # the last journal write of each key
        self._tickets: dict[str, asyncio.Future] = {}  # slot reservations of clips just made ready
        self._frames: dict[Path, asyncio.Future] = {}  # frame extractions, shared
        self.dependants: dict[str, list[str]] = {c.name: [] for c in plan.clips}
        for c in plan.clips:
            for d in c.after:
                self.dependants[d].append(c.name)
        self.done = {name: asyncio.Event() for name in self.clips}
        self._sink = on_event
        remember(getattr(provider, "api_key", None))  # a provider that did not read it with read_secret
        self.interrupted = False

    # ---- plumbing ----
    def emit(self, clip: str, state: str, message: str = "", job_id: str | None = None) -> None:
        if self._sink is None:
            return
        seconds = self.clips[clip].seconds if clip in self.clips else None
        try:
            self._sink(RenderEvent(clip, state, self.scrub(message), job_id, seconds))
        except Exception:  # a broken display must not break a paid render
            pass

    async def _put(self, record: JobRecord) -> JobRecord:
        """Write a journal record and wait until it is durable."""
        return await self._put_soon(record)

    def _put_soon(self, record: JobRecord) -> "asyncio.Future[JobRecord]":
        """Start writing a record; writes of one key land in the order they were asked for.
        (fsync takes milliseconds: off the event loop, so other clips keep moving.)"""
        prev = self._writes.get(record.key)

        async def write() -> JobRecord:
            if prev is not None:
                await asyncio.wait([prev])
            return await asyncio.to_thread(self.journal.put, record)

        task = asyncio.ensure_future(write())
        self._writes[record.key] = task
        task.add_done_callback(lambda t, clip=record.clip: self._write_done(t, clip))
        return task

    def _write_done(self, task: asyncio.Future, clip: str) -> None:
        if task.cancelled() or task.exception() is None:  # (retrieving it keeps asyncio quiet)
            return
        exc = task.exception()
        self.emit(clip, "note", f"cannot update the job journal in {self.journal.dir}: "
                                f"{_os_reason(exc) if isinstance(exc, OSError) else exc}")

    async def _start_record(self, clip: PlannedClip) -> JobRecord:
        prev = self._writes.get(clip.key)
        if prev is not None:
            await asyncio.wait([prev])
        return await asyncio.to_thread(self.journal.start, clip.key, clip.name, clip.source)

    def scrub(self, text: str) -> str:
        return scrub(text)

    def finish(self, clip: PlannedClip, status: ClipStatus, **kw: Any) -> ClipOutcome:
        if kw.get("error"):
            kw["error"] = self.scrub(str(kw["error"]))
        out = ClipOutcome(clip.name, clip.key, status, clip.source, clip.seconds, **kw)
        self.results[clip.name] = out
        self.done[clip.name].set()  # dependants may go on
        if out.ok:
            self._reserve_for_dependants(clip.name)
        state = {"rendered": "done"}.get(status, status)
        if status != "not-requested":
            self.emit(clip.name, state, out.error or "", out.job_id)
        return out

    def _reserve_for_dependants(self, name: str) -> None:
        """Queue, right now, the dependants this clip's completion makes ready (see Slots)."""
        for dep in self.dependants.get(name, ()):
            t = self.tasks[dep]
            if (t.action in ("submit", "resume", "redownload") and dep not in self._tickets
                    and dep not in self.results and not self.stop.is_set()
                    and all(d in self.results and self.results[d].ok for d in self.clips[dep].after)):
                self._tickets[dep] = self.slots.reserve(t.priority)

    async def sleep(self, seconds: float, *also: asyncio.Event) -> None:
        """Sleep, waking early when `stop` (or any of `also`) is set."""
        events = (self.stop,) + also
        if any(e.is_set() for e in events) or seconds <= 0:
            return
        waiters = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(waiters, timeout=None if seconds == float("inf") else seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    # ---- the whole run ----
    async def go(self) -> tuple[ClipOutcome, ...]:
        self._sweep_temps()
        self._quarantine_corrupt()
        for t in self.summary.tasks:
            if t.action in ("submit", "resume", "redownload"):
                self.emit(t.name, "queued", t.reason or "")
        # Started critical-path first, so the clips that are ready at once take the free slots
        # in that order too (later arrivals are ordered by the slot queue).
        for t in self.summary.tasks:  # settled before anything runs, so no slot is reserved early
            if t.action in ("cached", "not-requested", "in-doubt"):
                self._settle(self.clips[t.name], t)
        order = sorted((t for t in self.summary.tasks if t.name not in self.results), key=lambda t: -t.priority)
        tasks = [asyncio.create_task(self._clip(self.clips[t.name]), name=f"clip:{t.name}")
                 for t in order]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            # Hard cancel: let each clip task finish its cleanup (journal writes, shielded creates).
            self.interrupted = True
            await asyncio.gather(*tasks, return_exceptions=True)  # gather cancelled them already
            await self._drain()
            raise
        await self._drain()
        if self.stop.is_set():
            self.interrupted = True
        return tuple(self.results[c.name] for c in self.plan.clips)

    async def _drain(self) -> None:
        pending = [w for w in self._writes.values() if not w.done()]
        if pending:
            await asyncio.wait(pending)

    def _sweep_temps(self) -> None:
        """Partial downloads and journal temp files left by a render that was killed: we hold the
        story's lock, so no other render can be writing them. (A killed download may be large.)"""
        stale = list((self.cache.root / "tmp").glob("*.part.mp4")) + list(self.journal.dir.glob(".*.tmp"))
        for path in stale:
            with contextlib.suppress(OSError):
                path.unlink()

    def _quarantine_corrupt(self) -> None:
        for t in self.summary.tasks:
            if t.corrupt and t.action != "not-requested" and not t.same_as:  # one file per generation
                aside = self.cache.quarantine(t.key)
                self.emit(t.name, "note", f"cached file {t.corrupt}; moved aside to {aside}")

    def _settle(self, clip: PlannedClip, task: ClipTask) -> ClipOutcome:
        """The outcome of a clip that needs no work."""
        if task.action == "cached":
            path = self.cache.clip_path(clip.key)
            rec = self.cache.read_record(clip.key) or self._rewrite_record(clip, path)
            self._note_duration(clip, path)
            return self.finish(clip, "cached", path=path, job_id=rec.job_id if rec else None,
                               cost=rec.cost if rec else None)
        if task.action == "in-doubt":
            return self.finish(clip, "in-doubt", error=task.reason)
        return self.finish(clip, "not-requested")

    def _rewrite_record(self, clip: PlannedClip, path: Path) -> CacheRecord | None:
        """A verified cached clip whose record is missing or unreadable: write the record again
        from the journal and a fresh probe (its job id is what lets a paid clip that goes bad be
        downloaded again instead of paid for again)."""
        try:
            job = self.journal.get(clip.key)
        except JournalError:
            job = None
        try:
            rec = CacheRecord(name=clip.name, key=clip.key, provider=self.provider.namespace,
                              job_id=job.job_id if job else None, cost=job.cost if job else None,
                              video_url=job.video_url if job else None,
                              probe=probe_summary(self.media.probe(path)), source=clip.source,
                              size=path.stat().st_size)
            self.cache.write_record(rec)
        except Exception as exc:  # a read-only folder, a probe error: the clip itself is fine
            self.emit(clip.name, "note", f"the cache record is missing or unreadable and cannot be "
                                         f"written again: {getattr(exc, 'strerror', None) or exc}")
            return None
        self.emit(clip.name, "note", "the cache record was missing or unreadable; written again")
        return rec

    async def _clip(self, clip: PlannedClip) -> ClipOutcome:
        task = self.tasks[clip.name]
        try:
            if task.same_as:
                return await self._follow(clip, task.same_as)
            blocked = await self._wait_for_inputs(clip)
            if blocked is not None:
                return blocked
            if self.stop.is_set():
                return self.finish(clip, "interrupted", job_id=task.job_id)
            async with self.slots.slot(task.priority, self._tickets.pop(clip.name, None)):
                if self.stop.is_set():
                    return self.finish(clip, "interrupted", job_id=task.job_id)
                return await self._produce(clip, task)
        except asyncio.CancelledError:
            if clip.name not in self.results:
                self.finish(clip, "interrupted", job_id=task.job_id)
            raise
        except Exception as exc:  # a bug or an unexpected provider exception: this clip only
            if clip.name in self.results:
                return self.results[clip.name]
            try:
                rec = self.journal.get(clip.key)
            except JournalError:
                rec = None
            note = f" (job {rec.job_id} is in the journal and will be resumed)" if rec and rec.job_id else ""
            return self.finish(clip, "failed", error=f"{type(exc).__name__}: {exc}{note}",
                               job_id=rec.job_id if rec else None)
        finally:
            self.done[clip.name].set()
            ticket = self._tickets.pop(clip.name, None)
            if ticket is not None:  # reserved for us but not used (stopped, skipped)
                self.slots.cancel(ticket)

    async def _follow(self, clip: PlannedClip, maker: str) -> ClipOutcome:
        """A clip whose request is `maker`'s: one generation serves both, so it waits for that
        one's outcome and takes it (its video, its job; the cost is counted once, at `maker`)."""
        self.emit(clip.name, "waiting", f"for {maker}: the same request, one generation")
        await self.done[maker].wait()  # not cut short by a stop: `maker` always finishes
        made = self.results[maker]
        if maker in self.durations:
            self.durations[clip.name] = self.durations[maker]
        if maker in self._run_urls:
            self._run_urls[clip.name] = self._run_urls[maker]
        error = f"the same request as {maker}, which {made.status}: {made.error}" if made.error else None
        return self.finish(clip, made.status, path=made.path, job_id=made.job_id, error=error,
                           provider_seconds=made.provider_seconds, same_as=maker)

    async def _wait_for_inputs(self, clip: PlannedClip) -> ClipOutcome | None:
        if clip.after:
            self.emit(clip.name, "waiting", f"for {', '.join(clip.after)}")
        for dep in clip.after:
            if not self.done[dep].is_set():
                await self.sleep(float("inf"), self.done[dep])
                if not self.done[dep].is_set():  # stopped while waiting
                    return self.finish(clip, "interrupted")
            got = self.results[dep]
            if not got.ok:
                what = {"failed": "failed", "in-doubt": "is in doubt", "skipped": "was skipped",
                        "interrupted": "was interrupted"}.get(got.status, got.status)
                status: ClipStatus = "interrupted" if got.status == "interrupted" else "skipped"
                return self.finish(clip, status, error=f"depends on {dep} which {what}")
        return None

    # ---- one clip ----
    async def _produce(self, clip: PlannedClip, task: ClipTask) -> ClipOutcome:
        if task.action == "submit":
            try:
                body = await self._resolve(clip)
            except Exception as exc:  # ProviderError, OSError, ValueError; media.MediaError from frame extraction
                return self.finish(clip, "failed", error=_local_disk_problem(exc, self.cache.root / "frames")
                                   or f"cannot prepare the request: {exc}")
            submitted = await self._submit(clip, body)
            if isinstance(submitted, ClipOutcome):
                return submitted
            record, job = submitted
            origin: float | None = time.monotonic()
        else:  # resume / redownload: the job exists and is paid for; never create again
            origin = None
            record = self.journal.get(clip.key) or JobRecord(
                key=clip.key, clip=clip.name, provider=self.provider.namespace, state="completed",
                job_id=task.job_id, source=clip.source)
            if record.job_id != task.job_id:
                record = replace(record, job_id=task.job_id)
            self.emit(clip.name, "running", f"resuming job {task.job_id}", task.job_id)
            try:
                job = await self.provider.get(task.job_id)  # type: ignore[arg-type]
            except ProviderError as exc:
                if not exc.retryable and not self.provider.paid:  # free: just make it again
                    self.emit(clip.name, "note", f"job {task.job_id} is gone ({exc}); rendering again")
                    return await self._produce(clip, replace(task, action="submit", job_id=None))
                if not exc.retryable:
                    return self.finish(clip, "failed", job_id=task.job_id,
                                       error=f"cannot look up job {task.job_id}: {exc}"
                                             + _forget_hint(clip.name, exc))
                job = Job(id=task.job_id, state="running")  # type: ignore[arg-type]
        if self.stop.is_set():
            return self.finish(clip, "interrupted", job_id=job.id)
        waited = await self._wait_job(clip, record, job, origin)
        if isinstance(waited, ClipOutcome):
            return waited
        record, job = waited
        return await self._fetch(clip, record, job)

    async def _submit(self, clip: PlannedClip, body: dict[str, Any]) -> ClipOutcome | tuple[JobRecord, Job]:
        hints = _create_hints(self.provider, clip, self.plan)
        for attempt in range(self.retry.attempts):
            if self.stop.is_set():
                return self.finish(clip, "interrupted")
            try:
                self.workdir.mkdir(parents=True, exist_ok=True)
                record = await self._start_record(clip)  # durable BEFORE the request is sent
            except DuplicateCreate as exc:  # never paid twice, whatever asked for it
                return self.finish(clip, "failed", error=f"{exc}; nothing was submitted for this clip")
            except OSError as exc:
                return self.finish(clip, "failed", error=(
                    f"cannot write the job journal in {self.journal.dir}: {_os_reason(exc)}; nothing was "
                    "submitted for this clip: free some space (or make the folder writable) and run again"))
            self.emit(clip.name, "submitting", "" if not attempt else f"attempt {attempt + 1}")
            try:
                job = await self._create(record, body, hints)
            except AmbiguousSubmit as exc:
                msg = self.scrub(str(exc))
                record = await self._put(record.advance("in_doubt", error=msg))
                return self.finish(clip, "in-doubt", error=f"{msg}: {in_doubt_message(record)}")
            except ProviderError as exc:
                msg = self.scrub(str(exc))
                # Nothing was created (that is the contract of ProviderError outside AmbiguousSubmit).
                await self._put(record.advance("unsent", error=msg))
                if exc.retryable and attempt + 1 < self.retry.attempts and not self.stop.is_set():
                    wait = self.retry.delay(attempt, exc.retry_after)
                    self.emit(clip.name, "retrying", f"{msg}; retrying in {wait:.1f} s")
                    await self.sleep(wait)
                    continue
                tries = f" (after {attempt + 1} attempts)" if attempt else ""
                return self.finish(clip, "failed", error=_local_disk_problem(exc, self.workdir)
                                   or f"provider refused the request{tries}: {msg}")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # We cannot tell whether it reached the provider: in doubt, never retried.
                msg = self.scrub(f"{type(exc).__name__}: {exc}")
                record = await self._put(record.advance("in_doubt", error=msg))
                return self.finish(clip, "in-doubt", error=f"{msg}: {in_doubt_message(record)}")
            try:
                record = await self._put(record.advance("submitted", job_id=job.id))
            except OSError as exc:  # paid for, and only this process knows the id: say it
                return self.finish(clip, "failed", job_id=job.id, error=(
                    f"job {job.id} was created, but the journal in {self.journal.dir} cannot record it "
                    f"({_os_reason(exc)}): free some space (or make the folder writable), then "
                    f"`storyboard render --adopt {clip.name}={job.id}` so the next render downloads it "
                    "instead of paying for it again"))
            self.emit(clip.name, "running", f"job {job.id}", job.id)
            return record, job
        raise AssertionError("unreachable")

    async def _create(self, record: JobRecord, body: dict[str, Any], hints: dict[str, Any]) -> Job:
        """The create call, shielded: once a request is out, a hard cancel waits (bounded) for
        its answer so the job id reaches the journal instead of leaving the clip in doubt."""
        fut = asyncio.ensure_future(self.provider.create(body, workdir=self.workdir, **hints))
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            try:
                job = await asyncio.wait_for(asyncio.shield(fut), CREATE_GRACE)
            except AmbiguousSubmit as exc:
                await self._put(record.advance("in_doubt", error=self.scrub(str(exc))))
            except ProviderError as exc:
                await self._put(record.advance("unsent", error=self.scrub(str(exc))))
            except BaseException:
                pass  # still `submitting`: in doubt, which is the truth
            else:
                await self._put(record.advance("submitted", job_id=job.id))
            raise

    async def _wait_job(self, clip: PlannedClip, record: JobRecord, job: Job,
                        origin: float | None = None) -> ClipOutcome | tuple[JobRecord, Job]:
        """Poll until the job completes or fails, or the deadline passes. `origin` (monotonic) is
        when the job surely existed: the create's answer; for a resumed job, its journaled send."""
        if origin is None:
            since = time.time() - record.submitted_at if record.submitted_at else 0.0
            origin = time.monotonic() - max(0.0, since)
        waited_from = time.monotonic()
        last = max(0.0, time.monotonic() - origin) if job.state == "running" and origin < waited_from - 1e-3 else 0.0
        est = self.estimator
        token = est.enter(clip.seconds)
        try:
            while job.state == "running":
                if time.monotonic() - waited_from > self.poll.deadline:
                    return self.finish(clip, "failed", job_id=job.id,
                                       error=f"job {job.id} still running after {self.poll.deadline / 60:.0f} min; "
                                             "it stays in the journal: run again to keep waiting for it")
                due = next_poll_at(self.poll, last, est.predict(clip.seconds), est.scale(clip.seconds))
                now = time.monotonic() - origin
                if due > now:
                    await self.sleep(due - now, est.changed)
                    if self.stop.is_set():
                        return self.finish(clip, "interrupted", job_id=job.id)
                    # Woken by a new estimate: decide again when to poll.
                    if time.monotonic() - origin + 1e-3 < next_poll_at(
                            self.poll, last, est.predict(clip.seconds), est.scale(clip.seconds)):
                        continue
                last = time.monotonic() - origin
                try:
                    job = await self.provider.get(job.id)
                except ProviderError as exc:
                    if exc.retryable:
                        self.emit(clip.name, "note", f"polling job {job.id}: {exc}; will retry", job.id)
                        continue
                    return self.finish(clip, "failed", job_id=job.id,
                                       error=f"cannot poll job {job.id}: {exc} (the job id is kept in the "
                                             "journal; run again to resume it)")
        finally:
            est.leave(token)
        took = _provider_seconds(job)
        if took is None:  # no provider clock: our own (an upper bound)
            took = max(0.0, time.monotonic() - origin)
        if job.state == "failed":
            msg = self.scrub(job.error or "the provider reported failure without a message")
            code = f" [{job.error_code}]" if job.error_code else ""
            await self._put(record.advance("failed", job_id=job.id, error=f"{msg}{code}", cost=job.cost))
            return self.finish(clip, "failed", job_id=job.id, error=f"job {job.id} failed: {msg}{code}")
        self.estimator.observe(clip.seconds, took)
        record = record.advance("completed", job_id=job.id, video_url=job.video_url, cost=job.cost)
        self._put_soon(record)  # while the download runs; the next state is written after it
        return record, job

    async def _fetch(self, clip: PlannedClip, record: JobRecord, job: Job) -> ClipOutcome:
        """`_download`, with the local disk's refusals (full, read-only) as a clear failure: the
        job stays in the journal as `completed`, so the next run downloads it, never re-creates it."""
        try:
            return await self._download(clip, record, job)
        except OSError as exc:
            for part in (self.cache.root / "tmp").glob(f"{clip.key}.{os.getpid()}.*"):
                with contextlib.suppress(OSError):
                    part.unlink()  # a partial download must not keep the space it took
            return self.finish(clip, "failed", job_id=job.id, error=(
                f"cannot write the video of job {job.id} in {self.cache.root}: {_os_reason(exc)}; the job is "
                "kept in the journal: free some space (or make the folder writable) and run again to download it"))

    async def _download(self, clip: PlannedClip, record: JobRecord, job: Job) -> ClipOutcome:
        """Download to a temp file, check it, rename it into the cache. A failed download gets
        one fresh URL (re-GET); a bad file gets one more download; then the clip fails clearly."""
        expect = expectation(clip, self.durations)
        refreshed, downloads = False, 0
        while True:
            tmp = self.cache.temp_path(clip.key)
            self.emit(clip.name, "downloading", "", job.id)
            try:
                await self.provider.download(job, tmp)
            except ProviderError as exc:
                self.cache.discard_temp(tmp)
                if refreshed:
                    return self._download_failed(clip, job, self.scrub(str(exc)))
                refreshed = True
                try:  # an expired (or broken) URL: the job's GET hands out a fresh one
                    job = await self.provider.get(job.id)
                except ProviderError as exc2:
                    return self._download_failed(clip, job, f"{exc}; then looking the job up again: {exc2}")
                continue
            except BaseException:
                self.cache.discard_temp(tmp)
                raise
            downloads += 1
            try:
                summary = probe_summary(await asyncio.to_thread(self.media.probe, tmp))
                problem = check_media(summary, expect)
            except Exception as exc:  # media.MediaError: not a readable video
                summary, problem = {}, f"cannot be read ({exc})"
            if problem is None:
                path = await asyncio.to_thread(self.cache.store, tmp, CacheRecord(
                    name=clip.name, key=clip.key, provider=self.provider.namespace, job_id=job.id,
                    cost=job.cost, video_url=job.video_url, probe=summary, source=clip.source))
                self.durations[clip.name] = float(summary["duration"])
                if job.last_frame_url:
                    await self._keep_last_frame(clip, job)
                if job.video_url:
                    self._run_urls[clip.name] = job.video_url
                out = self.finish(clip, "rendered", path=path, job_id=job.id, cost=job.cost,
                                  provider_seconds=_provider_seconds(job))
                # Dependants may start now: the clip is in the cache, which is what counts.
                self._put_soon(record.advance("downloaded", job_id=job.id, video_url=job.video_url,
                                              cost=job.cost))
                return out
            if downloads >= 2:
                break
            self.cache.discard_temp(tmp)  # maybe a truncated transfer: once more
            self.emit(clip.name, "note", f"downloaded video {problem}; downloading it again", job.id)
            with contextlib.suppress(ProviderError):
                job = await self.provider.get(job.id)
        aside = self.cache.root / "corrupt" / f"{clip.key}-job-{job.id}.mp4"
        aside.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, aside)
        await self._put(record.advance("rejected", job_id=job.id, error=f"video {problem}"))
        return self.finish(clip, "failed", job_id=job.id,
                           error=f"the video of job {job.id} {problem} (kept at {aside})")

    def _download_failed(self, clip: PlannedClip, job: Job, message: str) -> ClipOutcome:
        # The journal keeps the job as `completed`: the next run downloads it again, no new job.
        return self.finish(clip, "failed", job_id=job.id,
                           error=f"cannot download the video of job {job.id}: {message} "
                                 "(the job is kept in the journal; run again to retry the download)")

    def _note_duration(self, clip: PlannedClip, path: Path) -> None:
        rec = self.cache.read_record(clip.key)
        if rec and rec.probe.get("duration"):
            self.durations[clip.name] = float(rec.probe["duration"])
        else:
            with contextlib.suppress(Exception):
                self.durations[clip.name] = float(probe_summary(self.media.probe(path))["duration"])

    # ---- placeholders ----
    async def _resolve(self, clip: PlannedClip) -> dict[str, Any]:
        """The request body with every placeholder replaced by what the provider accepts."""
        found: dict[str, str] = {}
        for kind, raw, value in placeholders_in(clip.request):
            if raw not in found:
                found[raw] = await self._resolve_one(clip, kind, raw, value)
        return substitute(clip.request, found)

    async def _resolve_one(self, clip: PlannedClip, kind: str, raw: str, value: tuple[str, str]) -> str:
        ph_kind, arg = value
        if ph_kind == "file":
            base = Path(self.plan.base_dir).resolve()
            found = paths.resolve(base, arg)  # the rule the checker and compiler used
            if not found.ok:
                raise ValueError(f"{raw} {found.reason_in(base)}")
            path = found.path
            if not path.is_file():
                raise ValueError(f"{arg} does not exist (looked in {base})")
            return self.provider.resolve_media(media_kind(kind, path), path=path, url=None)
        dep = self.results.get(arg)
        if dep is None or not dep.ok or dep.path is None:
            raise ValueError(f"{raw} refers to clip {arg!r}, which is not rendered")
        if ph_kind == "video":
            # A URL handed out in this run is fresh; an older one (a cached clip) may have expired.
            url = self._run_urls.get(arg) or await self._fresh_url(dep)
            return self.provider.resolve_media("video", path=dep.path, url=url)
        png = await self._frame(dep, "last" if ph_kind == "last-frame" else "first")
        return self.provider.resolve_media("image", path=png, url=None)

    async def _frame(self, dep: ClipOutcome, which: str) -> Path:
        """The first or last frame of a rendered clip, extracted once (cached beside the clips;
        two dependants asking at once share one extraction)."""
        png = self.cache.frame_path(dep.key, which)
        if png not in self._frames:
            async def extract() -> Path:
                if not png.is_file():
                    png.parent.mkdir(parents=True, exist_ok=True)
                    tmp = png.with_name(f".{png.stem}.{os.getpid()}.png")
                    await asyncio.to_thread(self.media.extract_frame, dep.path, which, tmp)
                    os.replace(tmp, png)
                return png
            self._frames[png] = asyncio.ensure_future(extract())
        return await asyncio.shield(self._frames[png])

    async def _keep_last_frame(self, clip: PlannedClip, job: Job) -> None:
        """The provider's own last frame (asked for with the request), stored where `_frame`
        looks, so no dependant decodes the video for it. On any failure `_frame` decodes it."""
        png = self.cache.frame_path(clip.key, "last")
        tmp = png.with_name(f".{png.stem}.{os.getpid()}.got.png")
        try:
            png.parent.mkdir(parents=True, exist_ok=True)
            if await self.provider.download_last_frame(job, tmp):
                os.replace(tmp, png)
        except (ProviderError, OSError) as exc:
            self.emit(clip.name, "note", f"the provider's last frame was not kept ({self.scrub(str(exc))}); "
                                         "it will be taken from the video", job.id)
        finally:
            tmp.unlink(missing_ok=True)

    async def _fresh_url(self, dep: ClipOutcome) -> str | None:
        """A rendered clip's provider URL, refreshed when possible (signed URLs expire)."""
        rec = self.cache.read_record(dep.key)
        url = rec.video_url if rec else None
        if dep.job_id:
            with contextlib.suppress(Exception):
                job = await self.provider.get(dep.job_id)
                if job.state == "completed" and job.video_url:
                    url = job.video_url
                    if rec:
                        self.cache.write_record(replace(rec, video_url=url))
        return url


def _local_disk_problem(exc: BaseException, folder: Path) -> str | None:
    """One line naming the folder when a full or read-only disk here is why `exc` happened (a
    provider that renders locally, a frame extraction): neither the provider's nor the story's
    fault, and the same command resumes once there is room."""
    disk = disk_cause(exc)
    return disk_message(disk, folder) if disk is not None else None


def _os_reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _forget_hint(name: str, exc: ProviderError) -> str:
    if exc.status == 404:
        return (f"; the provider does not know this job: `storyboard render --forget {name}` "
                "to submit it again (paid)")
    return "; run again to retry"


def _provider_seconds(job: Job) -> float | None:
    if job.seconds is not None:
        return job.seconds
    raw = job.raw or {}
    a, b = raw.get("created_at"), raw.get("completed_at")
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b >= a:
        return float(b - a)
    return None


def _create_hints(provider: Provider, clip: PlannedClip, plan: RenderPlan) -> dict[str, Any]:
    """Presentation hints (captions, title) for providers whose `create` accepts them (the
    preview animatic draws them); others get only the body."""
    try:
        params = inspect.signature(provider.create).parameters
    except (TypeError, ValueError):
        return {}
    hints: dict[str, Any] = {}
    if "captions" in params:
        hints["captions"] = clip_captions(clip)
    if "title" in params:
        hints["title"] = clip.name
    return hints


def clip_captions(clip: PlannedClip) -> list[str]:
    lines = [clip.name, clip.action or str(clip.request.get("prompt", ""))]
    if clip.camera:
        lines.append(f"camera: {clip.camera}")
    for d in clip.dialogue:
        lines.append(f"{d.speaker}{f' ({d.how})' if d.how else ''}: \"{d.line}\"")
    return [line for line in lines if line]


def render(plan: RenderPlan, provider: Provider, *, close_provider: bool = False, **kwargs: Any) -> RenderReport:
    """`render_plan` on a fresh event loop. The first Ctrl-C stops gracefully (no new jobs,
    in-flight requests answered and journaled); a second one cancels at once (raises
    KeyboardInterrupt). `close_provider` closes the provider's connections on that loop."""

    async def main() -> RenderReport:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        sink = kwargs.get("on_event")

        def on_sigint() -> None:
            if not stop.is_set():
                stop.set()
                if sink:
                    with contextlib.suppress(Exception):
                        sink(RenderEvent("*", "note", "stopping: no new jobs will be submitted; "
                                                       "press Ctrl-C again to abort at once"))
            elif me is not None:
                me.cancel()

        installed = False
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
            installed = True
        try:
            return await render_plan(plan, provider, stop=stop, **kwargs)
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
