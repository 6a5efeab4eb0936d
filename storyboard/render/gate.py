"""The money gate: nothing is spent that nobody agreed to. Decided before the first request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..plan import RenderPlan
from ..providers.base import Provider, ProviderError
from .results import ApprovalRequired, CostLimitExceeded, NotApproved, RenderError, RenderSummary


def check_cost(summary: RenderSummary, max_cost: float | None) -> None:
    """Raise CostLimitExceeded when what would be submitted may cost more than `max_cost`
    (an unknown estimate may, so it is refused too)."""
    if max_cost is None or not summary.submits:
        return
    cost = summary.estimated_cost_usd
    if cost is None:
        unknown = [t.name for t in summary.submits if t.estimated_cost_usd is None]
        raise CostLimitExceeded(f"refusing to start: the cost of {', '.join(unknown)} is unknown, so the plan "
                                f"cannot be shown to stay under the cost limit ${max_cost:.2f}", summary,
                                max_cost=max_cost, unknown=unknown)
    if cost > max_cost + 1e-9:
        raise CostLimitExceeded(f"refusing to start: the estimate ${cost:.2f} for {len(summary.submits)} "
                                f"clip(s) exceeds the cost limit ${max_cost:.2f}", summary,
                                max_cost=max_cost, unknown=[])


def approved_subset(approved: RenderSummary) -> Callable[[RenderSummary], bool]:
    """An `approve` callback for a decision taken earlier (e.g. a prompt shown before the render
    started): yes only if the render would now submit nothing the user did not see."""
    keys = {t.key for t in approved.submits}
    return lambda now: {t.key for t in now.submits} <= keys


def gate(summary: RenderSummary, provider: Provider,
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


def prepare_inputs(plan: RenderPlan, summary: RenderSummary, provider: Provider, state_dir: Path | None = None) -> None:
    """Host the local files of the clips about to be submitted, after the gate and before the
    first create: a bucket that is missing or refuses, or an upload cut off, sends nothing."""
    if not summary.submits:
        return
    from .uploads import local_inputs

    try:
        provider.prepare_inputs(local_inputs(plan, [t.name for t in summary.submits]), state_dir=state_dir)
    except ProviderError as exc:
        raise RenderError(f"{exc}; nothing was submitted") from None
