"""Opening a render: the story's lock taken, what to do inspected under it, the money gate
passed and the local inputs hosted. What follows (the scheduler, or nothing at all) works inside
it. No event loop here: a render with nothing to do is settled without one (`start`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..plan import PlannedClip, RenderPlan
from ..providers.base import Provider
from .decide import default_state_dir, inspect_render, media_module, without_cards
from .gate import gate, prepare_inputs
from .lock import StoryLock
from .cache import CacheRecord
from .results import SETTLED_ACTIONS, ClipOutcome, ClipTask, RenderError, RenderSummary, outcome_of


@dataclass(frozen=True)
class OpenedRender:
    plan: RenderPlan  # what the engine renders: the film without its title cards
    film: RenderPlan  # the whole film, cards too: where each clip plays in it
    summary: RenderSummary  # what to do, inspected under the lock
    state_dir: Path
    media: Any
    started: float  # monotonic, when the render was asked for

    @property
    def idle(self) -> bool:
        """Nothing to produce: every clip is cached, left alone or in doubt."""
        return all(t.action in SETTLED_ACTIONS for t in self.summary.tasks)


@contextmanager
def opened(plan: RenderPlan, provider: Provider, *, state_dir: Path | None = None, concurrency: int = 4,
           only: Iterable[str] | None = None, approve: Callable[[RenderSummary], bool] | None = None,
           max_cost: float | None = None, resubmit_in_doubt: bool = False,
           media: Any = None) -> Iterator[OpenedRender]:
    """The render of `plan` opened, the story's lock held until the block ends. Raises
    RenderError (nothing submitted) when the story is locked by another render, a paid plan is
    not approved, or `max_cost` is exceeded."""
    started = time.monotonic()
    if plan.provider != provider.name:
        raise RenderError(f"this plan was compiled for provider {plan.provider!r}, not {provider.name!r}; "
                          "compile it again for this provider")
    film = plan
    plan, only = without_cards(plan, only)  # cards are drawn on this machine (storyboard.cards)
    if concurrency < 1:
        raise RenderError("concurrency must be at least 1")
    state_dir = Path(state_dir) if state_dir else default_state_dir(plan)
    media = media or media_module()
    with StoryLock(state_dir):
        summary = inspect_render(plan, provider, state_dir=state_dir, only=only,
                                 resubmit_in_doubt=resubmit_in_doubt, media=media)
        gate(summary, provider, approve, max_cost)
        prepare_inputs(plan, summary, provider, state_dir)
        yield OpenedRender(plan, film, summary, state_dir, media, started)


def settled_outcome(clip: PlannedClip, task: ClipTask, path: Path, record: CacheRecord | None) -> ClipOutcome:
    """The outcome of a clip that needs no work (`SETTLED_ACTIONS`): its file in the cache at
    `path` (and its `record`), or why it was left alone."""
    if task.action == "cached":
        return outcome_of(clip, "cached", path=path, job_id=record.job_id if record else None,
                          cost=record.cost if record else None)
    if task.action == "in-doubt":
        return outcome_of(clip, "in-doubt", error=task.reason, why=task.why)
    return outcome_of(clip, "not-requested")
