"""What every command shares: the two consoles (payloads on stdout, humans on stderr), one-line
failures with their exit code, and the steps before a stage runs (the story file, the provider,
option values, the compile with its diagnostics)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console

from ..credentials import remember_url_credentials, scrub
from ..disk import read_failure
from ..diagnostics import SHOWN_PER_FILE
from ..exitcodes import ExitCode

# One message, one line, however long; a story's text is never taken for an :emoji: code.
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
out = Console(highlight=False, soft_wrap=True, emoji=False)


def say(message: str) -> None:
    """One line for a human on stderr (file names are neither markup nor :emoji: codes)."""
    err.print(message, markup=False, highlight=False, soft_wrap=True)


def fail(message: str, code: int = ExitCode.USAGE) -> typer.Exit:
    """One line on stderr and an exit code; `raise fail(...)`."""
    err.print(scrub(f"storyboard: {message}"), markup=False)
    return typer.Exit(int(code))


def cannot_write(exc: BaseException, path: Path | str, what: str = "") -> typer.Exit:
    """`fail` for a write that failed, in the words of `disk.write_failure`."""
    from ..disk import write_failure

    return fail(write_failure(exc, path, what))


def story_path(path: str) -> Path:
    """A readable story file, or a one-line usage error (exit 2)."""
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
        raise fail(f"{path}: permission denied") from None
    except OSError as exc:
        raise fail(read_failure(exc, path)) from None
    return p


def provider_choice(name: str | None) -> tuple[str, str]:
    """The provider's name and where it came from: --provider, else STORYBOARD_PROVIDER or the
    config file's `provider`, else the free preview."""
    from ..config import ConfigError, default

    if name:
        return name, "--provider"
    try:
        found = default("provider")
    except ConfigError as exc:
        raise fail(str(exc)) from None
    return (found.value.strip(), found.source) if found else ("preview", "default")


def provider_named(name: str | None, **options):
    from urllib.parse import urlsplit

    from ..config import ConfigError
    from ..providers import NAMES, get

    name, source = provider_choice(name)
    if name not in NAMES:
        raise fail(f"unknown provider {name!r}; choose one of: {', '.join(NAMES)}")
    url = options.get("base_url")
    remember_url_credentials(url)  # the messages below may quote it
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise fail(f"--base-url must be an http(s) URL such as https://api.together.ai, not {url!r}")
    try:
        prov = get(name, **options)
    except ConfigError as exc:  # a key or default was to come from a config file that may not be read
        raise fail(str(exc)) from None
    return prov


def provider_options(base_url: str | None = None, host: str | None = None,
                     together_fields: str | None = None) -> dict:
    """The provider's options from the command line (only those given: the rest are its defaults)."""
    return {k: v for k, v in (("base_url", base_url), ("host", host), ("field_names", together_fields)) if v}


def ready_provider(name: str | None, base_url: str | None, host: str | None = None,
                   together_fields: str | None = None, *, checked: bool = True):
    """The provider, able to authenticate: checked before anything is compiled, asked or sent
    (`checked=False`: by `require_credentials` once the plan is known)."""
    prov = provider_named(name, **provider_options(base_url, host, together_fields))
    if checked:
        require_credentials(prov)
    return prov


def require_credentials(prov, plan=None) -> None:
    """Exit (2) when the provider cannot authenticate, unless `plan` sends it nothing at all: a
    film of title cards only is drawn on this machine and needs no key."""
    if plan is not None and not plan.generated().clips:
        return
    problem = prov.credential_problem()
    if problem:
        raise fail(problem)


def check_money_options(max_cost: float | None = None, job_timeout: float | None = None) -> None:
    """Refuse option values that would silently mean "no limit" (nan) or nothing at all."""
    import math

    if max_cost is not None and not (math.isfinite(max_cost) and max_cost >= 0):
        raise fail(f"--max-cost must be a number of US dollars, 0 or more, not {max_cost:g}")
    if job_timeout is not None and not (math.isfinite(job_timeout) and job_timeout > 0):
        raise fail(f"--job-timeout must be a positive number of minutes, not {job_timeout:g}")


def compile_or_exit(path: str, provider, *, json_out: bool = False, quiet_warnings: bool = False,
                    **compile_options):
    """Load, check and compile; print diagnostics; exit 1 on errors. Returns the CompileResult.
    With `json_out` the diagnostics are the caller's to put in its JSON, except on errors: then
    they are printed here, as JSON on stdout (`{"diagnostics": [...]}`), before the exit."""
    from ..api import compile_file
    from ..diagnostics import render, see_all_with_check, summary

    p = story_path(path)
    try:
        result = compile_file(p, provider, **compile_options)  # tier, extra_takes, released
    except OSError as exc:
        raise fail(read_failure(exc, path)) from None
    diags = result.diagnostics
    if json_out:
        if not result.ok:
            sys.stdout.write(diagnostics_json(diags) + "\n")
            raise typer.Exit(diagnostics_exit_code(diags))
        return result
    if diags and not (quiet_warnings and result.ok):
        sys.stderr.write(render(diags, result.sources, limit=SHOWN_PER_FILE,
                                see_all=see_all_with_check(path, provider.name)))
    if not result.ok:
        err.print(f"{path}: {summary(diags)}", markup=False)
        raise typer.Exit(diagnostics_exit_code(diags))
    return result


def diagnostics_exit_code(diags) -> int:
    """1 for a story's errors; 2 when the only errors are the picks file's (SB621: a file the
    writer broke by hand, not the story)."""
    errors = [d for d in diags if d.is_error]
    return ExitCode.USAGE if errors and all(d.code == "SB621" for d in errors) else ExitCode.DIAGNOSTICS


def diagnostics_json(diags) -> str:
    import json

    from ..diagnostics import render_json

    return json.dumps({"diagnostics": json.loads(render_json(diags))}, indent=2, ensure_ascii=False)


def plan_warnings(plan, diags) -> list[str]:
    """The plan's warnings that no printed diagnostic already told: a `continue` into a clip with
    references is both a warning diagnostic (with its source line) and a plan warning (for the
    page), in the catalogue's same words (SB902); a terminal says it once."""
    told = {d.message for d in diags if not d.is_error}
    return [w for w in plan.warnings if w not in told]
