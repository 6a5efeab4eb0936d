"""The command line's words for the engine's structured reasons: what to type (`--adopt`,
`--forget`, `--resubmit-in-doubt`, `--max-cost`, `--base-url`) next to the case the engine
stated. The engine never names a flag; everything here is the CLI's own vocabulary."""

from __future__ import annotations

from dataclasses import replace

from ..render import ClipOutcome, ClipTask, CostLimitExceeded, JobsElsewhere, Reason, ReasonCode, RenderReport


def advice(why: Reason | None) -> str:
    """What the user can do about `why`, worded to follow the engine's text ("" if nothing)."""
    if why is None:
        return ""
    clip, job = why.clip, why.job_id
    if why.code is ReasonCode.IN_DOUBT:
        return (f". Check the provider's dashboard: if the job exists, `storyboard render --adopt {clip}=JOB_ID`; "
                f"if not, `storyboard render --forget {clip}` (or --resubmit-in-doubt) to submit it again")
    if why.code is ReasonCode.JOURNAL_UNREADABLE:
        return (f". If the record or the provider's dashboard shows a job: `storyboard render --adopt {clip}=JOB_ID`; "
                f"if not: `storyboard render --forget {clip}` (or --resubmit-in-doubt) to submit it again")
    if why.code is ReasonCode.RESUBMITTED:
        return " (--resubmit-in-doubt)"
    if why.code is ReasonCode.UNKNOWN_JOB:
        return f": `storyboard render --forget {clip}` to submit it again (paid)"
    if why.code is ReasonCode.JOB_NOT_JOURNALED:
        return (f": free some space (or make the folder writable), then `storyboard render --adopt {clip}={job}` "
                "so the next render downloads it instead of paying for it again")
    return ""


def task_text(task: ClipTask) -> str | None:
    """A planned task's reason, with what to type. A clip in doubt is not sent, so the render
    ends with it among the problems, told in full there: the plan only points at it."""
    if task.action == "in-doubt":
        return "not resubmitted: what to do is at the end"
    return f"{task.reason}{advice(task.why)}" if task.reason else None


def outcome_text(outcome: ClipOutcome) -> str | None:
    """A clip's error, with what to type."""
    return f"{outcome.error}{advice(outcome.why)}" if outcome.error else None


def advised(report: RenderReport) -> RenderReport:
    """The report with every error in the CLI's words (for `--json` and for people)."""
    return replace(report, outcomes=tuple(replace(o, error=outcome_text(o)) for o in report.outcomes))


def render_error_text(exc: Exception) -> str:
    """A render that could not start, in the CLI's words."""
    if isinstance(exc, CostLimitExceeded):
        return cost_limit_text(exc)
    if isinstance(exc, JobsElsewhere):
        url = exc.endpoint or "URL"
        return (f"{exc}: run again with --base-url {url} to resume them there, or drop them with "
                f"`storyboard render {exc.story} -p {exc.provider} --base-url {url} --forget CLIP` "
                "(a job that exists is then paid for again)")
    return str(exc)


def cost_limit_text(exc: CostLimitExceeded) -> str:
    limit = f"--max-cost ${exc.max_cost:.2f}"
    if exc.unknown:
        return (f"refusing to start: the cost of {', '.join(exc.unknown)} is unknown, so the plan "
                f"cannot be shown to stay under {limit}")
    return (f"refusing to start: the estimate ${exc.summary.estimated_cost_usd:.2f} for "
            f"{len(exc.summary.submits)} clip(s) exceeds {limit}")
