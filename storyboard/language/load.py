"""Read a story and the stories it includes into one `Film` (cast and settings merged).

The only file I/O before checking: reading `.story` files. Included files' cast paths are
rebased onto the main story's folder, and every file a story names is found by the one rule of
`paths.py` (`Film.story_file`), so every stage means the same file.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .. import paths
from ..diagnostics import Diagnostic, Span, utf8_error_at
from ..messages import not_utf8, report
from .model import CastMember, Clip, Setting, Story, Transition
from .parser import parse


@dataclass(frozen=True)
class CastEntry:
    member: CastMember
    rel_dir: str  # folder of the declaring file, relative to the main story's folder ("" = same)


@dataclass
class Film:
    story: Story
    path: Path
    base_dir: Path
    settings: dict[str, Setting] = field(default_factory=dict)  # effective film settings
    setting_lists: dict[str, list[Setting]] = field(default_factory=dict)  # main file, every occurrence
    included_setting_lists: list[dict[str, list[Setting]]] = field(default_factory=list)  # one per included file
    cast: dict[str, CastEntry] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    syntax_errors: bool = False
    stories: dict[str, Story] = field(default_factory=dict)  # every file read, by its `sources` name (the editor's)
    memo: dict = field(default_factory=dict, repr=False, compare=False)  # per-unit results (compiler)

    @cached_property  # the checker's passes and the compiler each walk it (callers must not modify it)
    def timeline(self) -> list[Clip | Transition]:
        return self.story.timeline

    def setting(self, key: str) -> str | None:
        s = self.settings.get(key)
        return s.value if s else None

    def story_file(self, written: str, rel_dir: str = "") -> paths.StoryPath:
        """`written` (relative to the story's subfolder `rel_dir`) by the rule of paths.py, looked
        up once per film: the checker and the compiler ask for the same files."""
        key = ("story-file", rel_dir, written)
        if key not in self.memo:
            self.memo[key] = paths.resolve(self.base_dir, written, rel_dir)
        return self.memo[key]


Parse = Callable[[str, str], tuple[Story, list[Diagnostic]]]  # (text, path) -> what parser.parse gives


def load(path: Path | str, open_texts: Mapping[Path, str] | None = None, parse_text: Parse | None = None) -> Film:
    """Parse `path` and its includes. Never raises for the user's mistakes: they are diagnostics.
    Raises OSError only when the main file itself cannot be read (the CLI reports that).

    `open_texts` maps real paths (resolved) to the text an editor holds for them: those files are
    read from there, as they stand unsaved, and never from disk (the language server), and
    `parse_text` may stand in for `parser.parse` (one that reuses the blocks an edit left alone)."""
    path = Path(path)
    open_texts = open_texts or {}
    reading = _Reading(open_texts, parse_text or parse)
    if path.resolve() in open_texts:
        return _load_text(path, open_texts[path.resolve()], reading)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # nothing to parse: the one diagnostic, at the byte
        story, _ = parse("", str(path))
        return Film(story=story, path=path, base_dir=path.resolve().parent,
                    sources={str(path): data.decode("utf-8", errors="replace")},
                    diagnostics=[not_utf8(str(path), data, exc)], syntax_errors=True)
    return _load_text(path, text, reading)


@dataclass(frozen=True)
class _Reading:
    open_texts: Mapping[Path, str]
    parse: Parse


def _load_text(path: Path, text: str, reading: _Reading) -> Film:
    story, diags = reading.parse(text, str(path))
    film = Film(story=story, path=path, base_dir=path.resolve().parent, sources={str(path): text},
                diagnostics=list(diags), syntax_errors=any(d.is_error for d in diags), stories={str(path): story})
    for s in story.settings:
        film.setting_lists.setdefault(s.key, []).append(s)
    _merge_includes(film, story, "", chain=(path.resolve(),), reading=reading)
    for key, occurrences in film.setting_lists.items():  # the including file wins
        film.settings[key] = occurrences[0]
    for member in story.cast:
        film.cast[member.name] = CastEntry(member, "")
    return film


def _merge_includes(film: Film, story: Story, rel_dir: str, chain: tuple[Path, ...], reading: _Reading) -> None:
    """Merge the includes of `story`, a file in the story's subfolder `rel_dir` ("" = the main folder)."""
    for inc in story.includes:
        included = film.story_file(inc.path, rel_dir) if inc.path else None
        span = inc.path_span or inc.span
        problem = _include_problem(film, inc.path, included, chain, span, reading.open_texts)
        if problem:
            film.diagnostics.append(problem)
            continue
        target = included.path
        try:
            if target in reading.open_texts:
                text = reading.open_texts[target]
            else:
                data = target.read_bytes()
                text = data.decode("utf-8")
        except OSError as exc:
            film.diagnostics.append(report("SB031", span, "unreadable", path=inc.path, why=exc.strerror or exc))
            continue
        except UnicodeDecodeError as exc:
            line, column = utf8_error_at(data, exc)
            film.diagnostics.append(report("SB034", span, "included", path=inc.path, byte=data[exc.start],
                                           line=line, column=column))
            continue
        shown = os.path.relpath(target)
        sub, diags = reading.parse(text, shown)
        film.sources[shown] = text
        film.stories[shown] = sub
        film.diagnostics.extend(diags)
        film.syntax_errors |= any(d.is_error for d in diags)
        # Depth first: an include's own includes lose to it.
        sub_dir = posixpath.dirname(included.rel)
        _merge_includes(film, sub, sub_dir, chain + (target,), reading)
        occurrences: dict[str, list[Setting]] = {}
        for s in sub.settings:
            occurrences.setdefault(s.key, []).append(s)
        film.included_setting_lists.append(occurrences)
        for key, found in occurrences.items():  # the first occurrence counts, as in the main file
            film.settings[key] = found[0]
        for member in sub.cast:
            prev = film.cast.get(member.name)
            if prev is not None and prev.member.span and member.span:
                film.diagnostics.append(report("SB904", member.name_span, name=member.name,
                                               first=prev.member.span.file, second=member.span.file))
            film.cast[member.name] = CastEntry(member, sub_dir)
        if sub.timeline:
            first = sub.timeline[0]
            film.diagnostics.append(report("SB905", first.span, path=inc.path))


def _include_problem(film: Film, written: str, found: paths.StoryPath | None, chain: tuple[Path, ...],
                     span: Span | None, open_texts: Mapping[Path, str]) -> Diagnostic | None:
    if not written:
        return report("SB030", span, "no_path")
    if paths.is_url(written):
        return report("SB030", span, "url")
    if not found.ok:
        if found.outside:
            return report("SB033", span, path=paths.shown(written), reason=found.reason)
        return report("SB031", span, "refused", path=paths.shown(written), reason=found.reason)
    target = found.path
    if target in chain:
        cycle = " -> ".join(os.path.relpath(p, film.base_dir) for p in chain + (target,))
        return report("SB032", span, cycle=cycle)
    if target in open_texts:  # an editor's buffer, perhaps never saved
        return None
    try:
        is_file = target.is_file()
    except OSError as exc:  # e.g. a name longer than the filesystem allows
        return report("SB031", span, "unopenable", path=paths.shown(written), why=exc.strerror or exc)
    if not is_file:
        return report("SB031", span, "not_found", path=written)
    return None
