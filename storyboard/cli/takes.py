"""`storyboard pick`, `unpick` and `takes`: the picks file through `api` (the one code path the
page's pick buttons use too). Errors are one line and exit 1 (unknown clip, take out of range or
never rendered) or 2 (a picks file that cannot be written); a broken picks file is its
diagnostic with line and caret (exit 2), and is never rewritten."""

from __future__ import annotations

import json
import sys

import typer

from .. import api
from ..diagnostics import render as render_diagnostics
from ..exitcodes import ExitCode
from .common import cannot_write, compile_or_exit, err, fail, out, provider_named, say, story_path

PROVIDER_OPTION = typer.Option(None, "--provider", "-p", help="Whose takes (picks are kept per provider).")
BASE_URL_OPTION = typer.Option(None, "--base-url", help="The provider's API base URL (selects its journal).")


def _provider(provider: str | None, base_url: str | None):
    return provider_named(provider, **({"base_url": base_url} if base_url else {}))


def _picks_or_exit(file: str) -> None:
    """A picks file that does not read cleanly: its diagnostics, exit 2, nothing changed."""
    from ..picks import read_picks

    found = read_picks(file)
    if not found.ok:
        sources = {str(found.path): found.text or ""}
        sys.stderr.write(render_diagnostics(found.diagnostics, sources))
        err.print(f"{found.path}: not changed; fix it by hand or undo it in version control", markup=False)
        raise typer.Exit(ExitCode.USAGE)


def pick(file: str = typer.Argument(..., help="The .story file."),
         clip: str = typer.Argument(..., help="The clip (its name in the story; `name+1` for an extension)."),
         take: int = typer.Argument(..., help="The take number (see `storyboard takes FILE`)."),
         provider: str = PROVIDER_OPTION, base_url: str = BASE_URL_OPTION):
    """Pick a rendered take of a clip: the film plays it (and the clips made from it follow)."""
    from ..picks import PickError

    story_path(file)
    prov = _provider(provider, base_url)
    _picks_or_exit(file)
    compile_or_exit(file, prov, quiet_warnings=True)  # the story's own errors, as `check` shows them
    try:
        chosen = api.pick_take(file, prov, clip, take)
    except PickError as exc:
        raise fail(str(exc), ExitCode.DIAGNOSTICS) from None
    except OSError as exc:
        from ..picks import picks_path

        raise cannot_write(exc, picks_path(file)) from None
    seed = "no seed (the provider's)" if chosen.seed is None else f"seed {chosen.seed}"
    say(f"{clip}: take {take} picked ({chosen.tier}, {seed}); `storyboard render {file}` re-stitches the film "
        "and re-renders only the clips made from it")
    from ..picks import picks_path

    sys.stdout.write(f"{picks_path(file)}\n")
    raise typer.Exit(ExitCode.OK)


def unpick(file: str = typer.Argument(..., help="The .story file."),
           clip: str = typer.Argument(..., help="The clip whose pick to drop."),
           provider: str = PROVIDER_OPTION):
    """Drop a clip's pick: the film plays its take 1 again, as the story is now."""
    from ..picks import PickError, picks_path

    story_path(file)
    prov = _provider(provider, None)
    _picks_or_exit(file)
    try:
        gone = api.unpick_take(file, prov, clip)
    except PickError as exc:
        raise fail(str(exc), ExitCode.DIAGNOSTICS) from None
    except OSError as exc:
        raise cannot_write(exc, picks_path(file)) from None
    if not gone:
        raise fail(f"{clip} has no pick ({prov.name}) in {picks_path(file)}; nothing was changed",
                   ExitCode.DIAGNOSTICS)
    say(f"{clip}: pick dropped; the film plays take 1 as the story is now")
    raise typer.Exit(ExitCode.OK)


def takes(file: str = typer.Argument(..., help="The .story file."),
          clip: str = typer.Argument(None, help="Only this clip's takes."),
          provider: str = PROVIDER_OPTION, base_url: str = BASE_URL_OPTION,
          draft: bool = typer.Option(False, "--draft", help="The takes at the draft tier."),
          json_: bool = typer.Option(False, "--json", help="Every take as JSON on stdout.")):
    """Every take of every clip: number, seed, tier, state, cost, file, and which one is picked."""
    story_path(file)
    prov = _provider(provider, base_url)
    compile_or_exit(file, prov, quiet_warnings=True, json_out=json_, tier="draft" if draft else "final")
    _, rows = api.list_takes(file, prov, tier="draft" if draft else "final")
    if clip is not None:
        if clip not in {r.clip for r in rows}:
            raise fail(f"no clip named {clip!r} in this film; clips: {', '.join(dict.fromkeys(r.clip for r in rows))}",
                       ExitCode.DIAGNOSTICS)
        rows = [r for r in rows if r.clip == clip]
    if json_:
        sys.stdout.write(json.dumps({"takes": [r.as_json() for r in rows]}, indent=2, ensure_ascii=False) + "\n")
        raise typer.Exit(ExitCode.OK)
    from rich.table import Table

    table = Table(title=f"takes ({prov.name}, {'draft' if draft else 'final'} tier)", title_justify="left")
    for col in ("clip", "take", "seed", "tier", "state", "est. cost", "picked", "file"):
        table.add_column(col, justify="right" if col in ("take", "seed", "est. cost") else "left")
    for r in rows:
        mark = "pinned" if r.pinned else "picked" if r.picked else "plays" if r.played else ""
        table.add_row(r.clip, f"{r.take}/{r.takes}", "-" if r.seed is None else str(r.seed), r.tier, r.state,
                      "unknown" if r.cost_usd is None else f"${r.cost_usd:,.2f}", mark, r.file or "-")
    if out.is_terminal:
        out.print(table)
    else:  # a pipe or a log: nothing cut (as `plan`)
        from rich.console import Console

        Console(highlight=False, soft_wrap=True, width=100_000, color_system=None, emoji=False).print(table)
    raise typer.Exit(ExitCode.OK)
