"""The render engine: a `RenderPlan` in, clip files out, through a provider's asynchronous jobs.

    summary = inspect_render(plan, provider)             # what would happen (no side effects)
    report = await render_plan(plan, provider, approve=...)   # do it
    report = render(plan, provider, approve=...)         # the same, synchronously, Ctrl-C aware

The engine names no vendor and draws nothing: it talks to `Provider` and reports through an
`on_event` callback, so the CLI, the preview page and watch mode can all drive it.

Money rules, in the order they apply:
- Nothing is submitted for a clip whose file is in the cache (content-addressed by the
  compiler's key), or whose job is already known to the journal (it is polled instead).
- A paid provider submits nothing unless `approve(summary)` says yes; `max_cost` refuses a plan
  whose estimate is above it or unknown. Both are decided before the first request.
- The journal records `submitting` before each create and the job id as soon as it is known.
  A create that may have reached the provider without us learning the id (AmbiguousSubmit, a
  crash mid-request) is IN DOUBT: it is never sent again automatically (`resubmit_in_doubt`
  or `forget` are the user's explicit decisions).
- Only errors that prove nothing was created (`ProviderError.retryable`) are retried.

The engine speaks no front end's words: a case that needs the user's decision (a create in
doubt, a job the provider does not know) is a `Reason` (a `ReasonCode` and its facts) beside the
engine's own text, and the front end says what to type about it.

The package, in the order a render goes through it: results (events, summary, report, reasons,
errors), graph (the plan as a DAG; pure), placeholders (pure), cache and journal, decide (cache
and journal -> what to do), gate (approval and cost), policy (polling and retries; pure), lock,
opening (the lock taken, what to do decided, the gate passed), start (the synchronous entry: a
render with nothing to produce is settled there, without an event loop), run (the scheduler,
on asyncio) with its slots and the parts of a run it drives through one `context`: journaling,
inputs, submit, waiting, store; maintenance (forget, adopt).

`only`: the named clips are rendered, plus every clip they depend on that
is not already in the cache (an extension needs its target's video); everything else is left
alone and reported as "not requested".
"""

from .decide import STATE_DIR_NAME, default_state_dir, inspect_render
from .graph import expectation
from .lock import StoryLock
from .maintenance import adopt, forget
from .policy import PollPolicy, RetryPolicy, next_poll_at
from .gate import approved_subset, check_cost
from .results import (
    ApprovalRequired, ClipOutcome, ClipTask, CostLimitExceeded, JobsElsewhere, NotApproved, Reason, ReasonCode,
    RenderError, RenderEvent, RenderLocked, RenderReport, RenderSummary, report_json,
)
from .start import render


def __getattr__(name: str):
    """`render_plan` (the scheduler, asyncio) is imported when asked for: a render with nothing
    to do never loads it (`start`)."""
    if name == "render_plan":
        from .run import render_plan

        return render_plan
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "STATE_DIR_NAME", "ApprovalRequired", "ClipOutcome", "ClipTask", "CostLimitExceeded",
    "JobsElsewhere", "NotApproved", "PollPolicy", "Reason", "ReasonCode", "RenderError", "RenderEvent",
    "RenderLocked", "RenderReport", "RenderSummary", "RetryPolicy", "StoryLock", "adopt", "approved_subset",
    "check_cost", "default_state_dir", "expectation", "forget", "inspect_render",
    "next_poll_at", "render", "render_plan", "report_json",
]
