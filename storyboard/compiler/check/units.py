"""One generation (a unit from `requests.expand`): its mentions name cast, its inputs fit the
provider's limits and mix, and its prompt (through the story's template) has a length the
provider takes."""

from __future__ import annotations

from dataclasses import replace

from ... import messages
from .. import prompts
from ..requests import DEFAULT_RESOLUTION, Inputs, Unit, compose_prompt, effective_settings, gather_inputs, unit_label
from .context import Context


def check_unit(ctx: Context, unit: Unit, limits: bool = True) -> None:
    """`limits`: False when the timeline is unsound, so only the clip's own mentions are checked."""
    inputs = gather_inputs(ctx.film, unit)
    for m in inputs.unknown:
        near = ctx.near_cast.closest(m.value)
        hint = "near" if near else ("clip" if m.value in ctx.clip_names else "define")
        ctx.report("SB402", m.span, name=m.value, hint=hint, near=near)
    if not limits or inputs.unknown:
        return
    check_limits(ctx, unit, inputs)
    check_model_limits(ctx, unit)
    if unit.kind == "continue":
        check_continue(ctx, unit, inputs)
    check_prompt(ctx, unit, inputs)


def check_model_limits(ctx: Context, unit: Unit) -> None:
    """A resolution the unit's model does not render (a "fast" model without 1080p), at the
    `resolution:` line in force, else at the `model:` line: the server would refuse it."""
    settings = effective_settings(ctx.film, unit)  # as the request is built: the clip's own, else the film's
    if settings.get("size") is not None:
        return  # a pixel size; SB103 and SB104 say what is wrong with it
    model_line, resolution_line = settings.get("model"), settings.get("resolution")
    resolution = resolution_line.value if resolution_line is not None else DEFAULT_RESOLUTION
    model = ctx.provider.model_id(model_line.value if model_line is not None else None)
    allowed = ctx.provider.limits_for(model).resolutions
    if resolution in allowed or resolution not in ctx.limits.resolutions:
        return  # one the model renders, or one SB103 reports for every model
    line = resolution_line or model_line
    span = (line.value_span or line.span) if line is not None else unit.span
    if span in ctx.model_limit_lines:
        return
    ctx.model_limit_lines.add(span)
    ctx.report("SB103", span, "model_resolution", provider=ctx.provider.name, value=resolution,
               model=model_line.value if model_line is not None else model, choices=", ".join(allowed))


def check_continue(ctx: Context, unit: Unit, inputs: Inputs) -> None:
    """A `continue` opens on the previous clip's last frame: not on a `first:` of its own."""
    first = unit.clip.setting("first")
    if first is not None:
        ctx.report("SB509", first.span, name=unit.name)
    elif inputs.opening_frame:
        ctx.report("SB902", unit.clip.name_span or unit.span, name=unit.name, previous=unit.continues_from,
                   model=ctx.provider.model_label)


def check_prompt(ctx: Context, unit: Unit, inputs: Inputs) -> None:
    tmpl = _template(ctx)
    if tmpl is False:  # the story's template is unusable, and said so once: its prompts are unknown
        return
    try:
        prompt = compose_prompt(ctx.film, unit, inputs, ctx.provider, tmpl)
    except prompts.TemplateProblem as exc:
        _template_problem(ctx, exc)
        return
    lo, hi = ctx.limits.min_prompt, ctx.limits.max_prompt
    if not lo <= len(prompt) <= hi:
        where = unit.clip.name_span if unit.clip is not None else unit.span
        ctx.report("SB406", where, "length", label=unit_label(unit), length=len(prompt), provider=ctx.provider.name,
                   lo=lo, hi=hi, hint="too_long" if len(prompt) > hi else "too_short")


def _template(ctx: Context):
    """The story's own template; None for the package's; False when the story names one it may
    not use or that does not compile (reported here or by `settings.check_film_settings`). A
    refused path is never opened."""
    t = ctx.film.settings.get("template")
    if t is None or not t.value:
        return None
    if ctx.template is None:
        found = ctx.film.story_file(t.value)
        ctx.template = False
        try:
            if found.ok and found.path.is_file():
                ctx.template = prompts.template(found.path)
        except prompts.TemplateProblem as exc:
            _template_problem(ctx, exc)
        except OSError:  # unreadable: SB301 says so (files.check_local_file)
            pass
    return ctx.template


def _template_problem(ctx: Context, exc: prompts.TemplateProblem) -> None:
    """A template's failure at its own line, with a note that points back at the story."""
    d = exc.diagnostic
    ctx.film.sources.setdefault(d.span.file, exc.source)
    t = ctx.film.settings["template"]
    where = t.value_span or t.span
    note = messages.note("template_set_at", where=where) if where else None
    ctx.diags.append(replace(d, notes=d.notes + ((note,) if note else ())))


def check_limits(ctx: Context, unit: Unit, inputs: Inputs) -> None:
    lim = ctx.limits
    where = unit.clip.name_span if unit.clip is not None else unit.span
    for kind, bucket, most in (("images", inputs.images, lim.max_reference_images),
                               ("videos", inputs.videos, lim.max_reference_videos),
                               ("audios", inputs.audios, lim.max_reference_audios)):
        if len(bucket) > most:
            ctx.report("SB403", where, kind, label=unit_label(unit), count=len(bucket), provider=ctx.provider.name,
                       most=most, contributions=_contributions(bucket))
    n_files = len(inputs.images) + len(inputs.videos) + len(inputs.audios) + len(inputs.frames)
    if n_files > lim.max_files:
        ctx.report("SB403", where, "files", label=unit_label(unit), count=n_files, provider=ctx.provider.name,
                   most=lim.max_files, contributions=_contributions(inputs.images + inputs.videos + inputs.audios))
    frames_reported = unit.kind == "extend"  # an extension's frames are SB410 already
    if inputs.frames and inputs.has_references and not frames_reported:
        _frames_with_references(ctx, unit, inputs, where)
    if inputs.audios and not (inputs.images or inputs.videos):
        owners = ", ".join(sorted({i.owner for i in inputs.audios}))
        ctx.report("SB405", next((i.span for i in inputs.audios), where), label=unit_label(unit), owners=owners)


def _frames_with_references(ctx: Context, unit: Unit, inputs: Inputs, where) -> None:
    """First/last frames and references in one generation: the model takes one or the other."""
    frame_side = ", ".join(f"{f} frame" if i.owner in ("first", "last") else f"{f} frame from {i.owner}"
                           for i, f in inputs.frames)
    refs = inputs.images + inputs.videos + inputs.audios
    ref_side = ", ".join(sorted({("@" + i.owner) if i.owner in ctx.film.cast else
                                 ("`" + i.owner + "`" if i.owner in ("motion", "music") else i.owner)
                                 for i in refs}))
    span = next((i.span for i, _ in inputs.frames if i.owner in ("first", "last")), where)
    ctx.report("SB404", span, label=unit_label(unit), frames=frame_side, references=ref_side,
               hint="morph" if unit.kind == "morph" else "either", notes=("table",),
               model=ctx.provider.model_label)


def _contributions(bucket) -> str:
    counts: dict[str, int] = {}
    for i in bucket:
        label = ("@" + i.owner) if i.owner not in ("motion", "music", "first", "last") else i.owner
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{k} ({v})" for k, v in counts.items())
