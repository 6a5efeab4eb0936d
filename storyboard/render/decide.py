"""What to do with each clip, from the cache and the journal, before anything is sent: use the
cached file, resume a known job, download it again, submit it, or leave it in doubt."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import paths
from ..plan import PlannedClip, RenderPlan, media_inputs, parse_placeholder, placeholders_in
from ..providers.base import Provider
from .cache import Cache
from .graph import bottom_levels, expectation, needed_closure, topo_order
from .journal import HAS_JOB, IN_DOUBT, IN_FLIGHT, Journal, JournalError, JobRecord, other_journals
from .results import ClipTask, JobsElsewhere, Reason, ReasonCode, RenderError, RenderSummary

STATE_DIR_NAME = ".storyboard"
Probe = Callable[[Path], Any]


class _LazyMedia:
    """`storyboard.media.engine`, imported on first use: a no-op re-render whose cached clips all
    match their records never probes a file, so it need not pay for importing PyAV."""

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module("storyboard.media.engine"), name)


def media_module() -> Any:
    return _LazyMedia()


def default_state_dir(plan: RenderPlan) -> Path:
    return Path(plan.base_dir) / STATE_DIR_NAME


def provider_journal(state_dir: Path, provider: Provider) -> Journal:
    """The journal of the jobs sent to this provider's endpoint."""
    return Journal(state_dir, provider.namespace, provider.endpoint)


def without_cards(plan: RenderPlan, only: Iterable[str] | None) -> tuple[RenderPlan, list[str] | None]:
    """The plan and the clips asked for, without title cards: a card is drawn on this machine
    (storyboard.cards), never sent to a provider, never journaled, never paid for."""
    cards = {c.name for c in plan.cards}
    if not cards:
        return plan, None if only is None else list(only)
    return plan.generated(), None if only is None else [n for n in only if n not in cards]


def inspect_render(plan: RenderPlan, provider: Provider, *, state_dir: Path | None = None,
                   only: Iterable[str] | None = None, resubmit_in_doubt: bool = False,
                   media: Any = None) -> RenderSummary:
    """What a render would do now, clip by clip. Reads the cache and journal; changes nothing.
    Raises JobsElsewhere when a clip it would submit has a job in flight at another endpoint."""
    plan, only = without_cards(plan, only)
    check_references(plan)
    state_dir = Path(state_dir) if state_dir else default_state_dir(plan)
    cache, journal = Cache(state_dir, provider.namespace), provider_journal(state_dir, provider)
    media = media or media_module()

    def probe(path: Path) -> Any:  # the media module is looked up only when a file needs it
        return media.probe(path)

    levels = bottom_levels(plan)
    durations: dict[str, float] = {}
    tasks: dict[str, ClipTask] = {}
    for clip in topo_order(plan):
        base = ClipTask(clip.name, clip.key, clip.seconds, clip.source, "submit",
                        estimated_cost_usd=clip.estimated_cost_usd, priority=levels[clip.name])
        tasks[clip.name] = _decide(base, clip, provider, cache, journal, probe, durations,
                                   resubmit_in_doubt)
    if only is not None:
        available = {n for n, t in tasks.items() if t.action == "cached"}
        keep = needed_closure(plan, list(only), available)
        for name, t in tasks.items():
            if name not in keep:
                tasks[name] = replace(t, action="not-requested", reason=None)
            elif name not in set(only) and t.action != "cached":
                tasks[name] = replace(t, reason=_join(t.reason, "needed by a requested clip"))
    _share_generations(plan, tasks)
    refuse_jobs_elsewhere(plan, provider, state_dir, tasks.values())
    return RenderSummary(provider.name, provider.paid, tuple(tasks[c.name] for c in plan.clips))


def _share_generations(plan: RenderPlan, tasks: dict[str, ClipTask]) -> None:
    """Clips with the same key are one generation: the first requested one makes it (one
    create, one journal record, paid once) and the others use its video."""
    for group in plan.shared_generations():
        requested = [c.name for c in group if tasks[c.name].action != "not-requested"]
        for name in requested[1:]:
            tasks[name] = replace(tasks[name], same_as=requested[0], reason=_join(
                tasks[name].reason, f"uses the generation of {requested[0]}: the same request, paid once"))


def refuse_jobs_elsewhere(plan: RenderPlan, provider: Provider, state_dir: Path,
                          tasks: Iterable[ClipTask]) -> None:
    """Raise JobsElsewhere (nothing is sent) when a clip this render would submit has a job in
    flight at another endpoint of the same provider: submitting here would pay for it again."""
    wanted = {t.key: t.name for t in tasks if t.action == "submit" and t.same_as is None}
    if not wanted:
        return
    for other in other_journals(state_dir, provider.namespace, provider.name):
        live = [r for r in other.all() if r.key in wanted and r.state in IN_FLIGHT]
        if live:
            endpoint = next((r.endpoint for r in live if r.endpoint), None)
            names = sorted({wanted[r.key] for r in live})
            where = endpoint or f"the endpoint of {other.dir} (journaled by an earlier version)"
            raise JobsElsewhere(f"{len(names)} clip(s) of this film ({', '.join(names)}) have jobs in flight "
                                f"at {where}; nothing was submitted", story=plan.story, provider=plan.provider,
                                endpoint=endpoint, names=names, journal_dir=other.dir)


def check_references(plan: RenderPlan) -> None:
    """Refuse a plan whose requests would make the engine read a file outside the story's folder
    (`../`, an absolute path, a symlink pointing out) or send anything but an http(s) URL or a
    file of the story. The compiler never writes such a plan; one edited by hand, or from
    elsewhere, is refused as a whole before anything is sent. Raises RenderError."""
    base = Path(plan.base_dir).resolve()
    names = {c.name for c in plan.clips}
    resolved: dict[str, paths.StoryPath] = {}  # a cast member's picture is in many clips: resolved once
    for clip in plan.clips:
        where = f"{clip.source}: clip {clip.name}"
        for _kind, raw, (ph_kind, arg) in placeholders_in(clip.request):
            if ph_kind == "file":
                found = resolved.get(arg)
                if found is None:
                    found = resolved[arg] = paths.resolve(base, arg)
                if not found.ok:
                    raise RenderError(f"{where}: {raw} {found.reason_in(base)}; "
                                      "references must be files inside it (compile the story again)")
            elif arg not in names:
                raise RenderError(f"{where}: {raw} refers to no clip of this film")
        for value in media_inputs(clip.request):
            if parse_placeholder(value):
                continue
            if paths.url_problem(value):
                shown = value if len(value) <= 80 else value[:77] + "..."
                raise RenderError(f"{where}: {shown!r} is neither an http(s) URL nor a file of the story; "
                                  "only those can be sent (compile the story again)")


def _decide(task: ClipTask, clip: PlannedClip, provider: Provider, cache: Cache, journal: Journal,
            probe: Probe, durations: dict[str, float], resubmit_in_doubt: bool) -> ClipTask:
    problem = None  # what is wrong with the cached file, if there is one
    if cache.has_file(clip.key):  # a sound cached file settles the clip, whatever the journal says
        summary, problem = cache.verify(clip.key, expectation(clip, durations), probe)
        if problem is None:
            durations[clip.name] = float(summary["duration"])  # type: ignore[index]
            return replace(task, action="cached")
    record, unreadable = _journaled(journal, clip.key)
    if problem is not None:
        crec = cache.read_record(clip.key)
        job_id = (crec.job_id if crec else None) or (record.job_id if record else None)
        if provider.paid and job_id:
            return replace(task, action="redownload", job_id=job_id, corrupt=problem,
                           reason=f"cached file {problem}; downloading job {job_id} again, not resubmitting")
        return replace(task, corrupt=problem, reason=f"cached file {problem}; moving it aside and rendering again")
    if clip.pinned:  # a picked take of an older request: its body is not the one that made it
        return replace(task, action="in-doubt", why=None,
                       reason=f"its picked take {clip.take} is from an older version of the clip and its file is "
                              "not in the cache; nothing was generated (unpick it, or render with --repick "
                              f"{clip.take_of or clip.name}, to render the clip as it is now)")
    if unreadable is not None:
        if not provider.paid:
            return replace(task, reason=f"{unreadable}; free provider, rendering again")
        if resubmit_in_doubt:
            return replace(task, reason=f"{unreadable}; resubmitting as asked",
                           why=Reason(ReasonCode.RESUBMITTED, clip.name))
        return replace(task, action="in-doubt", why=Reason(ReasonCode.JOURNAL_UNREADABLE, clip.name),
                       reason=f"{unreadable}; a job may exist for this clip, so it was NOT resubmitted")
    if record is None or record.state == "unsent":
        return task
    if record.state in HAS_JOB and record.job_id:
        return replace(task, action="resume", job_id=record.job_id,
                       reason=f"job {record.job_id} already submitted ({record.state})")
    if record.state in IN_DOUBT:
        if not provider.paid:  # nothing to pay twice for
            return replace(task, reason="an earlier create was interrupted; free provider, rendering again")
        if resubmit_in_doubt:
            return replace(task, reason="create was in doubt; resubmitting as asked",
                           why=Reason(ReasonCode.RESUBMITTED, clip.name))
        return replace(task, action="in-doubt", reason=in_doubt_message(record),
                       why=Reason(ReasonCode.IN_DOUBT, clip.name))
    # failed / rejected: the job ran and did not give a usable clip; a new job is a new decision,
    # which the summary shows before anything is sent.
    return replace(task, reason=f"previous job {record.job_id or ''} {record.state}: {record.error or ''}".strip())


def _journaled(journal: Journal, key: str) -> tuple[JobRecord | None, str | None]:
    """The clip's journal record, or why it cannot be read (it may hide a paid job: in doubt,
    like an interrupted create)."""
    try:
        return journal.get(key), None
    except JournalError as exc:
        return None, str(exc)


def in_doubt_message(record: JobRecord) -> str:
    """The case of a create in doubt, its cause said once (what to do is the front end's to say:
    `ReasonCode.IN_DOUBT`)."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.submitted_at or record.updated_at))
    return (f"a create request sent at {when} may have reached the provider but its job id is unknown"
            + (f" ({record.error})" if record.error else "") + "; it was NOT resubmitted")


def _join(a: str | None, b: str) -> str:
    return f"{a}; {b}" if a else b
