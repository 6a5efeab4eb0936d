"""A clip's own lines: its settings (each once, values and files usable, none an extension may
not set), its length, a scene's beats adding up, and prose that looks like a misplaced setting
or dialogue."""

from __future__ import annotations

import re

from ... import paths, speech
from ...language.model import CLIP_SETTINGS, Beat, Clip, Prose, Setting
from ...plan import DEFAULT_SECONDS
from .context import Context, seconds
from .files import check_media
from .near import close
from .settings import check_size_exclusion, check_value

_KEYLIKE_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:")
# `Bo: "Hello"` or `Bo (softly): "Hello"`: the shape of a dialogue line without its `@`.
_BARE_DIALOGUE_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)[ \t]*(\([^)]*\))?[ \t]*:[ \t]*"')
_UNQUOTED_DIALOGUE_RE = re.compile(r'@([A-Za-z_][A-Za-z0-9_-]*)[ \t]*(\([^)]*\))?[ \t]*:[ \t]*[^"\s]')
VALUE_SETTINGS = ("resolution", "ratio", "size", "seed", "audio", "model", "takes")  # checked as the film's are
MEDIA_SETTINGS = {"first": "image", "last": "image", "motion": "video", "music": "audio"}  # key -> file kind
NOT_IN_EXTENSIONS = ("first", "last", "resolution", "ratio", "size")  # an extension continues its clip's


def check_clip_lines(ctx: Context, clip: Clip) -> None:
    seen: dict[str, Setting] = {}
    for line in clip.body:
        kind = type(line)  # a line's exact class, as `Clip.prose` and its kin pick them (model.py says why)
        if kind is Setting:
            check_clip_setting(ctx, clip, line, seen)
        elif kind is Prose and line.span:
            check_prose_pieces(ctx, line.pieces, line.span.column - 1)
        elif kind is Beat and line.span:  # its continued lines (the first is text after `shot:`)
            check_prose_pieces(ctx, [p for p in line.text.pieces if p.span and p.span.line != line.span.line],
                               line.span.column - 1)
        if kind is Beat and clip.kind != "scene":
            ctx.report("SB407", line.span, "not_in_scene", kind=clip.kind, name=clip.name)
    what = f"{clip.kind} {clip.name}"
    check_size_exclusion(ctx, seen, what)
    if clip.kind == "extend":
        for key in NOT_IN_EXTENSIONS:
            if key in seen:
                ctx.report("SB410", seen[key].span, key=key)
    check_duration(ctx, clip.seconds, clip.seconds_span, what)
    if clip.kind == "scene":
        check_beats(ctx, clip)
    check_dialogue_fits(ctx, clip)


def check_clip_setting(ctx: Context, clip: Clip, line: Setting, seen: dict[str, Setting]) -> None:
    """One `key: value` line of a clip; `seen`: the clip's settings so far (this one is added)."""
    if line.key in seen:
        first = seen[line.key].span
        ctx.report("SB409", line.span, key=line.key, kind=clip.kind, name=clip.name,
                   hint="first_set" if first else None, line=first and first.line)
        return
    seen[line.key] = line
    if line.key in VALUE_SETTINGS:
        check_value(ctx, line)
    elif not line.value and line.key not in ("negative",):
        ctx.report("SB105", line.span, key=line.key)
    elif line.key in MEDIA_SETTINGS:
        role = "frame images" if line.key in ("first", "last") else None
        check_media(ctx, line.value, "", line.value_span, MEDIA_SETTINGS[line.key], role=role)


def check_duration(ctx: Context, secs, span, what) -> None:
    lo, hi = ctx.limits.min_seconds, ctx.limits.max_seconds
    if secs is None:
        return
    if not float(secs).is_integer():
        ctx.report("SB401", span, "fraction", what=what, seconds=secs, lower=int(secs), upper=int(secs) + 1)
    elif not lo <= secs <= hi:
        ctx.report("SB401", span, "range", what=what, seconds=int(secs), lo=lo, hi=hi,
                   hint="too_long" if secs > hi else "too_short", model=ctx.provider.model_label)


def check_beats(ctx: Context, clip: Clip) -> None:
    beats = clip.beats
    if not beats:
        ctx.report("SB407", clip.name_span, "no_beats", name=clip.name)
        return
    total = int(clip.seconds) if clip.seconds is not None and float(clip.seconds).is_integer() else DEFAULT_SECONDS
    fixed = 0.0
    for b in beats:
        if b.seconds is not None:
            if not float(b.seconds).is_integer() or b.seconds <= 0:
                ctx.report("SB408", b.seconds_span, "fraction", seconds=b.seconds,
                           hint="fraction_two" if int(b.seconds) >= 1 else "fraction",
                           lower=max(int(b.seconds), 1), upper=int(b.seconds) + 1)
            fixed += b.seconds
        if not b.text.text:
            ctx.report("SB408", b.span, "no_text")
    free = [b for b in beats if b.seconds is None]
    if fixed > total + 1e-9:
        last = [b for b in beats if b.seconds is not None][-1]
        ctx.report("SB408", last.seconds_span, "too_long", fixed=seconds(fixed), name=clip.name, total=total,
                   most=ctx.limits.max_seconds)
    elif free and (total - fixed) / len(free) < 1 - 1e-9:
        variant = ("some_left" if total > fixed else "none_left") + ("_one" if len(free) == 1 else "_many")
        ctx.report("SB408", free[0].span, variant, left=seconds(total - fixed), name=clip.name, total=total,
                   count=len(free))


def check_dialogue_fits(ctx: Context, clip: Clip) -> None:
    """SB912 at the first line that is still being spoken when the clip ends (speech.py's rate)."""
    lines = clip.dialogue
    length = clip.seconds if clip.seconds is not None else DEFAULT_SECONDS
    if not lines or not float(length).is_integer():
        return  # a fractional length is an error of its own
    need = speech.needed_seconds([d.line for d in lines])
    if need <= length + 1e-9:
        return
    t, late = speech.LEAD, lines[-1]
    for d in lines:
        t += speech.speaking_seconds(d.line)
        if t > length:
            late = d
            break
        t += speech.GAP
    ctx.report("SB912", late.span, name=clip.name, need=_about(need), over=_about(need - length),
               rate=speech.WORDS_PER_MINUTE, seconds=int(length))


def _about(x: float) -> str:
    return f"{x:.1f}s"


def check_prose_pieces(ctx: Context, pieces, body_indent: int) -> None:
    """Each source line of a clip's text; `body_indent`: the clip's own lines' indentation."""
    for piece in pieces:
        if not piece.span or ":" not in piece.value:  # each shape below has a colon: most lines, at a glance
            continue
        m = _KEYLIKE_RE.match(piece.value)
        spoken = _BARE_DIALOGUE_RE.match(piece.value)
        if m and m.group(1) in CLIP_SETTINGS:
            # Only a continued line reads `camera:` as text: at the clip's indentation it is a setting.
            ctx.report("SB907", piece.span.at(0, len(m.group(1)) + 1), key=m.group(1), indent=body_indent)
        elif m and m.group(1) == "score":  # the film's setting, written in a clip
            ctx.report("SB911", piece.span.at(0, len("score")))
        elif spoken and spoken.group(1) in ctx.film.cast:
            ctx.report("SB908", piece.span.at(0, len(spoken.group(1))), name=spoken.group(1),
                       line=paths.shown(piece.value.strip()))
        elif m:
            near = close(m.group(1), CLIP_SETTINGS + ("shot",))
            if near:
                ctx.report("SB901", piece.span.at(0, len(m.group(1))), key=m.group(1), near=near)
        d = _UNQUOTED_DIALOGUE_RE.match(piece.value)
        if d:
            ctx.report("SB903", piece.span, name=d.group(1))
