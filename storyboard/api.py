"""The pipeline above the stages (like Jinja2's `Environment` or pyflakes' `api`).

Each function runs the stages in order and returns data: diagnostics, plans, results with
structured reasons. Nothing here prints or exits; the CLI, watch mode and the tests all come
through these functions, and the stage modules below never import this one.

    result = compile_file("film.story", providers.get("preview"))
    if result.ok:
        rendered = render(result.plan, provider, approve=...)   # then rendered.film
        page = preview(result.plan, provider)                   # then page.outputs.page
        with film_clip(result.plan) as film: ...                # the film as a moviepy clip

The stage modules are imported when a function needs them, so `storyboard check` does not pay
for the render engine, nor a no-op render for the stitcher's media stack.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .compiler.check import check_for
from .compiler.requests import compile_film
from .diagnostics import Diagnostic
from .language.load import load
from .names import output_dir
from .picks import read_picks, selection_picks, unknown_clip_warnings
from .plan import MAX_TAKES, RenderPlan, Selection, played_clips
from .providers.base import Provider

if TYPE_CHECKING:
    from .present.bundle import Bundle
    from .present.page import Outputs
    from .render import RenderReport


@dataclass
class CompileResult:
    plan: RenderPlan | None
    diagnostics: list[Diagnostic]
    sources: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.plan is not None


@contextmanager
def _rare_gc_passes(threshold: int = 100_000):
    """The front half allocates many small objects that all live to the end (nodes, spans,
    inputs, requests) and makes no garbage cycles to speak of: the cyclic collector's repeated
    passes over them cost a sixth of a 1,000-clip compile. Collect rarely meanwhile (as mypy
    does), then restore the thresholds."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], threshold), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def check_file(path: Path | str, provider: Provider) -> CompileResult:
    """Load and check; `plan` stays None. Raises OSError only if the story itself can't be read."""
    with _rare_gc_passes():
        film = load(path)
        return CompileResult(None, _check(film, provider), film.sources)


def _check(film, provider: Provider) -> list:
    """Check the film against the provider, which takes the story's `host:` first (SB305)."""
    return check_for(film, provider)


def compile_file(path: Path | str, provider: Provider, *, tier: str = "final",
                 extra_takes: tuple[tuple[str, int], ...] = (), released: frozenset[str] = frozenset()
                 ) -> CompileResult:
    """Load, check and compile with the picks file beside the story (`tier`: "final" or "draft";
    `extra_takes`: (clip or "*", at least N takes) from the command line; `released`: picks this
    compile ignores). A broken picks file is a diagnostic (no plan). Raises OSError only if the
    story file itself can't be read."""
    with _rare_gc_passes():
        film = load(path)
        diags = _check(film, provider)
        found = read_picks(path)
        diags += found.diagnostics
        plan = None
        if not any(d.is_error for d in diags):
            selection = Selection(tier=tier, extra_takes=extra_takes, released=released,  # type: ignore[arg-type]
                                  picks=selection_picks(found, provider.name))
            plan = compile_film(film, provider, diags, selection)
            if plan is not None:
                diags += unknown_clip_warnings(found, plan)
        sources = film.sources
        if found.text is not None:
            sources = {**sources, str(found.path): found.text}
        # The film's nodes go with it (reference counting) before the collector's threshold
        # returns, so its first pass afterwards does not sweep tens of thousands of dead objects.
        del film
    return CompileResult(plan, diags, sources)


# ---- the language server -------------------------------------------------------------------

@dataclass
class Analysis:
    """What `compile_file` finds, with the film kept: an editor asks it for hover and completion."""

    film: Any  # language.load.Film
    diagnostics: list[Diagnostic]
    plan: RenderPlan | None


def analyse(path: Path | str, provider: Provider, open_texts: dict[Path, str] | None = None,
            parse_text=None, *, compiled: bool = True) -> Analysis:
    """Load (the editor's unsaved buffers in `open_texts` instead of disk; `parse_text` as
    `language.load.load` takes it), check and compile, exactly as `storyboard check` does.
    With `compiled=False` it stops after the check (then `compile_analysed`). Raises OSError
    only if the story itself can't be read."""
    with _rare_gc_passes():
        film = load(path, open_texts, parse_text)
        analysis = Analysis(film, _check(film, provider), None)
    return compile_analysed(analysis, provider) if compiled else analysis


def compile_analysed(analysis: Analysis, provider: Provider) -> Analysis:
    """The checked film compiled, when the check found no errors: its plan, and the diagnostics
    with the problems only the compiled requests show (a new list; the given one is not changed)."""
    diags = list(analysis.diagnostics)
    if any(d.is_error for d in diags):
        return Analysis(analysis.film, diags, None)
    with _rare_gc_passes():
        plan = compile_film(analysis.film, provider, diags)
    return Analysis(analysis.film, diags, plan)


# ---- render, preview, export -----------------------------------------------------------------
# One render path: `render` (then the film), `preview` (then the page) and watch mode (which is
# `preview` on every save) all render through `_render_clips`. Engine exceptions that stop a render
# before it starts (RenderError and its kinds, an OSError of the state folder) and Ctrl-C
# (KeyboardInterrupt) propagate; everything after the render is a result, never printed.



@dataclass
class RenderResult:
    report: RenderReport
    film: Path | None = None  # the stitched film (or the one already up to date)
    film_problem: str | None = None  # why the film could not be made, in one line (clips are cached)
    not_rendered: list[str] = field(default_factory=list)  # clips `only` left alone that are not cached


@dataclass
class PreviewResult:
    report: RenderReport
    outputs: Outputs | None = None  # the page, contact sheet and subtitles
    page_problem: str | None = None  # why the page could not be written, in one line
    bundle: Bundle | None = None  # the self-contained copy, when one was asked for
    bundle_problem: str | None = None  # why it could not be written, in one line


@dataclass
class ExportResult:
    timeline: Path | None = None
    subtitles: Path | None = None
    missing: list[str] = field(default_factory=list)  # clips not rendered yet (missing media)
    card_problem: str | None = None  # why a title card could not be drawn (it is in `missing`)


def out_folder(plan: RenderPlan, out_dir: Path | str | None) -> Path:
    return output_dir(plan.base_dir, out_dir)


def _render_clips(plan: RenderPlan, provider: Provider, *, state_dir: Path | None, **engine: Any) -> RenderReport:
    from . import render as engine_mod

    return engine_mod.render(plan, provider, state_dir=state_dir or engine_mod.default_state_dir(plan), **engine)


def render(plan: RenderPlan, provider: Provider, *, state_dir: Path | None = None,
           out_dir: Path | str | None = None, burn_subtitles: bool = False,
           log: Callable[[str], None] = lambda message: None, stitcher: str = "fast",
           **engine: Any) -> RenderResult:
    """Render what is missing (`engine` are `render.render`'s options: only, approve, max_cost,
    concurrency, on_event, ...), then stitch the film when every clip is available, with the fast
    stitcher or through the moviepy composition (`stitcher="moviepy"`, see `film_clip`)."""
    from .render import default_state_dir

    state_dir = Path(state_dir) if state_dir else default_state_dir(plan)
    report = _render_clips(plan, provider, state_dir=state_dir, **engine)
    # The film needs the takes it plays; a take it does not play that failed stops nothing.
    played = {c.name for c in played_clips(plan)}
    stopped = report.interrupted or any(o.name in played for o in report.problems)
    complete = not stopped and all(o.ok for o in report.outcomes if o.name in played)
    report, cards, problem = with_cards(report, plan, state_dir, log, only=engine.get("only"), film=complete)
    result = RenderResult(report)
    if stopped:
        return result
    if not complete:
        result.not_rendered = _not_rendered(plan, provider, report, state_dir)
        return result
    if problem is not None:
        result.film_problem = problem
        return result
    clips = {name: path for name, path in report.clips.items() if name in played}
    result.film, result.film_problem = stitch_film(plan, {**clips, **cards}, out_folder(plan, out_dir), state_dir,
                                                   burn_subtitles=burn_subtitles, log=log, stitcher=stitcher)
    return result


def draw_cards(plan: RenderPlan, state_dir: Path, log: Callable[[str], None] = lambda message: None,
               only: set[str] | None = None) -> tuple[dict[str, Path], str | None]:
    """The plan's title cards (or `only` those), drawn on this machine where the cache has none
    (free: never a provider): ({card: file}, None), or what it has and why a card could not be drawn."""
    if not plan.cards:
        return {}, None
    from .cards.render import CardError, cached_cards, render_cards
    from .disk import write_failure

    try:
        return render_cards(plan, state_dir, log, only), None
    except CardError as exc:
        return cached_cards(plan, state_dir), str(exc)
    except OSError as exc:
        return cached_cards(plan, state_dir), write_failure(exc, state_dir / "cards", "the title cards in")


def with_cards(report: RenderReport, plan: RenderPlan, state_dir: Path,
               log: Callable[[str], None] = lambda message: None, *, only=None, film: bool = True
               ) -> tuple[RenderReport, dict[str, Path], str | None]:
    """The report with the plan's title cards in it (`RenderReport.cards`), the card files and
    why a card could not be drawn. They are drawn when the film is to be made (`film`), or
    those `only` names; the others are reported as the cache has them: "cached", else
    "not-requested" (`only` left them out) or "not-drawn" (the film cannot be made yet)."""
    if not plan.cards:
        return report, {}, None
    from dataclasses import replace

    from .cards.render import cached_cards
    from .render.results import ClipOutcome

    before = cached_cards(plan, state_dir)
    names = {c.name for c in plan.cards}
    wanted = names if film else names & set(only or ())
    files, problem = draw_cards(plan, state_dir, log, only=wanted) if wanted else (before, None)
    files = {**before, **files}
    failed = next((c.name for c in plan.cards if c.name in wanted and c.name not in files), None) if problem else None
    outcomes = []
    for card in plan.cards:
        if card.name in files:
            status = "drawn" if card.name in wanted and card.name not in before else "cached"
        elif card.name == failed:
            status = "failed"
        else:
            status = "not-requested" if only is not None and card.name not in wanted else "not-drawn"
        outcomes.append(ClipOutcome(card.name, card.key, status, card.source, card.seconds,  # type: ignore[arg-type]
                                    path=files.get(card.name), cost=0.0,
                                    error=problem if status == "failed" else None))
    return replace(report, cards=tuple(outcomes)), files, problem


def _not_rendered(plan: RenderPlan, provider: Provider, report: RenderReport, state_dir: Path) -> list[str]:
    """The clips `only` left alone that are not in the cache either (a cached one is not missing)."""
    from .render.cache import Cache

    cache = Cache(state_dir, provider.namespace)
    played = {c.name for c in played_clips(plan)}
    return [o.name for o in report.outcomes
            if o.status == "not-requested" and o.name in played and not cache.has_file(o.key)]


STITCHERS = ("fast", "moviepy")


def stitch_film(plan: RenderPlan, clips: dict[str, Path], out_dir: Path, state_dir: Path, *,
                burn_subtitles: bool = False, log: Callable[[str], None] = lambda message: None,
                stitcher: str = "fast") -> tuple[Path | None, str | None]:
    """(the film, None), or (None, why not in one line). An unchanged film is answered before the
    stitcher's media stack (PyAV, numpy) is imported. `stitcher`: "fast" (stream copies, exact
    frames, flat memory) or "moviepy" (the `film_clip` composition written by moviepy)."""
    from .disk import disk_cause
    from .names import plan_film_stem
    from .stitch.filmkey import up_to_date

    if stitcher not in STITCHERS:
        raise ValueError(f"unknown stitcher {stitcher!r}; choose one of: {', '.join(STITCHERS)}")
    out_path = out_dir / f"{plan_film_stem(plan)}.mp4"
    srt = None
    try:
        if burn_subtitles:
            from .present.subtitles import srt_path, write_srt

            srt = write_srt(plan, srt_path(plan, out_dir))
        via = None if stitcher == "fast" else stitcher
        if up_to_date(plan, clips, out_path, srt, log, via) is not None:
            return out_path, None
    except OSError as exc:
        return None, _cannot_write_film(exc, out_dir, state_dir)
    try:
        from .stitch import StitchError, stitch
        if stitcher == "moviepy":
            from .stitch.composition import write_film as stitch
    except ImportError as exc:  # not there yet: the clips are still rendered and cached
        return None, f"stitching is not available ({exc}); the clips are in {state_dir / 'cache'}"
    try:
        res = stitch(plan, clips, out_path, workdir=state_dir / "stitch", log=log, burn_subtitles=srt)
    except (StitchError, OSError) as exc:  # the disk's refusal, however deep in the stitch it arose
        local = disk_cause(exc) or (exc if isinstance(exc, OSError) else None)
        if local is not None:
            return None, _cannot_write_film(local, out_dir, state_dir)
        # ffmpeg's last lines, joined: one message, one line
        text = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        return None, f"stitching failed: {text}"
    return Path(res.path), None


def _cannot_write_film(exc: OSError, out_dir: Path, state_dir: Path) -> str:
    """Name the folder that failed: the film's, or the stitcher's work folder (a failed write()
    does not say which file)."""
    from .disk import disk_message

    folder = f"{out_dir} or {state_dir / 'stitch'}"
    return disk_message(exc, folder, "the film in") + " (the clips are rendered and cached)"


def preview(plan: RenderPlan, provider: Provider, *, state_dir: Path | None = None,
            out_dir: Path | str | None = None, live: bool = False, bundle: Path | str | None = None,
            served: bool = False, **engine: Any) -> PreviewResult:
    """Render what is missing, then write the storyboard page and contact sheet. The page shows
    every clip: those the render left alone (`only`) as they are in the cache. `bundle`: also
    write a self-contained copy of the page and all it shows to that folder (present.bundle)."""
    from .disk import write_failure
    from .present.page import write_all
    from .render import default_state_dir

    state_dir = Path(state_dir) if state_dir else default_state_dir(plan)
    report = _render_clips(plan, provider, state_dir=state_dir, **engine)
    report = with_cards(report, plan, state_dir)[0]  # a card it cannot draw shows as missing, like a clip not rendered
    clips, statuses = page_clips(plan, provider, report, state_dir)
    takes_plan = every_take(plan, provider, clips, state_dir)
    target = out_folder(plan, out_dir)
    try:
        outputs = write_all(plan, clips, target, statuses=statuses, live=live, served=served, takes_plan=takes_plan)
    except Exception as exc:  # the disk's refusal, or a drawing library's own
        return PreviewResult(report, page_problem=write_failure(exc, target, "the page in"))
    result = PreviewResult(report, outputs)
    if bundle is not None:
        _write_bundle(result, plan, clips, statuses, Path(bundle), film_in=target, takes_plan=takes_plan)
    return result


def _write_bundle(result: PreviewResult, plan: RenderPlan, clips: dict[str, Path], statuses: dict[str, Any],
                  folder: Path, *, film_in: Path, takes_plan: RenderPlan | None = None) -> None:
    """The bundle of what the page shows (with the film of `film_in`, if stitched), or why not."""
    from .disk import write_failure
    from .present.bundle import BundleError, write_bundle
    from .present.page import film_path

    film = film_path(plan, film_in)
    try:
        result.bundle = write_bundle(plan, clips, folder, statuses=statuses, film=film if film.is_file() else None,
                                     takes_plan=takes_plan)
    except BundleError as exc:
        result.bundle_problem = str(exc)
    except Exception as exc:  # the disk's refusal, or a drawing library's own
        result.bundle_problem = write_failure(exc, folder, "the bundle in")


def page_clips(plan: RenderPlan, provider: Provider, report: RenderReport,
               state_dir: Path) -> tuple[dict[str, Path], dict[str, Any]]:
    """The files and states the page shows: the report's, and the cache's for what it left alone."""
    from .present.page import ClipState, rendered_clips

    clips, states = rendered_clips(plan, provider, state_dir=state_dir)
    statuses: dict[str, Any] = dict(states)
    for o in report.outcomes:
        if o.ok and o.path is not None:
            clips[o.name] = o.path
            statuses[o.name] = o
        elif o.status != "not-requested":
            statuses[o.name] = o
        elif o.name not in clips:
            statuses[o.name] = ClipState("not-requested", provider=plan.provider)
    return clips, statuses


def every_take(plan: RenderPlan, provider: Provider, clips: dict[str, Path], state_dir: Path) -> RenderPlan | None:
    """The story compiled with every take a clip may have, so the page also shows takes rendered
    beyond the story's count (`render --shot X --takes N`): their cached files are added to
    `clips`. None when the story cannot be compiled again (moved, or edited into errors since)."""
    from .render.cache import Cache

    try:
        compiled = compile_file(_story_file(plan), provider, tier=plan.tier, extra_takes=(("*", MAX_TAKES),))
    except (OSError, UnicodeDecodeError):
        return None
    if compiled.plan is None:
        return None
    cache = Cache(state_dir, provider.namespace)
    for c in compiled.plan.clips:
        if c.take_of is not None and c.name not in clips and cache.has_file(c.key):
            clips[c.name] = cache.clip_path(c.key)
    return compiled.plan


def _story_file(plan: RenderPlan) -> Path:
    given = Path(plan.story)
    return given if given.is_file() else Path(plan.base_dir) / given.name


def export(plan: RenderPlan, provider: Provider, *, otio: Path | str | None = None,
           srt: Path | str | None = None, log: Callable[[str], None] = lambda message: None) -> ExportResult:
    """Write the rendered film's timeline (clips from the cache; sends nothing, but draws the
    title cards not drawn yet: they are free and local) and/or its subtitles. Raises
    present.export.ExportError for a timeline it cannot make, OSError (or an adapter's own
    exception) for one it cannot write."""
    result = ExportResult()
    if otio:
        from .present.export import write_timeline
        from .present.page import rendered_clips

        result.card_problem = draw_cards(plan, story_state_dir(plan), log)[1]
        clips, states = rendered_clips(plan, provider)
        result.missing = [c.name for c in played_clips(plan) if c.name not in clips]
        result.timeline = write_timeline(plan, clips, Path(otio), provenance=states)
    if srt:
        from .present.subtitles import write_srt

        result.subtitles = write_srt(plan, Path(srt))
    return result


# ---- takes and picks ---------------------------------------------------------------------------
# The one code path of `storyboard pick`, `unpick` and `takes` (and of the page's pick buttons).


def story_state_dir(plan: RenderPlan) -> Path:
    from .render import default_state_dir

    return default_state_dir(plan)


def list_takes(path: Path | str, provider: Provider, *, tier: str = "final"):
    """(CompileResult, every take of every clip as `picks.TakeInfo`); the takes are empty when the
    story does not compile."""
    from .picks import list_takes as takes_in
    from .render.cache import Cache
    from .render.decide import provider_journal

    compiled = compile_file(path, provider, tier=tier)
    if compiled.plan is None:
        return compiled, []
    state_dir = story_state_dir(compiled.plan)
    return compiled, takes_in(compiled.plan, read_picks(path), Cache(state_dir, provider.namespace),
                              provider_journal(state_dir, provider))


def pick_take(path: Path | str, provider: Provider, clip: str, take: int):
    """Pick a rendered take of a clip (the final tier's file when there is one, else the draft's)
    and write the picks file. Returns the Pick; raises picks.PickError (unknown clip, take out of
    range or never rendered, a broken picks file, a story with errors) or OSError (the write)."""
    from .picks import PickError, find_take, make_pick, write_picks
    from .render.cache import Cache

    found = read_picks(path)
    if not found.ok:
        raise PickError(f"{found.path} has problems (run `storyboard check`); nothing was changed")
    last: PickError | None = None
    for tier in ("final", "draft"):
        compiled = compile_file(path, provider, tier=tier, released=frozenset({clip}),
                                extra_takes=((clip, take),) if 1 <= take <= MAX_TAKES else ())
        if compiled.plan is None:
            raise PickError("the story has errors (run `storyboard check`); nothing was changed")
        c = find_take(compiled.plan, clip, take)
        try:
            chosen = make_pick(c, Cache(story_state_dir(compiled.plan), provider.namespace))
        except PickError as exc:
            last = last or exc
            continue
        found.picks.setdefault(provider.name, {})[clip] = chosen
        write_picks(found)
        return chosen
    raise last  # type: ignore[misc]


def unpick_take(path: Path | str, provider: Provider, clip: str) -> bool:
    """Drop a clip's pick (whether or not the story still has the clip). True if there was one."""
    from .picks import PickError, write_picks

    found = read_picks(path)
    if not found.ok:
        raise PickError(f"{found.path} has problems (run `storyboard check`); nothing was changed")
    if clip not in found.of(provider.name):
        return False
    del found.picks[provider.name][clip]
    write_picks(found)
    return True


# ---- the film as a moviepy clip ----------------------------------------------------------------

class FilmClipError(Exception):
    """The film cannot be composed: the story has errors, or clips are not rendered yet."""


def film_clip(story: Path | str | RenderPlan, provider: Provider | str | None = None, *,
              clips: Mapping[str, Path] | None = None, subtitles: bool = False,
              state_dir: Path | None = None):
    """The finished film as a moviepy clip (`stitch.composition.FilmClip`, a CompositeVideoClip):
    the rendered clips (from the render cache, or `clips`: name -> file), the title cards (the
    missing ones drawn first, free and local), the transitions, the score(s) with their fades and
    ducking and, with `subtitles`, the dialogue burned in, placed by the film timing model as
    `render` places them. Add effects and write it with moviepy:

        with film_clip("film.story") as film:
            film.with_effects([vfx.MirrorX()]).write_videofile("out.mp4", audio_codec="aac")

    `story` is a .story file (compiled for `provider`: a Provider or its name; by default
    STORYBOARD_PROVIDER, the config file's, else "preview") or a compiled RenderPlan. Renders
    nothing: FilmClipError names the clips still to render (`storyboard render`), or carries
    the story's diagnostics. The clip reads its files lazily through moviepy's ffmpeg readers,
    a few at a time; close it (or leave the `with`) after the last write to end them."""
    from .stitch import StitchError
    from .stitch.composition import compose

    plan, prov = _plan_for(story, provider)
    if clips is None:
        from .present.page import rendered_clips

        clips, _ = rendered_clips(plan, prov, state_dir=state_dir)
    clips = {**clips, **_film_cards(plan, clips, state_dir)}
    missing = [e.clip for e in plan.timeline if e.clip is not None and e.clip not in clips]
    if missing:
        raise FilmClipError(f"not rendered yet: {', '.join(dict.fromkeys(missing))} "
                            f"(run `storyboard render {plan.story} -p {plan.provider}`)")
    cues = None
    if subtitles:
        from .present.subtitles import build_cues

        cues = [(c.start, c.end, c.text) for c in build_cues(plan)]
    try:
        return compose(plan, clips, cues=cues)
    except StitchError as exc:
        raise FilmClipError(str(exc)) from exc


def _film_cards(plan: RenderPlan, clips: Mapping[str, Path], state_dir: Path | None) -> dict[str, Path]:
    """The title cards `clips` lacks, drawn now where the cache has none (free and local, as
    `render` draws them); FilmClipError when one cannot be drawn."""
    wanted = {c.name for c in plan.cards} - set(clips)
    if not wanted:
        return {}
    drawn, problem = draw_cards(plan, Path(state_dir) if state_dir else story_state_dir(plan), only=wanted)
    if problem is not None:
        raise FilmClipError(problem)
    return drawn


def _plan_for(story: Path | str | RenderPlan, provider: Provider | str | None) -> tuple[RenderPlan, Provider]:
    """The plan and the provider whose render cache holds its clips."""
    if provider is None and isinstance(story, RenderPlan):
        provider = story.provider
    if provider is None or isinstance(provider, str):
        from .config import default
        from .providers import get

        found = default("provider") if provider is None else None
        provider = get(provider or (found.value.strip() if found else "preview"))
    if isinstance(story, RenderPlan):
        return story, provider
    result = compile_file(story, provider)
    if not result.ok:
        from .diagnostics import render as render_diagnostics

        raise FilmClipError(render_diagnostics(result.diagnostics, result.sources))
    return result.plan, provider
