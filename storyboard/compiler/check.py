"""Film + provider limits -> diagnostics. Every rule of STORY-LANGUAGE.md, and the mistakes a
user can make beyond them. Reads reference files' first bytes (to know their real type)."""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from pathlib import Path

from .. import paths
from ..diagnostics import Diagnostic, Severity, Span
from ..language.load import Film
from ..language.model import (
    CAST_FIELDS, CLIP_SETTINGS, CastMember, FILM_SETTINGS, Beat, Clip, Prose, Setting, Transition,
    WIPE_DIRECTIONS,
)
from ..names import title_file_stem
from ..providers.base import Provider
from . import prompts
from .requests import Inputs, Unit, compose_prompt, expand, gather_inputs

TYPE_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP", "mp4": "MP4", "mov": "MOV", "mp3": "MP3", "wav": "WAV",
              "gif": "GIF", "bmp": "BMP", "pdf": "PDF", "text": "text"}
IMAGE_TYPES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}
VIDEO_TYPES = {"mp4": "MP4", "mov": "MOV"}
AUDIO_TYPES = {"mp3": "MP3", "wav": "WAV"}
EXTENSIONS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".mp4": "mp4", ".mov": "mov",
              ".mp3": "mp3", ".wav": "wav"}
KIND_TYPES = {"image": IMAGE_TYPES, "video": VIDEO_TYPES, "audio": AUDIO_TYPES}
SIZE_RE = re.compile(r"^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$")
_KEYLIKE_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:")
_UNQUOTED_DIALOGUE_RE = re.compile(r'@([A-Za-z_][A-Za-z0-9_-]*)[ \t]*(\([^)]*\))?[ \t]*:[ \t]*[^"\s]')
_REFUSAL_HINTS = {
    "absolute": "reference files by a path relative to the story, inside its folder",
    "link-outside": "copy the file into the story's folder instead of linking to it",
    "outside": "a story may only send files from its own folder tree",
}


def check(film: Film, provider: Provider) -> list[Diagnostic]:
    c = _Checker(film, provider)
    c.run()
    seen = set()
    unique = []
    for d in film.diagnostics + c.diags:  # one report per place and problem
        k = (d.code, d.span, d.message)
        if k not in seen:
            seen.add(k)
            unique.append(d)
    return sorted(unique, key=lambda d: (d.span.file != str(film.path), d.span.file, d.span.line, d.span.column)
                  if d.span else (True, "", 0, 0))


def _close(word: str, options) -> str | None:
    found = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return found[0] if found else None


class _Checker:
    def __init__(self, film: Film, provider: Provider):
        self.film = film
        self.provider = provider
        self.limits = provider.limits
        self.diags: list[Diagnostic] = []
        self.checked_files: dict[tuple, tuple] = {}  # (path, folder, kind, role) -> problems

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None, notes=()):
        self.diags.append(Diagnostic(code, message, span, Severity.ERROR, hint, tuple(notes)))

    def warn(self, code: str, message: str, span: Span | None, hint: str | None = None):
        self.diags.append(Diagnostic(code, message, span, Severity.WARNING, hint))

    # ---- driver ----
    def run(self) -> None:
        self.check_film_settings()
        self.check_names()
        for entry in self.film.cast.values():
            self.check_cast(entry)
        # After a syntax error whole blocks may be missing: order rules would only mislead.
        structure_ok = not self.film.syntax_errors and self.check_structure()
        for clip in [i for i in self.film.timeline if isinstance(i, Clip)]:
            self.check_clip_lines(clip)
        if structure_ok and not self.film.syntax_errors:
            units, _ = expand(self.film)
            for unit in units:
                self.check_unit(unit)
        else:
            # Without a sound timeline, still check each clip's own mentions and files.
            for clip in [i for i in self.film.timeline if isinstance(i, Clip)]:
                unit = Unit(clip.name, clip.kind, clip=clip)
                self.check_unit(unit, limits=False)

    # ---- settings ----
    def check_film_settings(self) -> None:
        every_file = [self.film.setting_lists] + self.film.included_setting_lists
        for key, occurrences in [item for lists in every_file for item in lists.items()]:
            first = occurrences[0]
            if key not in FILM_SETTINGS:
                known = FILM_SETTINGS + ("include",)
                near = _close(key, known)
                self.error("SB101", f"unknown setting `{key}`", first.span,
                           f"did you mean `{near}`?" if near else "film settings: " + ", ".join(known))
                continue
            for dup in occurrences[1:]:
                self.error("SB102", f"`{key}` is set more than once", dup.span,
                           f"first set at line {first.span.line}" if first.span else None)
        for key, s in self.film.settings.items():
            if key in FILM_SETTINGS:
                self.check_value(s)
        self.check_size_exclusion(self.film.settings, "the film")
        self.check_title(self.film.settings.get("title"))
        t = self.film.settings.get("template")
        if t is not None and t.value:
            self.check_local_file(t.value, "", t.value_span, kinds=None, what="template")

    def check_value(self, s: Setting) -> None:
        key, value, span = s.key, s.value, s.value_span or s.span
        if not value and key not in ("style", "negative"):
            self.error("SB105", f"`{key}` needs a value", s.span)
            return
        lim = self.limits
        if key == "resolution" and value not in lim.resolutions:
            self.error("SB103", f"unknown resolution `{value}`", span, "use one of " + ", ".join(lim.resolutions))
        elif key == "ratio" and value not in lim.ratios:
            self.error("SB103", f"unknown aspect ratio `{value}`", span, "use one of " + ", ".join(lim.ratios))
        elif key == "audio" and value not in ("on", "off"):
            self.error("SB103", f"audio is `on` or `off`, not `{value}`", span)
        elif key == "seed" and not re.fullmatch(r"-?[0-9]+", value):
            self.error("SB103", f"seed must be a whole number, not `{value}`", span)
        elif key == "seed" and not 0 <= int(value) <= 2**31 - 1:
            self.error("SB103", f"seed must be between 0 and 2147483647, not {value}", span)
        elif key == "size":
            m = SIZE_RE.match(value.lower())
            if not m:
                self.error("SB103", f"size is WIDTHxHEIGHT in pixels (like 1280x720), not `{value}`", span)
            elif any(int(v) % 2 for v in m.groups()) or not all(64 <= int(v) <= 4096 for v in m.groups()):
                self.error("SB103", f"size {value}: width and height must be even numbers from 64 to 4096", span)

    def check_title(self, s: Setting | None) -> None:
        """The film is written as `<title>.mp4`: a title that leaves no file name is refused now,
        not after every clip has been rendered."""
        if s is not None and s.value and title_file_stem(s.value) is None:
            self.error("SB106", f"the title `{paths.shown(s.value)}` gives no file name for the film", s.value_span or s.span,
                       "the film is written as build/<title>.mp4: use a title with some words in it")

    def check_size_exclusion(self, settings: dict[str, Setting], where: str) -> None:
        size = settings.get("size")
        for other in ("resolution", "ratio"):
            s = settings.get(other)
            if size is not None and s is not None and s.span and size.span and s.span.file == size.span.file:
                earlier, later = sorted((size, s), key=lambda x: (x.span.line, x.span.column))
                self.error("SB104", f"`size` and `{other}` cannot both be set for {where}", later.span,
                           f"`size` gives exact pixels and `{other}` picks them from a table: keep one "
                           f"(`{earlier.key}` is set at line {earlier.span.line})")

    # ---- names ----
    def check_names(self) -> None:
        seen: dict[str, Span | None] = {}
        kinds: dict[str, str] = {}
        named = [i for i in self.film.story.items
                 if isinstance(i, CastMember) or isinstance(i, Clip) and i.kind != "extend"]
        for item in named:
            name, span = item.name, item.name_span
            if name in seen:
                first = seen[name]
                self.error("SB204", f"the name `{name}` is already used", span,
                           f"first used at line {first.line} by `{kinds[name]} {name}`; rename one of them"
                           if first else None,
                           notes=("cast members and clips share one namespace",))
            else:
                seen[name] = span
                kinds[name] = item.kind
        for name, entry in self.film.cast.items():
            if name not in seen and entry.member.name_span and entry.member.name_span.file != str(self.film.path):
                seen[name] = entry.member.name_span
        self.names = seen

    # ---- cast ----
    def check_cast(self, entry) -> None:
        m = entry.member
        counts: dict[str, int] = {}
        misspelt_image = False
        for f in m.fields:
            if f.key not in CAST_FIELDS:
                near = _close(f.key, CAST_FIELDS)
                misspelt_image |= near == "image"
                self.error("SB201", f"unknown {m.kind} field `{f.key}`", f.span,
                           f"did you mean `{near}`?" if near else "use image:, video:, voice: or description:")
                continue
            counts[f.key] = counts.get(f.key, 0) + 1
            if f.key != "image" and counts[f.key] > 1:
                self.error("SB203", f"{m.name} has more than one `{f.key}`", f.span, f"a {m.kind} takes one {f.key}")
            if not f.value:
                self.error("SB105", f"`{f.key}` needs a value", f.span)
                continue
            kind = {"image": "image", "video": "video", "voice": "audio"}.get(f.key)
            if kind:
                self.check_media(f.value, entry.rel_dir, f.value_span, kind)
        if not m.images and not misspelt_image:
            self.error("SB202", f"{m.kind} {m.name} has no image", m.name_span,
                       f"add `image: PATH` under `{m.kind} {m.name}:` (the first image is the main reference)")

    # ---- files ----
    def check_media(self, value: str, rel_dir: str, span: Span | None, kind: str, role: str | None = None) -> None:
        if paths.is_url(value):
            problem = paths.url_problem(value)
            if problem:
                which, why = problem
                self.error("SB304" if which == "scheme" else "SB306",
                           why if which == "scheme" else f"cannot send `{paths.shown(value, 80)}`: {why}", span,
                           "use an https:// URL the provider can download, or a file in the story's folder")
            return
        if kind not in self.limits.local_media:
            self.error("SB305", f"{self.provider.name} cannot take a local {kind} file: it needs a URL", span,
                       f"upload {value} somewhere the provider can download it and use its https:// URL")
        self.check_local_file(value, rel_dir, span, kinds=kind, role=role)

    def check_local_file(self, value: str, rel_dir: str, span: Span | None, kinds: str | None, what: str = "",
                         role: str | None = None):
        """Report the file's problems at `span` (worked out once per file: big films reuse frames)."""
        key = (value, rel_dir, kinds, role)
        if key not in self.checked_files:
            self.checked_files[key] = tuple(self._file_problems(value, rel_dir, kinds, role))
        for severity, code, message, hint in self.checked_files[key]:
            self.diags.append(Diagnostic(code, message, span, severity, hint))

    def _file_problems(self, value: str, rel_dir: str, kinds: str | None, role: str | None):
        E, W = Severity.ERROR, Severity.WARNING
        found = self.film.story_file(value, rel_dir)
        if not found.ok:
            yield E, ("SB303" if found.outside else "SB301"), f"`{paths.shown(value)}` {found.reason}", \
                _REFUSAL_HINTS.get(found.refusal)
            return
        resolved = found.path
        target = self.film.base_dir / rel_dir / value  # as written: near names are looked for beside it
        try:
            exists, is_file = resolved.exists(), resolved.is_file()
        except OSError as exc:  # e.g. a name longer than the filesystem allows
            yield E, "SB301", f"cannot use `{paths.shown(value)}`: {exc.strerror or exc}", None
            return
        if not exists:
            near = _near_file(target)
            if near:
                near = str(Path(value).parent / near) if Path(value).parent != Path(".") else near
            yield E, "SB301", f"file not found: {value}", f"did you mean {near}?" if near else None
            return
        if not is_file:
            yield E, "SB301", f"`{value}` is not a file", None
            return
        if kinds is None:
            return
        allowed = KIND_TYPES[kinds]
        ext_type = EXTENSIONS.get(resolved.suffix.lower())
        real = _sniff(resolved)
        if real is None or real not in allowed:
            shown = {"image": "PNG, JPEG or WebP", "video": "MP4 or MOV", "audio": "MP3 or WAV"}[kinds]
            what_it_is = _a(TYPE_NAMES.get(real, real)) + " file" if real else "not a recognised media file"
            yield E, "SB302", f"`{value}` is {what_it_is}; {role or kinds + ' references'} must be {shown}", None
        elif ext_type and ext_type != real and not {ext_type, real} <= {"mp4", "mov"}:
            yield W, "SB906", f"`{value}` is really {_a(TYPE_NAMES[real])} file despite its extension", \
                f"rename it to .{real.replace('jpeg', 'jpg')}"

    # ---- timeline structure ----
    def check_structure(self) -> bool:
        ok = True
        items = self.film.timeline
        prev_clip: Clip | None = None
        chain: set[str] = set()  # the names an `extend` right here may target
        prev_item = None
        for i, item in enumerate(items):
            if isinstance(item, Transition):
                ok &= self.check_transition(item)
                if prev_item is None:
                    self.error("SB503", f"`{item.kind}` must stand between two clips; nothing comes before it",
                               item.span)
                    ok = False
                elif isinstance(prev_item, Transition):
                    self.error("SB504", f"two transitions in a row (`{prev_item.kind}` then `{item.kind}`)", item.span,
                               "keep one of them")
                    ok = False
                if i == len(items) - 1:
                    self.error("SB503", f"`{item.kind}` must stand between two clips; nothing comes after it",
                               item.span)
                    ok = False
            else:
                if item.kind == "extend":
                    if item.name in self.film.cast:
                        kind = self.film.cast[item.name].member.kind
                        self.error("SB501", f"`extend {item.name}`: {item.name} is a {kind}, not a clip",
                                   item.name_span, "`extend` names the clip it continues: the one right before it"
                                   + (f" is `{prev_clip.name}`" if prev_clip else ""))
                        ok = False
                    elif item.name not in self.names and item.name not in chain:
                        near = _close(item.name, [n for n in self.names if n not in self.film.cast])
                        self.error("SB501", f"`extend {item.name}`: no clip named `{item.name}`", item.name_span,
                                   f"did you mean `{near}`?" if near else None)
                        ok = False
                    elif item.name not in chain:
                        before = prev_clip.name if prev_clip else None
                        self.error("SB502", f"`extend {item.name}` must come right after {item.name}"
                                   + (f", but it follows {before}" if before else
                                      f", but {item.name} comes later"), item.name_span,
                                   "an extension continues the clip directly before it")
                        ok = False
                    elif isinstance(prev_item, Transition):
                        self.error("SB506", f"no transition may stand between {item.name} and its extension",
                                   prev_item.span, "an extension plays right after its target with no transition")
                        ok = False
                    else:
                        chain.add(item.name)
                else:
                    chain = {item.name}
                prev_clip = item
            prev_item = item
        if ok:
            ok &= self.check_transition_lengths()
        return ok

    def check_transition(self, t: Transition) -> bool:
        ok = True
        if t.kind == "wipe" and t.direction not in WIPE_DIRECTIONS:
            near = _close(t.direction or "", WIPE_DIRECTIONS)
            self.error("SB507", f"wipe direction must be left, right, up or down, not `{t.direction}`",
                       t.direction_span or t.span, f"did you mean `{near}`?" if near else None)
            ok = False
        if t.seconds is not None and t.seconds <= 0:
            self.error("SB508", f"a {t.kind} must last longer than 0s", t.seconds_span,
                       "give it a length like 0.5s, or write `cut` for a hard cut")
            ok = False
        if t.kind == "morph" and not (t.text or "").strip():
            self.error("SB406", "a morph needs a prompt: what happens between the two clips", t.span,
                       f"write `morph {t.seconds_text or '1s'}: TEXT`, e.g. `morph 1s: the helmet melts into the sun`")
            ok = False
        if t.seconds is not None and t.seconds > 60:
            self.error("SB508", f"a {t.kind} of {t.seconds_text} is far too long", t.seconds_span,
                       "transitions last a fraction of a second to a few seconds")
            ok = False
        return ok

    def check_transition_lengths(self) -> bool:
        ok = True
        items = self.film.timeline
        # A clip's played length includes its extensions when it's the "before" side.
        for i, item in enumerate(items):
            if not isinstance(item, Transition) or item.seconds is None:
                continue
            before = _played_before(items, i)
            after = _played(items[i + 1]) if i + 1 < len(items) and isinstance(items[i + 1], Clip) else None
            for side, name, length in (("before", *before), ("after", *(after or (None, None)))):
                if length is not None and item.seconds > length / 2 + 1e-9:
                    self.error("SB505", f"`{item.kind} {item.seconds_text}` is longer than half of the clip {side} "
                               f"it ({name}, {_s(length)})", item.seconds_span,
                               f"at most {_s(length / 2)} here: a transition overlaps at most half of each neighbour")
                    ok = False
        return ok

    # ---- clips ----
    def check_clip_lines(self, clip: Clip) -> None:
        seen: dict[str, Setting] = {}
        for line in clip.body:
            if isinstance(line, Setting):
                if line.key in seen:
                    self.error("SB409", f"`{line.key}` is set more than once in {clip.kind} {clip.name}", line.span,
                               f"first set at line {seen[line.key].span.line}" if seen[line.key].span else None)
                    continue
                seen[line.key] = line
                if line.key in ("resolution", "ratio", "size", "seed", "audio", "model"):
                    self.check_value(line)
                elif not line.value and line.key not in ("negative",):
                    self.error("SB105", f"`{line.key}` needs a value", line.span)
                elif line.key in ("first", "last"):
                    self.check_media(line.value, "", line.value_span, "image", role="frame images")
                elif line.key == "motion":
                    self.check_media(line.value, "", line.value_span, "video")
                elif line.key == "music":
                    self.check_media(line.value, "", line.value_span, "audio")
            elif isinstance(line, Prose):
                self.check_prose_line(line, clip)
            elif isinstance(line, Beat) and clip.kind != "scene":
                self.error("SB407", f"`shot:` beats belong in a scene, not in a {clip.kind}", line.span,
                           f"make it `scene {clip.name}` or write the beat as prose")
        self.check_size_exclusion(seen, f"{clip.kind} {clip.name}")
        if clip.kind == "extend":
            for key in ("first", "last", "resolution", "ratio", "size"):
                if key in seen:
                    self.error("SB410", f"an extension cannot set `{key}`: it continues its target's video",
                               seen[key].span)
        self.check_duration(clip.seconds, clip.seconds_span, f"{clip.kind} {clip.name}")
        if clip.kind == "scene":
            self.check_beats(clip)

    def check_duration(self, seconds, span, what) -> None:
        lo, hi = self.limits.min_seconds, self.limits.max_seconds
        if seconds is None:
            return
        if not float(seconds).is_integer():
            self.error("SB401", f"{what}: clip durations are whole seconds, not {seconds}s", span,
                       f"use {int(seconds)}s or {int(seconds) + 1}s")
        elif not lo <= seconds <= hi:
            self.error("SB401", f"{what}: {int(seconds)}s is outside {lo}..{hi} seconds", span,
                       f"{self.provider.model_label} generates {lo} to {hi} seconds per clip; split longer action into more clips"
                       if seconds > hi else f"the shortest generation is {lo}s")

    def check_beats(self, clip: Clip) -> None:
        beats = clip.beats
        if not beats:
            self.error("SB407", f"scene {clip.name} has no `shot:` beats", clip.name_span,
                       "write each cut as `shot [DURATION]: what we see`")
            return
        total = int(clip.seconds) if clip.seconds is not None and float(clip.seconds).is_integer() else 5
        fixed = 0.0
        for b in beats:
            if b.seconds is not None:
                if not float(b.seconds).is_integer() or b.seconds <= 0:
                    self.error("SB408", f"beat durations are whole seconds above 0, not {b.seconds}s", b.seconds_span,
                               f"use {max(int(b.seconds), 1)}s" + (f" or {int(b.seconds) + 1}s"
                                                                 if int(b.seconds) >= 1 else ""))
                fixed += b.seconds
            if not b.text.text:
                self.error("SB408", "a beat needs text: what we see in this shot", b.span)
        free = [b for b in beats if b.seconds is None]
        if fixed > total + 1e-9:
            last = [b for b in beats if b.seconds is not None][-1]
            self.error("SB408", f"beats add up to {_s(fixed)}, more than scene {clip.name}'s {total}s",
                       last.seconds_span, f"shorten the beats or make the scene longer (at most "
                       f"{self.limits.max_seconds}s)")
        elif free and (total - fixed) / len(free) < 1 - 1e-9:
            left = f"only {_s(total - fixed)} is left" if total > fixed else "no time is left"
            who = "the beat without a duration" if len(free) == 1 else f"the {len(free)} beats without a duration"
            self.error("SB408", f"{left} of scene {clip.name}'s {total}s for {who}", free[0].span,
                       "each beat needs at least 1s: shorten the timed beats or make the scene longer")

    def check_prose_line(self, prose: Prose, clip: Clip) -> None:
        for piece in prose.pieces:
            m = _KEYLIKE_RE.match(piece.value)
            if m and piece.span and m.group(1) not in CLIP_SETTINGS:
                near = _close(m.group(1), CLIP_SETTINGS + ("shot",))
                if near:
                    self.warn("SB901", f"`{m.group(1)}:` is not a clip setting, so this line is prose",
                              piece.span.at(0, len(m.group(1))), f"did you mean `{near}:`?")
            d = _UNQUOTED_DIALOGUE_RE.match(piece.value)
            if d and piece.span:
                self.warn("SB903", "this looks like dialogue without quotes, so it is prose", piece.span,
                          f'write @{d.group(1)}: "..." for spoken lines')

    # ---- one generation ----
    def check_unit(self, unit: Unit, limits: bool = True) -> None:
        inputs = gather_inputs(self.film, unit)
        for m in inputs.unknown:
            near = _close(m.value, self.film.cast.keys())
            clips = {c.name for c in self.film.timeline if isinstance(c, Clip)}
            hint = f"did you mean @{near}?" if near else ("define it as a character, prop or place" if
                                                          m.value not in clips else f"{m.value} is a clip, not a cast member")
            self.error("SB402", f"@{m.value} is not in the cast", m.span, hint)
        if not limits or inputs.unknown:
            return
        self.check_limits(unit, inputs)
        if unit.kind == "continue":
            first = unit.clip.setting("first")
            if first is not None:
                self.error("SB509", f"{unit.name} follows `continue` but sets its own first frame", first.span,
                           "`continue` opens on the previous clip's last frame; remove one of them")
            elif inputs.opening_frame:
                self.warn("SB902", f"{unit.name} has reference inputs, so the last frame of {unit.continues_from} "
                          "goes in as Image 1 with an instruction to open on it", unit.clip.name_span or unit.span,
                          f"{self.provider.model_label} cannot take a first frame together with references; "
                          "use `cut` if the clip need not open on that frame")
        tmpl = self._template()
        if tmpl is False:  # the story's template is unusable, and said so once: its prompts are unknown
            return
        try:
            prompt = compose_prompt(self.film, unit, inputs, self.provider, tmpl)
        except prompts.TemplateProblem as exc:
            self._template_problem(exc)
            return
        lo, hi = self.limits.min_prompt, self.limits.max_prompt
        if not lo <= len(prompt) <= hi:
            where = unit.clip.name_span if unit.clip is not None else unit.span
            self.error("SB406", f"the prompt of {_label(unit)} is {len(prompt)} character{'s' * (len(prompt) != 1)}; "
                       f"{self.provider.name} accepts {lo} to {hi}", where,
                       "shorten the prose, style or descriptions" if len(prompt) > hi else "describe what happens")

    _tmpl_cache = None

    def _template(self):
        """The story's own template; None for the package's; False when the story names one it may
        not use or that does not compile (reported here or by `check_film_settings`). A refused
        path is never opened."""
        t = self.film.settings.get("template")
        if t is None or not t.value:
            return None
        if self._tmpl_cache is None:
            found = self.film.story_file(t.value)
            self._tmpl_cache = False
            try:
                if found.ok and found.path.is_file():
                    self._tmpl_cache = prompts.template(found.path)
            except prompts.TemplateProblem as exc:
                self._template_problem(exc)
            except OSError:  # unreadable: SB301 says so (check_local_file)
                pass
        return self._tmpl_cache

    def _template_problem(self, exc: prompts.TemplateProblem) -> None:
        """A template's failure at its own line, with a note that points back at the story."""
        d = exc.diagnostic
        self.film.sources.setdefault(d.span.file, exc.source)
        t = self.film.settings["template"]
        note = f"the prompt template is set at {t.value_span or t.span}" if (t.value_span or t.span) else None
        self.diags.append(replace(d, notes=d.notes + ((note,) if note else ())))

    def check_limits(self, unit: Unit, inputs: Inputs) -> None:
        lim = self.limits
        where = unit.clip.name_span if unit.clip is not None else unit.span
        for kind, bucket, most in (("reference images", inputs.images, lim.max_reference_images),
                                   ("reference videos", inputs.videos, lim.max_reference_videos),
                                   ("reference audios", inputs.audios, lim.max_reference_audios)):
            if len(bucket) > most:
                self.error("SB403", f"{_label(unit)} sends {len(bucket)} {kind}; {self.provider.name} accepts at most "
                           f"{most}", where, _contributions(bucket))
        n_files = len(inputs.images) + len(inputs.videos) + len(inputs.audios) + len(inputs.frames)
        if n_files > lim.max_files:
            self.error("SB403", f"{_label(unit)} sends {n_files} files; {self.provider.name} accepts at most "
                       f"{lim.max_files} in all", where,
                       _contributions(inputs.images + inputs.videos + inputs.audios))
        frames_reported = unit.kind == "extend"  # an extension's frames are SB410 already
        if inputs.frames and inputs.has_references and not frames_reported:
            frame_side = ", ".join(f"{f} frame" if i.owner in ("first", "last") else f"{f} frame from {i.owner}"
                                   for i, f in inputs.frames)
            refs = inputs.images + inputs.videos + inputs.audios
            ref_side = ", ".join(sorted({("@" + i.owner) if i.owner in self.film.cast else
                                         ("`" + i.owner + "`" if i.owner in ("motion", "music") else i.owner)
                                         for i in refs}))
            span = next((i.span for i, _ in inputs.frames if i.owner in ("first", "last")), where)
            self.error("SB404", f"{_label(unit)} combines frame images ({frame_side}) with reference inputs "
                       f"({ref_side})", span,
                       "a morph is generated between its neighbours' frames, so it cannot send references: "
                       "describe the cast in words instead of mentioning them" if unit.kind == "morph" else
                       f"{self.provider.model_label} takes either first/last frames or references in one request, not both: "
                       "drop the frames or the mentions' images/motion/music",
                       notes=(f"see the input compatibility table of {self.provider.model_label}",))
        if inputs.audios and not (inputs.images or inputs.videos):
            owners = ", ".join(sorted({i.owner for i in inputs.audios}))
            self.error("SB405", f"{_label(unit)} has reference audio ({owners}) but no reference image or video",
                       next((i.span for i in inputs.audios), where),
                       "audio-guided generation needs at least one reference image or video: mention a cast "
                       "member with an image")


def _label(unit: Unit) -> str:
    """How messages name a generation: its clip's name, or what a morph or extension is."""
    if unit.kind == "morph" and unit.morph_between:
        return "the morph between {} and {}".format(*unit.morph_between)
    if unit.kind == "extend":
        return f"extension {unit.name}"
    return unit.name


def _contributions(bucket) -> str:
    counts: dict[str, int] = {}
    for i in bucket:
        label = ("@" + i.owner) if i.owner not in ("motion", "music", "first", "last") else i.owner
        counts[label] = counts.get(label, 0) + 1
    return "contributed by " + ", ".join(f"{k} ({v})" for k, v in counts.items())


def _played(clip: Clip) -> tuple[str, float]:
    return clip.name, float(clip.seconds if clip.seconds is not None else 5)


def _played_before(items, i: int) -> tuple[str, float]:
    """The clip before transition i, extensions included (they play as one with their target)."""
    total = 0.0
    name = "the clip before"
    j = i - 1
    extended = False
    while j >= 0 and isinstance(items[j], Clip):
        total += float(items[j].seconds if items[j].seconds is not None else 5)
        name = items[j].name
        if items[j].kind != "extend":
            break
        extended = True
        j -= 1
    return (f"{name} with its extensions" if extended else name), total


def _s(x: float) -> str:
    return f"{x:g}s"


def _a(type_name: str) -> str:
    """`a PNG`, `an MP4` (the article goes by how the letters are said)."""
    return ("an " if type_name[:1] in "AEFHILMNORSX" and type_name.isupper() else "a ") + type_name


def _near_file(target: Path) -> str | None:
    try:
        names = [p.name for p in target.parent.iterdir()]
    except OSError:
        return None
    near = _close(target.name, names)
    return near


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"RIFF", 0, None),  # webp or wav, decided below
    (b"ID3", 0, "mp3"),
    (b"ftyp", 4, None),  # mp4 or mov
    (b"GIF8", 0, "gif"),
    (b"BM", 0, "bmp"),
    (b"%PDF", 0, "pdf"),
)


def _sniff(path: Path) -> str | None:
    """The real type from the first bytes (a renamed file must not reach the API)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    if head[:4] == b"RIFF":
        return {b"WEBP": "webp", b"WAVE": "wav"}.get(head[8:12])
    if head[4:8] == b"ftyp":
        return "mov" if head[8:10] == b"qt" else "mp4"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[:3] != b"\xff\xd8\xff":
        return "mp3"
    for magic, offset, kind in _MAGIC:
        if head[offset:offset + len(magic)] == magic and kind:
            return kind
    if head and b"\0" not in head:
        try:
            head.decode("utf-8")
            return "text"
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3:  # a character cut off by the 64-byte window
                return "text"
    return None
