"""The plan as a dependency graph (pure): clips in dependency order, their distance to the end of
the critical path, what a partial render needs, and what each clip's file must look like."""

from __future__ import annotations

from collections.abc import Iterable

from .cache import Expectation
from ..plan import PlannedClip, RenderPlan
from .results import RenderError


def topo_order(plan: RenderPlan) -> list[PlannedClip]:
    """Clips with every dependency before its dependants (plan order among equals)."""
    by_name = {c.name: c for c in plan.clips}
    for c in plan.clips:
        for d in c.after:
            if d not in by_name:
                raise RenderError(f"{c.source}: clip {c.name} depends on unknown clip {d!r}")
    order: list[PlannedClip] = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(c: PlannedClip, trail: tuple[str, ...]) -> None:
        if state.get(c.name) == 2:
            return
        if state.get(c.name) == 1:
            raise RenderError(f"dependency cycle: {' -> '.join(trail + (c.name,))}")
        state[c.name] = 1
        for d in c.after:
            visit(by_name[d], trail + (c.name,))
        state[c.name] = 2
        order.append(c)

    for c in plan.clips:
        visit(c, ())
    return order


def bottom_levels(plan: RenderPlan) -> dict[str, float]:
    """Seconds of video on the longest path from each clip to the end of the graph: the
    scheduler starts the clips on the critical path first."""
    dependants: dict[str, list[str]] = {c.name: [] for c in plan.clips}
    for c in plan.clips:
        for d in c.after:
            dependants[d].append(c.name)
    level: dict[str, float] = {}
    for c in reversed(topo_order(plan)):
        level[c.name] = c.seconds + max((level[n] for n in dependants[c.name]), default=0.0)
    return level


def needed_closure(plan: RenderPlan, only: Iterable[str], available: set[str]) -> set[str]:
    """The requested clips plus the dependencies they need that are not available. Pure."""
    by_name = {c.name: c for c in plan.clips}
    unknown = [n for n in only if n not in by_name]
    if unknown:
        raise RenderError(f"no clip named {', '.join(map(repr, unknown))} in this film "
                          f"(clips: {', '.join(by_name)})")
    out: set[str] = set()
    stack = list(only)
    while stack:
        name = stack.pop()
        if name in out:
            continue
        out.add(name)
        if name in available:
            continue
        stack.extend(d for d in by_name[name].after if d not in out)
    return out


def expectation(clip: PlannedClip, durations: dict[str, float]) -> Expectation:
    """What a clip's file must be. An extension may come back as the continuation alone or as
    its source followed by the continuation (providers differ), so both lengths are accepted."""
    options = [float(clip.seconds)]
    if clip.kind == "extend" and clip.after:
        target = clip.after[0]
        if target in durations:
            options.append(durations[target] + clip.seconds)
    return Expectation(durations=tuple(options), audio=clip.audio)
