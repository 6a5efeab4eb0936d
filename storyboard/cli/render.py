"""The one render path of the command line, shared by `render` and `preview`: the plan shown,
a yes before a paid provider is sent anything, the render with its progress (`api.render` or
`api.preview`), then what happened, each problem once, in the CLI's words (`words`).

Payloads (the film's or the page's path, or `--json`) go to stdout, humans to stderr. Local disk
trouble (a read-only or full folder) is one line naming the folder and what to do: exit 2 when
nothing can proceed (the render state, the film or the page cannot be written), exit 3 when some
clips could not be stored (their jobs stay in the journal; the next run downloads them).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import typer

from .. import api
from .. import render as engine
from ..diagnostics import render_json
from ..disk import disk_message
from ..exitcodes import ExitCode
from ..render import RenderReport, RenderSummary
from .common import compile_or_exit, err, fail, plan_warnings, ready_provider, require_credentials, say
from .progress import progress_for
from .words import advised, render_error_text, task_text

DEFAULT_POLL = engine.PollPolicy()  # tests swap in a faster one
DEFAULT_RETRY = engine.RetryPolicy()  # likewise


@dataclass
class RenderOptions:
    file: str
    provider: str | None = None  # None: STORYBOARD_PROVIDER, the config file, else preview
    shots: list[str] | None = None
    concurrency: int = 4
    yes: bool = False
    max_cost: float | None = None
    out_dir: str | None = None
    base_url: str | None = None
    host: str | None = None  # s3://bucket/prefix for local files a URL-only API must fetch
    together_fields: str | None = None  # page | openapi
    forget: list[str] | None = None
    adopt: list[str] | None = None
    resubmit_in_doubt: bool = False
    job_timeout_min: float = 30.0
    json_out: bool = False
    burn_subtitles: bool = False  # write <title>.srt beside the film and burn it in
    bundle: str | None = None  # preview: also write a self-contained copy of the page here
    stitcher: str = "fast"  # render: "fast" or "moviepy" (api.STITCHERS)
    takes: int | None = None  # --takes N: at least N takes of the --shot clips (of every clip without --shot)
    draft: bool = False  # --draft: every clip at the cheapest tier, into <title>.draft.mp4
    repick: list[str] | None = None  # --repick CLIP: release the pick first

    def compile_options(self) -> dict:
        """The compile's tier and the takes the command line adds."""
        extra = tuple((name, self.takes) for name in (self.shots or ["*"])) if self.takes else ()
        return {"tier": "draft" if self.draft else "final", "extra_takes": extra}


# ---- the commands ------------------------------------------------------------------------------

def run(opts: RenderOptions) -> int:
    """`storyboard render`: returns the exit code (or raises typer.Exit with one)."""
    provider = ready_provider(opts.provider, opts.base_url, opts.host, opts.together_fields, checked=False)
    if opts.concurrency < 1:
        raise fail("--concurrency must be at least 1")
    _release_picks(opts, provider)
    compiled = compile_or_exit(opts.file, provider, json_out=opts.json_out, **opts.compile_options())
    plan = compiled.plan
    require_credentials(provider, plan)
    _warn(plan, compiled.diagnostics, shown=not opts.json_out)
    if opts.forget or opts.adopt:
        return _maintenance(opts, plan, provider)
    opts = replace(opts, shots=with_takes(plan, opts.shots))
    result = _drive(opts, plan, provider, lambda **kw: api.render(
        plan, provider, out_dir=opts.out_dir, burn_subtitles=opts.burn_subtitles, log=say,
        stitcher=opts.stitcher, **kw))
    return _finish_render(opts, result, compiled.diagnostics)


def run_preview(opts: RenderOptions, open_page: bool = False) -> int:
    """`storyboard preview`: the same render, then the page instead of the film."""
    provider = ready_provider(opts.provider, opts.base_url, opts.host, opts.together_fields, checked=False)
    _refuse_bundle_folder(opts.bundle)
    compiled = compile_or_exit(opts.file, provider, **opts.compile_options())
    plan = compiled.plan
    require_credentials(provider, plan)
    _warn(plan, compiled.diagnostics)
    opts = replace(opts, shots=with_takes(plan, opts.shots))
    result = _drive(opts, plan, provider, lambda **kw: api.preview(plan, provider, out_dir=opts.out_dir,
                                                                    bundle=opts.bundle, **kw))
    report = advised(result.report)
    report_problems(report)
    if result.page_problem:
        raise fail(result.page_problem)
    if result.bundle_problem:
        raise fail(result.bundle_problem)
    outputs = result.outputs
    say(f"contact sheet {outputs.contact_sheet}" + (f", subtitles {outputs.subtitles}" if outputs.subtitles else ""))
    page = outputs.page
    if result.bundle is not None:
        b = result.bundle
        say(f"bundle {b.folder}: {b.files} files, {b.bytes / 1e6:.1f} MB, every link inside it (zip it to share)")
        page = b.outputs.page
    sys.stdout.write(f"{page}\n")
    if open_page:
        import webbrowser

        webbrowser.open(page.resolve().as_uri())
    return report.exit_code


def _refuse_bundle_folder(folder: str | None) -> None:
    """Before anything renders: a --bundle folder that holds other files is refused (exit 2)."""
    if folder is None:
        return
    from ..present.bundle import bundle_refusal

    refusal = bundle_refusal(Path(folder))
    if refusal:
        raise fail(refusal)


def with_takes(plan, shots: list[str] | None) -> list[str] | None:
    """`--shot NAME` renders every take of the clip (names the plan does not have stay, for the
    engine's error)."""
    if not shots:
        return shots
    from ..plan import takes_of

    return list(dict.fromkeys(n for name in shots for n in ([c.name for c in takes_of(plan, name)] or [name])))


def _release_picks(opts: RenderOptions, provider) -> None:
    """`--repick CLIP`: drop the clip's pick before compiling, so its takes render as the story is now."""
    if not opts.repick:
        return
    from ..picks import PickError

    for name in opts.repick:
        try:
            gone = api.unpick_take(opts.file, provider, name)
        except (PickError, OSError) as exc:
            raise fail(str(exc)) from None
        say(f"{name}: pick released" if gone else f"{name}: no pick to release")


def _warn(plan, diagnostics, *, shown: bool = True) -> None:
    for w in plan_warnings(plan, diagnostics if shown else []):
        say(f"warning: {w}")


# ---- the shared path ---------------------------------------------------------------------------

def _drive(opts: RenderOptions, plan, provider, call: Callable[..., Any]):
    """Show the plan, get a yes if it costs money, then `call(**engine options)` with progress.
    Whatever stops the render before it starts is one line and its exit code."""
    state_dir = engine.default_state_dir(plan)
    try:
        summary = engine.inspect_render(plan, provider, state_dir=state_dir, only=opts.shots,
                                        resubmit_in_doubt=opts.resubmit_in_doubt)
    except engine.RenderError as exc:
        raise fail(render_error_text(exc), exc.exit_code) from None
    approve = decide_spending(summary, provider, opts)
    progress = progress_for(err, plan)
    try:
        return call(state_dir=state_dir, concurrency=opts.concurrency, only=opts.shots, on_event=progress,
                    approve=approve, max_cost=opts.max_cost, resubmit_in_doubt=opts.resubmit_in_doubt,
                    poll=replace(DEFAULT_POLL, deadline=opts.job_timeout_min * 60), retry=DEFAULT_RETRY,
                    close_provider=True)
    except engine.NotApproved:
        raise fail("the plan changed since it was confirmed (another render?); nothing was submitted; "
                   "run again to see the new plan") from None
    except engine.RenderError as exc:
        raise fail(render_error_text(exc), exc.exit_code) from None
    except OSError as exc:  # the state folder cannot be written (read-only, full): before any submit
        raise fail(disk_message(exc, state_dir)) from None
    except KeyboardInterrupt:
        say("aborted: jobs already submitted are in the journal and will be resumed by the next render")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    finally:
        progress.close()


def decide_spending(summary: RenderSummary, provider, opts: RenderOptions):
    """Show the plan; for a paid provider, get a yes (prompt, or --yes) before the render
    starts. Returns the engine's `approve` callback."""
    from .words import cost_limit_text

    lines = summary.lines(explain=task_text)
    if not provider.paid:
        say(lines[0])
        return None
    for line in lines:
        say(line)
    if not summary.submits:
        return None
    try:
        engine.check_cost(summary, opts.max_cost)
    except engine.CostLimitExceeded as exc:
        raise fail(cost_limit_text(exc)) from None
    if opts.yes:
        return engine.approved_subset(summary)
    if not (sys.stdin.isatty() and err.is_terminal):
        raise fail(f"{len(summary.submits)} paid job(s) would be submitted to {provider.name}, and this is "
                   "not an interactive terminal: pass --yes to confirm (and --max-cost USD to cap the spend)")
    cost = summary.estimated_cost_usd
    money = f"about ${cost:.2f}" if cost is not None else "an unknown amount"
    err.print(f"Submit {len(summary.submits)} paid job(s) ({summary.seconds_to_submit} s of video) "
              f"for {money}? [y/N] ", end="", markup=False, soft_wrap=True)
    try:
        answer = input().strip().lower()
    except (EOFError, KeyboardInterrupt):
        answer = ""
    if answer not in ("y", "yes"):
        raise fail("not confirmed; nothing was submitted", ExitCode.INTERRUPTED)
    return engine.approved_subset(summary)


def report_problems(report: RenderReport) -> None:
    """Each clip that failed, was skipped or is in doubt: one line, once."""
    for o in report.problems:
        where = f"{o.source}: " if o.source else ""
        job = f" (job {o.job_id})" if o.job_id and o.job_id not in (o.error or "") else ""
        say(f"{where}error: clip {o.name} {o.status}{job}: {o.error}")


# ---- after a render ----------------------------------------------------------------------------

def _finish_render(opts: RenderOptions, result: api.RenderResult, diagnostics) -> int:
    report = advised(result.report)
    report_problems(report)
    counts: dict[str, int] = {}
    for o in report.outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    spent = f", ${report.cost_usd:.2f} reported by the provider" if report.cost_usd else ""
    done = ", ".join(f"{n} {s}" for s, n in counts.items()) or "no clip to generate (title cards only)"
    say(done + f" in {report.elapsed:.1f}s{spent}" + _cards_line(report))
    code = report.exit_code
    if report.interrupted:
        say("interrupted: submitted jobs stay in the journal; run the same command to resume them")
    elif result.film_problem:
        say(f"storyboard: {result.film_problem}")
        code = ExitCode.USAGE
    elif result.film is None and not report.problems:
        say(f"film not stitched: {_left_alone(report, result.not_rendered)}")
    if opts.json_out:
        data = json.loads(engine.report_json(report))
        data["film"] = str(result.film) if result.film else None
        data["diagnostics"] = json.loads(render_json(diagnostics))
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif result.film is not None:
        sys.stdout.write(f"{result.film}\n")
    elif not report.problems and not report.interrupted:
        for path in [*report.clips.values(), *(o.path for o in report.cards if o.ok and o.path)]:
            sys.stdout.write(f"{path}\n")
    return code


def _cards_line(report: RenderReport) -> str:
    """`; title cards: 1 drawn, 2 cached (on this machine, free)`, or nothing for a film without."""
    counts: dict[str, int] = {}
    for o in report.cards:
        counts[o.status] = counts.get(o.status, 0) + 1
    if not counts:
        return ""
    return "; title cards: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + " (on this machine, free)"


def _left_alone(report: RenderReport, missing: list[str]) -> str:
    """What --shot left alone: the clips not rendered yet, and those that are cached."""
    cached = [o.name for o in report.outcomes if o.status == "not-requested" and o.name not in missing]
    parts = []
    if missing:
        parts.append(f"{', '.join(missing)} not rendered")
    if cached:
        parts.append(f"{', '.join(cached)} {'is' if len(cached) == 1 else 'are'} cached but not requested")
    return "; ".join(parts) + " (render without --shot to make the film)"


def _maintenance(opts: RenderOptions, plan, provider) -> int:
    state_dir = engine.default_state_dir(plan)
    try:
        if opts.forget:
            gone = engine.forget(plan, provider, opts.forget, state_dir=state_dir)
            for name in opts.forget:
                say(f"{name}: " + ("journal record dropped; unless its clip is cached, the next render "
                                   "submits it again" if name in gone else "nothing recorded"))
        for item in opts.adopt or []:
            name, sep, job_id = item.partition("=")
            if not sep or not job_id.strip():
                raise fail(f"--adopt wants CLIP=JOB_ID, not {item!r}")
            engine.adopt(plan, provider, name.strip(), job_id.strip(), state_dir=state_dir)
            say(f"{name}: job {job_id.strip()} recorded; the next render polls and downloads it")
    except engine.RenderError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(disk_message(exc, state_dir)) from None
    return ExitCode.OK
