"""A `card`: known lines (each once, `credits:` as often as wanted), something to show, a length
of 1 to 30 seconds, a picture in the story's folder, style words from the vocabulary, and text
that fits (laid out as the renderer lays it out, at the film's size)."""

from __future__ import annotations

from ... import paths
from ...cards.style import COLOURS, SECONDS_RANGE, VOCABULARY, parse_style
from ...language.model import CARD_FIELDS, Card
from ..cards import card_seconds
from ..requests import card_size, unit_pixels
from .context import Context, seconds
from .files import check_local_file
from .near import close

SHOWS = ("text", "subtitle", "image", "credits")
MEDIA_KINDS = {"image": "image"}  # a card line that names a file -> the kind of file it takes


def check_card(ctx: Context, card: Card, timeline_ok: bool = True) -> None:
    """`timeline_ok`: the film's structure is sound, so its clips' sizes are known."""
    ok = _check_lines(ctx, card)
    length = card_seconds(card)
    lo, hi = SECONDS_RANGE
    if not lo <= length <= hi:
        ctx.report("SB601", card.seconds_span or card.name_span, name=card.name, seconds=seconds(length))
        ok = False
    if not any(card.value(k) for k in SHOWS):
        ctx.report("SB602", card.name_span, "empty", name=card.name)
        ok = False
    image = next(iter(card.values("image")), None)
    if image is not None and image.value:
        if paths.is_url(image.value):
            ctx.report("SB602", image.value_span, "url", path=paths.shown(image.value))
        else:
            check_local_file(ctx, image.value, "", image.value_span, kinds=MEDIA_KINDS["image"],
                             role="a card's picture")
    style = next(iter(card.values("style")), None)
    ok &= _check_style(ctx, style) if style is not None else True
    if ok:
        check_fit(ctx, card, length, timeline_ok)


def _check_lines(ctx: Context, card: Card) -> bool:
    ok = True
    seen: set[str] = set()
    for f in card.fields:
        if f.key not in CARD_FIELDS:
            near = close(f.key, CARD_FIELDS)
            ctx.report("SB602", f.span, "unknown", key=f.key, hint="did_you_mean" if near else "known", near=near)
            ok = False
        elif f.key in seen and f.key != "credits":
            ctx.report("SB602", f.span, "twice", name=card.name, key=f.key)
            ok = False
        elif not f.value and f.key != "credits":  # an empty `credits:` is a blank line of the roll
            ctx.report("SB105", f.span, key=f.key)
            ok = False
        seen.add(f.key)
    return ok


def _check_style(ctx: Context, style) -> bool:
    parsed = parse_style(style.value)
    for p in parsed.problems:
        span = style.value_span.at(p.offset, len(p.word)) if style.value_span else style.span
        near = close(p.word, VOCABULARY) if p.kind == "unknown" else None
        hint = "did_you_mean" if near else "vocabulary" if p.kind in ("unknown", "shape") else None
        ctx.report("SB604", span, p.kind, word=p.word, what=p.what, near=near, hint=hint,
                   colours=", ".join(c for c in COLOURS if c != "gray"))
    return not parsed.problems


def check_fit(ctx: Context, card: Card, length: float, timeline_ok: bool = True) -> None:
    """Text laid out as the renderer will draw it, at the size it will be drawn at (the final
    tier's, and the drafts' when they are smaller): what does not fit is reported at the first
    size it does not fit at."""
    from ...cards.layout import MIN_ON_SCREEN, layout

    style = parse_style(card.value("style") or "")
    laid = None
    for width, height in _fit_sizes(ctx, timeline_ok):
        laid = layout(text=card.value("text"), subtitle=card.value("subtitle"),
                      credits=[s.value for s in card.values("credits")], seconds=length, width=width, height=height,
                      font=style.font, bold=style.bold)
        if laid.overflow:
            break
    for o in laid.overflow:
        where = _line_of(card, o.what)
        if o.what == "speed":
            ctx.report("SB603", card.seconds_span or card.name_span, "speed", name=card.name, rows=o.lines,
                       seconds=seconds(length), least=seconds(o.seconds), on_screen=f"{MIN_ON_SCREEN:g}")
        elif o.what == "credits":
            line = next((s for s in card.values("credits") if s.value == o.line), None)
            ctx.report("SB603", (line.value_span or line.span) if line else where, "credits", name=card.name,
                       lines=o.lines, line=paths.shown(o.line, 50))
        else:
            ctx.report("SB603", where, "lines", what=o.what, name=card.name, lines=o.lines, most=o.most,
                       width=width, height=height)


def _fit_sizes(ctx: Context, timeline_ok: bool) -> list[tuple[int, int]]:
    """The sizes the card may be drawn at: `card_size` at each tier (with a broken timeline, the
    film's own settings'; with a size the film cannot have, which SB103 reports, 1280x720)."""
    sizes = []
    for tier in ("final", "draft"):
        try:
            sizes.append(card_size(ctx.film, ctx.provider, tier) if timeline_ok
                         else unit_pixels(ctx.film, None, ctx.provider, tier))
        except (KeyError, ValueError):
            sizes.append((1280, 720))
    return list(dict.fromkeys(sizes))


def _line_of(card: Card, key: str):
    found = card.values(key)
    return (found[0].value_span or found[0].span) if found else card.name_span
