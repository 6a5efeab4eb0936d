"""The film's own settings: known keys, each set once, values the provider takes, a title that
leaves a file name, `size` not mixed with `resolution` or `ratio`; and a film with a clip."""

from __future__ import annotations

import re

from ... import paths
from ...diagnostics import Span
from ...language.model import FILM_SETTINGS, Card, Clip, Setting
from ...names import title_file_stem
from ...plan import MAX_TAKES
from .context import Context
from .files import check_local_file
from .near import close

REPEATABLE = ("score",)  # film settings written as often as wanted (`include` is no setting)
SIZE_RE = re.compile(r"^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$")
MAX_SEED = 2**31 - 1
SIZE_RANGE = (64, 4096)  # each side of `size:`, in pixels


def check_film_settings(ctx: Context) -> None:
    film = ctx.film
    every_file = [film.setting_lists] + film.included_setting_lists
    for key, occurrences in [item for lists in every_file for item in lists.items()]:
        first = occurrences[0]
        if key not in FILM_SETTINGS:
            known = FILM_SETTINGS + ("include",)
            near = close(key, known)
            hint = "music" if key == "music" else "did_you_mean" if near else "known"
            ctx.report("SB101", first.span, key=key, hint=hint, near=near, known=", ".join(known))
            continue
        for dup in occurrences[1:] if key not in REPEATABLE else ():
            ctx.report("SB102", dup.span, key=key, hint="first_set" if first.span else None,
                       line=first.span and first.span.line)
    for key, s in film.settings.items():
        if key in FILM_SETTINGS and key not in REPEATABLE:
            check_value(ctx, s)
    check_size_exclusion(ctx, film.settings, "the film")
    check_title(ctx, film.settings.get("title"))
    t = film.settings.get("template")
    if t is not None and t.value:
        check_local_file(ctx, t.value, "", t.value_span, kinds=None)


def check_value(ctx: Context, s: Setting) -> None:
    """A value setting (the film's or a clip's): empty, or not one the provider takes."""
    key, value, span = s.key, s.value, s.value_span or s.span
    if not value and key not in ("style", "negative"):
        ctx.report("SB105", s.span, key=key)
        return
    if key == "takes":
        check_takes(ctx, s)
        return
    problem = value_problem(ctx, key, value)
    if problem:
        choices = {"resolution": ctx.limits.resolutions, "ratio": ctx.limits.ratios}.get(key, ())
        ctx.report("SB103", span, problem, value=value, choices=", ".join(choices), largest=MAX_SEED,
                   least=SIZE_RANGE[0], most=SIZE_RANGE[1], provider=ctx.provider.name)


def check_takes(ctx: Context, s: Setting) -> None:
    """`takes: N`, a whole number of generations per clip from 1 to MAX_TAKES."""
    value = s.value.strip()
    if not re.fullmatch(r"[0-9]+", value):
        ctx.report("SB107", s.value_span or s.span, "not_number", value=value, most=MAX_TAKES)
    elif not 1 <= int(value) <= MAX_TAKES:
        ctx.report("SB107", s.value_span or s.span, "range", value=value, most=MAX_TAKES)


def host_url_ok(value: str) -> bool:
    from ...hosting import parse_host

    try:
        parse_host(value)
    except ValueError:
        return False
    return True


def value_problem(ctx: Context, key: str, value: str) -> str | None:
    """The SB103 variant that says what is wrong with a setting's value, or None."""
    lim = ctx.limits
    if key == "resolution" and value not in lim.resolutions:
        return "resolution"
    if key == "ratio" and value not in lim.ratios:
        return "ratio"
    if key == "audio" and value not in ("on", "off"):
        return "audio"
    if key == "seed" and not re.fullmatch(r"-?[0-9]+", value):
        return "seed"
    if key == "seed" and not 0 <= int(value) <= MAX_SEED:
        return "seed_range"
    if key == "host" and not host_url_ok(value):
        return "host"
    if key == "size" and not lim.custom_size:
        return "no_size"
    if key == "size":
        m = SIZE_RE.match(value.lower())
        least, most = SIZE_RANGE
        if not m:
            return "size"
        if any(int(v) % 2 for v in m.groups()) or not all(least <= int(v) <= most for v in m.groups()):
            return "size_range"
    return None


def check_title(ctx: Context, s: Setting | None) -> None:
    """The film is written as `<title>.mp4`: a title that leaves no file name is refused now,
    not after every clip has been rendered."""
    if s is not None and s.value and title_file_stem(s.value) is None:
        ctx.report("SB106", s.value_span or s.span, title=paths.shown(s.value))


def check_size_exclusion(ctx: Context, settings: dict[str, Setting], where: str) -> None:
    """`size` with `resolution` or `ratio` in one file (the film's or one clip's): the later one is wrong."""
    size = settings.get("size")
    if size is None:  # most clips: nothing to compare
        return
    for other in ("resolution", "ratio"):
        s = settings.get(other)
        if s is not None and s.span and size.span and s.span.file == size.span.file:
            earlier, later = sorted((size, s), key=lambda x: (x.span.line, x.span.column))
            ctx.report("SB104", later.span, other=other, where=where, earlier=earlier.key,
                       line=earlier.span.line)


def check_has_clips(ctx: Context) -> None:
    """A film without a clip passes every other rule and then has nothing to render."""
    if ctx.film.syntax_errors or any(isinstance(i, (Clip, Card)) for i in ctx.film.timeline):
        return  # after a syntax error the clips may be what recovery dropped
    ctx.report("SB510", Span(str(ctx.film.path), 1, 1))
