"""Film + provider limits -> diagnostics. Every rule of docs/language.md, and the mistakes a
user can make beyond them, each reported by its code in storyboard/messages.py. Reads
reference files' first bytes (to know their real type)."""

from __future__ import annotations

import difflib
import re
from dataclasses import replace
from pathlib import Path

from .. import messages, paths
from ..diagnostics import Diagnostic, Span
from ..language.load import Film
from ..language.model import (
    CAST_FIELDS, CLIP_SETTINGS, CastMember, FILM_SETTINGS, Beat, Clip, Prose, Setting, Transition,
    WIPE_DIRECTIONS,
)
from ..messages import report
from ..names import title_file_stem
from ..providers.base import Provider
from . import prompts
from .requests import Inputs, Unit, build_spec, compose_prompt, expand, gather_inputs

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
# `Bo: "Hello"` or `Bo (softly): "Hello"`: the shape of a dialogue line without its `@`.
_BARE_DIALOGUE_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)[ \t]*(\([^)]*\))?[ \t]*:[ \t]*"')
_UNQUOTED_DIALOGUE_RE = re.compile(r'@([A-Za-z_][A-Za-z0-9_-]*)[ \t]*(\([^)]*\))?[ \t]*:[ \t]*[^"\s]')
MAX_SEED = 2**31 - 1
MAX_TRANSITION_SECONDS = 60
SIZE_RANGE = (64, 4096)  # each side of `size:`, in pixels


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


SCAN_LIMIT = 200  # past this many names, comparing a word with each one per problem is quadratic


class _NearNames:
    """`did you mean` over one fixed list of names, for many words. A short list is scanned like
    `_close`; a long one (thousands of clips or files) is indexed once by every name with one
    letter deleted, so a word meets only the names one letter away (a letter wrong, missing,
    extra, or two swapped): a difflib scan per problem took minutes for thousands of problems."""

    def __init__(self, names):
        self.names = list(dict.fromkeys(names))
        self.index: dict[str, list[str]] | None = None  # built at the first question: most films ask none

    def closest(self, word: str) -> str | None:
        if len(self.names) <= SCAN_LIMIT:
            return _close(word, self.names)
        if self.index is None:
            self.index = {}
            for name in self.names:
                for variant in _deletions(name):
                    self.index.setdefault(variant, []).append(name)
        nearby = {name for variant in _deletions(word) for name in self.index.get(variant, ())}
        return _close(word, sorted(nearby))


def _deletions(word: str) -> set[str]:
    """The word itself and the word with each one letter left out."""
    return {word} | {word[:i] + word[i + 1:] for i in range(len(word))}


class _Checker:
    # Above 300 lines: one pass over the film whose rules share its indexes (names, near names,
    # the per-file problem cache). Splitting it by responsibility (settings, cast, files, timeline,
    # generations) is issue 11 item 6, left for after the parser and speed work on this file.
    def __init__(self, film: Film, provider: Provider):
        self.film = film
        self.provider = provider
        self.limits = provider.limits
        self.diags: list[Diagnostic] = []
        self.checked_files: dict[tuple, tuple] = {}  # (path, folder, kind, role) -> problems
        # once, not per unknown mention: a film with thousands of them was quadratic
        self.clip_names = {c.name for c in film.timeline if isinstance(c, Clip)}
        self.near_cast = _NearNames(film.cast)
        self.near_in_folder: dict[Path, _NearNames | None] = {}
        self.model_limit_lines: set[Span | None] = set()  # one report per line, not per clip under it

    def report(self, code: str, span: Span | None, variant: str | None = None, **args) -> None:
        """Report `code` from the catalogue (storyboard/messages.py); `args` as for `messages.report`."""
        self.diags.append(report(code, span, variant, **args))

    # ---- driver ----
    def run(self) -> None:
        self.check_film_settings()
        self.check_has_clips()
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
                self.report("SB101", first.span, key=key, hint="did_you_mean" if near else "known", near=near,
                            known=", ".join(known))
                continue
            for dup in occurrences[1:]:
                self.report("SB102", dup.span, key=key, hint="first_set" if first.span else None,
                            line=first.span and first.span.line)
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
            self.report("SB105", s.span, key=key)
            return
        problem = self.value_problem(key, value)
        if problem:
            choices = {"resolution": self.limits.resolutions, "ratio": self.limits.ratios}.get(key, ())
            self.report("SB103", span, problem, value=value, choices=", ".join(choices), largest=MAX_SEED,
                        least=SIZE_RANGE[0], most=SIZE_RANGE[1], provider=self.provider.name)

    def value_problem(self, key: str, value: str) -> str | None:
        """The SB103 variant that says what is wrong with a setting's value, or None."""
        lim = self.limits
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

    def check_title(self, s: Setting | None) -> None:
        """The film is written as `<title>.mp4`: a title that leaves no file name is refused now,
        not after every clip has been rendered."""
        if s is not None and s.value and title_file_stem(s.value) is None:
            self.report("SB106", s.value_span or s.span, title=paths.shown(s.value))

    def check_size_exclusion(self, settings: dict[str, Setting], where: str) -> None:
        size = settings.get("size")
        for other in ("resolution", "ratio"):
            s = settings.get(other)
            if size is not None and s is not None and s.span and size.span and s.span.file == size.span.file:
                earlier, later = sorted((size, s), key=lambda x: (x.span.line, x.span.column))
                self.report("SB104", later.span, other=other, where=where, earlier=earlier.key,
                            line=earlier.span.line)

    def check_has_clips(self) -> None:
        """A film without a clip passes every other rule and then has nothing to render."""
        if self.film.syntax_errors or any(isinstance(i, Clip) for i in self.film.timeline):
            return  # after a syntax error the clips may be what recovery dropped
        self.report("SB510", Span(str(self.film.path), 1, 1))

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
                self.report("SB204", span, name=name, hint="first_used" if first else None, notes=("namespace",),
                            line=first and first.line, kind=kinds[name])
            else:
                seen[name] = span
                kinds[name] = item.kind
        for name, entry in self.film.cast.items():
            if name not in seen and entry.member.name_span and entry.member.name_span.file != str(self.film.path):
                seen[name] = entry.member.name_span
        self.names = seen
        self.near_clip_names = _NearNames(n for n in seen if n not in self.film.cast)

    # ---- cast ----
    def check_cast(self, entry) -> None:
        m = entry.member
        counts: dict[str, int] = {}
        misspelt_image = False
        for f in m.fields:
            if f.key not in CAST_FIELDS:
                near = _close(f.key, CAST_FIELDS)
                misspelt_image |= near == "image"
                self.report("SB201", f.span, kind=m.kind, key=f.key, hint="did_you_mean" if near else "fields",
                            near=near)
                continue
            counts[f.key] = counts.get(f.key, 0) + 1
            if f.key != "image" and counts[f.key] > 1:
                self.report("SB203", f.span, name=m.name, key=f.key, kind=m.kind)
            if not f.value:
                self.report("SB105", f.span, key=f.key)
                continue
            kind = {"image": "image", "video": "video", "voice": "audio"}.get(f.key)
            if kind:
                self.check_media(f.value, entry.rel_dir, f.value_span, kind)
        if not m.images and not misspelt_image:
            self.report("SB202", m.name_span, kind=m.kind, name=m.name)

    # ---- files ----
    def check_media(self, value: str, rel_dir: str, span: Span | None, kind: str, role: str | None = None) -> None:
        if paths.is_url(value):
            problem = paths.url_problem(value)
            if problem:
                which, why = problem
                self.report("SB304" if which == "scheme" else "SB306", span, why=why, url=paths.shown(value, 80),
                            scheme=paths.shown(value.split("://", 1)[0]))
            return
        if kind not in self.limits.local_media:
            self.report("SB305", span, provider=self.provider.name, kind=kind, path=value)
        self.check_local_file(value, rel_dir, span, kinds=kind, role=role)

    def check_local_file(self, value: str, rel_dir: str, span: Span | None, kinds: str | None, what: str = "",
                         role: str | None = None):
        """Report the file's problems at `span` (worked out once per file: big films reuse frames)."""
        key = (value, rel_dir, kinds, role)
        if key not in self.checked_files:
            self.checked_files[key] = tuple(self._file_problems(value, rel_dir, kinds, role))
        self.diags.extend(replace(d, span=span) for d in self.checked_files[key])

    def _file_problems(self, value: str, rel_dir: str, kinds: str | None, role: str | None):
        """The file's diagnostics, without a place: each use of the file puts them at its own."""
        found = self.film.story_file(value, rel_dir)
        if not found.ok:
            if found.outside:
                yield report("SB303", None, hint=found.refusal, path=paths.shown(value), reason=found.reason)
            else:
                yield report("SB301", None, "refused", path=paths.shown(value), reason=found.reason)
            return
        resolved = found.path
        target = self.film.base_dir / rel_dir / value  # as written: near names are looked for beside it
        try:
            exists, is_file = resolved.exists(), resolved.is_file()
        except OSError as exc:  # e.g. a name longer than the filesystem allows
            yield report("SB301", None, "unopenable", path=paths.shown(value), why=exc.strerror or exc)
            return
        if not exists:
            near = self.near_file(target)
            if near:
                near = str(Path(value).parent / near) if Path(value).parent != Path(".") else near
            yield report("SB301", None, "not_found", path=value, hint="near" if near else None, near=near)
            return
        if not is_file:
            yield report("SB301", None, "not_a_file", path=value)
            return
        if kinds is None:
            return
        allowed = KIND_TYPES[kinds]
        ext_type = EXTENSIONS.get(resolved.suffix.lower())
        real = _sniff(resolved)
        if real is None or real not in allowed:
            shown = {"image": "PNG, JPEG or WebP", "video": "MP4 or MOV", "audio": "MP3 or WAV"}[kinds]
            yield report("SB302", None, "typed" if real else "unknown", path=value,
                         what=real and _a(TYPE_NAMES.get(real, real)), role=role or kinds + " references",
                         allowed=shown)
        elif ext_type and ext_type != real and not {ext_type, real} <= {"mp4", "mov"}:
            yield report("SB906", None, path=value, what=_a(TYPE_NAMES[real]), extension=real.replace("jpeg", "jpg"))

    def near_file(self, target: Path) -> str | None:
        """A file in the target's folder named like it (the folder is listed once)."""
        folder = target.parent
        if folder not in self.near_in_folder:
            try:
                self.near_in_folder[folder] = _NearNames(p.name for p in folder.iterdir())
            except OSError:
                self.near_in_folder[folder] = None
        near = self.near_in_folder[folder]
        return near.closest(target.name) if near else None

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
                    self.report("SB503", item.span, "first", kind=item.kind)
                    ok = False
                elif isinstance(prev_item, Transition):
                    self.report("SB504", item.span, first=prev_item.kind, second=item.kind)
                    ok = False
                if i == len(items) - 1:
                    self.report("SB503", item.span, "last", kind=item.kind)
                    ok = False
            else:
                if item.kind == "extend":
                    if item.name in self.film.cast:
                        kind = self.film.cast[item.name].member.kind
                        self.report("SB501", item.name_span, "cast", name=item.name, kind=kind,
                                    hint="cast_before" if prev_clip else "cast", before=prev_clip and prev_clip.name)
                        ok = False
                    elif item.name not in self.names and item.name not in chain:
                        near = self.near_clip_names.closest(item.name)
                        self.report("SB501", item.name_span, "unknown", name=item.name,
                                    hint="did_you_mean" if near else None, near=near)
                        ok = False
                    elif item.name not in chain:
                        before = prev_clip.name if prev_clip else None
                        self.report("SB502", item.name_span, "follows" if before else "later", name=item.name,
                                    before=before)
                        ok = False
                    elif isinstance(prev_item, Transition):
                        self.report("SB506", prev_item.span, name=item.name)
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
            self.report("SB507", t.direction_span or t.span, direction=t.direction,
                        hint="did_you_mean" if near else None, near=near)
            ok = False
        if t.seconds is not None and t.seconds <= 0:
            self.report("SB508", t.seconds_span, "not_positive", kind=t.kind)
            ok = False
        if t.kind == "morph" and not (t.text or "").strip():
            self.report("SB406", t.span, "morph", seconds=t.seconds_text or "1s")
            ok = False
        if t.seconds is not None and t.seconds > MAX_TRANSITION_SECONDS:
            self.report("SB508", t.seconds_span, "too_long", kind=t.kind, seconds=t.seconds_text)
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
                    self.report("SB505", item.seconds_span, kind=item.kind, seconds=item.seconds_text, side=side,
                                name=name, length=_s(length), half=_s(length / 2))
                    ok = False
        return ok

    # ---- clips ----
    def check_clip_lines(self, clip: Clip) -> None:
        seen: dict[str, Setting] = {}
        for line in clip.body:
            if isinstance(line, Setting):
                self.check_clip_setting(clip, line, seen)
            elif isinstance(line, Prose) and line.span:
                self.check_prose_pieces(line.pieces, line.span.column - 1)
            elif isinstance(line, Beat) and line.span:  # its continued lines (the first is text after `shot:`)
                self.check_prose_pieces([p for p in line.text.pieces if p.span and p.span.line != line.span.line],
                                        line.span.column - 1)
            if isinstance(line, Beat) and clip.kind != "scene":
                self.report("SB407", line.span, "not_in_scene", kind=clip.kind, name=clip.name)
        self.check_size_exclusion(seen, f"{clip.kind} {clip.name}")
        if clip.kind == "extend":
            for key in ("first", "last", "resolution", "ratio", "size"):
                if key in seen:
                    self.report("SB410", seen[key].span, key=key)
        self.check_duration(clip.seconds, clip.seconds_span, f"{clip.kind} {clip.name}")
        if clip.kind == "scene":
            self.check_beats(clip)

    def check_clip_setting(self, clip: Clip, line: Setting, seen: dict[str, Setting]) -> None:
        """One `key: value` line of a clip; `seen`: the clip's settings so far (this one is added)."""
        if line.key in seen:
            first = seen[line.key].span
            self.report("SB409", line.span, key=line.key, kind=clip.kind, name=clip.name,
                        hint="first_set" if first else None, line=first and first.line)
            return
        seen[line.key] = line
        if line.key in ("resolution", "ratio", "size", "seed", "audio", "model"):
            self.check_value(line)
        elif not line.value and line.key not in ("negative",):
            self.report("SB105", line.span, key=line.key)
        elif line.key in ("first", "last"):
            self.check_media(line.value, "", line.value_span, "image", role="frame images")
        elif line.key == "motion":
            self.check_media(line.value, "", line.value_span, "video")
        elif line.key == "music":
            self.check_media(line.value, "", line.value_span, "audio")

    def check_duration(self, seconds, span, what) -> None:
        lo, hi = self.limits.min_seconds, self.limits.max_seconds
        if seconds is None:
            return
        if not float(seconds).is_integer():
            self.report("SB401", span, "fraction", what=what, seconds=seconds, lower=int(seconds),
                        upper=int(seconds) + 1)
        elif not lo <= seconds <= hi:
            self.report("SB401", span, "range", what=what, seconds=int(seconds), lo=lo, hi=hi,
                        hint="too_long" if seconds > hi else "too_short", model=self.provider.model_label)

    def check_beats(self, clip: Clip) -> None:
        beats = clip.beats
        if not beats:
            self.report("SB407", clip.name_span, "no_beats", name=clip.name)
            return
        total = int(clip.seconds) if clip.seconds is not None and float(clip.seconds).is_integer() else 5
        fixed = 0.0
        for b in beats:
            if b.seconds is not None:
                if not float(b.seconds).is_integer() or b.seconds <= 0:
                    self.report("SB408", b.seconds_span, "fraction", seconds=b.seconds,
                                hint="fraction_two" if int(b.seconds) >= 1 else "fraction",
                                lower=max(int(b.seconds), 1), upper=int(b.seconds) + 1)
                fixed += b.seconds
            if not b.text.text:
                self.report("SB408", b.span, "no_text")
        free = [b for b in beats if b.seconds is None]
        if fixed > total + 1e-9:
            last = [b for b in beats if b.seconds is not None][-1]
            self.report("SB408", last.seconds_span, "too_long", fixed=_s(fixed), name=clip.name, total=total,
                        most=self.limits.max_seconds)
        elif free and (total - fixed) / len(free) < 1 - 1e-9:
            variant = ("some_left" if total > fixed else "none_left") + ("_one" if len(free) == 1 else "_many")
            self.report("SB408", free[0].span, variant, left=_s(total - fixed), name=clip.name, total=total,
                        count=len(free))

    def check_prose_pieces(self, pieces, body_indent: int) -> None:
        """Each source line of a clip's text; `body_indent`: the clip's own lines' indentation."""
        for piece in pieces:
            if not piece.span:
                continue
            m = _KEYLIKE_RE.match(piece.value)
            spoken = _BARE_DIALOGUE_RE.match(piece.value)
            if m and m.group(1) in CLIP_SETTINGS:
                # Only a continued line reads `camera:` as text: at the clip's indentation it is a setting.
                self.report("SB907", piece.span.at(0, len(m.group(1)) + 1), key=m.group(1), indent=body_indent)
            elif spoken and spoken.group(1) in self.film.cast:
                self.report("SB908", piece.span.at(0, len(spoken.group(1))), name=spoken.group(1),
                            line=paths.shown(piece.value.strip()))
            elif m:
                near = _close(m.group(1), CLIP_SETTINGS + ("shot",))
                if near:
                    self.report("SB901", piece.span.at(0, len(m.group(1))), key=m.group(1), near=near)
            d = _UNQUOTED_DIALOGUE_RE.match(piece.value)
            if d:
                self.report("SB903", piece.span, name=d.group(1))

    # ---- one generation ----
    def check_unit(self, unit: Unit, limits: bool = True) -> None:
        inputs = gather_inputs(self.film, unit)
        for m in inputs.unknown:
            near = self.near_cast.closest(m.value)
            hint = "near" if near else ("clip" if m.value in self.clip_names else "define")
            self.report("SB402", m.span, name=m.value, hint=hint, near=near)
        if not limits or inputs.unknown:
            return
        self.check_limits(unit, inputs)
        self.check_model_limits(unit, inputs)
        if unit.kind == "continue":
            first = unit.clip.setting("first")
            if first is not None:
                self.report("SB509", first.span, name=unit.name)
            elif inputs.opening_frame:
                self.report("SB902", unit.clip.name_span or unit.span, name=unit.name, previous=unit.continues_from,
                            model=self.provider.model_label)
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
            self.report("SB406", where, "length", label=_label(unit), length=len(prompt), provider=self.provider.name,
                        lo=lo, hi=hi, hint="too_long" if len(prompt) > hi else "too_short")

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
        where = t.value_span or t.span
        note = messages.note("template_set_at", where=where) if where else None
        self.diags.append(replace(d, notes=d.notes + ((note,) if note else ())))

    def check_limits(self, unit: Unit, inputs: Inputs) -> None:
        lim = self.limits
        where = unit.clip.name_span if unit.clip is not None else unit.span
        for kind, bucket, most in (("images", inputs.images, lim.max_reference_images),
                                   ("videos", inputs.videos, lim.max_reference_videos),
                                   ("audios", inputs.audios, lim.max_reference_audios)):
            if len(bucket) > most:
                self.report("SB403", where, kind, label=_label(unit), count=len(bucket), provider=self.provider.name,
                            most=most, contributions=_contributions(bucket))
        n_files = len(inputs.images) + len(inputs.videos) + len(inputs.audios) + len(inputs.frames)
        if n_files > lim.max_files:
            self.report("SB403", where, "files", label=_label(unit), count=n_files, provider=self.provider.name,
                        most=lim.max_files, contributions=_contributions(inputs.images + inputs.videos + inputs.audios))
        frames_reported = unit.kind == "extend"  # an extension's frames are SB410 already
        if inputs.frames and inputs.has_references and not frames_reported:
            frame_side = ", ".join(f"{f} frame" if i.owner in ("first", "last") else f"{f} frame from {i.owner}"
                                   for i, f in inputs.frames)
            refs = inputs.images + inputs.videos + inputs.audios
            ref_side = ", ".join(sorted({("@" + i.owner) if i.owner in self.film.cast else
                                         ("`" + i.owner + "`" if i.owner in ("motion", "music") else i.owner)
                                         for i in refs}))
            span = next((i.span for i, _ in inputs.frames if i.owner in ("first", "last")), where)
            self.report("SB404", span, label=_label(unit), frames=frame_side, references=ref_side,
                        hint="morph" if unit.kind == "morph" else "either", notes=("table",),
                        model=self.provider.model_label)
        if inputs.audios and not (inputs.images or inputs.videos):
            owners = ", ".join(sorted({i.owner for i in inputs.audios}))
            self.report("SB405", next((i.span for i in inputs.audios), where), label=_label(unit), owners=owners)


    def check_model_limits(self, unit: Unit, inputs: Inputs) -> None:
        """A resolution the unit's model does not render (a "fast" model without 1080p), at the
        `resolution:` line in force, else at the `model:` line: the server would refuse it."""
        try:
            spec = build_spec(self.film, unit, inputs, self.provider, prompt="")
        except ValueError:  # a malformed size, reported by SB103
            return
        allowed = self.provider.limits_for(spec.model).resolutions
        if spec.resolution is None or spec.resolution in allowed or spec.resolution not in self.limits.resolutions:
            return  # a pixel size, a resolution the model renders, or one SB103 reports for every model
        mine = unit.clip.first_settings if unit.clip is not None else {}
        model = mine.get("model") or self.film.settings.get("model")
        line = mine.get("resolution") or self.film.settings.get("resolution") or model
        span = (line.value_span or line.span) if line is not None else unit.span
        if span in self.model_limit_lines:
            return
        self.model_limit_lines.add(span)
        self.report("SB103", span, "model_resolution", provider=self.provider.name, value=spec.resolution,
                    model=model.value if model is not None else spec.model, choices=", ".join(allowed))


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
    return ", ".join(f"{k} ({v})" for k, v in counts.items())


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
