"""One namespace for cast and clips: each name defined once. Leaves the names (and where each is
first defined) on the context for the timeline's `extend` rules."""

from __future__ import annotations

from ...diagnostics import Span
from ...language.model import Card, CastMember, Clip
from .context import Context
from .near import NearNames


def check_names(ctx: Context) -> None:
    film = ctx.film
    seen: dict[str, Span | None] = {}
    kinds: dict[str, str] = {}
    # by exact class, as a clip's lines are picked (`Clip` in model.py says why)
    named = [i for i in film.story.items
             if type(i) is CastMember or type(i) is Card or type(i) is Clip and i.kind != "extend"]
    for item in named:
        name, span = item.name, item.name_span
        if name in seen:
            first = seen[name]
            ctx.report("SB204", span, name=name, hint="first_used" if first else None, notes=("namespace",),
                       line=first and first.line, kind=kinds[name])
        else:
            seen[name] = span
            kinds[name] = item.kind
    for name, entry in film.cast.items():  # cast from included files counts too
        if name not in seen and entry.member.name_span and entry.member.name_span.file != str(film.path):
            seen[name] = entry.member.name_span
    ctx.names = seen
    ctx.near_clip_names = NearNames(n for n in seen if n not in film.cast)
