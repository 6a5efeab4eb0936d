"""Film -> RenderPlan: the exact requests, their dependencies, costs and cache keys.

Pure but for reading the files a story references (to hash them into cache keys). The checker
runs first and uses `expand` and `gather_inputs` from here, so both see the same clips.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import paths
from ..diagnostics import Diagnostic, Span
from ..digest import file_sha256
from ..language.load import CastEntry, Film
from ..language.model import Beat, Card, Clip, Dialogue, Prose, Setting, Text, Transition
from ..messages import report
from ..plan import (
    CLIP_PLACEHOLDERS, DEFAULT_SECONDS, DialogueLine, PickedTake, PlannedBeat, PlannedClip, Reference, RenderPlan,
    Selection, TimelineEntry, built_clip, canonical_json, clip_of, is_card, parse_placeholder, placeholder,
    placeholders_in, take_name, takes_of,
)
from ..providers.base import ClipSpec, DraftTake, FrameImage, Provider, ProviderError
from . import prompts
from .cards import score_specs, with_cards

PLAN_VERSION = 1
DEFAULT_RESOLUTION = "720p"  # what a request without `resolution:` asks for


# ---- the film as a list of generations -----------------------------------------------------

@dataclass
class Unit:
    """One generation, in film order."""

    name: str
    kind: str  # shot | scene | extend | morph | continue
    clip: Clip | None = None
    transition: Transition | None = None  # the morph that makes this unit
    extends: str | None = None  # unit name whose video this extends
    continues_from: str | None = None  # unit name whose last frame opens this one
    morph_between: tuple[str, str] | None = None
    played_seconds: float | None = None  # morphs play at their transition length

    @property
    def span(self) -> Span | None:
        node = self.clip or self.transition
        return node.span if node else None


def expand(film: Film) -> tuple[list[Unit], list[TimelineEntry]]:
    """The story's timeline as generation units and the stitcher's timeline. Assumes the
    structure is valid (the checker reports bad structure and never calls this then). Worked
    out once per film: the checker and the compiler both ask (callers must not modify it)."""
    if "expand" not in film.memo:
        film.memo["expand"] = _expand(film)
    return film.memo["expand"]


def _expand(film: Film) -> tuple[list[Unit], list[TimelineEntry]]:
    units: list[Unit] = []
    entries: list[TimelineEntry] = []
    pending: Transition | None = None
    extension_count: dict[str, int] = {}
    chain_root: dict[str, str] = {}
    for item in film.timeline:  # by exact class, as a clip's lines are picked (`Clip` in model.py says why)
        if type(item) is Transition:
            pending = item
            continue
        if type(item) is Card:  # drawn on this machine: on the timeline, no generation
            entries += _card_entries(item, pending if entries else None)
            pending = None
            continue
        prev = units[-1] if units else None
        if item.kind == "extend":
            root = chain_root.get(prev.name, prev.name) if prev else item.name
            n = extension_count.get(root, 0) + 1
            extension_count[root] = n
            unit = Unit(f"{root}+{n}", "extend", clip=item, extends=prev.name if prev else item.name)
            chain_root[unit.name] = root
            units.append(unit)
            entries.append(TimelineEntry(clip=unit.name))
            pending = None
            continue
        unit = Unit(item.name, item.kind, clip=item)
        if pending is not None and entries and prev is None:  # after a card that opens the film
            entries += _card_entries(None, pending)
        elif pending is not None and prev is not None:
            if pending.kind == "continue":
                unit.kind = "continue"
                unit.continues_from = prev.name
            elif pending.kind == "morph":
                morph = Unit(f"{prev.name}~{item.name}", "morph", transition=pending,
                             morph_between=(prev.name, item.name), played_seconds=pending.seconds)
                units.append(morph)
                entries.append(TimelineEntry(clip=morph.name, seconds=pending.seconds))
            else:
                entries.append(TimelineEntry(transition=pending.kind, seconds=pending.seconds if pending.kind != "cut"
                                             else None, direction=pending.direction))
        pending = None
        units.append(unit)
        entries.append(TimelineEntry(clip=unit.name))
    return units, entries


def _card_entries(card: Card | None, before: Transition | None) -> list[TimelineEntry]:
    """A card's timeline entries: the transition before it (never a morph or a `continue`: the
    checker refuses those next to a card), then the card."""
    out = []
    if before is not None:
        out.append(TimelineEntry(transition=before.kind, seconds=before.seconds if before.kind != "cut" else None,
                                 direction=before.direction))
    if card is not None:
        out.append(TimelineEntry(clip=card.name))
    return out


# ---- effective settings ----------------------------------------------------------------------

def effective_settings(film: Film, unit: Unit) -> dict[str, Setting]:
    """The settings in force for a unit, by key: the clip's own, else the film's (morphs and
    extensions inherit the film's). Callers must not modify the dict."""
    if unit.clip is None:
        return film.settings
    return {**film.settings, **unit.clip.first_settings}


def _own_settings(unit: Unit | None) -> dict[str, Setting]:
    """The settings a unit's clip writes itself (none for a morph, or `None`: the film itself)."""
    return unit.clip.first_settings if unit is not None and unit.clip is not None else {}


def _setting_in_force(film: Film, own: dict[str, Setting], key: str) -> Setting | None:
    """`effective_settings(film, unit)[key]` from the unit's `_own_settings`, without merging the
    two dicts: the compiler asks a few keys of every unit."""
    return own.get(key) or film.settings.get(key)


def _value_in_force(film: Film, own: dict[str, Setting], key: str) -> str | None:
    s = _setting_in_force(film, own, key)
    return s.value if s else None


def clip_seconds(unit: Unit) -> int:
    if unit.kind == "morph":
        return max(4, math.ceil(unit.transition.seconds or 0))
    s = unit.clip.seconds if unit.clip is not None else None
    return int(s) if s is not None else DEFAULT_SECONDS


def derived_seed(film_seed: int, name: str) -> int:
    digest = hashlib.sha256(f"{film_seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


# ---- inputs (references and frames) -----------------------------------------------------------

@dataclass
class Input:
    value: str  # placeholder or URL
    owner: str  # who contributed it: a cast name, "first", "last", "motion", "music", or a clip
    span: Span | None
    kind: str  # image | video | audio
    written: str = ""  # the path/URL as written (for messages)


@dataclass
class Inputs:
    frames: list[tuple[Input, str]] = field(default_factory=list)  # (input, "first"|"last")
    images: list[Input] = field(default_factory=list)
    videos: list[Input] = field(default_factory=list)
    audios: list[Input] = field(default_factory=list)
    members: list[CastEntry] = field(default_factory=list)  # mentioned cast, in order of first mention
    opening_frame: str | None = None  # `continue` into a clip with references
    unknown: list = field(default_factory=list)  # mentions of undefined names (Text nodes)

    @property
    def has_references(self) -> bool:
        return bool(self.images or self.videos or self.audios)

    @property
    def mode(self) -> str:
        if self.frames:
            return "image"
        return "reference" if self.has_references else "text"


def media_value(film: Film, value: str, rel_dir: str) -> str:
    """A path or URL as written -> the plan's value: URLs pass, local paths become placeholders
    naming the real file relative to the main story's folder (the file the checker approved: a
    path it refused keeps its words, and the render engine refuses it by the same rule)."""
    if paths.is_url(value):
        return value
    found = film.story_file(value, rel_dir)
    return placeholder("file", found.rel if found.ok else value)


def _mentioning(unit: Unit) -> list[Prose | Dialogue]:
    """The lines of a unit that mention cast, in source order (prose, dialogue, beats)."""
    if unit.clip is None:  # morph text may mention cast too
        return [Prose(text=unit.transition.text or "", span=unit.transition.span)] if unit.transition else []
    # every line but a setting; by exact class, as `Clip.prose` and its kin (model.py says why)
    return [line.text if type(line) is Beat else line for line in unit.clip.body if type(line) is not Setting]


def mentions(unit: Unit) -> list[Text]:
    """Every mention in a unit, in source order, each with its place."""
    return [m for line in _mentioning(unit) for m in line.mentions()]


def unit_label(unit: Unit) -> str:
    """How messages name a generation: its clip's name, or what a morph or extension is."""
    if unit.kind == "morph" and unit.morph_between:
        return "the morph between {} and {}".format(*unit.morph_between)
    if unit.kind == "extend":
        return f"extension {unit.name}"
    return unit.name


def _memo_key(unit: Unit) -> tuple:
    # Units are rebuilt by each `expand`; the nodes they come from are the film's own.
    return (unit.name, unit.kind, id(unit.clip), id(unit.transition), unit.extends, unit.continues_from)


def gather_inputs(film: Film, unit: Unit) -> Inputs:
    """A unit's references and frames (memoised per film: the checker and the compiler both ask;
    callers must not modify the result)."""
    return _memoised(film, ("inputs",) + _memo_key(unit), _gather_inputs, film, unit)


def _memoised(film: Film, key: tuple, make, *args):
    """`film.memo[key]`, made by `make(*args)` the first time. One lookup when it is there (a key
    is a tuple, hashed anew at each lookup): the checker and the compiler ask for every unit."""
    found = film.memo.get(key)
    if found is None:
        found = film.memo[key] = make(*args)
    return found


def _gather_inputs(film: Film, unit: Unit) -> Inputs:
    inputs = Inputs()
    unknown = False
    for name in dict.fromkeys([name for line in _mentioning(unit) for name in line.mention_names()]):
        entry = film.cast.get(name)  # each name once, in order of first mention
        if entry is None:
            unknown = True
            continue
        inputs.members.append(entry)
        images, videos, audios = _member_inputs(film, name, entry)
        inputs.images += images
        inputs.videos += videos
        inputs.audios += audios
    if unknown:  # each mention of a name the cast lacks, with its place, for the checker
        inputs.unknown = [m for m in mentions(unit) if m.value not in film.cast]
    own = unit.clip.first_settings if unit.clip is not None else {}  # the clip's own settings
    for key in ("first", "last"):
        s = own.get(key)
        if s is not None:
            inputs.frames.append((Input(media_value(film, s.value, ""), key, s.value_span, "image", s.value), key))
    motion, music = own.get("motion"), own.get("music")
    if motion is not None:
        inputs.videos.append(Input(media_value(film, motion.value, ""), "motion", motion.value_span, "video",
                                   motion.value))
    if music is not None:
        inputs.audios.append(Input(media_value(film, music.value, ""), "music", music.value_span, "audio", music.value))
    if unit.extends:
        inputs.videos.insert(0, Input(placeholder("video", unit.extends), unit.extends, unit.span, "video"))
    if unit.morph_between:
        a, b = unit.morph_between
        inputs.frames = [(Input(placeholder("last-frame", a), a, unit.span, "image"), "first"),
                         (Input(placeholder("first-frame", b), b, unit.span, "image"), "last")]
    if unit.continues_from:
        frame = Input(placeholder("last-frame", unit.continues_from), unit.continues_from, unit.span, "image")
        if inputs.has_references:
            inputs.images.insert(0, frame)
            inputs.opening_frame = unit.continues_from
        elif not any(f == "first" for _, f in inputs.frames):
            inputs.frames.insert(0, (frame, "first"))
    return inputs


def _member_inputs(film: Film, name: str, entry: CastEntry) -> tuple[list[Input], list[Input], list[Input]]:
    """A cast member's images, videos and voice as inputs (memoised per film: every clip that
    mentions the member sends the same ones)."""
    return _memoised(film, ("member-inputs", name), _member_inputs_of, film, name, entry)


def _member_inputs_of(film: Film, name: str, entry: CastEntry) -> tuple[list[Input], list[Input], list[Input]]:
    return tuple(
        [Input(media_value(film, s.value, entry.rel_dir), name, s.value_span, kind, s.value)
         for s in entry.member.values(field_key)]
        for field_key, kind in (("image", "image"), ("video", "video"), ("voice", "audio")))


# ---- prompts ----------------------------------------------------------------------------------

def index_words(film: Film, provider: Provider, inputs: Inputs) -> tuple[dict[str, str], list[str]]:
    """`_index_words`, memoised per film and provider by what it reads of the inputs: the cast a
    clip mentions and the owners of its inputs, which most clips of a film share with others
    (callers must not modify the result)."""
    key = ("index-words", type(provider), provider.name, bool(inputs.opening_frame),
           tuple([e.member.name for e in inputs.members]), tuple([i.owner for i in inputs.images]),
           tuple([i.owner for i in inputs.videos]), tuple([i.owner for i in inputs.audios]))
    return _memoised(film, key, _index_words, provider, inputs)


def _index_words(provider: Provider, inputs: Inputs) -> tuple[dict[str, str], list[str]]:
    """Mention -> index words, and the legend sentences ("Image 1 is Kitten: ...")."""
    words: dict[str, str] = {}
    legend: list[str] = []
    positions: dict[tuple[str, str], list[int]] = {}
    for kind, bucket in (("image", inputs.images), ("video", inputs.videos), ("audio", inputs.audios)):
        for i, inp in enumerate(bucket, 1):
            positions.setdefault((inp.owner, kind), []).append(i)
    if inputs.opening_frame:
        legend.append(f"{provider.index_word('image', 1)} is the last frame of the previous shot: open on it.")
    for entry in inputs.members:
        name, member = entry.member.name, entry.member
        desc = member.description
        refs = []
        for kind in ("image", "video"):
            refs += [provider.index_word(kind, i) for i in positions.get((name, kind), [])]
        if refs:
            words[name] = refs[0]
            subject = refs[0] if len(refs) == 1 else ", ".join(refs[:-1]) + " and " + refs[-1]
            verb = "is" if len(refs) == 1 else "show"
            legend.append(f"{subject} {verb} {name}" + (f": {desc}." if desc else "."))
        else:
            words[name] = name + (f" ({desc})" if desc else "")
        for i in positions.get((name, "audio"), []):
            legend.append(f"{provider.index_word('audio', i)} is {name}'s voice.")
    for kind, owner, sentence in (("video", "motion", "follows the motion and camera of"),
                                  ("audio", "music", "follows the rhythm of")):
        for i in positions.get((owner, kind), []):
            legend.append(f"The video {sentence} {provider.index_word(kind, i)}.")
    return words, legend


def compose_prompt(film: Film, unit: Unit, inputs: Inputs, provider: Provider, tmpl=None) -> str:
    """The unit's prompt (memoised per film, provider and template, like `gather_inputs`)."""
    key = ("prompt", type(provider), provider.name, tmpl) + _memo_key(unit)
    return _memoised(film, key, _compose_prompt, film, unit, inputs, provider, tmpl or prompts.template())


def _compose_prompt(film: Film, unit: Unit, inputs: Inputs, provider: Provider, tmpl) -> str:
    words, legend = index_words(film, provider, inputs)
    style = film.setting("style")
    if unit.kind == "morph":
        action = prompts.rewrite_mentions(unit.transition.text or "", words)
        return prompts.render_prompt(prompts.prompt_variables(action, style=style, legend=legend), tmpl)
    clip = unit.clip
    action = " ".join([prompts.rewrite_mentions(p.text, words) for p in clip.prose])
    beats = clip.beats
    beats = list(_beat_timings(beats, clip_seconds(unit), words)) if beats else ()
    dialogue = [{"speaker": words.get(d.speaker, d.speaker), "how": d.how,
                 "line": prompts.rewrite_mentions(d.line, words)} for d in clip.dialogue]
    camera, sound = clip.setting("camera"), clip.setting("sound")
    variables = prompts.prompt_variables(
        action, style=style, legend=legend, extend=unit.kind == "extend", beats=beats,
        camera=camera.value if camera else None, dialogue=dialogue, sound=sound.value if sound else None,
        negative=film.setting("negative"))
    return prompts.render_prompt(variables, tmpl)


def beat_seconds(beats: list[Beat], total: float) -> list[float]:
    """Beats without a duration share what is left of the scene equally."""
    fixed = sum(b.seconds or 0 for b in beats)
    free = [b for b in beats if b.seconds is None]
    share = (total - fixed) / len(free) if free else 0.0
    return [float(b.seconds) if b.seconds is not None else share for b in beats]


def _fmt_seconds(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".") if not float(x).is_integer() else str(int(x))


def planned_beats(film: Film, unit: Unit, beats: list[Beat]) -> list[PlannedBeat]:
    """A scene's `beats` (its clip's) with the times its prompt states and the cast each one mentions."""
    if not beats:
        return []
    out, start = [], 0.0
    for i, (beat, length) in enumerate(zip(beats, beat_seconds(beats, clip_seconds(unit)), strict=True), 1):
        cast = list(dict.fromkeys([name for name in beat.text.mention_names() if name in film.cast]))
        out.append(PlannedBeat(index=i, start=round(start, 3), end=round(start + length, 3), text=beat.text.text,
                               cast=cast))
        start += length
    return out


def _beat_timings(beats: list[Beat], total: int, words: dict[str, str]):
    start = 0.0
    for i, (beat, length) in enumerate(zip(beats, beat_seconds(beats, total), strict=True), 1):
        end = start + length
        yield {"index": i, "start": _fmt_seconds(start), "end": _fmt_seconds(end),
               "text": prompts.rewrite_mentions(beat.text.text, words)}
        start = end


# ---- specs, keys, plan ---------------------------------------------------------------------

def frame_of(film: Film, unit: Unit | None) -> dict[str, Any]:
    """The request's frame as ClipSpec fields: `size:` as width and height, else resolution and
    ratio. A clip's own resolution/ratio overrides a film-level size (and vice versa); a morph
    (or `None`: the film itself) takes the film's. Callers must not modify the dict."""
    own = _own_settings(unit)
    if "size" in own or "resolution" in own or "ratio" in own:
        return _frame(film, own)
    if "film-frame" not in film.memo:  # most clips leave their frame to the film: worked out once per film
        film.memo["film-frame"] = _frame(film, {})
    return film.memo["film-frame"]


def _frame(film: Film, own: dict[str, Setting]) -> dict[str, Any]:
    size = _value_in_force(film, own, "size")
    if size and not ("resolution" in own or "ratio" in own) or "size" in own:
        w, h = size.lower().split("x")
        return {"resolution": None, "ratio": None, "width": int(w), "height": int(h)}
    return {"resolution": _value_in_force(film, own, "resolution") or DEFAULT_RESOLUTION,
            "ratio": _value_in_force(film, own, "ratio") or "16:9", "width": None, "height": None}


def spec_pixels(spec: ClipSpec, provider: Provider) -> tuple[int, int]:
    """The frame a request's video comes back at."""
    return (spec.width, spec.height) if spec.width else provider.pixel_size(spec.resolution, spec.ratio)


def unit_pixels(film: Film, unit: Unit | None, provider: Provider, tier: str = "final") -> tuple[int, int]:
    """The frame of a unit's video at `tier` (`None`: of a clip with only the film's settings),
    as the compiled request asks for it; only the frame of the spec matters here."""
    spec = ClipSpec(prompt="", seconds=DEFAULT_SECONDS, model="", **frame_of(film, unit))
    return spec_pixels(provider.draft_spec(spec) if tier == "draft" else spec, provider)


def card_size(film: Film, provider: Provider, tier: str = "final") -> tuple[int, int]:
    """The one size of the film's title cards: the checker lays their text out at it and the
    compiler has them drawn at it. It is the size the stitcher gives the film, the most common
    of its generated clips' (ties to the first), so a card never makes the clips be conformed;
    a film of cards only takes its own settings. Worked out once per film, provider and tier."""
    memo = ("card_size", provider.name, tier)
    if memo not in film.memo:
        sizes = [unit_pixels(film, unit, provider, tier) for unit in expand(film)[0]]
        counts = Counter(sizes)
        best = max(counts.values(), default=0)
        film.memo[memo] = next((s for s in sizes if counts[s] == best), None) or unit_pixels(film, None, provider, tier)
    return film.memo[memo]


def build_spec(film: Film, unit: Unit, inputs: Inputs, provider: Provider, prompt: str,
               last_frame_wanted: bool = False) -> ClipSpec:
    own = _own_settings(unit)
    seed_setting = own.get("seed")
    film_seed = film.setting("seed")
    seed = int(seed_setting.value) if seed_setting else (derived_seed(int(film_seed), unit.name) if film_seed else None)
    return ClipSpec(
        prompt=prompt, seconds=clip_seconds(unit), model=provider.model_id(_value_in_force(film, own, "model")),
        **frame_of(film, unit), seed=seed, audio=(_value_in_force(film, own, "audio") or "on") == "on",
        negative=_value_in_force(film, own, "negative"),
        frame_images=tuple([FrameImage(i.value, f) for i, f in inputs.frames]),
        reference_images=tuple([i.value for i in inputs.images]),
        reference_videos=tuple([i.value for i in inputs.videos]),
        reference_audios=tuple([i.value for i in inputs.audios]),
        last_frame_wanted=last_frame_wanted,
    )


class FileHasher:
    """Content hashes of local references, memoised per compile (a 1,000-clip film shares them)."""

    def __init__(self, base_dir: Path):
        self.base_dir = base_dir
        self._memo: dict[str, str] = {}

    def __call__(self, rel: str) -> str:
        if rel not in self._memo:
            try:
                self._memo[rel] = file_sha256(self.base_dir / rel)
            except OSError:
                self._memo[rel] = "missing"
        return self._memo[rel]


def clip_key(provider: str, body: dict, hasher: FileHasher, dep_keys: dict[str, str],
             placeholders: list | None = None) -> str:
    """sha256 of the canonical body, the content of every local file it names, and the keys of
    the clips it is made from (so editing a shot re-renders what depends on it)."""
    files = {}
    for _, _, (kind, value) in (placeholders_in(body) if placeholders is None else placeholders):
        if kind == "file":
            files[value] = hasher(value)
    material = {"v": PLAN_VERSION, "provider": provider, "body": body, "files": files, "deps": dep_keys}
    return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()


def _references(inputs: Inputs) -> list[Reference]:
    refs: dict[tuple[str, str], list[str]] = {}
    kinds: dict[str, str] = {e.member.name: e.member.kind for e in inputs.members}
    for inp, frame in inputs.frames:
        refs.setdefault((frame, "frame"), []).append(_shown(inp.value))
    for bucket in (inputs.images, inputs.videos, inputs.audios):
        for inp in bucket:
            kind = kinds.get(inp.owner) or (inp.owner if inp.owner in ("motion", "music") else "clip")
            refs.setdefault((inp.owner, kind), []).append(_shown(inp.value))
    return [_reference(n, k, tuple(f)) for (n, k), f in refs.items()]


@lru_cache(maxsize=4096)  # a film's clips show the same few members with the same files: one frozen model each
def _reference(name: str, kind: str, files: tuple[str, ...]) -> Reference:
    return Reference(name=name, kind=kind, files=list(files))


@lru_cache(maxsize=4096)  # a film names the same few files in every clip
def _shown(value: str) -> str:
    ph = parse_placeholder(value)
    return ph[1] if ph and ph[0] == "file" else value


def _keys_in_dependency_order(provider: str, nodes: dict[str, tuple[dict, list[str], list]],
                              hasher, pinned: dict[str, str] | None = None) -> dict[str, str]:
    """A morph needs the key of the clip after it, so keys follow dependencies, not film order.
    `pinned`: generations whose key is fixed (a pinned take's old file), whatever their body."""
    keys: dict[str, str] = dict(pinned or {})
    for name in nodes:
        _key_after_dependencies(name, provider, nodes, hasher, keys)
    return keys


def _key_after_dependencies(name: str, provider: str, nodes: dict, hasher, keys: dict[str, str]) -> str:
    # A function of the module, not a closure calling itself: that closure was a reference cycle
    # holding every body until the cyclic collector's next pass.
    if name not in keys:
        body, after, found = nodes[name]
        keys[name] = ""  # the checker guarantees the graph is acyclic
        deps = {a: _key_after_dependencies(a, provider, nodes, hasher, keys) for a in after}
        keys[name] = clip_key(provider, body, hasher, deps, found)
    return keys[name]


def take_seed(base: int | None, name: str, take: int) -> int:
    """The stable seed of take `take` of clip `name` (`base`: the clip's own seed, or the one it
    derives from the film's; None when the film has none). Take 1 of a seeded clip keeps that
    seed, so its request is the one it was before takes existed."""
    if take == 1 and base is not None:
        return base
    return derived_seed(-1 if base is None else base, f"{name}#take{take}")


@dataclass
class _Take:
    """One take of one unit while compiling."""

    unit: Unit
    inputs: Inputs
    number: int
    name: str  # its plan name: the unit's for the played take, `<unit>#<k>` for the others
    spec: ClipSpec
    seed: int | None
    body: dict = field(default_factory=dict)
    after: list[str] = field(default_factory=list)
    found: list = field(default_factory=list)
    pinned: PickedTake | None = None  # an outdated pick: its old file plays, nothing is generated
    tier: str = "final"
    count: int = 1  # how many takes its clip has


def _take_count(film: Film, unit: Unit, selection: Selection) -> int:
    s = _setting_in_force(film, _own_settings(unit), "takes")
    written = int(s.value) if s is not None and s.value.isdigit() else 1  # the checker approved it
    return max(written, selection.takes_wanted(unit.name), 1)


def _unit_takes(film: Film, unit: Unit, inputs: Inputs, spec: ClipSpec, provider: Provider,
                selection: Selection, stale: dict[str, PickedTake]) -> list[_Take]:
    """Every take of a unit: the picked one (take 1 when none) under the unit's own name. A pinned
    (outdated) pick keeps only its take: its clip's other takes are not generated by surprise."""
    pick = selection.pick(unit.name)
    chosen = pick.take if pick else 1
    # a pick beyond the story's takes (added by `render --takes`) brings only itself along
    written = _take_count(film, unit, selection)
    count = max(written, chosen)
    pinned = stale.get(unit.name)
    numbers = [chosen] if pinned is not None else sorted({*range(1, written + 1), chosen})
    out = []
    for k in numbers:
        if selection.tier == "draft":  # drafts are new requests: they always carry their seed
            take_spec = provider.draft_spec(replace(spec, seed=take_seed(spec.seed, unit.name, k)))
        else:  # take 1 is the request it was before takes existed (no seed derived for it)
            take_spec = spec if k == 1 else replace(spec, seed=take_seed(spec.seed, unit.name, k))
            if k == chosen and pick is not None and pick.tier == "draft" and pinned is None:
                take_spec = provider.finish_draft(take_spec, DraftTake(pick.seed, pick.key, pick.job_id))
        # the seed the request carries: none for take 1 of a seedless film (the provider picks one)
        out.append(_Take(unit, inputs, k, unit.name if k == chosen else take_name(unit.name, k), take_spec,
                         take_spec.seed, pinned=pinned, tier=pinned.tier if pinned is not None else selection.tier,
                         count=count))
    return out


def compile_film(film: Film, provider: Provider, diagnostics: list[Diagnostic] | None = None,
                 selection: Selection | None = None) -> RenderPlan | None:
    """Compile a film the checker found no errors in. What only the compiled requests can show
    is appended to `diagnostics`: clips that share one generation (a warning), picks from an
    older version of their clip (a warning), and clips whose inputs the provider's API cannot
    take in one request (an error; then there is no plan). Without a `diagnostics` list, such a
    clip raises the provider's ProviderError. `selection`: the tier, extra takes and picks."""
    selection = selection or Selection()
    stale = _stale_picks_at_other_tier(film, provider, selection)
    plan = _compile(film, provider, diagnostics, selection, stale, warn_shared=True)
    if plan is None or not selection.picks:
        return plan
    stale.update(_stale_picks(plan, selection))
    if stale:  # the pinned takes' old keys change their dependants' keys: compile once more
        plan = _compile(film, provider, None, selection, stale)
        if diagnostics is not None:
            diagnostics += _pinned_warnings(film, stale)
    return plan


def _stale_picks(plan: RenderPlan, selection: Selection) -> dict[str, PickedTake]:
    """Picks made at this tier whose take's request is no longer the one they were made from."""
    out = {}
    for name, _ in selection.picks:
        pick = selection.pick(name)
        if pick is None or pick.tier != selection.tier:
            continue
        found = [c for c in takes_of(plan, name) if c.take == pick.take]
        if found and found[0].key != pick.key:
            out[name] = pick
    return out


def _stale_picks_at_other_tier(film: Film, provider: Provider, selection: Selection) -> dict[str, PickedTake]:
    """Picks made at the other tier (a draft picked, then a final render) are compared with the
    story compiled at their own tier."""
    other = [(n, p) for n, p in selection.picks if selection.pick(n) is not None and p.tier != selection.tier]
    out: dict[str, PickedTake] = {}
    for tier in sorted({p.tier for _, p in other}):
        there = _compile(film, provider, None, Selection(tier=tier, extra_takes=selection.extra_takes,  # type: ignore[arg-type]
                                                         picks=selection.picks, released=selection.released), {})
        out.update(_stale_picks(there, Selection(tier=tier, picks=tuple(other))))
    return out


def _pinned_warnings(film: Film, stale: dict[str, PickedTake]) -> list[Diagnostic]:
    units = {u.name: u for u in expand(film)[0]}
    out = []
    for name, pick in stale.items():
        unit = units.get(name)
        if unit is None:
            continue
        span = unit.clip.name_span if unit.clip is not None and unit.clip.name_span else unit.span
        out.append(report("SB623", span, clip=name, take=pick.take, tier=pick.tier))
    return out


def _compile(film: Film, provider: Provider, diagnostics: list[Diagnostic] | None, selection: Selection,
             stale: dict[str, PickedTake], warn_shared: bool = False) -> RenderPlan | None:
    units, timeline = expand(film)
    tmpl = None
    tpath = film.settings.get("template")
    if tpath is not None:
        tmpl = prompts.template(film.story_file(tpath.value).path)  # the checker approved it
    hasher = FileHasher(film.base_dir)
    order = {u.name: i for i, u in enumerate(units)}
    frames_wanted = {u.continues_from for u in units} | {u.morph_between[0] for u in units if u.morph_between}
    built: list[_Take] = []
    failed = False
    for unit in units:
        inputs = gather_inputs(film, unit)
        prompt = compose_prompt(film, unit, inputs, provider, tmpl)
        spec = build_spec(film, unit, inputs, provider, prompt, last_frame_wanted=unit.name in frames_wanted)
        try:
            takes = _unit_takes(film, unit, inputs, spec, provider, selection, stale)
            for take in takes:
                take.body = provider.build_request(take.spec)
        except ProviderError as exc:  # an input mix this vendor's API has no request for
            if diagnostics is None:
                raise
            diagnostics.append(report("SB411", unit.span, provider=provider.name, label=unit_label(unit),
                                      why=str(exc)))
            failed = True
            continue
        for take in takes:
            take.found = placeholders_in(take.body)  # one walk serves `after` and the key
            take.after = sorted({v for _, _, (kind, v) in take.found if kind in CLIP_PLACEHOLDERS},
                                key=order.__getitem__)
        built += takes
    if failed:
        return None
    keys = _keys_in_dependency_order(provider.name, {t.name: (t.body, t.after, t.found) for t in built}, hasher,
                                     {t.name: t.pinned.key for t in built if t.pinned is not None})
    clips: list[PlannedClip] = []
    warnings: list[str] = []
    total = 0.0
    unknown_cost = False
    priced: set[str] = set()
    for take in built:
        unit, inputs, spec = take.unit, take.inputs, take.spec
        key = keys[take.name]
        price = provider.price(spec)
        if price.warning and take.number == 1:
            warnings.append(f"{unit.name}: {price.warning}")
        if price.usd is None:
            unknown_cost = True
        elif key not in priced and take.pinned is None:  # one key is one generation, paid once
            total += price.usd
        priced.add(key)
        if inputs.opening_frame and take.name == unit.name:  # the words of SB902, which check reported
            warnings.append(report("SB902", None, name=unit.name, previous=unit.continues_from,
                                   model=provider.model_label).message)
        clips.append(_planned(film, provider, take, key, price.usd))
    finishing = selection.tier == "final" and any(p.tier == "draft" for _, p in selection.picks)
    if (selection.tier == "draft" or finishing) and provider.draft_caveat:  # said once
        warnings.append(f"drafts: {provider.draft_caveat}")
    title = film.setting("title") or film.path.stem
    clips = with_cards(film, clips, timeline, lambda: card_size(film, provider, selection.tier), hasher)
    plan = RenderPlan(title=title, provider=provider.name, model=provider.model_id(film.setting("model")),
                      story=str(film.path), base_dir=str(film.base_dir), clips=clips, timeline=timeline,
                      estimated_cost_usd=None if unknown_cost else round(total, 4), warnings=warnings,
                      tier=selection.tier, scores=score_specs(film, timeline, hasher))
    if diagnostics is not None and warn_shared:
        diagnostics += shared_generation_warnings(plan, {u.name: u for u in units})
    return _with_picture_keys(plan, provider) if provider.takes_captions else plan


def _with_picture_keys(plan: RenderPlan, provider: Provider) -> RenderPlan:
    """A provider that draws captions (the animatic) makes a picture that depends on more than
    the request: the clip's name, its beats and the transitions beside it (its caption is hidden
    where it overlaps a neighbour) and the drawing itself (`picture_version`). Each clip's key
    takes those in, so editing them re-renders the clip. Clips that share a request are still
    one generation for SB430 (warned above) but get their own pictures."""
    from ..plan import film_layout

    layout = {p.name: (p.overlap_in, p.overlap_out) for p in film_layout(plan)}
    version = getattr(provider, "picture_version", 1)
    clips = []
    for c in plan.clips:
        if is_card(c) or c.pinned:  # a card is drawn from its own content; a pinned take's key is its old file's
            clips.append(c)
            continue
        # every take of a clip is drawn as that clip (its caption says which take), so picking
        # another take re-draws nothing
        look = {"key": c.key, "name": clip_of(c), "take": c.take, "edges": layout.get(clip_of(c)), "picture": version,
                "beats": [b.model_dump() for b in c.beats]}
        key = hashlib.sha256(canonical_json(look).encode("utf-8")).hexdigest()
        clips.append(c.model_copy(update={"key": key}))
    return plan.model_copy(update={"clips": clips})


def _planned(film: Film, provider: Provider, take: _Take, key: str, usd: float | None) -> PlannedClip:
    unit, inputs, spec = take.unit, take.inputs, take.spec
    clip = unit.clip
    own = _own_settings(unit)
    camera, sound = own.get("camera"), own.get("sound")
    beats = clip.beats if clip is not None else []  # a walk of the clip's lines: asked once
    w, h = spec_pixels(spec, provider)
    span = unit.span
    seconds = spec.seconds
    if take.pinned is not None and take.pinned.seconds:
        seconds = max(1, round(take.pinned.seconds))  # the old file's length: the film keeps it
    # built from values the compiler made itself: constructed, not validated (validation
    # deep-copies every request body, a tenth of a big compile)
    return built_clip(
        name=take.name, kind=unit.kind, seconds=seconds, after=take.after, request=take.body,
        estimated_cost_usd=usd, key=key, mode=inputs.mode,
        source=f"{span.file}:{span.line}:{span.column}" if span else str(film.path),
        references=_references(inputs), action=_action(unit, beats), camera=camera.value if camera else None,
        sound=sound.value if sound else None,
        dialogue=[DialogueLine(speaker=d.speaker, how=d.how, line=d.line) for d in (clip.dialogue if clip else [])],
        audio=spec.audio, width=w, height=h, take=take.number, takes=take.count,
        take_of=None if take.name == unit.name else unit.name, seed=take.seed, tier=take.tier,
        pinned=take.pinned is not None, beats=planned_beats(film, unit, beats))


def _action(unit: Unit, beats: list[Beat]) -> str:
    """What happens, as written (mentions as @Name), a scene's `beats` (its clip's) after its
    prose: for previews."""
    clip = unit.clip
    if clip is None:
        return unit.transition.text or ""
    action = " ".join([p.text for p in clip.prose])
    if beats:
        action = " ".join([action] + [f"Shot {i}: {b.text.text}" for i, b in enumerate(beats, 1)]).strip()
    return action


def shared_generation_warnings(plan: RenderPlan, units: dict[str, Unit]) -> list[Diagnostic]:
    """SB430 at the second clip of each group that makes the same request as another: the
    render makes it once and every clip of the group shows that one video."""
    out = []
    for group in plan.shared_generations():
        names = [c.name for c in group]
        unit = units[clip_of(group[1])]
        span = unit.clip.name_span if unit.clip is not None and unit.clip.name_span else unit.span
        listed = f"{', '.join(names[:-1])} and {names[-1]}"
        out.append(report("SB430", span, names=listed))
    return out
