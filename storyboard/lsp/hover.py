"""Hover: a mention shows its cast member; a clip header what will be sent (kind, seconds, mode,
references in request order, the cost per tier and the exact prompt); a setting what it does."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from lsprotocol import types

from ..language.model import Card, Clip, Transition
from .convert import uri_of
from .costs import planned_clip, quoting, tier_prices
from .docs import language_page_path, setting_docs

if TYPE_CHECKING:
    from .analysis import Result
    from .server import StoryServer


async def hover(ls: StoryServer, params: types.HoverParams) -> types.Hover | None:
    found = await ls.ready(params.text_document.uri, compiled=True)
    if found is None:
        return None
    result, file = found
    lines = result.lines(file)
    line1, col1 = params.position.line + 1, lines.column1(params.position)
    text = _at(result, file, line1, col1)
    if text is None:
        return None
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text))


def _at(result: Result, file: str, line1: int, col1: int) -> str | None:
    index = result.index
    occ = index.at(file, line1, col1)
    if occ is not None and occ.role in ("mention", "speaker", "cast") and occ.name in result.film.cast:
        return cast_text(result, occ.name)
    card = _card_header_at(result, file, line1)
    if card is not None:
        return card_text(result, card)
    clip = _clip_header_at(result, file, line1, col1)
    if clip is not None:
        return clip_text(result, clip)
    if occ is not None and occ.role in ("extend", "clip"):
        target = _clip_named(result, occ.name)
        return clip_text(result, target) if target is not None else None
    found = index.setting_at(file, line1, col1)
    if found is not None:
        return setting_text(*found)
    transition = _transition_at(result, file, line1, col1)
    return setting_text_for_key(transition.kind, "transition") if transition is not None else None


def _clip_header_at(result: Result, file: str, line1: int, col1: int) -> Clip | None:
    story = result.film.stories.get(file)
    for item in story.timeline if story else ():
        if not isinstance(item, Clip) or item.span is None or item.span.line != line1:
            continue
        # on an extension's target name, the target is meant (see `_at`)
        if item.kind != "extend" or col1 < (item.name_span or item.span).column:
            return item
    return None


def _card_header_at(result: Result, file: str, line1: int) -> Card | None:
    story = result.film.stories.get(file)
    return next((c for c in (story.timeline if story else ()) if isinstance(c, Card) and c.span
                 and c.span.line == line1), None)


def card_text(result: Result, card: Card) -> str:
    """A card's length and place in the film, what it shows, its style and the size it is drawn at."""
    from ..cards.style import DEFAULT_SECONDS
    from ..compiler.cards import card_seconds, card_spec

    seconds = f"{card_seconds(card):g}s" + ("" if card.seconds is not None else f" (the default {DEFAULT_SECONDS}s)")
    out = [f"**card** `{card.name}` · {seconds} · drawn on this machine, never sent to a provider: $0.00"]
    spec = card_spec(result.film, card)
    shows = [f"- {what}: {value}" for what, value in (("title", spec.text), ("subtitle", spec.subtitle)) if value]
    if spec.image:
        shows.append(f"- picture behind the text: {_link(result, card.value('image') or spec.image, '')}")
    if spec.credits:
        first = ", ".join(c for c in spec.credits[:3] if c.strip())
        more = f" … ({len(spec.credits)} lines)" if len(spec.credits) > 3 else ""
        shows.append(f"- credits, scrolling up: {first}{more}")
    out.append("shows:\n" + ("\n".join(shows) or "- nothing yet"))
    style = card.value("style")
    out.append(f"style: {style}" if style else "style: white on black, sans (the default)")
    out.append(_card_in_film(result, card.name))
    return "\n\n".join(s for s in out if s)


def _card_in_film(result: Result, name: str) -> str:
    """Where the card plays and its size, from the compiled plan (nothing while the story has errors)."""
    if result.plan is None:
        return "_Its place in the film and its size show once the story has no errors._"
    from ..plan import film_layout

    planned = next((c for c in result.plan.cards if c.name == name), None)
    place = next((p for p in film_layout(result.plan) if p.name == name), None)
    if planned is None or place is None:
        return ""
    return (f"plays from {place.start:.1f}s to {place.end:.1f}s of the film, drawn at {planned.width}x{planned.height} "
            "(the size of most of the film's clips)")


def _transition_at(result: Result, file: str, line1: int, col1: int) -> Transition | None:
    story = result.film.stories.get(file)
    return next((t for t in (story.timeline if story else ()) if isinstance(t, Transition) and t.span
                 and t.span.line == line1), None)


def _clip_named(result: Result, name: str) -> Clip | None:
    clips = (c for c in result.film.story.timeline if isinstance(c, Clip) and c.kind != "extend")
    return next((c for c in clips if c.name == name), None)


def cast_text(result: Result, name: str) -> str:
    entry = result.film.cast[name]
    member = entry.member
    out = [f"**{member.kind}** `{name}`"]
    if member.description:
        out.append(member.description)
    for field in member.fields:
        if field.key in ("image", "video", "voice"):
            out.append(f"- {field.key}: {_link(result, field.value, entry.rel_dir)}")
    if member.span:
        out.append(f"\ndeclared in `{os.path.basename(member.span.file)}` line {member.span.line}")
    return "\n\n".join(out[:2]) + "\n\n" + "\n".join(out[2:])


def _link(result: Result, written: str, rel_dir: str) -> str:
    if "://" in written:
        return f"[{written}]({written})"
    found = result.film.story_file(written, rel_dir)
    if not found.ok or not found.path.exists():
        return f"`{written}` (missing)"
    return f"[{written}]({uri_of(str(found.path))})"


def clip_text(result: Result, clip: Clip) -> str:
    planned = planned_clip(result, clip)
    seconds = f"{clip.seconds:g}s" if clip.seconds is not None else "default length"
    head = f"**{clip.kind}** `{clip.name}` · {seconds}"
    if planned is None:
        why = "fix the errors in the story" if result.plan is None else "it makes no generation of its own"
        return f"{head}\n\n_The request, its cost and prompt show once {why}._"
    refs = ", ".join(f"{r.name} ({r.kind})" for r in planned.references) or "none"
    prices = tier_prices(planned)
    costs = " · ".join(_price_text(tier, price) for tier, price in prices)
    notes = sorted({p.warning for _, p in prices if p.warning and p.usd is not None})
    return "\n\n".join([
        f"**{clip.kind}** `{planned.name}` · {planned.seconds}s · {planned.mode} mode · "
        f"{planned.width}x{planned.height}",
        f"references, in request order: {refs}",
        f"estimated cost on {quoting().label}: {costs}" + "".join(f"  \n_{n}_" for n in notes),
        "prompt sent:\n```text\n" + str(planned.request.get("prompt", "")) + "\n```",
    ])


def _price_text(tier: str, price) -> str:
    return f"{tier} {usd_text(price)}"


def usd_text(price) -> str:
    """`$0.96`; `from $0.96` (billed from that rate); `up to $5.60` (estimated at its upper bound)."""
    if price.usd is None:
        return "no published price"
    bound = "from " if price.lower_bound else "up to " if price.warning else ""
    return f"{bound}${price.usd:,.2f}"


def setting_text(setting, block: str) -> str | None:
    return setting_text_for_key(setting.key, block)


def setting_text_for_key(key: str, block: str) -> str | None:
    docs = setting_docs()
    doc = docs.get(block, {}).get(key)
    if doc is None:
        return None
    what = {"film": "film setting", "clip": "clip setting", "cast": "cast field", "transition": "transition",
            "card": "card line"}[block]
    rows = [f"**`{key}`** ({what})"]
    rows += [f"- {heading}: {cell}" for heading, cell in doc.columns if cell]
    film = docs["film"].get(key)
    if block == "clip" and film is not None:
        rows.append(f"- default: the film's `{key}` ({dict(film.columns).get('default', 'none')})")
    page = language_page_path()
    if page is not None:
        rows.append(f"\n[the language reference]({uri_of(str(page))}#{doc.anchor})")
    return "\n".join(rows)


def register(server: StoryServer) -> None:
    server.feature(types.TEXT_DOCUMENT_HOVER)(hover)
