"""Read a story and the stories it includes into one `Film` (cast and settings merged).

The only file I/O before checking: reading `.story` files. Included files' cast paths are
rebased onto the main story's folder, so every later stage resolves paths in one place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import Diagnostic, Severity
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
    memo: dict = field(default_factory=dict, repr=False, compare=False)  # per-unit results (compiler)

    @property
    def timeline(self) -> list[Clip | Transition]:
        return self.story.timeline

    def setting(self, key: str) -> str | None:
        s = self.settings.get(key)
        return s.value if s else None


def load(path: Path | str) -> Film:
    """Parse `path` and its includes. Never raises for the user's mistakes: they are diagnostics.
    Raises OSError only when the main file itself cannot be read (the CLI reports that)."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    story, diags = parse(text, str(path))
    film = Film(story=story, path=path, base_dir=path.resolve().parent, sources={str(path): text},
                diagnostics=list(diags), syntax_errors=any(d.is_error for d in diags))
    for s in story.settings:
        film.setting_lists.setdefault(s.key, []).append(s)
    _merge_includes(film, story, path, chain=(path.resolve(),))
    for key, occurrences in film.setting_lists.items():  # the including file wins
        film.settings[key] = occurrences[0]
    for member in story.cast:
        film.cast[member.name] = CastEntry(member, "")
    return film


def _merge_includes(film: Film, story: Story, path: Path, chain: tuple[Path, ...]) -> None:
    for inc in story.includes:
        try:
            target = (path.parent / inc.path).resolve() if inc.path else None
            problem = _include_problem(film, inc.path, target, chain)
        except (OSError, ValueError) as exc:  # a name too long for the filesystem, a NUL byte
            target, problem = None, ("SB031", f"cannot use `{inc.path[:60]}` as an include: "
                                              f"{getattr(exc, 'strerror', None) or exc}", None)
        span = inc.path_span or inc.span
        if problem:
            film.diagnostics.append(Diagnostic(problem[0], problem[1], span, hint=problem[2]))
            continue
        try:
            text = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            film.diagnostics.append(Diagnostic("SB031", f"cannot read included file {inc.path}: {exc.strerror or exc}",
                                               span))
            continue
        shown = os.path.relpath(target)
        sub, diags = parse(text, shown)
        film.sources[shown] = text
        film.diagnostics.extend(diags)
        film.syntax_errors |= any(d.is_error for d in diags)
        # Depth first: an include's own includes lose to it.
        _merge_includes(film, sub, target, chain + (target,))
        occurrences: dict[str, list[Setting]] = {}
        for s in sub.settings:
            occurrences.setdefault(s.key, []).append(s)
        film.included_setting_lists.append(occurrences)
        for key, found in occurrences.items():  # the first occurrence counts, as in the main file
            film.settings[key] = found[0]
        rel_dir = os.path.relpath(target.parent, film.base_dir)
        rel_dir = "" if rel_dir == "." else rel_dir
        for member in sub.cast:
            prev = film.cast.get(member.name)
            if prev is not None and prev.member.span and member.span:
                film.diagnostics.append(Diagnostic(
                    "SB904", f"{member.name} is defined in both {prev.member.span.file} and {member.span.file}; "
                    f"using {member.span.file}", member.name_span, Severity.WARNING))
            film.cast[member.name] = CastEntry(member, rel_dir)
        if sub.timeline:
            first = sub.timeline[0]
            film.diagnostics.append(Diagnostic(
                "SB905", f"clips and transitions in included file {inc.path} are ignored (include imports cast and "
                "settings only)", first.span, Severity.WARNING))


def _include_problem(film: Film, written: str, target: Path | None, chain: tuple[Path, ...]):
    if not written:
        return "SB030", "include needs a path", None
    if written.startswith(("http://", "https://")):
        return "SB030", "include takes a local .story file, not a URL", None
    if not _inside(target, film.base_dir):
        return ("SB033", f"included file {written} is outside the story's folder",
                "stories may only include files in their own folder tree")
    if target in chain:
        cycle = " -> ".join(os.path.relpath(p, film.base_dir) for p in chain + (target,))
        return "SB032", f"include cycle: {cycle}", "remove one of the includes"
    if not target.is_file():
        return "SB031", f"included file not found: {written}", \
            "an include path is relative to the file that includes it"
    return None


def _inside(path: Path | None, root: Path) -> bool:
    if path is None:
        return False
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False
