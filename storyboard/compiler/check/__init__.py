"""Film + provider limits -> diagnostics. Every rule of docs/language.md, and the mistakes a
user can make beyond them, each reported by its code in storyboard/messages.py. Reads
reference files' first bytes (to know their real type).

One module per responsibility, each a set of passes over a shared `Context` (context.py):
settings, names, cast, files (local files, URLs, real types), timeline (structure, extends,
transitions), clips (clip settings, beats, prose) and units (one generation: inputs, provider
limits, prompt). This module runs them in order and returns what they found, once each, sorted."""

from __future__ import annotations

from ...diagnostics import Diagnostic
from ...language.load import Film
from ...language.model import Card, Clip
from ...providers.base import Provider
from ..requests import Unit, expand
from .cards import check_card
from .cast import check_cast
from .clips import check_clip_lines
from .context import Context
from .names import check_names
from .score import check_scores
from .settings import check_film_settings, check_has_clips
from .timeline import check_structure
from .units import check_unit

__all__ = ["check", "check_for"]


def check(film: Film, provider: Provider) -> list[Diagnostic]:
    ctx = Context(film, provider)
    _run(ctx)
    seen = set()
    unique = []
    for d in film.diagnostics + ctx.diags:  # one report per place and problem
        k = (d.code, d.span, d.message)
        if k not in seen:
            seen.add(k)
            unique.append(d)
    return sorted(unique, key=lambda d: (d.span.file != str(film.path), d.span.file, d.span.line, d.span.column)
                  if d.span else (True, "", 0, 0))


def check_for(film: Film, provider: Provider) -> list[Diagnostic]:
    """`check` against a provider that first takes the story's `host:` setting: a bucket widens
    the local files it can send (SB305). What `check` and `compile` run, and what the page asks
    of the provider it quotes."""
    provider.use_story_host(film.setting("host"))
    return check(film, provider)


def _run(ctx: Context) -> None:
    """The passes in order: the order of reports at one place follows it."""
    film = ctx.film
    check_film_settings(ctx)
    check_has_clips(ctx)
    check_names(ctx)
    for entry in film.cast.values():
        check_cast(ctx, entry)
    # After a syntax error whole blocks may be missing: order rules would only mislead.
    structure_ok = not film.syntax_errors and check_structure(ctx)
    clips = [i for i in film.timeline if type(i) is Clip]  # by exact class (`Clip` in model.py says why)
    for clip in clips:
        check_clip_lines(ctx, clip)
    for card in (i for i in film.timeline if type(i) is Card):
        check_card(ctx, card, structure_ok)
    if structure_ok:
        check_scores(ctx)
    if structure_ok and not film.syntax_errors:
        units, _ = expand(film)
        for unit in units:
            check_unit(ctx, unit)
    else:
        # Without a sound timeline, still check each clip's own mentions and files.
        for clip in clips:
            check_unit(ctx, Unit(clip.name, clip.kind, clip=clip), limits=False)
