"""The thin driver: argv -> stages -> exit code. Payloads on stdout, humans on stderr.

Exit codes: 0 ok, 1 diagnostics, 2 usage or internal error, 3 remote failure, 130 interrupted.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ..diagnostics import SHOWN_PER_FILE
from ..credentials import remember_url_credentials, scrub

EXIT_OK, EXIT_DIAGNOSTICS, EXIT_USAGE, EXIT_REMOTE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Compile .story files into Seedance 2.0 requests, render clips and stitch the film.")
err = Console(stderr=True, highlight=False, soft_wrap=True)  # one message, one line, however long
out = Console(highlight=False, soft_wrap=True)


def installed_version() -> str:
    """The version pip installed (package metadata), so it always matches pyproject.toml."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("storyboard")
    except PackageNotFoundError:  # run from a source tree that was never installed
        from .. import __version__
        return __version__


def _print_version(value: bool) -> None:
    if value:
        out.print(f"storyboard {installed_version()}", markup=False)
        raise typer.Exit(EXIT_OK)


@app.callback()
def _options(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                          help="Print the version and exit.")) -> None:
    pass  # options of `storyboard` itself; the help text is the Typer app's


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and anything unexpected: one line, no traceback
        usage, abort = _click_exception_types()
        if isinstance(exc, usage):
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `storyboard`: the help is the answer
                exc.show()
            else:
                err.print(f"storyboard: {usage_line(exc)}", markup=False)
            sys.exit(EXIT_USAGE)
        if isinstance(exc, abort):
            err.print("aborted")
            sys.exit(EXIT_INTERRUPTED)
        if isinstance(exc, OSError):  # a file or folder the system refused: say which, in one line
            from ..disk import DISK_ERRNOS, disk_message

            where = f"{exc.filename}: " if exc.filename else ""
            line = disk_message(exc, "") if exc.errno in DISK_ERRNOS and exc.filename else \
                f"{where}{exc.strerror or exc}"
            err.print(f"storyboard: {line}", markup=False)
            sys.exit(EXIT_USAGE)
        err.print(scrub(f"storyboard: internal error: {type(exc).__name__}: {exc}"), markup=False)
        sys.exit(EXIT_USAGE)
    sys.exit(code or 0)


def usage_line(exc: Exception) -> str:
    """A click usage error as one line: `no such option: --frobnicate (try storyboard render --help)`."""
    fmt = getattr(exc, "format_message", None)
    message = " ".join((fmt() if fmt else str(exc)).split())
    message = message[:1].lower() + message[1:]
    ctx = getattr(exc, "ctx", None)
    if ctx is None:
        return message
    names = []
    while ctx is not None:
        names.append(ctx.info_name or "")
        ctx = ctx.parent
    names[-1] = "storyboard"  # not "python -m storyboard" or a full path to the script
    return f"{message} (try {' '.join(reversed(names))} --help)"


def _click_exception_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """Usage-error and abort classes: typer >= 0.2x vendors click as `typer._click` (there may be
    no `click` module at all), older typer uses `click`."""
    import importlib

    usage: list[type] = []
    abort: list[type] = [typer.Abort]
    for name in ("typer._click.exceptions", "click.exceptions"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        usage.append(mod.ClickException)
        abort.append(getattr(mod, "Abort", typer.Abort))
    return tuple(usage), tuple(abort)


# ---- shared helpers ------------------------------------------------------------------------

def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """One line on stderr and an exit code; `raise fail(...)`."""
    err.print(scrub(f"storyboard: {message}"), markup=False)
    return typer.Exit(code)


def cannot_write(exc: BaseException, path, what: str = "") -> typer.Exit:
    """`fail` for a write that failed: a full or read-only disk is one line naming the folder and
    what to do (disk.py); any other refusal names the file."""
    from pathlib import Path

    from ..disk import disk_cause, disk_message

    disk = disk_cause(exc)
    if disk is not None:
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        return fail(disk_message(disk, folder, what))
    reason = getattr(exc, "strerror", None) or (str(exc) if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}")
    return fail(f"cannot write {what + ' ' if what else ''}{path}: {reason}")


def story_path(path: str):
    """A readable story file, or a one-line usage error (exit 2)."""
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise fail(f"{path}: no such file")
    if p.is_dir():
        stories = sorted(p.glob("*.story"))
        hint = f" (did you mean {stories[0]}?)" if len(stories) == 1 else ""
        raise fail(f"{path}: is a directory, not a .story file{hint}")
    if not p.is_file():  # a FIFO or a device: opening it could block or never end
        raise fail(f"{path}: not a regular file")
    try:  # text that is not UTF-8 is the stage's diagnostic, at its line (SB034)
        with open(p, "rb") as fh:
            fh.read(1)
    except PermissionError:
        raise fail(f"{path}: permission denied")
    except OSError as exc:
        raise fail(f"{path}: cannot read: {exc.strerror or exc}")
    return p


def provider_named(name: str, **options):
    from urllib.parse import urlsplit

    from ..providers import NAMES, get

    if name not in NAMES:
        raise fail(f"unknown provider {name!r}; choose one of: {', '.join(NAMES)}")
    url = options.get("base_url")
    remember_url_credentials(url)  # the messages below may quote it
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise fail(f"--base-url must be an http(s) URL such as https://api.together.ai, not {url!r}")
    return get(name, **options)


def check_money_options(max_cost: float | None = None, job_timeout: float | None = None) -> None:
    """Refuse option values that would silently mean "no limit" (nan) or nothing at all."""
    import math

    if max_cost is not None and not (math.isfinite(max_cost) and max_cost >= 0):
        raise fail(f"--max-cost must be a number of US dollars, 0 or more, not {max_cost:g}")
    if job_timeout is not None and not (math.isfinite(job_timeout) and job_timeout > 0):
        raise fail(f"--job-timeout must be a positive number of minutes, not {job_timeout:g}")


def compile_or_exit(path: str, provider, *, json_out: bool = False, quiet_warnings: bool = False):
    """Load, check and compile; print diagnostics; exit 1 on errors. Returns the CompileResult."""
    from ..api import compile_file
    from ..diagnostics import render, see_all_with_check, summary

    p = story_path(path)
    try:
        result = compile_file(p, provider)
    except OSError as exc:
        raise fail(f"{path}: cannot read: {exc.strerror or exc}")
    diags = result.diagnostics
    if diags and not json_out and not (quiet_warnings and result.ok):
        sys.stderr.write(render(diags, result.sources, limit=SHOWN_PER_FILE,
                                see_all=see_all_with_check(path, provider.name)))
    if not result.ok:
        if not json_out:
            err.print(f"{path}: {summary(diags)}", markup=False)
        raise typer.Exit(EXIT_DIAGNOSTICS)
    return result


# ---- check, compile, plan -------------------------------------------------------------------

@app.command()
def check(files: list[str] = typer.Argument(..., help="One or more .story files."),
          provider: str = typer.Option("preview", "--provider", "-p", help="Check against this provider's limits."),
          json_: bool = typer.Option(False, "--json", help="Diagnostics as JSON on stdout (always every one)."),
          all_: bool = typer.Option(False, "--all", help=f"Print every diagnostic, not only the first "
                                                          f"{SHOWN_PER_FILE} of each file.")):
    """Report every problem in the stories (exit 0 if none, 1 if any error)."""
    from ..api import compile_file
    from ..diagnostics import render, render_json, summary

    prov = provider_named(provider)
    status = EXIT_OK
    all_diags = []
    for f in files:
        p = story_path(f)
        try:
            result = compile_file(p, prov)
        except OSError as exc:
            raise fail(f"{f}: cannot read: {exc.strerror or exc}")
        all_diags += result.diagnostics
        if not json_:
            if result.diagnostics:
                sys.stderr.write(render(result.diagnostics, result.sources, limit=None if all_ else SHOWN_PER_FILE))
            err.print(f"{f}: {summary(result.diagnostics)}", markup=False)
        if not result.ok:
            status = EXIT_DIAGNOSTICS
    if json_:
        sys.stdout.write(render_json(all_diags) + "\n")
    raise typer.Exit(status)


@app.command("compile")
def compile_cmd(file: str = typer.Argument(..., help="The .story file."),
                provider: str = typer.Option("preview", "--provider", "-p", help="preview (default) or together."),
                output: str = typer.Option(None, "--output", "-o", help="Write the plan here instead of stdout.")):
    """Print the exact requests (the render plan) as JSON."""
    prov = provider_named(provider)
    result = compile_or_exit(file, prov)
    text = result.plan.to_json()
    if output:
        from ..atomic import write_text

        try:
            write_text(output, text)
        except OSError as exc:
            raise cannot_write(exc, output)
        err.print(f"wrote {output}", markup=False)
    else:
        sys.stdout.write(text)
    raise typer.Exit(EXIT_OK)


@app.command()
def plan(file: str = typer.Argument(..., help="The .story file."),
         provider: str = typer.Option("preview", "--provider", "-p", help="preview (default) or together."),
         json_: bool = typer.Option(False, "--json", help="The table as JSON on stdout.")):
    """A table per clip: kind, seconds, mode, references and estimated cost, with the total."""
    import json

    from rich.table import Table

    prov = provider_named(provider)
    result = compile_or_exit(file, prov, json_out=json_)
    p = result.plan
    # a clip with another's request uses that one's generation (and cost)
    same_as = {c.name: group[0].name for group in p.shared_generations() for c in group[1:]}
    rows = [{"clip": c.name, "kind": c.kind, "seconds": c.seconds, "mode": c.mode,
             "references": [r.name for r in c.references], "after": c.after,
             "estimated_cost_usd": c.estimated_cost_usd, "same_as": same_as.get(c.name)} for c in p.clips]
    if json_:
        sys.stdout.write(json.dumps({"title": p.title, "provider": p.provider, "clips": rows,
                                     "seconds": sum(c.seconds for c in p.clips), "film_seconds": p.total_seconds,
                                     "estimated_cost_usd": p.estimated_cost_usd, "warnings": p.warnings},
                                    indent=2, ensure_ascii=False) + "\n")
        raise typer.Exit(EXIT_OK)
    table = Table(title=f"{p.title} ({p.provider}, {p.model})", title_justify="left")
    for col, kw in (("clip", {}), ("kind", {}), ("seconds", {"justify": "right"}), ("mode", {}),
                    ("references", {}), ("needs", {}), ("est. cost", {"justify": "right"})):
        table.add_column(col, **kw)
    for r in rows:
        table.add_row(r["clip"], r["kind"], str(r["seconds"]), r["mode"], ", ".join(r["references"]) or "-",
                      ", ".join(r["after"]) or "-",
                      f"= {r['same_as']}" if r["same_as"] else _usd(r["estimated_cost_usd"]))
    table.add_section()
    table.add_row("total", "", str(sum(c.seconds for c in p.clips)), "", "", "", _usd(p.estimated_cost_usd))
    out.print(table)
    out.print(f"film length {p.total_seconds:g}s after transitions", markup=False)
    for w in p.warnings:
        err.print(f"warning: {w}", markup=False)
    raise typer.Exit(EXIT_OK)


def _usd(x) -> str:
    return "unknown" if x is None else f"${x:,.2f}"


# ---- fmt ---------------------------------------------------------------------------------

@app.command("fmt")
def fmt_cmd(files: list[str] = typer.Argument(..., metavar="FILE", help="One or more .story files."),
            check_only: bool = typer.Option(False, "--check", help="Write nothing; exit 1 if any file would change."),
            diff: bool = typer.Option(False, "--diff", help="Write nothing; print a unified diff on stdout.")):
    """Rewrite stories in the canonical layout, keeping comments (files with syntax errors are left alone)."""
    from ..diagnostics import render, see_all_with_check, summary
    from ..language.fmt import format_source, unified_diff, write_formatted
    from ..messages import not_utf8

    def say(message: str) -> None:  # file names are not markup or :emoji: codes
        err.print(message, markup=False, emoji=False)

    contents: dict[str, bytes] = {}
    for f in files:  # every file must be readable before any is written
        p = story_path(f)
        try:
            contents[f] = p.read_bytes()
        except OSError as exc:
            raise fail(f"{f}: cannot read: {exc.strerror or exc}")
    status, changed, broken = EXIT_OK, 0, 0
    for f, data in contents.items():
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:  # left alone, like a file with syntax errors
            text, formatted, diags = data.decode("utf-8", errors="replace"), None, [not_utf8(f, data, exc)]
        else:
            formatted, diags = format_source(text, f)
        if formatted is None:
            sys.stderr.write(render(diags, {f: text}, limit=SHOWN_PER_FILE, see_all=see_all_with_check(f)))
            say(f"{f}: {summary(diags)}; not formatted")
            status, broken = EXIT_DIAGNOSTICS, broken + 1
            continue
        if formatted == text:
            continue
        changed += 1
        if diff:
            sys.stdout.write(unified_diff(text, formatted, f))
        if check_only:
            say(f"would reformat {f}")
        elif not diff:
            try:
                write_formatted(f, formatted)
            except OSError as exc:
                raise cannot_write(exc, f)
            say(f"reformatted {f}")
    if check_only and changed:
        status = EXIT_DIAGNOSTICS
    if not diff:
        verb = "would be reformatted" if check_only else "reformatted"
        say(f"{changed} file{'s' * (changed != 1)} {verb}, {len(contents) - changed - broken} unchanged"
            + (f", {broken} not formatted (syntax errors)" if broken else ""))
    raise typer.Exit(status)


# ---- render (the engine is storyboard/render/; the terminal side storyboard/render_cli.py) ---

@app.command()
def render(file: str = typer.Argument(..., help="The .story file."),
           provider: str = typer.Option("preview", "--provider", "-p", help="preview (default, free) or together (paid)."),
           shot: list[str] = typer.Option(None, "--shot", "-s", help="Render only this clip (repeatable), plus "
                                          "the clips it needs that are not cached yet."),
           concurrency: int = typer.Option(4, "--concurrency", "-j", help="Jobs in flight at once."),
           yes: bool = typer.Option(False, "--yes", "-y", help="Submit paid jobs without asking (needed when not on a terminal)."),
           max_cost: float = typer.Option(None, "--max-cost", metavar="USD", help="Refuse to start if the estimate "
                                          "of what would be submitted is above this (or unknown)."),
           out_dir: str = typer.Option(None, "--out", "-o", help="Folder for the film (default: build/ beside the story)."),
           base_url: str = typer.Option(None, "--base-url", help="The provider's API base URL (e.g. a fake server)."),
           forget: list[str] = typer.Option(None, "--forget", metavar="CLIP", help="Drop CLIP's journal record "
                                            "(an in-doubt create you checked on the dashboard) and exit."),
           adopt: list[str] = typer.Option(None, "--adopt", metavar="CLIP=JOB_ID", help="Record a job found on the "
                                           "dashboard for an in-doubt CLIP and exit; the next render downloads it."),
           resubmit_in_doubt: bool = typer.Option(False, "--resubmit-in-doubt", help="Submit in-doubt clips again "
                                                  "(may pay twice if the first create went through)."),
           job_timeout: float = typer.Option(30.0, "--job-timeout", metavar="MIN", help="Stop waiting for a job "
                                             "after this many minutes (it stays in the journal)."),
           json_: bool = typer.Option(False, "--json", help="The render report as JSON on stdout."),
           burn_subtitles: bool = typer.Option(False, "--burn-subtitles", help="Burn the dialogue into the film as "
                                               "subtitles (the cues of build/<title>.srt, written beside the film).")):
    """Render the clips (cached ones are reused), then stitch the film; prints the film's path."""
    import dataclasses

    check_money_options(max_cost, job_timeout)
    if concurrency < 1:
        raise fail("--concurrency must be at least 1")

    from .render import Fail, RenderOptions, run

    opts = RenderOptions(file=file, provider=provider, shots=shot or None, concurrency=concurrency, yes=yes,
                         max_cost=max_cost, out_dir=out_dir, base_url=base_url, forget=forget or None,
                         adopt=adopt or None, resubmit_in_doubt=resubmit_in_doubt, job_timeout_min=job_timeout,
                         json_out=json_)
    if burn_subtitles:
        # render_cli._stitch writes subtitles.write_srt(plan, subtitles.srt_path(plan, out_dir)) and passes it
        # to stitch(..., burn_subtitles=srt) when RenderOptions.burn_subtitles is set
        if "burn_subtitles" not in {f.name for f in dataclasses.fields(RenderOptions)}:
            raise fail("--burn-subtitles: this build's render step cannot burn subtitles yet; "
                       "`storyboard export FILE --srt PATH` writes them as a file")
        opts.burn_subtitles = True
    try:
        code = run(opts, compile_or_exit=compile_or_exit, provider_named=provider_named, err=err, out=out)
    except Fail as exc:
        raise fail(str(exc), exc.code)
    raise typer.Exit(code)


# ---- preview, watch, export (storyboard/preview.py, watch.py, export/otio.py) ------------------

@app.command()
def preview(file: str = typer.Argument(..., help="The .story file."),
            shot: list[str] = typer.Option(None, "--shot", "-s", help="Render only this clip (repeatable), plus "
                                           "the clips it needs; the page shows every clip."),
            provider: str = typer.Option("preview", "--provider", "-p", help="preview (default, free) or together (paid)."),
            open_: bool = typer.Option(False, "--open", help="Open the page in the web browser."),
            out_dir: str = typer.Option(None, "--out", "-o", help="Folder for the page (default: build/ beside the story)."),
            yes: bool = typer.Option(False, "--yes", "-y", help="Submit paid jobs without asking (needed when not on a terminal)."),
            max_cost: float = typer.Option(None, "--max-cost", metavar="USD", help="Refuse to start if the estimate "
                                           "of what would be submitted is above this (or unknown)."),
            base_url: str = typer.Option(None, "--base-url", help="The provider's API base URL (e.g. a fake server).")):
    """Render the missing clips and write the storyboard page (build/storyboard.html) and contact
    sheet; prints the page's path."""
    from .. import render as engine
    from ..names import output_dir
    from ..present.page import ClipState, rendered_clips, write_all
    from .render import Fail, RenderOptions, _decide_spending, _progress

    check_money_options(max_cost)
    prov = provider_named(provider, **({"base_url": base_url} if base_url else {}))
    problem = prov.credential_problem()
    if problem:
        raise fail(problem)
    result = compile_or_exit(file, prov)
    plan = result.plan
    for w in plan.warnings:
        err.print(f"warning: {w}", markup=False, soft_wrap=True)
    state_dir = engine.default_state_dir(plan)
    only = shot or None
    try:
        summary = engine.inspect_render(plan, prov, state_dir=state_dir, only=only)
        # the render command's rules: show the plan, and a paid provider needs a yes first
        approve = _decide_spending(summary, prov, RenderOptions(file=file, provider=provider, shots=only, yes=yes,
                                                                 max_cost=max_cost), err)
    except engine.RenderError as exc:
        raise fail(str(exc), exc.exit_code)
    except Fail as exc:
        raise fail(str(exc), exc.code)
    progress = _progress(err, plan)
    try:
        report = engine.render(plan, prov, state_dir=state_dir, only=only, on_event=progress, approve=approve,
                               max_cost=max_cost, close_provider=True)
    except engine.NotApproved:
        raise fail("the plan changed since it was confirmed (another render?); nothing was submitted", EXIT_USAGE)
    except engine.RenderError as exc:
        raise fail(str(exc), exc.exit_code)
    except OSError as exc:  # the state folder cannot be written (read-only, full): before any clip
        raise cannot_write(exc, state_dir)
    except KeyboardInterrupt:
        err.print("aborted: jobs already submitted are in the journal and will be resumed by the next render",
                  markup=False)
        raise typer.Exit(EXIT_INTERRUPTED)
    finally:
        progress.close()
    for o in report.problems:
        err.print(f"{o.source}: error: clip {o.name} {o.status}: {o.error}", markup=False, soft_wrap=True)
    clips, states = rendered_clips(plan, prov, state_dir=state_dir)  # what --shot left alone, if cached
    statuses: dict = dict(states)
    for o in report.outcomes:
        if o.ok and o.path is not None:
            clips[o.name] = o.path
            statuses[o.name] = o
        elif o.status != "not-requested" or o.name not in clips:
            statuses[o.name] = o if o.status != "not-requested" else ClipState("not-requested", provider=plan.provider)
    target = output_dir(plan.base_dir, out_dir)
    try:
        outputs = write_all(plan, clips, target, statuses=statuses)
    except OSError as exc:
        raise cannot_write(exc, target, "the page in")
    err.print(f"contact sheet {outputs.contact_sheet}" + (f", subtitles {outputs.subtitles}" if outputs.subtitles else ""),
              markup=False, soft_wrap=True)
    sys.stdout.write(f"{outputs.page}\n")
    if open_:
        import webbrowser

        webbrowser.open(outputs.page.resolve().as_uri())
    raise typer.Exit(EXIT_INTERRUPTED if report.interrupted else (EXIT_REMOTE if report.problems else EXIT_OK))


@app.command()
def watch(file: str = typer.Argument(..., help="The .story file."),
          out_dir: str = typer.Option(None, "--out", "-o", help="Folder for the page (default: build/ beside the story)."),
          open_: bool = typer.Option(False, "--open", help="Open the page in the web browser once it is written."),
          interval: float = typer.Option(0.3, "--interval", metavar="SECONDS", help="How often to look for changes.")):
    """Re-check, re-render (preview provider only: never paid) and refresh the storyboard page on
    every save of the story or of a file it uses. Ctrl-C stops."""
    from .watch import watch as watch_loop

    p = story_path(file)
    if not (interval > 0 and interval != float("inf")):  # (nan is not > 0)
        raise fail("--interval must be a positive number of seconds")

    def ready(page) -> None:
        sys.stdout.write(f"{page}\n")
        sys.stdout.flush()
        if open_:
            import webbrowser

            webbrowser.open(page.resolve().as_uri())

    try:
        watch_loop(p, out_dir=out_dir, interval=interval, on_ready=ready,
                   log=lambda m: err.print(m, markup=False, highlight=False, soft_wrap=True))
    except KeyboardInterrupt:
        err.print("stopped watching", markup=False)
        raise typer.Exit(EXIT_INTERRUPTED)
    raise typer.Exit(EXIT_OK)


@app.command()
def export(file: str = typer.Argument(..., help="The .story file."),
           otio_path: str = typer.Option(None, "--otio", metavar="PATH", help="Write the timeline here: .otio, "
                                         ".otioz, .edl (CMX 3600) or .xml (Final Cut Pro 7), by suffix."),
           srt: str = typer.Option(None, "--srt", metavar="PATH", help="Write the dialogue subtitles here (.srt)."),
           provider: str = typer.Option("preview", "--provider", "-p", help="Whose rendered clips to use (preview or together)."),
           base_url: str = typer.Option(None, "--base-url", help="The provider's API base URL (selects its cache).")):
    """Export the rendered film for an editor: an OpenTimelineIO timeline (clips from the render
    cache, provenance in each clip's metadata) and/or subtitles. Renders nothing."""
    from pathlib import Path

    if not otio_path and not srt:
        raise fail("nothing to export: give --otio PATH (.otio/.otioz/.edl/.xml) and/or --srt PATH")
    prov = provider_named(provider, **({"base_url": base_url} if base_url else {}))
    result = compile_or_exit(file, prov, quiet_warnings=True)
    plan = result.plan
    if otio_path:
        from ..present.export import ExportError, write_timeline
        from ..present.page import rendered_clips

        clips, states = rendered_clips(plan, prov)
        missing = [c.name for c in plan.clips if c.name not in clips]
        if missing:
            err.print(f"warning: not rendered yet: {', '.join(missing)} (in the timeline as missing media; "
                      f"`storyboard render {file}` renders them)", markup=False, soft_wrap=True)
        try:
            written = write_timeline(plan, clips, Path(otio_path), provenance=states)
        except ExportError as exc:
            raise fail(str(exc))
        except Exception as exc:  # the disk's refusal, or an adapter's own (otio exceptions)
            raise cannot_write(exc, otio_path)
        sys.stdout.write(f"{written}\n")
    if srt:
        from ..present.subtitles import write_srt

        try:
            sys.stdout.write(f"{write_srt(plan, Path(srt))}\n")
        except OSError as exc:
            raise cannot_write(exc, srt)
    raise typer.Exit(EXIT_OK)
