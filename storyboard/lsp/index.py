"""Where each name is declared and used, across the story and its includes, from the parsed
model (a broken story has the part that parsed). Built once per analysis, on first use."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..diagnostics import Span
from ..language.model import MENTION_RE, Card, CastMember, Clip, Dialogue, Include, Prose, Setting, Story, Transition
from ..language.load import Film
from .convert import contains, split_lines


@dataclass(frozen=True)
class Occurrence:
    name: str
    role: str  # "cast" | "clip" (declarations) | "mention" | "speaker" | "extend"
    span: Span  # the name only (a mention's without its `@`)

    @property
    def declares(self) -> bool:
        return self.role in ("cast", "clip")


@dataclass
class Index:
    film: Film
    occurrences: list[Occurrence] = field(default_factory=list)
    includes: list[tuple[Include, str]] = field(default_factory=list)  # (include, the file it names, as loaded)
    settings: list[tuple[Setting, str]] = field(default_factory=list)  # (setting, its block: film|cast|clip)

    def at(self, file: str, line1: int, column1: int) -> Occurrence | None:
        return next((o for o in self.occurrences if o.span.file == file and contains(o.span, line1, column1)), None)

    def declaration(self, name: str) -> Occurrence | None:
        """A cast member's declaration wins as the film's cast does (the last file that declares it)."""
        entry = self.film.cast.get(name)
        if entry is not None and entry.member.name_span is not None:
            return Occurrence(name, "cast", entry.member.name_span)
        return next((o for o in self.occurrences if o.role == "clip" and o.name == name), None)

    def uses(self, name: str, kind: str) -> list[Occurrence]:
        """Every occurrence of a cast member's (`kind` "cast") or a clip's name, declarations included."""
        roles = ("cast", "mention", "speaker") if kind == "cast" else ("clip", "extend")
        return [o for o in self.occurrences if o.name == name and o.role in roles]

    def kind_of(self, name: str) -> str | None:
        if name in self.film.cast:
            return "cast"
        if any(o.role == "clip" and o.name == name for o in self.occurrences):
            return "clip"
        return None

    def include_at(self, file: str, line1: int, column1: int) -> Include | None:
        for inc, _ in self.includes:
            span = inc.path_span or inc.span
            if span and span.file == file and span.line == line1 and column1 >= span.column:
                return inc
        return None

    def setting_at(self, file: str, line1: int, column1: int) -> tuple[Setting, str] | None:
        for s, block in self.settings:
            if s.span and s.span.file == file and contains(s.span, line1, column1):
                return s, block
        return None


def build(film: Film) -> Index:
    index = Index(film)
    for file, story in film.stories.items():
        lines = split_lines(film.sources.get(file, ""))
        _add_story(index, story, file, lines)
    return index


def _add_story(index: Index, story: Story, file: str, lines: list[str]) -> None:
    for item in story.items:
        if isinstance(item, CastMember):
            if item.name_span:
                index.occurrences.append(Occurrence(item.name, "cast", item.name_span))
            index.settings += [(f, "cast") for f in item.fields]
        elif isinstance(item, Clip):
            _add_clip(index, item, lines)
        elif isinstance(item, Transition) and item.kind == "morph" and item.span:
            index.occurrences += _morph_mentions(item, lines)
        elif isinstance(item, Include):
            index.includes.append((item, file))
        elif isinstance(item, Setting):
            index.settings.append((item, "film"))
        elif isinstance(item, Card):
            index.settings += [(f, "card") for f in item.fields]


def _add_clip(index: Index, clip: Clip, lines: list[str]) -> None:
    if clip.name_span:
        index.occurrences.append(Occurrence(clip.name, "extend" if clip.kind == "extend" else "clip", clip.name_span))
    for line in clip.body:
        if isinstance(line, Setting):
            index.settings.append((line, "clip"))
        elif isinstance(line, Dialogue):
            if line.speaker_span:
                index.occurrences.append(Occurrence(line.speaker, "speaker", line.speaker_span))
            index.occurrences += _dialogue_mentions(line, lines)
        else:
            prose = line if isinstance(line, Prose) else line.text
            index.occurrences += [Occurrence(t.value, "mention", t.span) for t in prose.mentions() if t.span]


def _mentions_in(text: str, file: str, line1: int, column1: int) -> list[Occurrence]:
    """Mentions in `text`, which starts at (line1, column1)."""
    return [Occurrence(m.group(1), "mention", Span(file, line1, column1 + m.start(1), line1, column1 + m.end(1)))
            for m in MENTION_RE.finditer(text)]


def _dialogue_mentions(d: Dialogue, lines: list[str]) -> list[Occurrence]:
    """The model keeps a dialogue line's words without their place: find them in the source."""
    span = d.span
    if span is None or not 0 < span.line <= len(lines):
        return []
    src = lines[span.line - 1]
    open_quote = src.find('"', span.column - 1)
    close_quote = src.find('"', open_quote + 1)
    if open_quote < 0 or close_quote < 0:
        return []
    return _mentions_in(src[open_quote + 1:close_quote], span.file, span.line, open_quote + 2)


_COMMENT = re.compile(r'#(?=(?:[^"]*"[^"]*")*[^"]*$)')  # a `#` outside "quotes"


def _morph_mentions(t: Transition, lines: list[str]) -> list[Occurrence]:
    """A morph's text: after the header's `:`, and its continued (indented) lines."""
    span = t.span
    if not 0 < span.line <= len(lines):
        return []
    found = []
    header = lines[span.line - 1]
    colon = header.find(":")
    if colon >= 0:
        found += _mentions_in(_code(header)[colon + 1:], span.file, span.line, colon + 2)
    for n in range(span.line + 1, len(lines) + 1):
        text = lines[n - 1]
        if text.strip() and not text[:1].isspace():
            break
        found += _mentions_in(_code(text), span.file, n, 1)
    return found


def _code(line: str) -> str:
    m = _COMMENT.search(line)
    return line[: m.start()] if m else line
