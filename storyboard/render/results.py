"""What a render reports: events as they happen, the summary of what it would do, each clip's
outcome and the report, and the errors that stop a render before it starts."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..credentials import scrub
from ..exitcodes import ExitCode

if TYPE_CHECKING:
    from ..plan import PlannedClip

ClipStatus = Literal["cached", "rendered", "failed", "skipped", "in-doubt", "not-requested",
                     "interrupted", "drawn", "not-drawn"]  # drawn, not-drawn: title cards only
Action = Literal["cached", "submit", "resume", "redownload", "in-doubt", "not-requested"]
OK_STATUSES = ("cached", "rendered", "drawn")  # drawn: a title card, on this machine
WORK_ACTIONS = ("submit", "resume", "redownload")  # the tasks that take a slot
SETTLED_ACTIONS = ("cached", "not-requested", "in-doubt")  # the tasks settled before anything runs


class ReasonCode(StrEnum):
    """A case that needs the user's decision. The engine states the case and its facts; the
    command line (or any other front end) says what to do about it, in its own words."""

    IN_DOUBT = "in-doubt"  # a create may have reached the provider; its job id is unknown
    JOURNAL_UNREADABLE = "journal-unreadable"  # the clip's journal record cannot be read: in doubt too
    RESUBMITTED = "resubmitted-as-asked"  # an in-doubt clip is submitted again because the user asked
    UNKNOWN_JOB = "unknown-job"  # the provider does not know a journaled job (404)
    JOB_NOT_JOURNALED = "job-not-journaled"  # a job was created, but the journal cannot record it


@dataclass(frozen=True)
class Reason:
    """A structured reason: the case, the clip, and the job it is about (if one is known)."""

    code: ReasonCode
    clip: str
    job_id: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"code": self.code.value, "clip": self.clip, "job_id": self.job_id}


@dataclass(frozen=True)
class RenderEvent:
    """One thing that happened to one clip. `state` is one of: queued, waiting, submitting,
    retrying, running, downloading, done, cached, failed, skipped, in-doubt, interrupted, note."""

    clip: str
    state: str
    message: str = ""
    job_id: str | None = None
    seconds: int | None = None
    time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ClipTask:
    """What the engine will do for one clip (decided before anything is sent)."""

    name: str
    key: str
    seconds: int
    source: str
    action: Action
    estimated_cost_usd: float | None = None
    job_id: str | None = None
    reason: str | None = None  # why this action, for the user (corrupt cache, resumed job, ...)
    corrupt: str | None = None  # the problem of a cached file to be moved aside
    priority: float = 0.0  # seconds of video on the longest path from here to the end
    same_as: str | None = None  # the clip whose generation this one uses (the same request)
    why: Reason | None = None  # the case behind `reason` when the user has a decision to make


@dataclass(frozen=True)
class RenderSummary:
    provider: str
    paid: bool
    tasks: tuple[ClipTask, ...]

    @property
    def generations(self) -> list[ClipTask]:
        """One task per generation: a clip that uses another's is counted with it."""
        return [t for t in self.tasks if t.same_as is None]

    def with_action(self, *actions: Action) -> list[ClipTask]:
        return [t for t in self.generations if t.action in actions]

    @property
    def submits(self) -> list[ClipTask]:
        return self.with_action("submit")

    @property
    def seconds_to_submit(self) -> int:
        return sum(t.seconds for t in self.submits)

    @property
    def estimated_cost_usd(self) -> float | None:
        """The estimate of what would be submitted; None when any part is unknown."""
        costs = [t.estimated_cost_usd for t in self.submits]
        if any(c is None for c in costs):
            return None
        return round(sum(costs), 4)  # type: ignore[arg-type]

    def lines(self, explain: Callable[[ClipTask], str | None] | None = None) -> list[str]:
        """The plan for a human, before anything is spent. `explain(task)` words each task's
        reason (default: the engine's own `reason`; the CLI adds what to type)."""
        subs = self.submits
        cost = self.estimated_cost_usd
        unknown = [t.name for t in subs if t.estimated_cost_usd is None]
        money = (f"${cost:.2f}" if cost is not None else
                 f"unknown (no price for {', '.join(unknown)})")
        out = [f"provider {self.provider}: {len(subs)} clip(s) to generate "
               f"({self.seconds_to_submit} s, estimated {money}), "
               f"{len(self.with_action('cached'))} cached, "
               f"{len(self.with_action('resume', 'redownload'))} resumed (already paid), "
               f"{len(self.with_action('in-doubt'))} in doubt"]
        for t in self.tasks:
            if t.action == "not-requested":
                continue
            price = "" if t.action != "submit" or t.same_as else (
                "  cost unknown" if t.estimated_cost_usd is None else f"  ${t.estimated_cost_usd:.2f}")
            text = explain(t) if explain else t.reason
            note = f"  ({text})" if text else ""
            out.append(f"  {t.action:<10} {t.name:<20} {t.seconds:>3} s{price}{note}")
        return out


@dataclass(frozen=True)
class ClipOutcome:
    name: str
    key: str
    status: ClipStatus
    source: str
    seconds: int
    path: Path | None = None
    job_id: str | None = None
    cost: float | None = None
    error: str | None = None
    provider_seconds: float | None = None  # how long the provider's job took (its own clock)
    same_as: str | None = None  # the clip whose generation this one used (paid for there)
    why: Reason | None = None  # the case behind `error` when the user has a decision to make

    @property
    def ok(self) -> bool:
        return self.status in OK_STATUSES


@dataclass(frozen=True)
class RenderReport:
    outcomes: tuple[ClipOutcome, ...]  # plan order
    summary: RenderSummary
    interrupted: bool = False
    elapsed: float = 0.0
    # The title cards, film order: drawn on this machine after the engine (never sent, cost 0),
    # "drawn" now, "cached", "failed" (its error says why) or "not-drawn" (the film was not made)
    cards: tuple[ClipOutcome, ...] = ()

    def __getitem__(self, name: str) -> ClipOutcome:
        for o in self.outcomes:
            if o.name == name:
                return o
        raise KeyError(name)

    @property
    def clips(self) -> dict[str, Path]:
        """Every clip that is available (rendered now or cached)."""
        return {o.name: o.path for o in self.outcomes if o.ok and o.path is not None}

    @property
    def complete(self) -> bool:
        """Every clip of the plan is available: the film can be stitched."""
        return all(o.ok for o in self.outcomes)

    @property
    def problems(self) -> list[ClipOutcome]:
        return [o for o in self.outcomes if o.status in ("failed", "skipped", "in-doubt")]

    @property
    def exit_code(self) -> ExitCode:
        if self.interrupted:
            return ExitCode.INTERRUPTED
        return ExitCode.REMOTE if self.problems else ExitCode.OK

    @property
    def cost_usd(self) -> float:
        return round(sum(o.cost or 0.0 for o in self.outcomes if o.status == "rendered"), 4)


def outcome_of(clip: PlannedClip, status: ClipStatus, **facts: Any) -> ClipOutcome:
    """A clip's outcome, its error scrubbed of secrets."""
    if facts.get("error"):
        facts["error"] = scrub(str(facts["error"]))
    return ClipOutcome(clip.name, clip.key, status, clip.source, clip.seconds, **facts)


def finished_event(out: ClipOutcome) -> RenderEvent | None:
    """What the display is told of a clip's outcome (nothing of a clip left alone)."""
    if out.status == "not-requested":
        return None
    state = {"rendered": "done"}.get(out.status, out.status)
    return RenderEvent(out.name, state, scrub(out.error or ""), out.job_id, out.seconds)


def tell(sink: Callable[[RenderEvent], None] | None, event: RenderEvent | None) -> None:
    if sink is None or event is None:
        return
    with contextlib.suppress(Exception):  # a broken display must not break a paid render
        sink(event)


class RenderError(Exception):
    """The render could not start; nothing was submitted."""

    exit_code = ExitCode.USAGE


class RenderLocked(RenderError):
    pass


class JobsElsewhere(RenderError):
    """Clips to submit have jobs in flight at another endpoint of the provider: `names` at
    `endpoint` (None: a journal written before endpoints were recorded, kept in `journal_dir`)."""

    def __init__(self, message: str, *, story: str, provider: str, endpoint: str | None,
                 names: list[str], journal_dir: Path):
        super().__init__(message)
        self.story, self.provider, self.endpoint = story, provider, endpoint
        self.names, self.journal_dir = names, journal_dir


class ApprovalRequired(RenderError):
    """A paid provider would be sent jobs and nobody approved them."""

    def __init__(self, message: str, summary: RenderSummary):
        super().__init__(message)
        self.summary = summary


class NotApproved(RenderError):
    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str, summary: RenderSummary):
        super().__init__(message)
        self.summary = summary


class CostLimitExceeded(RenderError):
    """What would be submitted may cost more than `max_cost`: its estimate is above it, or the
    cost of the clips in `unknown` is not known."""

    def __init__(self, message: str, summary: RenderSummary, *, max_cost: float, unknown: list[str]):
        super().__init__(message)
        self.summary, self.max_cost, self.unknown = summary, max_cost, unknown


def report_json(report: RenderReport) -> str:
    """The report for machines: the provider's clips, then the title cards (`cards`, the same
    fields, drawn here: no job, cost 0)."""
    return scrub(json.dumps({
        "interrupted": report.interrupted,
        "exit_code": int(report.exit_code),
        "elapsed": round(report.elapsed, 3),
        "clips": [_outcome_json(o) for o in report.outcomes],
        "cards": [_outcome_json(o) | {"seconds": o.seconds} for o in report.cards],
    }, indent=2, ensure_ascii=False))


def _outcome_json(o: ClipOutcome) -> dict:
    return {"name": o.name, "key": o.key, "status": o.status, "source": o.source,
            "path": str(o.path) if o.path else None, "job_id": o.job_id, "cost": o.cost,
            "error": o.error, "same_as": o.same_as, "reason": o.why.as_json() if o.why else None}
