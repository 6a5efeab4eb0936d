"""`storyboard import SCRIPT.fountain`: a Fountain screenplay (https://fountain.io) as a `.story` draft.

The screenplay is parsed by `fountain-py` (PyPI `fountain-py`, MIT, imported as `fountain`).
Compared on one script that uses every construct (title page, INT./EXT. and forced `.` headings,
extensions, dual dialogue, lyrics, centered text, page breaks, notes, boneyard, emphasis):

- fountain-py 0.3 (released 2026, no dependencies): every construct right, each element with its
  source line (so a problem can be shown at its place), extensions and forced marks as metadata,
  dual dialogue as one element with both sides, notes and boneyard removed (and an unclosed one
  reported by its validation API), emphasis stripped into spans. Two gaps, fixed up below:
  a cue in non-ASCII capitals (`ZOË`) is read as action, and two extensions (`(V.O.) (CONT'D)`)
  come back as one string `V.O.) (CONT'D`.
- screenplain 0.12 (2026, needs reportlab): no line numbers, lyrics left as dialogue starting
  with `~`, `FADE OUT.` read as action, extensions left in the character's name.
- screenplay-tools 0.0.10 (2026) and fountain-tools 0.0.7 (its predecessor, same author): no
  line numbers, boneyard and notes leak into the text as `/*0*/` and `[[0]]` markers, `FADE OUT.`
  read as action.
- fountain-parser 0.1 (2026): notes kept in the action, lyrics read as dialogue, emphasis
  markers left in; jouvence 0.4 (2020, unmaintained): dual dialogue and cues with an apostrophe
  read as action.

How the screenplay maps to the story (docs: README, "Importing a screenplay"):
- the title page: `title:` and comments; sections and synopses: comments;
- each scene heading: a clip (a `scene` whose beats are the action paragraphs when it has more
  than one, else a `shot`), opened by a line naming the heading's place, interior or exterior and
  time of day; its location: a `place`; content before the first heading: a clip `opening`;
- each character who speaks: a `character`, with an `image:` to draw; their name in action is a
  mention; dialogue: dialogue lines, parentheticals, extensions, lyrics and dual dialogue as how
  the line is spoken;
- transitions: `cut`, `dissolve 1s`, `fade 1s`, `wipe left 1s` (the screenplay's words kept as
  a comment); notes, boneyard, page breaks and emphasis: dropped;
- durations: action at ACTION_WORDS_PER_SECOND, speech at storyboard.speech's normal rate (the
  one `check` times dialogue by), each clip 4 to 15 seconds; a longer scene (or one with more
  speakers than a clip can show) is split into several clips, with a comment saying so.
The result is formatted by `storyboard fmt` itself, so `fmt --check` holds on it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Diagnostic, Span
from .language.fmt import format_source
from .messages import not_utf8, report
from .names import title_file_stem
from .speech import speaking_seconds
from .providers.preview import PreviewProvider
from .scaffold import Placeholder, latin_words, slug

LIMITS = PreviewProvider.limits  # `check`'s by default: the draft is made to pass it
# About 500 pages. Importing 1 MB (5,000 scenes) takes about 6 s of CPU here, 2 s of it in fountain-py.
MAX_SCRIPT_BYTES = 1024 * 1024
ACTION_WORDS_PER_SECOND = 3.0  # a line of action (about 10 words) is 3 to 4 seconds of screen time
PAUSE_PER_LINE = 0.5  # between two speeches
MIN_ACTION_SECONDS = 2.0  # any paragraph of action is on screen long enough to be seen
MAX_IMAGES = LIMITS.max_reference_images  # each cast member sends one picture
# Characters of screenplay text in one piece and in one clip: the prompt (with its who-is-who
# lines) must stay under LIMITS.max_prompt even when the words are very long.
MAX_PIECE_CHARS, MAX_CLIP_CHARS = 600, 1800
MIN_SECONDS, MAX_SECONDS = LIMITS.min_seconds, LIMITS.max_seconds

_PREFIX_RE = re.compile(r"^(INT\.?\s*/\s*EXT|EXT\.?\s*/\s*INT|I\s*/\s*E|E\s*/\s*I|INT|EXT|EST)\b\.?\s*", re.I)
_SETTINGS = {"INT": "Interior", "EXT": "Exterior", "EST": "Establishing shot"}
_TIME_WORDS = {"DAY", "NIGHT", "DAWN", "DUSK", "MORNING", "AFTERNOON", "EVENING", "SUNSET", "SUNRISE", "NOON",
               "MIDNIGHT", "LATER", "MOMENTS", "CONTINUOUS", "SAME", "MAGIC", "EARLY", "LATE", "TWILIGHT", "MOVING"}
_CONTINUITY = {"CONTINUOUS", "LATER", "MOMENTS LATER", "SAME", "SAME TIME", "A MOMENT LATER", "MOVING"}
# Forced headings that name no location ("FLASHBACK"): a clip, but no place.
_NOT_PLACES = {"FLASHBACK", "END FLASHBACK", "MONTAGE", "END MONTAGE", "SERIES OF SHOTS", "INTERCUT", "BACK TO SCENE",
               "DREAM SEQUENCE", "TITLE CARD", "TITLE SEQUENCE", "OPENING CREDITS", "END CREDITS", "BLACK",
               "BLACK SCREEN", "LATER", "CONTINUOUS", "SUPER"}
_EXTENSIONS = {"V.O.": "voice-over", "VO": "voice-over", "V.O": "voice-over", "O.S.": "off-screen", "OS": "off-screen",
               "O.S": "off-screen", "O.C.": "off-screen", "OC": "off-screen", "CONT'D": None, "CONT\u2019D": None,
               "CONT.": None, "CONTD": None, "CONTINUING": None}
_SPLIT_DASH_RE = re.compile(r"\s+[-\u2013\u2014]+\s+")
_WIDE_RE = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]")
_SENTENCE_RE = re.compile(r"(?<=[.!?\u2026\u3002\uff01\uff1f])\s+")
# Lines a clip would read as something other than prose (docs/language.md, "File layout").
_NOT_PROSE_RE = re.compile(r"^(?:(?:camera|sound|first|last|motion|music|audio|resolution|ratio|size|seed|model|"
                           r"negative)\s*:|shot(?:\s+[0-9.]+s)?\s*:)")
_LOOKS_LIKE_DIALOGUE_RE = re.compile(r"^(@[A-Za-z_][A-Za-z0-9_-]*\s*(?:\([^)]*\))?\s*):")
_STRAY_AT_RE = re.compile(r"(?<![\w@])@(?=[A-Za-z_])")
_CONTROL_RE = re.compile("[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")


class ScriptError(Exception):
    """The screenplay cannot be imported: its diagnostics (errors), rendered with `source`."""

    def __init__(self, diagnostics: list[Diagnostic], source: str):
        super().__init__(diagnostics[0].message)
        self.diagnostics = diagnostics
        self.source = source


# ---- reading the file ---------------------------------------------------------------------------

def read_script(path: Path, shown: str) -> str:
    """The screenplay's text, newlines normalised. Raises ScriptError for a file that is too
    large, binary or not UTF-8 (UTF-8 with a BOM and UTF-16 with a BOM are read); OSError if it
    cannot be read."""
    size = path.stat().st_size
    if size > MAX_SCRIPT_BYTES:
        with open(path, "rb") as fh:  # the first line, to show under the message
            head = fh.read(4096).decode("utf-8", errors="replace")
        raise ScriptError([report("SB051", Span(shown, 1, 1), size=_megabytes(size),
                                  most=_megabytes(MAX_SCRIPT_BYTES))], head)
    text = _decode(path.read_bytes(), shown)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL_RE.sub(" ", text)  # fountain-py uses control characters as its own marks


def _megabytes(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB"


def _decode(data: bytes, shown: str) -> str:
    """UTF-16 with its BOM, else UTF-8 (a BOM dropped); a NUL byte makes it binary (as git decides)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            pass  # not UTF-16 after all: binary, or reported at its first bad byte below
        else:
            if "\x00" not in text:
                return text
    if b"\x00" in data:
        text = data.decode("utf-8", errors="replace")
        line, column = _position(text, text.index("\x00"))
        raise ScriptError([report("SB050", Span(shown, line, column, line, column + 1))],
                          text.replace("\x00", "\ufffd"))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScriptError([not_utf8(shown, data, exc)], data.decode("utf-8", errors="replace")) from None


def _position(text: str, index: int) -> tuple[int, int]:
    before = text[:index].replace("\r\n", "\n").replace("\r", "\n")
    return before.count("\n") + 1, len(before) - before.rfind("\n")


# ---- the screenplay as scenes -------------------------------------------------------------------

@dataclass
class Heading:
    text: str  # as written, without its scene number
    line: int
    setting: str | None  # Interior, Exterior, ...; None for a forced heading without a prefix
    location: str | None
    time: str | None
    number: str | None


@dataclass
class Unit:
    """One piece of a scene, in order: a paragraph of action, a spoken line or a comment."""

    kind: str  # action | line | comment
    text: str
    line: int
    speaker: str | None = None  # the speaker's key (their name in capitals)
    how: str | None = None

    @property
    def seconds(self) -> float:
        if self.kind == "action":
            return max(MIN_ACTION_SECONDS, _words(self.text) / ACTION_WORDS_PER_SECOND)
        if self.kind == "line":
            return speaking_seconds(self.text) + PAUSE_PER_LINE
        return 0.0


@dataclass
class SceneDraft:
    heading: Heading | None
    units: list[Unit] = field(default_factory=list)
    continued: bool = False  # action after a transition or a section, under the heading before it


@dataclass
class TransitionDraft:
    text: str
    line: int


@dataclass
class CommentDraft:
    text: str


@dataclass
class Speaker:
    key: str
    cue: str  # as first written
    line: int


def _words(text: str) -> float:
    wide = len(_WIDE_RE.findall(text))
    return len(_WIDE_RE.sub(" ", text).split()) + wide / 2  # about two CJK characters a word


@dataclass
class _Reader:
    """Walks fountain-py's elements into scenes, transitions and comments, in order."""

    items: list = field(default_factory=list)
    speakers: dict[str, Speaker] = field(default_factory=dict)
    scene: SceneDraft | None = None
    speaker: str | None = None  # the key of the last cue, while its dialogue goes on
    cue_at: tuple[str, int] = ("", 0)  # the last cue as written, and its line
    extension: list[str] = field(default_factory=list)
    how: str | None = None
    joinable: Unit | None = None  # the line the next line of dialogue continues

    def unit(self, unit: Unit) -> None:
        if self.scene is None:  # the scene goes on after a transition or a section, at its place
            self.scene = SceneDraft(self.last_heading, continued=self.last_heading is not None)
            self.items.append(self.scene)
        self.scene.units.append(unit)

    @property
    def last_heading(self) -> Heading | None:
        return next((it.heading for it in reversed(self.items) if isinstance(it, SceneDraft)), None)

    def top(self, item) -> None:
        self.scene = None
        self.speaker = None
        self.items.append(item)

    def cue(self, name: str, extension: str | None, line: int) -> None:
        self.speaker, self.how = " ".join(name.split()).upper(), None
        self.cue_at = (" ".join(name.split()), line)
        self.extension = [e.strip() for e in re.split(r"\)\s*\(", extension or "") if e.strip()]

    def spoken(self, text: str, line: int, *extra: str) -> None:
        if self.speaker is None:  # dialogue with no cue: read as action
            self.unit(Unit("action", text, line))
            return
        if self.joinable is not None and not extra:  # one speech over several lines
            self.joinable.text += f" {text}"
            return
        self.speakers.setdefault(self.speaker, Speaker(self.speaker, *self.cue_at))  # a cue alone is no speaker
        how = [_extension_words(e) for e in self.extension] + [self.how or "", *extra]
        self.unit(Unit("line", text, line, self.speaker, ", ".join(h for h in how if h) or None))
        self.how = None
        self.joinable = None if extra else self.scene.units[-1]


def _extension_words(extension: str) -> str | None:
    key = extension.strip().upper()
    return _EXTENSIONS[key] if key in _EXTENSIONS else extension.strip().lower()


def scenes(elements) -> tuple[list, dict[str, Speaker]]:
    """fountain-py's elements as scenes (SceneDraft), transitions and comments, and who speaks."""
    r = _Reader()
    for e in elements:
        kind = e.type.value
        if kind not in ("dialogue", "note"):
            r.joinable = None
        _read(r, kind, e)
    return r.items, r.speakers


def _read(r: _Reader, kind: str, e) -> None:
    if kind == "scene_heading":
        r.top(SceneDraft(heading(e.text, e.line_number, e.metadata.get("scene_number"))))
        r.scene = r.items[-1]
    elif kind in ("action", "centered"):
        r.speaker = None
        if not any(ch.isalnum() for ch in e.text) or len("".join(e.text.split())) < LIMITS.min_prompt:
            return  # `...`, `--`, `X`: nothing to see, and too short a prompt on its own
        text = f"Centered on screen, the words \u201c{e.text}\u201d." if kind == "centered" else e.text
        r.unit(Unit("action", text, e.line_number))
    elif kind == "character":
        r.cue(e.text, e.metadata.get("extension"), e.line_number)
    elif kind == "parenthetical":
        r.how = e.text.strip().strip("()").strip()
    elif kind == "dialogue":
        r.spoken(e.text, e.line_number)
    elif kind == "lyrics":
        _lyrics(r, e)
    elif kind == "dual_dialogue":
        _dual(r, e.metadata)
    elif kind == "transition":
        r.top(TransitionDraft(e.text, e.line_number))
    elif kind == "section":
        level = e.metadata.get("level", 1)
        r.top(CommentDraft(f"section{f' (level {level})' if level != 1 else ''}: {e.text}"))
    elif kind == "synopsis":
        if r.scene is None:
            r.items.append(CommentDraft(f"synopsis: {e.text}"))
        else:
            r.unit(Unit("comment", f"synopsis: {e.text}", e.line_number))
    # notes, boneyard, page breaks, the title page: nothing to import


def _lyrics(r: _Reader, e) -> None:
    """Consecutive lyric lines of one singer are one sung line (`a / b`)."""
    last = r.scene.units[-1] if r.scene and r.scene.units else None
    if last is not None and last.kind == "line" and last.speaker == r.speaker and last.how and "singing" in last.how:
        last.text += f" / {e.text}"
    elif r.speaker is not None:
        r.spoken(e.text, e.line_number, "singing")
    else:
        r.unit(Unit("action", f"Someone sings \u201c{e.text}\u201d.", e.line_number))


def _dual(r: _Reader, meta: dict) -> None:
    """Both sides of dual dialogue, each spoken "at the same time"."""
    for side in ("left", "right"):
        cue = meta.get(f"{side}_character")
        if cue is None:
            continue
        r.cue(cue.text, cue.metadata.get("extension"), cue.line_number)
        for part in meta.get(f"{side}_dialogue", []):
            if part.type.value == "parenthetical":
                r.how = part.text.strip().strip("()").strip()
            else:
                r.spoken(part.text, part.line_number, "at the same time")
    r.speaker = None


def heading(text: str, line: int, number: str | None) -> Heading:
    """`INT. LIGHTHOUSE - LAMP ROOM - NIGHT` -> Interior, `LIGHTHOUSE - LAMP ROOM`, `NIGHT`."""
    m = _PREFIX_RE.match(text)
    setting = None
    rest = text
    if m:
        prefix = re.sub(r"[\s.]", "", m.group(1)).upper()
        setting = _SETTINGS.get(prefix, "Interior and exterior")
        rest = text[m.end():]
    parts = [p.strip(" .") for p in _SPLIT_DASH_RE.split(rest.strip()) if p.strip(" .")]
    time = None
    if len(parts) > 1 and parts[-1].split()[0].upper().strip(".,") in _TIME_WORDS:
        time = parts.pop()
    location = " - ".join(parts) or None
    if location and setting is None and location.upper() in _NOT_PLACES:
        location = None
    return Heading(text, line, setting, location, time, number)


# ---- fix-ups of fountain-py ------------------------------------------------------------------------

def fix_up(elements) -> list:
    """fountain-py's elements with one gap filled: an action paragraph that starts with a cue in
    non-ASCII capitals (`ZOË (O.S.)`) followed by lines is that character's dialogue. (The other,
    two extensions read as one `V.O.) (CONT'D`, is split where cues are read: `_Reader.cue`.)"""
    out = []
    for e in elements:
        if e.type.value == "action" and (cue := _non_ascii_cue(e.text)) is not None:
            out += _as_dialogue(e, *cue)
        else:
            out.append(e)
    return out


def _non_ascii_cue(text: str) -> tuple[str, str | None] | None:
    first, _, rest = text.partition("\n")
    m = re.fullmatch(r"\s*([^()]+?)\s*((?:\([^()]*\)\s*)*)\^?\s*", first)
    if not rest.strip() or m is None:
        return None
    name = m.group(1)
    if name.isascii() or name != name.upper() or not any(ch.isalpha() for ch in name) or not name[0].isalpha():
        return None  # fountain-py decided about every ASCII cue itself
    extensions = re.findall(r"\(([^()]*)\)", m.group(2))
    return name, ") (".join(extensions) or None


def _as_dialogue(e, name: str, extension: str | None) -> list:
    from fountain.elements import ElementType, FountainElement

    meta = {"extension": extension} if extension else {}
    out = [FountainElement(ElementType.CHARACTER, name, [], e.line_number, meta)]
    for i, line in enumerate(e.text.split("\n")[1:], start=1):
        stripped = line.strip()
        if not stripped:
            continue
        aside = stripped.startswith("(") and stripped.endswith(")")
        kind = ElementType.PARENTHETICAL if aside else ElementType.DIALOGUE
        out.append(FountainElement(kind, stripped, [], e.line_number + i, {}))
    return out


def plain_title(value: str) -> str:
    """A title page value as plain text: lines joined, emphasis markers gone (`_**A**_` -> `A`)."""
    from fountain import FountainParser

    joined = " ".join(line.strip() for line in value.split("\n") if line.strip())
    if not joined:
        return ""
    parsed = FountainParser().parse("!" + joined).elements
    return parsed[0].text.strip() if parsed else joined


# ---- names --------------------------------------------------------------------------------------

class Names:
    """One namespace for cast and clips (as `check` wants), and unique picture paths."""

    def __init__(self) -> None:
        self.taken: set[str] = set()
        self.paths: set[str] = set()

    def claim(self, wanted: str, sep: str = "") -> str:
        name, n = wanted, 2
        while name in self.taken:
            name, n = f"{wanted}{sep}{n}", n + 1
        self.taken.add(name)
        return name

    def picture(self, folder: str, name: str) -> str:
        base = "-".join(w.lower() for w in re.findall(r"[A-Z]+(?![a-z])|[A-Z]?[a-z0-9]+|[0-9]+", name)) or "picture"
        path, n = f"{folder}/{base}.png", 2
        while path.lower() in self.paths:
            path, n = f"{folder}/{base}-{n}.png", n + 1
        self.paths.add(path.lower())
        return path


def identifier(text: str, fallback: str) -> str:
    """A cast name from the screenplay's words: `OLD KEEPER` -> `OldKeeper`, `MARY O'NEIL` ->
    `MaryOneil`, `ÉLODIE` -> `Elodie`; a name with no Latin letters -> `fallback`."""
    words = latin_words(text)[:5]
    name = "".join(w.capitalize() if w.isupper() or w.islower() else w for w in words)
    if not name:
        return fallback
    return f"_{name}" if name[0].isdigit() else name


@dataclass
class Member:
    kind: str  # character | place
    name: str
    image: str
    description: str | None
    about: str  # the comment above its block


@dataclass
class Cast:
    names: Names
    characters: dict[str, Member] = field(default_factory=dict)  # speaker key -> member
    places: dict[tuple[str, str], Member] = field(default_factory=dict)  # place_key -> member
    # locations seen both inside and outside (INT. HOUSE, EXT. HOUSE): two places
    inside_and_out: set[str] = field(default_factory=set)

    def place_key(self, h: Heading) -> tuple[str, str]:
        loc = " ".join((h.location or "").split()).upper()
        return loc, (h.setting or "") if loc in self.inside_and_out else ""

    def place_of(self, h: Heading | None) -> Member | None:
        return None if h is None or h.location is None else self.places.get(self.place_key(h))

    @property
    def members(self) -> list[Member]:
        return [*self.characters.values(), *self.places.values()]


def name_cast(items: list, speakers: dict[str, Speaker]) -> Cast:
    """A character for each speaker (in the order they first speak), a place for each location."""
    cast = Cast(Names())
    for i, s in enumerate(speakers.values(), start=1):
        name = cast.names.claim(identifier(s.cue, f"Character{i}"))
        cast.characters[s.key] = Member("character", name, cast.names.picture("cast", name), None,
                                        f"{s.cue}: speaks first at line {s.line} of the screenplay")
    headings = [it.heading for it in items if isinstance(it, SceneDraft) and it.heading and it.heading.location]
    settings: dict[str, set[str]] = {}
    for h in headings:
        settings.setdefault(cast.place_key(h)[0], set()).add(h.setting or "")
    cast.inside_and_out = {loc for loc, s in settings.items() if {"Interior", "Exterior"} <= s}
    for h in headings:
        key = cast.place_key(h)
        if key in cast.places:
            continue
        suffix = {"Interior": " Interior", "Exterior": " Exterior"}.get(key[1], "")
        name = cast.names.claim(identifier(h.location + suffix, f"Place{len(cast.places) + 1}"))
        description = _description(h.location)
        cast.places[key] = Member("place", name, cast.names.picture("places", name),
                                  None if description == name else description,
                                  f"{h.text}: first at line {h.line} of the screenplay")
    return cast


def _description(location: str) -> str:
    """`LIGHTHOUSE - LAMP ROOM` -> `Lighthouse, Lamp Room`."""
    return clean(_capitalised(location.replace(" - ", ", ")))


# ---- text the story can hold ------------------------------------------------------------------------

def clean(text: str, quoted: bool = False) -> str:
    """Free text that reads back as itself in a story line: one line; straight double quotes
    become curly ones (a `"` must close on its line), `#` (a comment, unless `quoted`) becomes
    `＃`, and an `@` before a word that is not a mention becomes `＠`."""
    text = " ".join(text.split())
    out, opening = [], True
    for ch in text:
        if ch == '"':
            out.append("\u201c" if opening else "\u201d")
            opening = not opening
        else:
            out.append(ch)
    text = _STRAY_AT_RE.sub("\uff20", "".join(out))
    return text if quoted else text.replace("#", "\uff03")


def prose_line(text: str) -> str:
    """A prose line that cannot read as a clip setting, a beat or dialogue."""
    if _NOT_PROSE_RE.match(text):
        text = text[0].upper() + text[1:]
    return _LOOKS_LIKE_DIALOGUE_RE.sub("\\1 \u2014", text)


def how_words(how: str) -> str:
    return clean(how).replace("(", ",").replace(")", ",").strip(" ,")


class Mentions:
    """Names of speaking characters in action become mentions, while the clip's pictures last."""

    def __init__(self, cast: Cast):
        forms: dict[str, str] = {}  # `OLD KEEPER` and `Old Keeper` -> OldKeeper
        for key, member in cast.characters.items():
            for form in (key, _capitalised(key)):
                forms.setdefault(form, member.name)
        self.forms = forms
        ordered = sorted(forms, key=len, reverse=True)
        self.regex = re.compile(r"(?<![\w@\uff20])(" + "|".join(map(re.escape, ordered)) + r")(?![\w-])") \
            if ordered else None

    def rewrite(self, text: str, used: set[str], budget: int) -> str:
        if self.regex is None:
            return text

        def one(m: re.Match) -> str:
            name = self.forms[m.group(1)]
            if name in used or len(used) < budget:
                used.add(name)
                return f"@{name}"
            return m.group(1)

        return self.regex.sub(one, text)


def _capitalised(cue: str) -> str:
    """`MARY-ANN O'NEIL` -> `Mary-Ann O'Neil`: how a name reads in prose."""
    return re.sub(r"[^\W\d_]+", lambda m: m[0].capitalize(), cue)


# ---- clips --------------------------------------------------------------------------------------

@dataclass
class ClipDraft:
    name: str
    seconds: int
    units: list[Unit]
    scene: SceneDraft
    part: int
    parts: int
    estimate: float  # the whole scene's, in seconds

    @property
    def actions(self) -> list[Unit]:
        return [u for u in self.units if u.kind == "action"]


def pieces(unit: Unit) -> list[Unit]:
    """A unit short enough for one clip, or its sentences (or words) in pieces that are."""
    def fits(text: str) -> bool:
        return Unit(unit.kind, text, unit.line).seconds <= MAX_SECONDS and len(text) <= MAX_PIECE_CHARS

    if fits(unit.text):
        return [unit]
    parts: list[str] = []
    for sentence in _SENTENCE_RE.split(unit.text):
        if fits(sentence):
            parts.append(sentence)
        else:  # a sentence too long for one clip: its words (a word too long: its characters)
            words = [w[i:i + MAX_PIECE_CHARS] for w in sentence.split() for i in range(0, len(w), MAX_PIECE_CHARS)]
            parts += _packed(words, fits)
    return [Unit(unit.kind, text, unit.line, unit.speaker, unit.how) for text in _packed(parts, fits)]


def _packed(parts: list[str], fits) -> list[str]:
    """Consecutive parts joined while the result fits."""
    out: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current} {part}".strip()
        if current and not fits(candidate):
            out.append(current)
            candidate = part
        current = candidate
    return [*out, current] if current else out


def split(scene: SceneDraft, cast: Cast) -> list[list[Unit]]:
    """The scene's units in runs that fit one clip: at most MAX_SECONDS, and speakers (plus the
    place) within the pictures one clip may send."""
    base = 1 if cast.place_of(scene.heading) else 0
    runs: list[list[Unit]] = [[]]
    seconds, chars, speakers = 0.0, 0, set()
    for unit in (p for u in scene.units for p in pieces(u)):
        new = {unit.speaker} if unit.speaker else set()
        content = any(u.kind != "comment" for u in runs[-1])
        full = (seconds + unit.seconds > MAX_SECONDS or chars + len(unit.text) > MAX_CLIP_CHARS
                or base + len(speakers | new) > MAX_IMAGES)
        if content and full:
            runs.append([])
            seconds, chars, speakers = 0.0, 0, set()
        runs[-1].append(unit)
        seconds, chars, speakers = seconds + unit.seconds, chars + len(unit.text), speakers | new
    return runs


def clip_seconds(units: list[Unit]) -> int:
    return min(MAX_SECONDS, max(MIN_SECONDS, math.ceil(sum(u.seconds for u in units) - 1e-9)))


def clips_of(scene: SceneDraft, cast: Cast) -> list[ClipDraft]:
    h = scene.heading
    wanted = "opening" if h is None else slug(h.location or h.text, "scene")
    if wanted[0].isdigit():  # a name starts with a letter (`221B BAKER STREET`)
        wanted = f"scene-{wanted}"
    runs = split(scene, cast)
    estimate = sum(u.seconds for u in scene.units)
    return [ClipDraft(cast.names.claim(wanted, "-"), clip_seconds(run), run, scene, i, len(runs), estimate)
            for i, run in enumerate(runs, start=1)]


def beat_seconds(clip: ClipDraft) -> list[int | None]:
    """Whole seconds for each beat but the last (which takes what is left): each beat's share of
    the clip, by the action and the speech up to the next beat; at least 1 s each."""
    spans: list[float] = []
    for u in clip.units:
        if u.kind == "action":
            spans.append(u.seconds)
        elif spans:
            spans[-1] += u.seconds
    total = sum(spans)
    timed = [max(1, round(s * clip.seconds / total)) for s in spans[:-1]]
    while sum(timed) > clip.seconds - 1:  # leave the last beat at least 1 s
        timed[timed.index(max(timed))] -= 1
    return [*timed, None]


# ---- the story text -------------------------------------------------------------------------------

_TRANSITIONS = ((re.compile(r"DISSOLVE"), "dissolve 1s"), (re.compile(r"FADE (OUT|TO)|FADE\.?$|TO BLACK"), "fade 1s"),
                (re.compile(r"WIPE"), "wipe left 1s"), (re.compile(r"CUT|TO:"), "cut"))


def transition_line(text: str) -> str | None:
    """The story's transition for a screenplay's (`DISSOLVE TO:` -> `dissolve 1s`), or None (`FADE IN:`)."""
    upper = text.upper()
    if re.match(r"FADE IN", upper):
        return None
    return next((line for regex, line in _TRANSITIONS if regex.search(upper)), "cut")


@dataclass
class Draft:
    """What `import` made: the story's text, its cast, the pictures it names, and notes."""

    text: str
    clips: int
    split_scenes: int
    cast: Cast
    warnings: list[Diagnostic]  # about the screenplay: render them with `source`
    source: str  # the screenplay's text, as read

    @property
    def pictures(self) -> list[Placeholder]:
        return [Placeholder(m.image, m.name, m.kind) for m in self.cast.members]


def _header(script_name: str, title: str, meta: dict) -> list[str]:
    lines = [f"# Imported from the screenplay {script_name} by `storyboard import`: a draft to edit.",
             "# Draw the picture each `image:` names (`storyboard import --placeholders` draws stand-ins),",
             "# give each character a `description:` (who they are, how they look), then run `storyboard check`.",
             "# Durations are estimated from the length of the action and the dialogue."]
    for key, value in meta.items():
        if key != "title" and isinstance(value, str) and value.strip():
            lines.append(f"# {key.capitalize()}: {' / '.join(v.strip() for v in value.splitlines() if v.strip())}")
    return lines + [f"title: {clean(title)}", "resolution: 720p", "ratio: 16:9",
                    "# style: the look every clip shares, e.g. 35mm film, natural light, muted colours", ""]


def _cast_lines(cast: Cast) -> list[str]:
    lines = []
    for m in cast.members:
        lines += [f"# {clean(m.about)}", f"{m.kind} {m.name}:", f"  image: {m.image}"]
        if m.description:
            lines.append(f"  description: {m.description}")
        lines.append("")
    return lines


def _heading_prose(h: Heading | None, place: Member | None) -> str | None:
    if h is None:
        return None
    where = f"@{place.name}" if place else clean(_capitalised(h.location or h.text))
    parts = [h.setting, where] if h.setting else [where]
    if h.time and h.time.upper() not in _CONTINUITY:
        parts.append(clean(h.time.lower()))
    return ", ".join(parts) + "."


def _clip_comments(clip: ClipDraft) -> list[str]:
    h = clip.scene.heading
    if h is None:
        label = "before the first scene heading"
    else:
        label = f"{h.number + '. ' if h.number else ''}{h.text} (line {h.line}){', continued' * clip.scene.continued}"
    if clip.parts == 1:
        return [f"# {clean(label)}"]
    speakers = len({u.speaker for u in clip.scene.units if u.speaker})
    if clip.estimate > MAX_SECONDS:
        why = f"about {round(clip.estimate)}s, more than one clip's {MAX_SECONDS}s"
    elif speakers + 1 > MAX_IMAGES:
        why = f"more speakers than the {MAX_IMAGES} pictures one clip can send"
    else:
        why = "more text than one prompt can hold"
    return [f"# {clean(label)}, part {clip.part} of {clip.parts}: split, {why}"]


def clip_lines(clip: ClipDraft, cast: Cast, mentions: Mentions) -> list[str]:
    place = cast.place_of(clip.scene.heading)
    used = {place.name} if place else set()
    used |= {cast.characters[u.speaker].name for u in clip.units if u.speaker}
    scene = len(clip.actions) > 1
    lines = _clip_comments(clip) + [f"{'scene' if scene else 'shot'} {clip.name} {clip.seconds}s:"]
    opening = _heading_prose(clip.scene.heading, place)
    if opening:
        lines.append(f"  {opening}")
    beats = iter(beat_seconds(clip)) if scene else None
    for u in clip.units:
        lines.append("  " + _unit_line(u, cast, mentions, used, beats))
    return lines


def _unit_line(u: Unit, cast: Cast, mentions: Mentions, used: set[str], beats) -> str:
    if u.kind == "comment":
        return f"# {' '.join(u.text.split())}"
    if u.kind == "line":
        how = how_words(u.how) if u.how else ""
        said = clean(u.text, quoted=True).replace("\u201c", "\u2018").replace("\u201d", "\u2019")
        return f"@{cast.characters[u.speaker].name}{f' ({how})' if how else ''}: \"{said}\""
    text = mentions.rewrite(clean(u.text), used, MAX_IMAGES)
    if beats is None:
        return prose_line(text)
    seconds = next(beats)
    return f"shot{f' {seconds}s' if seconds else ''}: {text}"


def _timeline(items: list, cast: Cast) -> tuple[list, int]:
    """Clips and transitions in order: a transition stands only between two clips and never next
    to another; the ones that cannot are kept as comments, where they were."""
    out: list = []
    splits = 0
    pending: int | None = None  # where the last transition stands while no clip has followed it
    for it in items:
        if isinstance(it, SceneDraft):
            made = clips_of(it, cast)
            splits += len(made) > 1
            pending = None
            out += made
        elif isinstance(it, TransitionDraft):
            first = not any(isinstance(o, ClipDraft) for o in out)
            if pending is not None or first or transition_line(it.text) is None:
                out.append(CommentDraft(f"{clean(it.text)} (line {it.line}): no transition here"))
            else:
                pending = len(out)
                out.append(it)
        else:
            out.append(it)
    if pending is not None:
        end = out[pending]
        out[pending] = CommentDraft(f"{clean(end.text)} (line {end.line}): the end")
    return out, splits


def draft(text: str, script_name: str, fallback_title: str) -> Draft:
    """The story for a screenplay's text. Raises ScriptError when there is nothing to import."""
    from fountain import FountainParser

    doc = FountainParser().parse(text)
    warnings = _structure_warnings(doc.issues, text, script_name)
    items, speakers = scenes(fix_up(doc.elements))
    if not any(isinstance(it, SceneDraft) for it in items):
        raise ScriptError([_nothing_to_import(text, doc.metadata, script_name)] + warnings, text)
    title = plain_title(str(doc.metadata.get("title", "")))
    if not title or title_file_stem(title) is None:
        title = fallback_title
    cast = name_cast(items, speakers)
    timeline, splits = _timeline(items, cast)
    mentions = Mentions(cast)
    lines = _header(script_name, title, doc.metadata) + _cast_lines(cast)
    for it in timeline:
        if isinstance(it, ClipDraft):
            lines += clip_lines(it, cast, mentions) + [""]
        elif isinstance(it, TransitionDraft):
            lines += [f"{transition_line(it.text)}  # {clean(it.text)}", ""]
        else:
            lines += [f"# {' '.join(it.text.split())}", ""]
    story = "\n".join(lines).rstrip("\n") + "\n"
    formatted, diags = format_source(story, "<imported>")
    if formatted is None:  # a bug here: say so rather than write a story that does not read
        raise RuntimeError(f"the imported story does not read back: {diags[0].message if diags else '?'}")
    return Draft(formatted, sum(isinstance(it, ClipDraft) for it in timeline), splits, cast, warnings, text)


def _nothing_to_import(text: str, meta: dict, shown: str) -> Diagnostic:
    if not text.strip():
        return report("SB052", Span(shown, 1, 1), "empty")
    if meta:
        first = next(i for i, line in enumerate(text.split("\n"), start=1) if line.strip())
        return report("SB052", Span(shown, first, 1, first, len(text.split("\n")[first - 1]) + 1), "title_only")
    return report("SB052", Span(shown, 1, 1), "nothing")


def _structure_warnings(issues, text: str, shown: str) -> list[Diagnostic]:
    """fountain-py's unclosed boneyard (the rest is dropped) and notes (kept as text), at their place."""
    out = []
    lines = text.split("\n")
    for issue in issues:
        variant = {"unclosed-boneyard": "boneyard", "unclosed-note": "note"}.get(issue.code)
        if variant is None or not 1 <= issue.line_number <= len(lines):
            continue
        mark = "/*" if variant == "boneyard" else "[["
        column = lines[issue.line_number - 1].find(mark) + 1 or 1
        out.append(report("SB053", Span(shown, issue.line_number, column, issue.line_number, column + 2), variant))
    return out


def import_script(path: Path, shown: str) -> Draft:
    """Read and convert a screenplay file. Raises ScriptError (with diagnostics) or OSError."""
    return draft(read_script(path, shown), path.name, _fallback_title(path))


def _fallback_title(path: Path) -> str:
    words = latin_words(path.stem)
    return " ".join(w.capitalize() for w in words) or "Imported Film"
