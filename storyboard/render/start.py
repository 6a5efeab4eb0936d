"""`render`, the engine's synchronous entry: the render is opened (`opening`: the story's lock,
what to do, the money gate), then settled at once when there is nothing to produce (every clip
in the cache, left alone or in doubt), without an event loop: a no-op re-render imports neither
asyncio nor the scheduler. Anything else runs the scheduler (`run`) on a fresh event loop."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..plan import RenderPlan
from ..providers.base import Provider
from .cache import Cache
from .opening import OpenedRender, opened, settled_outcome
from .results import RenderEvent, RenderReport, RenderSummary, finished_event, tell


def render(plan: RenderPlan, provider: Provider, *, state_dir: Path | None = None, concurrency: int = 4,
           only: Iterable[str] | None = None, on_event: Callable[[RenderEvent], None] | None = None,
           approve: Callable[[RenderSummary], bool] | None = None, max_cost: float | None = None,
           resubmit_in_doubt: bool = False, media: Any = None, close_provider: bool = False,
           **scheduling: Any) -> RenderReport:
    """`run.render_plan`, synchronously and Ctrl-C aware (`run.run_on_new_loop`). `scheduling`:
    the scheduler's `poll` and `retry` policies. `close_provider` closes the provider's
    connections at the end (a render that settles at once has opened none)."""
    with opened(plan, provider, state_dir=state_dir, concurrency=concurrency, only=only, approve=approve,
                max_cost=max_cost, resubmit_in_doubt=resubmit_in_doubt, media=media) as start:
        report = settled(start, provider, on_event) if start.idle else None
        if report is not None:
            return report
        from .run import run_on_new_loop

        return run_on_new_loop(start, provider, close_provider=close_provider, on_event=on_event,
                               concurrency=concurrency, **scheduling)


def settled(start: OpenedRender, provider: Provider,
            on_event: Callable[[RenderEvent], None] | None) -> RenderReport | None:
    """The report of a render with nothing to produce, made here; None when a cached clip's
    record must be written again first (the scheduler's store does that, probing the file)."""
    cache = Cache(start.state_dir, provider.namespace)
    clips = {c.name: c for c in start.plan.clips}
    outcomes = []
    for task in start.summary.tasks:
        clip = clips[task.name]
        record = cache.read_record(clip.key) if task.action == "cached" else None
        if task.action == "cached" and record is None:
            return None
        outcomes.append(settled_outcome(clip, task, cache.clip_path(clip.key), record))
    for out in outcomes:
        tell(on_event, finished_event(out))
    return RenderReport(tuple(outcomes), start.summary, elapsed=time.monotonic() - start.started)
