"""The user's explicit decisions about in-doubt clips: forget a journal record, or adopt a job
found on the provider's dashboard."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterable

from .journal import JournalError, JobRecord
from ..plan import PlannedClip, RenderPlan
from ..providers.base import Provider
from .decide import default_state_dir, provider_journal
from .lock import StoryLock
from .results import RenderError


def forget(plan: RenderPlan, provider: Provider, names: Iterable[str], *,
           state_dir: Path | None = None) -> list[str]:
    """Drop the journal records of these clips (an in-doubt create the user checked, a job to
    give up on), so the next render submits them again. Returns what was forgotten."""
    state_dir = Path(state_dir) if state_dir else default_state_dir(plan)
    journal = provider_journal(state_dir, provider)
    out = []
    with StoryLock(state_dir):
        for name in names:
            clip = _clip_named(plan, name)
            if journal.forget(clip.key):
                out.append(name)
    return out


def adopt(plan: RenderPlan, provider: Provider, name: str, job_id: str, *,
          state_dir: Path | None = None) -> JobRecord:
    """Record a job id found on the provider's dashboard for an in-doubt clip: the next render
    polls and downloads it instead of submitting."""
    state_dir = Path(state_dir) if state_dir else default_state_dir(plan)
    journal = provider_journal(state_dir, provider)
    clip = _clip_named(plan, name)
    with StoryLock(state_dir):
        try:
            rec = journal.get(clip.key)
        except JournalError:  # the user read it (or the dashboard) and decided: keep it aside
            rec = None
            journal.set_aside(clip.key)
        rec = rec or JobRecord(key=clip.key, clip=name, provider=provider.namespace,
                               state="submitting", source=clip.source)
        return journal.put(rec.advance("submitted", job_id=job_id, error=None))


def _clip_named(plan: RenderPlan, name: str) -> PlannedClip:
    try:
        return plan.clip(name)
    except KeyError:
        raise RenderError(f"no clip named {name!r} in this film") from None
