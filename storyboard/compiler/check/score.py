"""`score:` lines: `FILE [from CLIP] [to CLIP]` with known options, a real audio file in the
story's folder, a span of clips that exist and play in that order; a score in an included file
is ignored, and two scores over the same clips are both heard (warnings)."""

from __future__ import annotations

from ... import paths
from ...language.model import Card, Clip, Setting
from ..score import ScoreLine, read_score
from .context import Context
from .files import check_local_file, sniff
from .near import close

OPTION_WORDS = ("fade", "volume", "duck", "attack", "release", "loop", "once")
FILE_KIND = "audio"  # the kind of file a score is (MP3 or WAV)


def check_scores(ctx: Context) -> None:
    film = ctx.film
    for lists in film.included_setting_lists:
        for s in lists.get("score", []):
            ctx.report("SB909", s.span, path=s.span.file if s.span else "?")
    spans: list[tuple[Setting, tuple[int, int]]] = []
    for s in film.setting_lists.get("score", []):
        span = check_score(ctx, s)
        if span is not None:
            spans.append((s, span))
    _overlaps(ctx, spans)


def check_score(ctx: Context, s: Setting) -> tuple[int, int] | None:
    """The problems of one `score:`; the span of top-level timeline items it covers, if sound."""
    if not s.value:
        ctx.report("SB105", s.span, key="score")
        return None
    line = read_score(s.value)

    def at(offset: int, length: int):
        return s.value_span.at(offset, max(length, 1)) if s.value_span else s.span

    for p in line.problems:
        near = close(p.word.lower(), OPTION_WORDS) if p.kind == "unknown" else None
        hint = ("did_you_mean" if near else "options" if p.kind in ("unknown", "value")
                else "no_file" if p.kind == "no_file" else None)
        ctx.report("SB606", at(p.offset, len(p.word)), p.kind, word=p.word, option=p.option, expected=p.expected,
                   near=near, hint=hint)
    if line.file:
        _check_file(ctx, line.file, at(0, len(line.file)))
    span = _span(ctx, line, at)
    return span if line.file else None  # no music: nothing plays over anything (no SB910)


def _check_file(ctx: Context, written: str, span) -> None:
    if paths.is_url(written):
        ctx.report("SB301", span, "refused", path=paths.shown(written),
                   reason="is a URL: a score is mixed on this machine from a file in the story's folder")
        return
    before = len(ctx.diags)
    check_local_file(ctx, written, "", span, kinds=FILE_KIND, role="a score")
    if len(ctx.diags) == before:
        _probe(ctx, written, span)


def _probe(ctx: Context, written: str, span) -> None:
    """A file whose first bytes say MP3 or WAV may still hold no sound the mixer can decode."""
    found = ctx.film.story_file(written)
    key = ("score-probe", found.rel)
    if key not in ctx.checked_files:
        ctx.checked_files[key] = (_probe_problem(found.path),)
    why = ctx.checked_files[key][0]
    if why:
        ctx.report("SB302", span, "typed", path=written, what=f"a {sniff(found.path).upper()} file without "
                   f"decodable sound ({why})", role="a score", allowed="MP3 or WAV")


def _probe_problem(path) -> str | None:
    from ...media.probe import MediaError, probe

    try:
        info = probe(path)
    except MediaError as exc:
        return str(exc).split(": ", 1)[-1][:80]
    if info.audio is None or not info.duration:
        return "no audio stream"
    return None


def _span(ctx: Context, line: ScoreLine, at) -> tuple[int, int] | None:
    """Indexes of the first and last top-level timeline item the score covers."""
    items = ctx.film.timeline
    index = {i.name: n for n, i in enumerate(items) if isinstance(i, Card) or isinstance(i, Clip)
             and i.kind != "extend"}
    found = {}
    for side, name, offset in (("from", line.first, line.first_offset), ("to", line.last, line.last_offset)):
        if name is None:
            continue
        if name not in index:
            _unknown(ctx, side, name, at(offset, len(name)))
            return None
        found[side] = index[name]
    first = found.get("from", 0)
    last = _chain_end(items, found["to"]) if "to" in found else len(items) - 1
    if first > last:
        ctx.report("SB607", at(line.last_offset, len(line.last or "")), "order", first=line.first, last=line.last)
        return None
    return first, last


def _unknown(ctx: Context, side: str, name: str, span) -> None:
    if "+" in name and name.split("+", 1)[0] in ctx.clip_names:
        ctx.report("SB607", span, "extension", side=side, name=name, root=name.split("+", 1)[0])
    elif name in ctx.film.cast:
        ctx.report("SB607", span, "cast", side=side, name=name, kind=ctx.film.cast[name].member.kind, hint=None)
    else:
        near = ctx.near_clip_names.closest(name)
        ctx.report("SB607", span, "unknown", side=side, name=name, near=near, hint="did_you_mean" if near else None)


def _chain_end(items, at: int) -> int:
    """The index of the last extension right after item `at` (the item itself without one)."""
    while at + 1 < len(items) and isinstance(items[at + 1], Clip) and items[at + 1].kind == "extend":
        at += 1
    return at


def _overlaps(ctx: Context, spans: list[tuple[Setting, tuple[int, int]]]) -> None:
    items = ctx.film.timeline
    for n, (s, (a, b)) in enumerate(spans):
        for earlier, (c, d) in spans[:n]:
            lo, hi = max(a, c), min(b, d)
            if lo <= hi:
                names = [i.name for i in items[lo:hi + 1] if isinstance(i, (Card, Clip)) and i.kind != "extend"]
                shown = names[0] if len(names) == 1 else f"{names[0]} to {names[-1]}"
                ctx.report("SB910", s.span, clips=shown, line=earlier.span.line if earlier.span else "?")
                break
