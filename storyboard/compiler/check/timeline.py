"""The timeline's structure: transitions between two clips and well formed, each `extend`
right after the clip it extends, and no transition longer than half a clip it joins."""

from __future__ import annotations

from ...language.model import WIPE_DIRECTIONS, Card, Clip, Transition
from ...plan import DEFAULT_SECONDS
from ..cards import card_seconds
from .context import Context, seconds
from .near import close

MAX_TRANSITION_SECONDS = 60


def check_structure(ctx: Context) -> bool:
    """True when the timeline is sound enough to expand into generations."""
    ok = True
    items = ctx.film.timeline
    prev_clip: Clip | None = None
    chain: set[str] = set()  # the names an `extend` right here may target
    prev_item = None
    for i, item in enumerate(items):
        kind = type(item)  # by exact class, as a clip's lines are picked (`Clip` in model.py says why)
        if kind is Transition:
            ok &= check_transition(ctx, item)
            ok &= _check_transition_place(ctx, item, prev_item, last=i == len(items) - 1)
            ok &= _check_beside_card(ctx, item, prev_item, items[i + 1] if i + 1 < len(items) else None)
        elif kind is Card:
            chain = set()  # nothing extends a card
            prev_clip = None
        else:
            if item.kind == "extend":
                ok &= _check_extend(ctx, item, prev_clip, prev_item, chain)
            else:
                chain = {item.name}
            prev_clip = item
        prev_item = item
    if ok:
        ok &= check_transition_lengths(ctx)
    return ok


def _check_transition_place(ctx: Context, t: Transition, prev_item, last: bool) -> bool:
    """A transition needs a clip on each side."""
    ok = True
    if prev_item is None:
        ctx.report("SB503", t.span, "first", kind=t.kind)
        ok = False
    elif isinstance(prev_item, Transition):
        ctx.report("SB504", t.span, first=prev_item.kind, second=t.kind)
        ok = False
    if last:
        ctx.report("SB503", t.span, "last", kind=t.kind)
        ok = False
    return ok


def _check_extend(ctx: Context, item: Clip, prev_clip: Clip | None, prev_item, chain: set[str]) -> bool:
    """An `extend` names a clip (not a cast member) it directly follows, with no transition
    between; `chain` (the clip and its extensions so far) gains it when it does."""
    film = ctx.film
    if item.name in ctx.card_names:
        ctx.report("SB605", item.name_span, "extend", name=item.name)
        return False
    if item.name in film.cast:
        kind = film.cast[item.name].member.kind
        ctx.report("SB501", item.name_span, "cast", name=item.name, kind=kind,
                   hint="cast_before" if prev_clip else "cast", before=prev_clip and prev_clip.name)
        return False
    if item.name not in ctx.names and item.name not in chain:
        near = ctx.near_clip_names.closest(item.name)
        ctx.report("SB501", item.name_span, "unknown", name=item.name, hint="did_you_mean" if near else None,
                   near=near)
        return False
    if item.name not in chain:
        before = prev_clip.name if prev_clip else None
        ctx.report("SB502", item.name_span, "follows" if before else "later", name=item.name, before=before)
        return False
    if isinstance(prev_item, Transition):
        ctx.report("SB506", prev_item.span, name=item.name)
        return False
    chain.add(item.name)
    return True


def _check_beside_card(ctx: Context, t: Transition, before, after) -> bool:
    """A morph or a `continue` is generated from a neighbour's frames: a card has none to give
    a provider (it is drawn on this machine, after the clips are generated)."""
    if t.kind not in ("morph", "continue"):  # most transitions: no neighbour to look at
        return True
    card = next((c for c in (before, after) if isinstance(c, Card)), None)
    if card is None:
        return True
    ctx.report("SB605", t.span, "transition", kind=t.kind, name=card.name)
    return False


def check_transition(ctx: Context, t: Transition) -> bool:
    ok = True
    if t.kind == "wipe" and t.direction not in WIPE_DIRECTIONS:
        near = close(t.direction or "", WIPE_DIRECTIONS)
        ctx.report("SB507", t.direction_span or t.span, direction=t.direction,
                   hint="did_you_mean" if near else None, near=near)
        ok = False
    if t.seconds is not None and t.seconds <= 0:
        ctx.report("SB508", t.seconds_span, "not_positive", kind=t.kind)
        ok = False
    if t.kind == "morph" and not (t.text or "").strip():
        ctx.report("SB406", t.span, "morph", seconds=t.seconds_text or "1s")
        ok = False
    if t.seconds is not None and t.seconds > MAX_TRANSITION_SECONDS:
        ctx.report("SB508", t.seconds_span, "too_long", kind=t.kind, seconds=t.seconds_text)
        ok = False
    return ok


def check_transition_lengths(ctx: Context) -> bool:
    ok = True
    items = ctx.film.timeline
    # A clip's played length includes its extensions when it's the "before" side.
    for i, item in enumerate(items):
        if type(item) is not Transition or item.seconds is None:  # by exact class, as above
            continue
        before = _played_before(items, i)
        after = _played(items[i + 1]) if i + 1 < len(items) and isinstance(items[i + 1], (Clip, Card)) else None
        for side, name, length in (("before", *before), ("after", *(after or (None, None)))):
            if length is not None and item.seconds > length / 2 + 1e-9:
                ctx.report("SB505", item.seconds_span, kind=item.kind, seconds=item.seconds_text, side=side,
                           name=name, length=seconds(length), half=seconds(length / 2))
                ok = False
    return ok


def _played(clip: Clip | Card) -> tuple[str, float]:
    if isinstance(clip, Card):
        return clip.name, card_seconds(clip)
    return clip.name, _length(clip)


def _length(clip: Clip) -> float:
    return float(clip.seconds if clip.seconds is not None else DEFAULT_SECONDS)


def _played_before(items, i: int) -> tuple[str, float]:
    """The clip before transition i, extensions included (they play as one with their target)."""
    total = 0.0
    name = "the clip before"
    j = i - 1
    extended = False
    if j >= 0 and isinstance(items[j], Card):
        return _played(items[j])
    while j >= 0 and isinstance(items[j], Clip):
        total += _length(items[j])
        name = items[j].name
        if items[j].kind != "extend":
            break
        extended = True
        j -= 1
    return (f"{name} with its extensions" if extended else name), total
