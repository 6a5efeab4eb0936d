"""`card` blocks -> the plan's card clips: what each shows, its size, and a key made of its
content (text, style, the picture's bytes, size, length), so an unchanged card is drawn once.
No request, no provider, no cost."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from ..cards.style import CARD_VERSION, DEFAULT_SECONDS, parse_style
from ..language.load import Film
from ..language.model import Card
from ..plan import CardSpec, PlannedClip, ScoreSpec, TimelineEntry, canonical_json
from .score import read_score


def card_seconds(card: Card) -> float:
    return float(card.seconds) if card.seconds is not None else float(DEFAULT_SECONDS)


def card_spec(film: Film, card: Card) -> CardSpec:
    style = parse_style(card.value("style") or "")
    image = card.value("image")
    if image:
        found = film.story_file(image)
        image = found.rel if found.ok else image  # the checker refused any other
    return CardSpec(text=card.value("text") or None, subtitle=card.value("subtitle") or None, image=image or None,
                    credits=[s.value for s in card.values("credits")], color=style.color,
                    background=style.background, font=style.font, bold=style.bold, fade=style.fade)


def card_clip(film: Film, card: Card, size: tuple[int, int], hasher) -> PlannedClip:
    spec = card_spec(film, card)
    seconds = card_seconds(card)
    material = {"v": CARD_VERSION, "card": spec.model_dump(mode="json"), "size": list(size), "seconds": seconds,
                "image": hasher(spec.image) if spec.image else None}
    key = hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()
    span = card.span
    shown = int(seconds) if seconds.is_integer() else seconds
    return PlannedClip(
        name=card.name, kind="card", seconds=shown, request={}, estimated_cost_usd=0.0, key=key, mode="card",
        source=f"{span.file}:{span.line}:{span.column}" if span else str(film.path),
        action=" / ".join(t for t in (spec.text, spec.subtitle) if t), audio=False,
        width=size[0], height=size[1], card=spec)


def with_cards(film: Film, clips: list[PlannedClip], timeline: list[TimelineEntry],
               size: Callable[[], tuple[int, int]], hasher) -> list[PlannedClip]:
    """The generated clips and the film's cards (drawn at `size()`: `requests.card_size`, asked
    only when the film has cards: it looks at every clip), in the order they play."""
    cards = [i for i in film.timeline if isinstance(i, Card)]
    if not cards:
        return clips
    at = size()
    made = {c.name: c for c in clips} | {card.name: card_clip(film, card, at, hasher) for card in cards}
    order = [e.clip for e in timeline if e.clip is not None]
    return [made[name] for name in order if name in made]


# ---- the score ---------------------------------------------------------------------------------

def score_specs(film: Film, timeline: list[TimelineEntry], hasher) -> list[ScoreSpec]:
    """Every `score:` of the main story, its span resolved to timeline clips: `from X` starts at
    X, `to Y` ends with Y's last extension (they play as one with it)."""
    lines = film.setting_lists.get("score", [])
    if not lines:
        return []
    order = [e.clip for e in timeline if e.clip is not None]
    out = []
    for setting in lines:
        line = read_score(setting.value)
        found = film.story_file(line.file)
        rel = found.rel if found.ok else line.file
        first = line.first or order[0]
        last = _chain_end(order, line.last) if line.last else order[-1]
        out.append(line.spec(hasher(rel), first, last).model_copy(update={"file": rel}))
    return out


def _chain_end(order: list[str], name: str) -> str:
    """The last timeline clip of `name` and its extensions (`name+1`, `name+2` ...)."""
    at = order.index(name)
    while at + 1 < len(order) and order[at + 1].startswith(name + "+"):
        at += 1
    return order[at]
