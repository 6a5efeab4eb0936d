"""The typer app: argv -> `api` -> exit code. Payloads on stdout, humans on stderr.

Exit codes (`exitcodes.ExitCode`): 0 ok, 1 diagnostics, 2 usage or internal error, 3 remote
failure, 130 interrupted. The render path shared by render and preview is `cli.render`; watch
mode is `cli.watch`; the steps every command shares are `cli.common`.
"""

from __future__ import annotations

import sys

import enum

import typer

from ..credentials import scrub
from ..disk import read_failure
from ..diagnostics import SHOWN_PER_FILE
from ..exitcodes import ExitCode
from .common import (
    cannot_write, check_money_options, compile_or_exit, diagnostics_json, err, fail, out, plan_warnings,
    provider_choice, provider_named, provider_options, say, story_path,
)

HOST_OPTION = typer.Option(None, "--host", metavar="S3_URL", help="Upload local videos and audios to this bucket "
                           "(s3://bucket/prefix) for providers that only take URLs (overrides the story's `host:`).")

TAKES_OPTION = typer.Option(None, "--takes", metavar="N", help="At least N takes (1-8) of the --shot clips (of "
                           "every clip without --shot), each with its own seed, without editing the story.")
DRAFT_OPTION = typer.Option(False, "--draft", help="Every clip at the cheapest tier (480p, same aspect ratio, "
                            "seeds and prompts), into build/<title>.draft.mp4.")


def check_takes_option(takes: int | None) -> None:
    from ..plan import MAX_TAKES

    if takes is not None and not 1 <= takes <= MAX_TAKES:
        raise fail(f"--takes must be a number of takes from 1 to {MAX_TAKES}, not {takes}")


class Fields(enum.StrEnum):
    """Together's two spellings of the audio fields (see providers/together.py)."""

    page = "page"
    openapi = "openapi"


FIELDS_OPTION = typer.Option(None, "--together-fields", help="Spell Together's audio fields as its Seedance page "
                             "does (page, the default) or as its OpenAPI spec and SDK do (openapi); overrides "
                             "STORYBOARD_TOGETHER_FIELDS and the config file.")


def _fields(value: Fields | None) -> str | None:
    return value.value if value else None


app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Compile .story files into Seedance 2.0 requests, render clips and stitch the film.")


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
        raise typer.Exit(ExitCode.OK)


@app.callback()
def _options(version: bool = typer.Option(False, "--version", is_eager=True, callback=_print_version,
                                          help="Print the version and exit.")) -> None:
    pass  # options of `storyboard` itself; the help text is the Typer app's


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(ExitCode.INTERRUPTED)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors and anything unexpected: one line, no traceback
        sys.exit(_exit_for(exc))
    sys.exit(code or 0)


def _exit_for(exc: Exception) -> int:
    """Say what went wrong in one line (no traceback) and return the exit code."""
    usage, abort = _click_exception_types()
    if isinstance(exc, usage):
        if type(exc).__name__ == "NoArgsIsHelpError":  # bare `storyboard`: the help is the answer
            exc.show()
        else:
            err.print(f"storyboard: {usage_line(exc)}", markup=False)
        return ExitCode.USAGE
    if isinstance(exc, abort):
        err.print("aborted")
        return ExitCode.INTERRUPTED
    if isinstance(exc, OSError):  # a file or folder the system refused: say which, in one line
        from ..disk import os_error_line

        err.print(f"storyboard: {os_error_line(exc)}", markup=False)
        return ExitCode.USAGE
    err.print(scrub(f"storyboard: internal error: {type(exc).__name__}: {exc}"), markup=False)
    return ExitCode.USAGE


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


# ---- check, compile, plan -------------------------------------------------------------------

@app.command()
def check(files: list[str] = typer.Argument(..., help="One or more .story files."),
          provider: str = typer.Option(None, "--provider", "-p", help="Check against this provider's limits."),
          json_: bool = typer.Option(False, "--json", help="Diagnostics as JSON on stdout (always every one)."),
          all_: bool = typer.Option(False, "--all", help=f"Print every diagnostic, not only the first "
                                                          f"{SHOWN_PER_FILE} of each file.")):
    """Report every problem in the stories (exit 0 if none, 1 if any error)."""
    from ..api import compile_file
    from ..diagnostics import render, render_json, summary

    prov = provider_named(provider)
    status = ExitCode.OK
    all_diags = []
    for f in files:
        p = story_path(f)
        try:
            result = compile_file(p, prov)
        except OSError as exc:
            raise fail(read_failure(exc, f)) from None
        all_diags += result.diagnostics
        if not json_:
            if result.diagnostics:
                sys.stderr.write(render(result.diagnostics, result.sources, limit=None if all_ else SHOWN_PER_FILE))
            err.print(f"{f}: {summary(result.diagnostics)}", markup=False)
        if not result.ok:
            status = ExitCode.DIAGNOSTICS
    if json_:
        sys.stdout.write(render_json(all_diags) + "\n")
    raise typer.Exit(status)


@app.command("compile")
def compile_cmd(file: str = typer.Argument(..., help="The .story file."),
                provider: str = typer.Option(None, "--provider", "-p", help="preview (default) or together."),
                output: str = typer.Option(None, "--output", "-o", help="Write the plan here instead of stdout."),
                draft: bool = DRAFT_OPTION):
    """Print the exact requests (the render plan, every take) as JSON."""
    prov = provider_named(provider)
    result = compile_or_exit(file, prov, tier="draft" if draft else "final")
    text = result.plan.to_json()
    if output:
        from ..atomic import write_text

        try:
            write_text(output, text)
        except OSError as exc:
            raise cannot_write(exc, output) from None
        say(f"wrote {output}")
    else:
        sys.stdout.write(text)
    raise typer.Exit(ExitCode.OK)


@app.command()
def plan(file: str = typer.Argument(..., help="The .story file."),
         provider: str = typer.Option(None, "--provider", "-p", help="preview (default) or together."),
         json_: bool = typer.Option(False, "--json", help="The table (and any diagnostics) as JSON on stdout."),
         host: str = HOST_OPTION, together_fields: Fields = FIELDS_OPTION,
         draft: bool = DRAFT_OPTION, takes: int = TAKES_OPTION,
         shot: list[str] = typer.Option(None, "--shot", "-s", help="With --takes: the clips that get them.")):
    """A table per take of each clip: kind, seconds, mode, references and estimated cost, with the
    total, the local files a render would upload, and where the provider and its settings came from."""
    from ..render.uploads import planned_uploads

    check_takes_option(takes)
    name, name_source = provider_choice(provider)
    prov = provider_named(name, **provider_options(host=host, together_fields=_fields(together_fields)))
    extra = tuple((n, takes) for n in (shot or ["*"])) if takes else ()
    result = compile_or_exit(file, prov, json_out=json_, tier="draft" if draft else "final", extra_takes=extra)
    p = result.plan
    _known_clips_or_exit(p, shot)
    rows = _plan_rows(p)
    uploads = planned_uploads(p, prov)
    if json_:
        import json

        data = {"title": p.title, "provider": p.provider, "tier": p.tier, "clips": rows,
                "seconds": sum(c.seconds for c in p.generated().clips), "film_seconds": p.total_seconds,
                "estimated_cost_usd": p.estimated_cost_usd, "warnings": p.warnings,
                "uploads": [{"file": str(f), "to": to} for f, to in uploads],
                "sources": {"provider": name_source, **prov.setting_sources()},
                **json.loads(diagnostics_json(result.diagnostics))}
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        raise typer.Exit(ExitCode.OK)
    _plan_console().print(_plan_table(p, rows))
    out.print(f"film length {p.total_seconds:g}s after transitions", markup=False)
    for w in plan_warnings(p, result.diagnostics):
        say(f"warning: {w}")
    for line in upload_notice(uploads):
        say(line)
    say(sources_line(name_source, prov.setting_sources()))
    raise typer.Exit(ExitCode.OK)


def _known_clips_or_exit(p, names: list[str] | None) -> None:
    """`--shot NAME` naming no clip of the film: one line, exit 2 (as `render --shot`)."""
    from ..plan import played_clips

    clips = [c.name for c in played_clips(p)]
    unknown = [n for n in names or [] if n not in clips]
    if unknown:
        raise fail(f"no clip named {', '.join(map(repr, unknown))} in this film (clips: {', '.join(clips)})")


def sources_line(provider_source: str, sources: dict[str, str]) -> str:
    """Where the provider and each of its settings came from (never their values: keys are secret)."""
    parts = [f"provider from {provider_source}"] + [f"{k} from {v}" for k, v in sources.items() if v != "none"]
    return "settings: " + "; ".join(parts)


def upload_notice(uploads: list) -> list[str]:
    """What `plan` says about the uploads: nothing leaves the machine before the render is confirmed."""
    if not uploads:
        return []
    return ([f"{len(uploads)} local file(s) will be uploaded when the render is confirmed (--yes); "
             "nothing leaves this machine before that:"] + [f"  {path} -> {where}" for path, where in uploads])


def _plan_rows(p) -> list[dict]:
    # a clip with another's request uses that one's generation (and cost)
    same_as = {c.name: group[0].name for group in p.shared_generations() for c in group[1:]}
    return [{"clip": c.take_of or c.name, "take": c.take, "takes": c.takes, "seed": c.seed, "tier": c.tier,
             "played": c.take_of is None, "pinned": c.pinned, "kind": c.kind, "seconds": c.seconds, "mode": c.mode,
             "references": [r.name for r in c.references], "after": c.after,
             "estimated_cost_usd": c.estimated_cost_usd, "same_as": same_as.get(c.name)} for c in _take_order(p)]


def _take_order(p) -> list:
    """The plan's generations, each clip's takes together in take order."""
    from ..plan import played_clips, takes_of

    return [t for c in played_clips(p) for t in takes_of(p, c.name)]


def _take_cell(r: dict) -> str:
    """`2/3 *`: take 2 of 3, the one the film plays (`pinned` when kept from an older version)."""
    if r["takes"] == 1 and not r["pinned"]:
        return "1"
    return f"{r['take']}/{r['takes']}" + (" pinned" if r["pinned"] else " *" if r["played"] else "")


def _plan_table(p, rows: list[dict]):
    from rich.table import Table

    tier = ", draft tier" if p.tier == "draft" else ""
    table = Table(title=f"{p.title} ({p.provider}, {p.model}{tier})", title_justify="left")
    for col, kw in (("clip", {}), ("take", {}), ("seed", {"justify": "right"}), ("kind", {}),
                    ("seconds", {"justify": "right"}), ("mode", {}),
                    ("references", {}), ("needs", {}), ("est. cost", {"justify": "right"})):
        table.add_column(col, **kw)
    for r in rows:
        table.add_row(r["clip"], _take_cell(r), "-" if r["seed"] is None else str(r["seed"]), r["kind"],
                      str(r["seconds"]), r["mode"], ", ".join(r["references"]) or "-",
                      ", ".join(r["after"]) or "-",
                      f"= {r['same_as']}" if r["same_as"] else _usd(r["estimated_cost_usd"]))
    table.add_section()
    table.add_row("total", f"{len(rows)} gen.", "", "", str(sum(c.seconds for c in p.clips)), "", "", "",
                  _usd(p.estimated_cost_usd))
    return table


def _plan_console():
    """On a terminal, the table fits the window; anywhere else (a pipe, a file, a CI log) nothing
    is cut: no width to fit, so every name is printed whole (the table takes its natural width)."""
    if out.is_terminal:
        return out
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, width=100_000, color_system=None, emoji=False)


def _usd(x) -> str:
    return "unknown" if x is None else f"${x:,.2f}"


# ---- lsp ---------------------------------------------------------------------------------

@app.command()
def lsp(provider: str = typer.Option(None, "--provider", "-p", help="Check against this provider's limits."),
        stdio: bool = typer.Option(True, "--stdio", hidden=True, help="Speak LSP on stdin/stdout (the only way).")):
    """The language server for editors (LSP on stdin/stdout): diagnostics as you type, completion,
    hover, navigation, rename, quick fixes, formatting and code lenses."""
    from ..lsp.server import serve

    serve(provider_named(provider), installed_version())
    raise typer.Exit(ExitCode.OK)


# ---- fmt ---------------------------------------------------------------------------------

@app.command("fmt")
def fmt_cmd(files: list[str] = typer.Argument(..., metavar="FILE", help="One or more .story files."),
            check_only: bool = typer.Option(False, "--check", help="Write nothing; exit 1 if any file would change."),
            diff: bool = typer.Option(False, "--diff", help="Write nothing; print a unified diff on stdout.")):
    """Rewrite stories in the canonical layout, keeping comments (files with syntax errors are left alone)."""
    from ..diagnostics import render, see_all_with_check, summary
    from ..language.fmt import format_source, unified_diff, write_formatted
    from ..messages import not_utf8

    contents: dict[str, bytes] = {}
    for f in files:  # every file must be readable before any is written
        p = story_path(f)
        try:
            contents[f] = p.read_bytes()
        except OSError as exc:
            raise fail(read_failure(exc, f)) from None
    status, changed, broken = ExitCode.OK, 0, 0
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
            status, broken = ExitCode.DIAGNOSTICS, broken + 1
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
                raise cannot_write(exc, f) from None
            say(f"reformatted {f}")
    if check_only and changed:
        status = ExitCode.DIAGNOSTICS
    if not diff:
        verb = "would be reformatted" if check_only else "reformatted"
        say(f"{changed} file{'s' * (changed != 1)} {verb}, {len(contents) - changed - broken} unchanged"
            + (f", {broken} not formatted (syntax errors)" if broken else ""))
    raise typer.Exit(status)


# ---- render, preview, watch, export ---------------------------------------------------------

class Stitcher(enum.StrEnum):
    """`render --stitcher`: which writer makes the film (api.STITCHERS)."""

    fast = "fast"
    moviepy = "moviepy"


@app.command()
def render(file: str = typer.Argument(..., help="The .story file."),
           provider: str = typer.Option(None, "--provider", "-p",
                                        help="preview (default, free) or together (paid)."),
           shot: list[str] = typer.Option(None, "--shot", "-s", help="Render only this clip (repeatable), plus "
                                          "the clips it needs that are not cached yet."),
           concurrency: int = typer.Option(4, "--concurrency", "-j", help="Jobs in flight at once."),
           yes: bool = typer.Option(False, "--yes", "-y",
                                    help="Submit paid jobs without asking (needed when not on a terminal)."),
           max_cost: float = typer.Option(None, "--max-cost", metavar="USD", help="Refuse to start if the estimate "
                                          "of what would be submitted is above this (or unknown)."),
           out_dir: str = typer.Option(None, "--out", "-o",
                                       help="Folder for the film (default: build/ beside the story)."),
           base_url: str = typer.Option(None, "--base-url", help="The provider's API base URL (e.g. a fake server)."),
           host: str = HOST_OPTION, together_fields: Fields = FIELDS_OPTION,
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
                                               "subtitles (the cues of build/<title>.srt, written beside the film)."),
           takes: int = TAKES_OPTION, draft: bool = DRAFT_OPTION,
           repick: list[str] = typer.Option(None, "--repick", metavar="CLIP", help="Release CLIP's pick first "
                                            "(as `storyboard unpick`), so it renders as the story is now."),
           stitcher: Stitcher = typer.Option(Stitcher.fast, "--stitcher", help="fast (default: copies what it can, "
                                             "exact frames, flat memory) or moviepy (writes the film_clip composition "
                                             "with moviepy: several times slower).")):
    """Render the clips (cached ones are reused), then stitch the film; prints the film's path."""
    from .render import RenderOptions, run

    check_money_options(max_cost, job_timeout)
    check_takes_option(takes)
    if concurrency < 1:
        raise fail("--concurrency must be at least 1")
    raise typer.Exit(run(RenderOptions(takes=takes, draft=draft, repick=repick or None,
        file=file, provider=provider, shots=shot or None, concurrency=concurrency, yes=yes, max_cost=max_cost,
        out_dir=out_dir, base_url=base_url, host=host, together_fields=_fields(together_fields),
        forget=forget or None, adopt=adopt or None,
        resubmit_in_doubt=resubmit_in_doubt, job_timeout_min=job_timeout, json_out=json_,
        burn_subtitles=burn_subtitles, stitcher=stitcher.value)))


@app.command()
def preview(file: str = typer.Argument(..., help="The .story file."),
            shot: list[str] = typer.Option(None, "--shot", "-s", help="Render only this clip (repeatable), plus "
                                           "the clips it needs; the page shows every clip."),
            provider: str = typer.Option(None, "--provider", "-p",
                                         help="preview (default, free) or together (paid)."),
            open_: bool = typer.Option(False, "--open", help="Open the page in the web browser."),
            out_dir: str = typer.Option(None, "--out", "-o",
                                        help="Folder for the page (default: build/ beside the story)."),
            yes: bool = typer.Option(False, "--yes", "-y",
                                     help="Submit paid jobs without asking (needed when not on a terminal)."),
            max_cost: float = typer.Option(None, "--max-cost", metavar="USD", help="Refuse to start if the estimate "
                                           "of what would be submitted is above this (or unknown)."),
            base_url: str = typer.Option(None, "--base-url", help="The provider's API base URL (e.g. a fake server)."),
            host: str = HOST_OPTION, together_fields: Fields = FIELDS_OPTION,
            bundle: str = typer.Option(None, "--bundle", metavar="DIR", help="Also write the page with every clip, "
                                       "the film and the pictures it shows into DIR (new, empty, or a previous "
                                       "bundle), all linked relatively: zip it and send it; prints its page.")):
    """Render the missing clips and write the storyboard page (build/storyboard.html) and contact
    sheet; prints the page's path."""
    from .render import RenderOptions, run_preview

    check_money_options(max_cost)
    raise typer.Exit(run_preview(RenderOptions(file=file, provider=provider, shots=shot or None, yes=yes,
                                               max_cost=max_cost, out_dir=out_dir, base_url=base_url, host=host,
                                               together_fields=_fields(together_fields), bundle=bundle),
                                   open_))


@app.command()
def watch(file: str = typer.Argument(..., help="The .story file."),
          out_dir: str = typer.Option(None, "--out", "-o",
                                      help="Folder for the page (default: build/ beside the story)."),
          open_: bool = typer.Option(False, "--open", help="Open the page in the web browser once it is written."),
          interval: float = typer.Option(0.3, "--interval", metavar="SECONDS", help="How often to look for changes."),
          serve: bool = typer.Option(False, "--serve", help="Also serve the page from 127.0.0.1 with a button on "
                                     "each take to pick it (the film is re-stitched on every build)."),
          port: int = typer.Option(0, "--port", metavar="N", help="The port for --serve (default: a free one).")):
    """Re-check, re-render (preview provider only: never paid) and refresh the storyboard page on
    every save of the story or of a file it uses. Ctrl-C stops."""
    from .watch import watch as watch_loop

    p = story_path(file)
    if not (interval > 0 and interval != float("inf")):  # (nan is not > 0)
        raise fail("--interval must be a positive number of seconds")
    if serve:
        from .serve import watch_and_serve

        raise typer.Exit(watch_and_serve(p, out_dir=out_dir, port=port, interval=interval, open_page=open_))

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
        say("stopped watching")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    raise typer.Exit(ExitCode.OK)


@app.command()
def export(file: str = typer.Argument(..., help="The .story file."),
           otio_path: str = typer.Option(None, "--otio", metavar="PATH", help="Write the timeline here: .otio, "
                                         ".otioz, .edl (CMX 3600) or .xml (Final Cut Pro 7), by suffix."),
           srt: str = typer.Option(None, "--srt", metavar="PATH", help="Write the dialogue subtitles here (.srt)."),
           provider: str = typer.Option(None, "--provider", "-p",
                                        help="Whose rendered clips to use (preview or together)."),
           base_url: str = typer.Option(None, "--base-url", help="The provider's API base URL (selects its cache).")):
    """Export the rendered film for an editor: an OpenTimelineIO timeline (clips from the render
    cache, provenance in each clip's metadata) and/or subtitles. Renders nothing."""
    from .. import api

    if not otio_path and not srt:
        raise fail("nothing to export: give --otio PATH (.otio/.otioz/.edl/.xml) and/or --srt PATH")
    prov = provider_named(provider, **({"base_url": base_url} if base_url else {}))
    plan = compile_or_exit(file, prov, quiet_warnings=True).plan
    if otio_path:
        _export_timeline(file, plan, prov, otio_path)
    if srt:
        try:
            sys.stdout.write(f"{api.export(plan, prov, srt=srt).subtitles}\n")
        except OSError as exc:
            raise cannot_write(exc, srt) from None
    raise typer.Exit(ExitCode.OK)


def _export_timeline(file: str, plan, prov, otio_path: str) -> None:
    from .. import api
    from ..present.export import ExportError

    try:
        result = api.export(plan, prov, otio=otio_path, log=say)
    except ExportError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # the disk's refusal, or an adapter's own (otio exceptions)
        raise cannot_write(exc, otio_path) from None
    _warn_missing(file, plan, result)
    sys.stdout.write(f"{result.timeline}\n")


def _warn_missing(file: str, plan, result) -> None:
    """What the timeline holds as missing media: title cards that could not be drawn (and why),
    clips not rendered yet."""
    cards = {c.name for c in plan.cards}
    missing_cards = [n for n in result.missing if n in cards]
    clips = [n for n in result.missing if n not in cards]
    if missing_cards:
        why = result.card_problem or "not drawn"
        say(f"warning: title card(s) not drawn: {', '.join(missing_cards)} ({why}; in the timeline as missing media)")
    if clips:
        say(f"warning: not rendered yet: {', '.join(clips)} (in the timeline as missing media; "
            f"`storyboard render {file}` renders them)")


# ---- takes and picks (cli.takes) -------------------------------------------------------------

def _register_takes_commands() -> None:
    from . import takes as takes_cli

    app.command("pick")(takes_cli.pick)
    app.command("unpick")(takes_cli.unpick)
    app.command("takes")(takes_cli.takes)
    from . import serve as serve_cli

    app.command("serve")(serve_cli.serve)


_register_takes_commands()
# ---- init, import --------------------------------------------------------------------------

@app.command()
def init(folder: str = typer.Argument(".", help="The new film's folder (made if missing; default: here).")):
    """Start a new film: a starter .story that uses every kind of block, placeholder pictures for
    its cast and a .gitignore. Never overwrites a file (exit 2, nothing written, if one exists)."""
    from ..scaffold import ScaffoldError, init as make_film, next_steps

    try:
        film = make_film(folder)
    except ScaffoldError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise cannot_write(exc, folder) from None
    for line in next_steps(film, folder):
        say(line)
    sys.stdout.write(f"{film.story}\n")
    raise typer.Exit(ExitCode.OK)


@app.command("import")
def import_cmd(script: str = typer.Argument(..., metavar="SCRIPT.fountain", help="A Fountain screenplay."),
               output: str = typer.Option(None, "--output", "-o", metavar="FILE.story", help="Where to write the "
                                          "story (default: beside the screenplay, named like it; - for stdout)."),
               placeholders: bool = typer.Option(False, "--placeholders", help="Also draw a placeholder picture "
                                                 "for each image: the story names that does not exist yet."),
               force: bool = typer.Option(False, "--force", help="Replace the story if it exists (pictures are "
                                          "never replaced).")):
    """Turn a Fountain screenplay into a .story draft: a clip for each scene, a character for each
    speaker, a place for each location, with the dialogue and transitions; durations are estimated
    from the words."""
    from pathlib import Path

    from ..diagnostics import render
    from ..fountain import ScriptError, import_script

    if Path(script).is_dir():
        raise fail(f"{script}: is a directory, not a Fountain screenplay")
    src = story_path(script)  # the same refusals as a story: missing, a device, unreadable
    target = None if output == "-" else Path(output) if output else src.with_suffix(".story")
    if target is not None and target.resolve() == src.resolve():
        raise fail(f"{script}: the story would replace the screenplay; choose another name with -o")
    if target is not None and target.is_dir():
        example = target / src.with_suffix(".story").name
        raise fail(f"{output}: is a folder; name the story to write in it, e.g. -o {example}")
    if target is None and placeholders:
        raise fail("--placeholders draws pictures beside the story: give -o FILE.story, not -o -")
    try:
        made = import_script(src, script)
    except ScriptError as exc:
        sys.stderr.write(render(exc.diagnostics, {script: exc.source}))
        raise typer.Exit(ExitCode.DIAGNOSTICS) from None
    except OSError as exc:
        raise fail(read_failure(exc, script)) from None
    if made.warnings:
        sys.stderr.write(render(made.warnings, {script: made.source}))
    if target is None:
        sys.stdout.write(made.text)
        raise typer.Exit(ExitCode.OK)
    _write_import(made, target, placeholders, force)
    raise typer.Exit(ExitCode.OK)


def _write_import(made, target, placeholders: bool, force: bool) -> None:
    """The story and, with --placeholders, the missing pictures: new files all or nothing (a story
    replaced with --force is replaced atomically); then what next."""
    from ..scaffold import ScaffoldError, drawn, write_new_files

    folder = target.parent
    missing = [p for p in made.pictures if not (folder / p.path).exists()]
    files = {target: made.text.encode("utf-8")}
    if placeholders:
        files.update(drawn(missing, folder))
    if force and target.is_file():
        files.pop(target)
    try:
        write_new_files(files)
        if target not in files:
            from ..atomic import write_text

            write_text(target, made.text)
    except ScaffoldError as exc:
        if exc.existing == [target]:
            raise fail(f"{target} already exists; nothing was written (give another name with -o, or --force "
                       "to replace it)") from None
        raise fail(str(exc)) from None
    except OSError as exc:
        raise cannot_write(exc, target) from None
    characters, places = len(made.cast.characters), len(made.cast.places)
    split = f" ({made.split_scenes} long scene{'s' * (made.split_scenes != 1)} split)" if made.split_scenes else ""
    say(f"wrote {target}: {made.clips} clip{'s' * (made.clips != 1)}{split}, {characters} "
        f"character{'s' * (characters != 1)}, {places} place{'s' * (places != 1)}")
    if placeholders and missing:
        say(f"drew {len(missing)} placeholder picture{'s' * (len(missing) != 1)}: replace them with your own")
    elif missing:
        say(f"{len(missing)} picture{'s' * (len(missing) != 1)} to draw (or run again with --placeholders "
            "to draw stand-ins):")
        for p in missing:
            say(f"  {folder / p.path if str(folder) != '.' else p.path}")
    say(f"next: storyboard check {target}")
    sys.stdout.write(f"{target}\n")
