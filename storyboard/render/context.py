"""One render's shared state and plumbing: what every part of a run (scheduler, submission,
polling, downloading) reads and reports through. The parts hold a `RunContext`, not each other."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..credentials import remember, scrub
from ..plan import PlannedClip, RenderPlan
from ..providers.base import Provider
from .cache import Cache
from .decide import provider_journal
from .policy import PollPolicy, RetryPolicy
from .results import ClipOutcome, ClipStatus, RenderEvent, RenderSummary, finished_event, outcome_of, tell

EventSink = Callable[[RenderEvent], None]


class RunContext:
    """The plan, the provider, where things are kept, and what is known so far: each clip's
    outcome, the actual length of every available clip (extensions are checked against it) and
    the provider URLs handed out in this run."""

    def __init__(self, plan: RenderPlan, provider: Provider, summary: RenderSummary, *, state_dir: Path,
                 on_event: EventSink | None, poll: PollPolicy, retry: RetryPolicy, stop: asyncio.Event,
                 media: Any, film: RenderPlan | None = None):
        self.plan, self.provider, self.summary = plan, provider, summary
        self.film = film or plan  # the whole film, title cards too: where each clip plays in it
        self.cache = Cache(state_dir, provider.namespace)
        self.journal = provider_journal(state_dir, provider)
        self.workdir = state_dir / "work" / provider.namespace
        self.clips = {c.name: c for c in plan.clips}
        self.tasks = {t.name: t for t in summary.tasks}
        self.poll, self.retry, self.stop, self.media = poll, retry, stop, media
        self.results: dict[str, ClipOutcome] = {}
        self.durations: dict[str, float] = {}  # actual lengths of available clips (extend checks)
        self.run_urls: dict[str, str] = {}  # provider URLs of clips rendered in this run
        self.done = {name: asyncio.Event() for name in self.clips}
        self.on_finished: Callable[[ClipOutcome], None] = lambda outcome: None
        self._sink = on_event
        remember(getattr(provider, "api_key", None))  # a provider that did not read it with read_secret

    def emit(self, clip: str, state: str, message: str = "", job_id: str | None = None) -> None:
        if self._sink is None:
            return
        seconds = self.clips[clip].seconds if clip in self.clips else None
        tell(self._sink, RenderEvent(clip, state, scrub(message), job_id, seconds))

    def finish(self, clip: PlannedClip, status: ClipStatus, **facts: Any) -> ClipOutcome:
        """Record a clip's outcome, tell the display, and let its dependants go on."""
        return self.record(outcome_of(clip, status, **facts))

    def record(self, out: ClipOutcome) -> ClipOutcome:
        self.results[out.name] = out
        self.done[out.name].set()
        self.on_finished(out)
        tell(self._sink, finished_event(out))
        return out

    async def sleep(self, seconds: float, *also: asyncio.Event) -> None:
        """Sleep, waking early when `stop` (or any of `also`) is set."""
        events = (self.stop, *also)
        if any(e.is_set() for e in events) or seconds <= 0:
            return
        waiters = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait(waiters, timeout=None if seconds == float("inf") else seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
