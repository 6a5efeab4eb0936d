"""`storyboard render`: compile, ask before spending, render with progress, stitch.

The terminal side of the render engine (which is UI-agnostic and reports through events):
a live table on a terminal, plain lines otherwise, both on stderr. Payloads (the film's path,
or `--json`) go to stdout.

Local disk trouble (a read-only or full folder) is one line naming the folder and what to do:
exit 2 when nothing can proceed (the render state or the film cannot be written), exit 3 when
some clips could not be stored (their jobs stay in the journal; the next run downloads them).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .. import render as engine
from ..disk import disk_cause, disk_message
from ..stitch.filmkey import up_to_date
from ..names import film_file_name, output_dir
from ..render import RenderEvent, RenderReport, RenderSummary

EXIT_OK, EXIT_USAGE, EXIT_REMOTE, EXIT_INTERRUPTED = 0, 2, 3, 130

STYLE = {"queued": "dim", "waiting": "dim", "submitting": "yellow", "retrying": "yellow",
         "running": "cyan", "downloading": "cyan", "done": "green", "cached": "green",
         "failed": "bold red", "skipped": "red", "in-doubt": "bold magenta", "interrupted": "magenta"}
FINAL = ("done", "cached", "failed", "skipped", "in-doubt", "interrupted")
DEFAULT_POLL = engine.PollPolicy()  # tests swap in a faster one
DEFAULT_RETRY = engine.RetryPolicy()  # likewise


@dataclass
class RenderOptions:
    file: str
    provider: str = "preview"
    shots: list[str] | None = None
    concurrency: int = 4
    yes: bool = False
    max_cost: float | None = None
    out_dir: str | None = None
    base_url: str | None = None
    forget: list[str] | None = None
    adopt: list[str] | None = None
    resubmit_in_doubt: bool = False
    job_timeout_min: float = 30.0
    json_out: bool = False
    burn_subtitles: bool = False  # write <title>.srt beside the film and burn it in


class Fail(Exception):
    def __init__(self, message: str, code: int = EXIT_USAGE):
        super().__init__(message)
        self.code = code


# ---- progress ------------------------------------------------------------------------------

class PlainProgress:
    """One line per meaningful change, for logs and pipes."""

    QUIET = ("queued", "waiting", "downloading")

    def __init__(self, console: Console):
        self.console = console
        self.t0 = time.monotonic()

    def __call__(self, e: RenderEvent) -> None:
        if e.state in self.QUIET:
            return
        job = f" [{e.job_id}]" if e.job_id and e.state in ("running", "done") else ""
        msg = f": {e.message}" if e.message and e.state not in ("running",) else ""
        self.console.print(f"[{time.monotonic() - self.t0:6.1f}s] {e.clip}: {e.state}{job}{msg}",
                           markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        pass


class LiveProgress:
    """A table with one row per clip, redrawn in place on a terminal."""

    def __init__(self, console: Console, clips: list[tuple[str, int]]):
        self.console = console
        self.rows: dict[str, dict[str, Any]] = {
            name: {"seconds": seconds, "state": "", "job": "", "note": "", "since": None} for name, seconds in clips}
        self.notes: list[str] = []
        self.t0 = time.monotonic()
        self.live = Live(console=console, refresh_per_second=4, transient=False, get_renderable=self._table)
        self.live.start()

    def __call__(self, e: RenderEvent) -> None:
        row = self.rows.get(e.clip)
        if row is None:  # engine-wide notes
            self.notes.append(e.message)
        else:
            if e.state == "note":
                row["note"] = e.message
            else:
                if e.state != row["state"]:
                    row["since"] = time.monotonic()
                row["state"] = e.state
                if e.state in ("failed", "skipped", "in-doubt", "retrying", "queued"):
                    row["note"] = e.message
                elif e.state in ("done", "cached", "submitting"):
                    row["note"] = ""
            if e.job_id:
                row["job"] = e.job_id
        self.live.refresh()

    def _table(self) -> Table:
        t = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        for col in ("clip", "s", "state", "job", "for", ""):
            t.add_column(col, overflow="ellipsis", no_wrap=True, justify="right" if col in ("s", "for") else "left")
        now = time.monotonic()
        for name, r in self.rows.items():
            if not r["state"]:
                continue
            took = f"{now - r['since']:.0f}s" if r["since"] and r["state"] not in FINAL else ""
            job = r["job"][-12:] if r["job"] else ""
            t.add_row(name, str(r["seconds"]), Text(r["state"], style=STYLE.get(r["state"], "")), job, took,
                      Text(r["note"][:100], style="dim"))
        for n in self.notes[-2:]:
            t.add_row("", "", "", "", "", Text(n, style="yellow"))
        return t

    def close(self) -> None:
        self.live.stop()


# ---- the command ---------------------------------------------------------------------------

def run(opts: RenderOptions, *, compile_or_exit, provider_named, err: Console, out: Console) -> int:
    """The `render` command; returns the exit code. `compile_or_exit` and `provider_named` are the
    CLI's shared helpers (they print diagnostics and raise typer.Exit themselves)."""
    options: dict[str, Any] = {}
    if opts.base_url:
        options["base_url"] = opts.base_url
    provider = provider_named(opts.provider, **options)
    problem = provider.credential_problem()  # before anything is compiled, asked or sent
    if problem:
        raise Fail(problem)
    if opts.concurrency < 1:
        raise Fail("--concurrency must be at least 1")
    result = compile_or_exit(opts.file, provider)
    plan = result.plan
    for w in plan.warnings:
        err.print(f"warning: {w}", markup=False, soft_wrap=True)
    state_dir = engine.default_state_dir(plan)

    if opts.forget or opts.adopt:
        return _maintenance(opts, plan, provider, state_dir, err)

    try:
        summary = engine.inspect_render(plan, provider, state_dir=state_dir, only=opts.shots,
                                        resubmit_in_doubt=opts.resubmit_in_doubt)
    except engine.RenderError as exc:
        raise Fail(str(exc)) from None
    approve = _decide_spending(summary, provider, opts, err)

    progress = _progress(err, plan)
    poll = replace(DEFAULT_POLL, deadline=opts.job_timeout_min * 60)
    try:
        report = engine.render(plan, provider, state_dir=state_dir, concurrency=opts.concurrency,
                               only=opts.shots, on_event=progress, approve=approve,
                               max_cost=opts.max_cost, resubmit_in_doubt=opts.resubmit_in_doubt, poll=poll, retry=DEFAULT_RETRY,
                               close_provider=True)
    except engine.NotApproved:
        progress.close()
        raise Fail("the plan changed since it was confirmed (another render?); nothing was submitted; "
                   "run again to see the new plan", EXIT_USAGE) from None
    except engine.RenderError as exc:
        progress.close()
        raise Fail(str(exc), exc.exit_code) from None
    except OSError as exc:  # the state folder cannot be written (read-only, full): before any submit
        progress.close()
        raise Fail(disk_message(exc, state_dir)) from None
    except KeyboardInterrupt:
        progress.close()
        err.print("aborted: jobs already submitted are in the journal and will be resumed by the next render",
                  markup=False, soft_wrap=True)
        return EXIT_INTERRUPTED
    progress.close()
    return _finish(opts, plan, report, state_dir, err, out)


def _decide_spending(summary: RenderSummary, provider, opts: RenderOptions, err: Console):
    """Show the plan; for a paid provider, get a yes (prompt, or --yes) before the render
    starts. Returns the engine's `approve` callback."""
    lines = summary.lines()
    if not provider.paid:
        err.print(lines[0], markup=False, soft_wrap=True)
        return None
    for line in lines:
        err.print(line, markup=False, soft_wrap=True)
    if not summary.submits:
        return None
    try:
        engine.check_cost(summary, opts.max_cost)
    except engine.CostLimitExceeded as exc:
        raise Fail(str(exc)) from None
    if opts.yes:
        return engine.approved_subset(summary)
    if not (sys.stdin.isatty() and err.is_terminal):
        raise Fail(f"{len(summary.submits)} paid job(s) would be submitted to {provider.name}, and this is "
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
        raise Fail("not confirmed; nothing was submitted", EXIT_INTERRUPTED)
    return engine.approved_subset(summary)


def _progress(err: Console, plan):
    if err.is_terminal:
        return LiveProgress(err, [(c.name, c.seconds) for c in plan.clips])
    return PlainProgress(err)


def _finish(opts: RenderOptions, plan, report: RenderReport, state_dir: Path, err: Console, out: Console) -> int:
    for o in report.problems:
        where = f"{o.source}: " if o.source else ""
        job = f" (job {o.job_id})" if o.job_id and o.job_id not in (o.error or "") else ""
        err.print(f"{where}error: clip {o.name} {o.status}{job}: {o.error}", markup=False, soft_wrap=True)
    counts: dict[str, int] = {}
    for o in report.outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    spent = f", ${report.cost_usd:.2f} reported by the provider" if report.cost_usd else ""
    err.print(", ".join(f"{n} {s}" for s, n in counts.items()) + f" in {report.elapsed:.1f}s{spent}",
              markup=False, soft_wrap=True)

    film: Path | None = None
    code = report.exit_code
    if report.interrupted:
        err.print("interrupted: submitted jobs stay in the journal; run the same command to resume them",
                  markup=False, soft_wrap=True)
    elif report.complete:
        try:
            film = _stitch(plan, report, opts, state_dir, err)
        except Fail as exc:
            err.print(f"storyboard: {exc}", markup=False, soft_wrap=True)
            code = exc.code
    elif not report.problems:
        missing = [o.name for o in report.outcomes if o.status == "not-requested"]
        err.print(f"film not stitched: {', '.join(missing)} not rendered (render without --shot to make the film)",
                  markup=False, soft_wrap=True)
    if opts.json_out:
        data = json.loads(engine.report_json(report))
        data["film"] = str(film) if film else None
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif film is not None:
        sys.stdout.write(f"{film}\n")
    elif not report.problems and not report.interrupted:
        for name, path in report.clips.items():
            sys.stdout.write(f"{path}\n")
    return code


def _stitch(plan, report: RenderReport, opts: RenderOptions, state_dir: Path, err: Console) -> Path:
    out_dir = output_dir(plan.base_dir, opts.out_dir)
    out_path = out_dir / f"{film_file_name(plan.title)}.mp4"
    log = lambda m: err.print(m, markup=False, soft_wrap=True)  # noqa: E731
    srt = None
    try:
        if opts.burn_subtitles:
            from ..present.subtitles import srt_path, write_srt

            srt = write_srt(plan, srt_path(plan, out_dir))
        # nothing changed: answered before the stitcher's media stack (PyAV, numpy) is imported
        if up_to_date(plan, report.clips, out_path, srt, log) is not None:
            return out_path
    except OSError as exc:
        raise _cannot_write_film(exc, out_dir, state_dir) from None
    try:
        from ..stitch import StitchError, stitch
    except ImportError as exc:  # not there yet: the clips are still rendered and cached
        raise Fail(f"stitching is not available ({exc}); the clips are in {state_dir / 'cache'}") from None
    try:
        res = stitch(plan, report.clips, out_path, workdir=state_dir / "stitch", log=log, burn_subtitles=srt)
    except (StitchError, OSError) as exc:  # the disk's refusal, however deep in the stitch it arose
        local = disk_cause(exc) or (exc if isinstance(exc, OSError) else None)
        if local is not None:
            raise _cannot_write_film(local, out_dir, state_dir) from None
        # ffmpeg's last lines, joined: one message, one line
        text = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        raise Fail(f"stitching failed: {text}") from None
    return Path(res.path)


def _cannot_write_film(exc: OSError, out_dir: Path, state_dir: Path) -> Fail:
    """Name the folder that failed: the film's, or the stitcher's work folder."""
    # a failed write() does not say which file
    folder = f"{out_dir} or {state_dir / 'stitch'}"
    return Fail(disk_message(exc, folder, "the film in") + " (the clips are rendered and cached)")


def _maintenance(opts: RenderOptions, plan, provider, state_dir: Path, err: Console) -> int:
    try:
        if opts.forget:
            gone = engine.forget(plan, provider, opts.forget, state_dir=state_dir)
            for name in opts.forget:
                err.print(f"{name}: " + ("journal record dropped; unless its clip is cached, the next render "
                                         "submits it again" if name in gone else "nothing recorded"), markup=False, soft_wrap=True)
        for item in opts.adopt or []:
            name, sep, job_id = item.partition("=")
            if not sep or not job_id.strip():
                raise Fail(f"--adopt wants CLIP=JOB_ID, not {item!r}")
            engine.adopt(plan, provider, name.strip(), job_id.strip(), state_dir=state_dir)
            err.print(f"{name}: job {job_id.strip()} recorded; the next render polls and downloads it", markup=False, soft_wrap=True)
    except engine.RenderError as exc:
        raise Fail(str(exc)) from None
    except OSError as exc:
        raise Fail(disk_message(exc, state_dir)) from None
    return EXIT_OK

