"""Property tests for the grammar, the parser and the formatter together.

`stories()` generates `Story` models covering every construct of the language (film settings and
includes, cast with every field, shot/scene/extend with and without durations, prose with
mentions and Chinese, dialogue with and without a parenthetical, every clip key, beats with and
without durations, every transition). Then:
- model -> format -> parse gives the same model, with no diagnostics, and formatting is stable;
- the same model written messily (odd spacing and indentation, continued and split lines, blank
  lines, comments everywhere, CRLF, BOM) parses to the same model, and formatting it keeps every
  comment and reaches a fixed point in one step;
- formatting never changes what a story compiles to (request bodies, keys, timeline), with prose
  whose lines would read as something else if joined (`@A:` then `"Hello"`, `shot` then `4s: x`,
  `camera` then `: wide`), both for these models and for whole stories built from the grammar's
  shapes (`storyboard.testing.fuzz.generate`).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget import examples
from storyboard.language.fmt import format_duration, format_story
from storyboard.language.model import (
    CAST_FIELDS, CAST_KINDS, CLIP_SETTINGS, FILM_SETTINGS, WIPE_DIRECTIONS,
    Beat, CastMember, Clip, Dialogue, Include, Prose, Setting, Story, Transition,
)
from storyboard.language.parser import parse
from storyboard.providers import get
from storyboard.testing.fuzz import fmt_meaning_change, generate
from test_fmt import lexed_comments

PATH = "gen.story"
# STORYBOARD_HYPOTHESIS_EXAMPLES=5000 for a deeper local run; `make test` keeps it short, test-fast shorter.
SETTINGS = settings(max_examples=int(os.environ.get("STORYBOARD_HYPOTHESIS_EXAMPLES", examples(150))), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# What the grammar lexes at the start of a clip body line before it considers prose.
_CLIP_KEY_START = re.compile(r"(" + "|".join(CLIP_SETTINGS) + r")[ \t]*:")
_BEAT_START = re.compile(r"shot([ \t]+[0-9]+(\.[0-9]+)?s)?[ \t]*:")
_DIALOGUE_START = re.compile(r'@[A-Za-z_][A-Za-z0-9_-]*[ \t]*(\([^)\n]*\))?[ \t]*:[ \t]*"[^"\n]*"')


def prose_start_ok(text: str) -> bool:
    return not (_CLIP_KEY_START.match(text) or _BEAT_START.match(text) or _DIALOGUE_START.match(text))


# ---- text ------------------------------------------------------------------------------------

names = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,7}", fullmatch=True),
                  st.sampled_from(["cut", "shot", "scene", "extend", "character", "camera", "fade", "wipe", "morph",
                                   "continue", "left", "include", "s", "_", "a-5s"]))
_odd_chars = st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"), exclude_characters='"#')
_cjk = st.sampled_from(list("小猫将军站在悬崖上披风飘扬俯瞰山谷冲啊勇敢的老鼠们两军相撞雪花飞扬，。！？：“”（）、"))
_quoted_inner = st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters='"\n'), max_size=12)

words = st.one_of(
    st.from_regex(r"[A-Za-z][a-z]{0,7}[,.!?;:']?", fullmatch=True),
    st.sampled_from(["cut", "continue", "dissolve", "fade", "wipe", "morph", "shot", "scene", "extend",
                     "character", "prop", "place", "include:", "title:", "Meanwhile:", "cameraman:",
                     "shots:", "4s:", "1s", "0.5s", "left", "(aside)", ")", "(", ":", "::", "@", "e-mail@x.org",
                     "cast/kitten.png", "https://example.com/a.png?x=1&y=2", "16:9", "1080p"]),
    st.sampled_from([f"{k}:" for k in CLIP_SETTINGS] + ["shot:", "shot 4s:", '@Kitten: "hi"', "Bo:", "@Kitten:",
                                                        ": static wide shot", "4s: Another wave.", '"Hello"']),
    st.builds(lambda n, tail: f"@{n}{tail}", names, st.sampled_from(["", "'s", ",", ".", ":", " (softly)"])),
    st.text(_cjk, min_size=1, max_size=10),
    st.builds(lambda s: f'"{s}"', _quoted_inner),
    st.text(_odd_chars, min_size=1, max_size=4),
    # characters str.splitlines() or str.strip() treat as line ends or spaces, but the grammar does not
    st.sampled_from(["a\x0cb", "a\u2028b", "a\x85b", "a\x1cb", "a\u00a0b", "a\u3000b", "a\x0bb"]),
)
separators = st.sampled_from([" "] * 12 + ["  ", "\t", " \u3000 "])


@st.composite
def values(draw, min_words=1, max_words=8):
    """Legal free text (a setting value, a beat, a morph prompt): no `#` outside "quotes"."""
    ws = draw(st.lists(words, min_size=min_words, max_size=max_words))
    text = ws[0] if ws else ""
    for w in ws[1:]:
        text += draw(separators) + w
    return text.strip()


maybe_values = st.one_of(st.just(""), values())
prose_texts = values().filter(lambda t: t != "" and prose_start_ok(t))
# Prose that reads as prose only when broken into lines: on one line it would start as dialogue,
# a beat or a clip setting (`@Kitten:` + `"Hello"`, `shot` + `4s: x`, `camera` + `: wide`).
_risky_heads = st.one_of(
    st.builds(lambda n, how: f"@{n}{how}", names, st.sampled_from(["", ":", " (softly)", " (softly):", "："])),
    st.sampled_from(["shot", "shot 4s", "shot 0.5s", "Bo:", "Meanwhile:"] + list(CLIP_SETTINGS)),
)
_risky_tails = st.one_of(
    st.builds(lambda q: f'"{q}"', _quoted_inner),
    st.sampled_from([': "Hello"', '(aside): "x"', "4s:", "4s: Another wave.", ":", ": static wide shot", "::", "：",
                     '"Hello" she said.', "s:", "(softly)"]),
)
_quoted = st.builds(lambda q: f'"{q}"', _quoted_inner)
_unsafe_pairs = st.one_of(  # each pair joined on one line is dialogue, a beat or a clip setting
    st.tuples(st.builds(lambda n, how: f"@{n}{how}:", names, st.sampled_from(["", " (softly)", "(x)"])), _quoted),
    st.tuples(names.map(lambda n: f"@{n}"),
              st.builds(lambda how, q: f"{how}: {q}", st.sampled_from(["", "(aside)"]), _quoted)),
    st.tuples(st.just("shot"), st.sampled_from([":", "4s:", "4s: Another wave.", "0.5s :"])),
    st.tuples(st.just("shot 4s"), st.sampled_from([":", ": x"])),
    st.tuples(st.sampled_from(CLIP_SETTINGS), st.sampled_from([":", ": static wide shot", ":wide"])),
)
risky_prose_texts = st.builds(lambda pair, more: " ".join(p for p in (*pair, more) if p),
                              _unsafe_pairs | st.tuples(_risky_heads, _risky_tails), maybe_values)
hows = st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters=")\n"), min_size=1, max_size=12) \
    .map(str.strip).filter(bool)
lines = st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters='"\n'), max_size=30).map(str.strip)

# ---- durations -------------------------------------------------------------------------------

clip_seconds = st.one_of(st.none(), st.integers(0, 30), st.integers(0, 10**6),
                         st.sampled_from([4.5, 0.25, 7.75, 12.125]))
transition_seconds = st.one_of(st.sampled_from([0.5, 1.0, 0.25, 2.0, 1.5, 0.1]),
                               st.integers(0, 300).map(lambda n: n / 100),
                               st.floats(0, 1e6, allow_nan=False, allow_infinity=False))

# ---- nodes -----------------------------------------------------------------------------------

film_settings = st.builds(lambda k, v: Setting(key=k, value=v), st.sampled_from(FILM_SETTINGS), maybe_values)
includes = st.builds(lambda v: Include(path=v), maybe_values)
cast_fields = st.builds(lambda k, v: Setting(key=k, value=v), st.sampled_from(CAST_FIELDS + ("include",)), maybe_values)
cast_members = st.builds(lambda k, n, f: CastMember(kind=k, name=n, fields=tuple(f)),
                         st.sampled_from(CAST_KINDS), names, st.lists(cast_fields, min_size=1, max_size=4))
clip_fields = st.builds(lambda k, v: Setting(key=k, value=v), st.sampled_from(CLIP_SETTINGS), maybe_values)
proses = st.builds(lambda t: Prose(text=t), prose_texts | risky_prose_texts)
dialogues = st.builds(lambda s, h, ln: Dialogue(speaker=s, how=h, line=ln), names, st.none() | hows, lines)
beats = st.builds(lambda s, t: Beat(seconds=s, text=Prose(text=t)), clip_seconds, maybe_values)


@st.composite
def clips(draw):
    kind = draw(st.sampled_from(["shot", "scene", "scene", "extend"]))
    kinds = ([beats] * 3 + [clip_fields, proses, dialogues] if kind == "scene"
             else [clip_fields, proses, dialogues, beats])
    body = []
    for _ in range(draw(st.integers(1, 6))):
        line = draw(st.one_of(*kinds))
        if isinstance(line, Prose) and body and isinstance(body[-1], Prose):
            continue  # consecutive prose lines are one paragraph
        body.append(line)
    return Clip(kind=kind, name=draw(names), seconds=draw(clip_seconds), body=tuple(body))


transitions = st.one_of(
    st.sampled_from([Transition(kind="cut"), Transition(kind="continue")]),
    st.builds(lambda k, s: Transition(kind=k, seconds=s), st.sampled_from(["dissolve", "fade"]), transition_seconds),
    st.builds(lambda d, s: Transition(kind="wipe", seconds=s, direction=d),
              st.sampled_from(WIPE_DIRECTIONS) | st.from_regex(r'[^\s#:"]{1,6}', fullmatch=True), transition_seconds),
    st.builds(lambda s, t: Transition(kind="morph", seconds=s, text=t), transition_seconds, maybe_values),
)

top_items = st.one_of(film_settings, includes, cast_members, clips(), transitions)
stories = st.builds(lambda items: Story(path=PATH, items=tuple(items)), st.lists(top_items, max_size=8))


# ---- writing a model messily -------------------------------------------------------------------

def _split_points(text: str, prose_lines: bool) -> list[int]:
    """Indexes of single spaces outside quotes where a line can be broken and joined back."""
    points, quoted = [], False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == " " and not quoted and 0 < i < len(text) - 1 and not text[i - 1].isspace() \
                and not text[i + 1].isspace() and (not prose_lines or prose_start_ok(text[i + 1:])):
            points.append(i)
    return points


class Messy:
    """Writes a story the way people do; every choice comes from hypothesis's random."""

    def __init__(self, rnd):
        self.r = rnd
        self.out: list[str] = []

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def ws(self, empty_ok: bool = True) -> str:
        return self.r.choice(([""] if empty_ok else []) + [" ", " ", "  ", "\t", " \t "])

    def comment(self) -> str:
        body = "".join(self.r.choice(' abc#"\'@:小猫 \t\u00e9\x0c\u2028\x85\u3000')
                       for _ in range(self.r.randint(0, 12)))
        return "#" + body

    def filler(self, indent: int) -> None:
        """Blank lines and own-line comments, at any indentation."""
        for _ in range(self.r.choice([0, 0, 0, 1, 2])):
            if self.chance(0.5):
                self.out.append(self.r.choice(["", "", "  ", "\t"]))
            else:
                lead = self.r.choice([" " * indent, "", " ", " " * (indent + 3), "\t", " \t"])
                self.out.append(lead + self.comment() + self.r.choice(["", "  "]))

    def line(self, indent: int, code: str) -> None:
        if self.chance(0.25):
            code += self.r.choice(["", " ", "  ", "\t"]) + self.comment()
        elif self.chance(0.1):
            code += self.r.choice([" ", "  \t"])
        self.out.append(" " * indent + code)

    def duration(self, seconds) -> str:
        text = format_duration(seconds)[:-1]
        if self.chance(0.2):
            text = text + ".0" if "." not in text else text + "0"
        if self.chance(0.1):
            text = "0" + text
        return text + "s"

    def text_lines(self, indent: int, head: str, text: str, prose: bool = False) -> None:
        """`head` + text, maybe continued over deeper lines, or (prose) over lines of its own.
        Prose that would not read as prose on one line is always broken after a first line that does."""
        points = _split_points(text, prose_lines=False)
        firsts = [i for i in points if prose_start_ok(text[:i])] if prose else points
        must_break = prose and not prose_start_ok(text)
        if text and (firsts or head.strip()) and (must_break or self.chance(0.35)):
            if prose:
                first = self.r.choice(firsts)
                later = [i for i in points if i > first]
                cuts = [first] + sorted(self.r.sample(later, self.r.randint(0, min(2, len(later)))))
            else:
                cuts = sorted(self.r.sample(points, self.r.randint(0 if head.strip() else 1, min(3, len(points)))))
            pieces = [text[a + 1 if a else 0:b] for a, b in pairwise([0, *cuts, len(text)])]
            if not head.strip() or self.chance(0.5):  # the first piece on the head line
                self.line(indent, head + pieces[0])
                rest = pieces[1:]
            else:
                self.line(indent, head.rstrip())
                rest = pieces
            deeper = indent + self.r.randint(1, 4)
            for p in rest:
                self.filler(deeper)
                self.line(deeper, p)
            return
        points = _split_points(text, prose_lines=True) if prose else []
        if points and self.chance(0.35):  # consecutive prose lines are one paragraph
            cuts = sorted(self.r.sample(points, self.r.randint(1, min(3, len(points)))))
            pieces = [text[a + 1 if a else 0:b] for a, b in pairwise([0, *cuts, len(text)])]
            self.line(indent, pieces[0])
            for p in pieces[1:]:
                self.filler(indent)
                self.line(indent, p)
            return
        self.line(indent, head + text)

    def key(self, key: str, value: str, indent: int) -> None:
        self.text_lines(indent, key + self.r.choice(["", "", " ", "\t"]) + ":" + self.ws(), value)

    def body_line(self, node, indent: int) -> None:
        if isinstance(node, Setting):
            self.key(node.key, node.value, indent)
        elif isinstance(node, Prose):
            self.text_lines(indent, "", node.text, prose=True)
        elif isinstance(node, Dialogue):
            how = f"({self.ws()}{node.how}{self.ws()}){self.ws()}" if node.how else ""
            self.line(indent, f'@{node.speaker}{self.ws()}{how}:{self.ws()}"{self.ws()}{node.line}{self.ws()}"')
        elif isinstance(node, Beat):
            dur = self.ws(empty_ok=False) + self.duration(node.seconds) if node.seconds is not None else ""
            self.text_lines(indent, f"shot{dur}{self.ws()}:{self.ws()}", node.text.text)
        else:
            raise AssertionError(node)

    def item(self, item) -> None:
        self.filler(0)
        if isinstance(item, Include):
            self.key("include", item.path, 0)
        elif isinstance(item, Setting):
            self.key(item.key, item.value, 0)
        elif isinstance(item, (CastMember, Clip)):
            dur = ""
            if isinstance(item, Clip) and item.seconds is not None:
                dur = self.ws(empty_ok=False) + self.duration(item.seconds)
            self.line(0, f"{item.kind}{self.ws(False)}{item.name}{dur}{self.ws()}:")
            indent = self.r.randint(1, 6)
            for child in item.fields if isinstance(item, CastMember) else item.body:
                self.filler(indent)
                self.body_line(child, indent)
        elif isinstance(item, Transition):
            dur = self.duration(item.seconds) if item.seconds is not None else ""
            if item.kind in ("cut", "continue"):
                self.line(0, item.kind)
            elif item.kind == "wipe":
                self.line(0, f"wipe{self.ws(False)}{item.direction}{self.ws(False)}{dur}")
            elif item.kind == "morph":
                self.text_lines(0, f"morph{self.ws(False)}{dur}{self.ws()}:{self.ws()}", item.text)
            else:
                self.line(0, f"{item.kind}{self.ws(False)}{dur}")
        else:
            raise AssertionError(item)

    def story(self, story: Story) -> str:
        for item in story.items:
            self.item(item)
        self.filler(0)
        text = "\n".join(self.out)
        text = text.lstrip("\n") if self.chance(0.5) else text
        text += self.r.choice(["", "\n", "\n", "\n\n"])
        if self.chance(0.1):
            text = text.replace("\n", "\r\n")
        if self.chance(0.05):
            text = "\ufeff" + text
        return text


# ---- properties ------------------------------------------------------------------------------

def _parse_clean(text: str) -> Story:
    story, diags = parse(text, PATH)
    assert not diags, f"{[(d.code, d.message, d.span.line if d.span else None) for d in diags]}\n{text}"
    return story


@SETTINGS
@given(stories)
def test_model_format_parse_round_trip(story):
    text = format_story(story)
    parsed = _parse_clean(text)
    assert parsed.model_dump() == story.model_dump(), text
    assert format_story(parsed) == text
    assert format_story(parsed, text) == text


@SETTINGS
@given(stories, st.randoms(use_true_random=False))
def test_messy_text_parses_and_formats_to_a_fixed_point(story, rnd):
    text = Messy(rnd).story(story)
    parsed = _parse_clean(text)
    assert parsed.model_dump() == story.model_dump(), text
    formatted = format_story(parsed, text)
    again = _parse_clean(formatted)
    assert again.model_dump() == story.model_dump(), formatted
    assert lexed_comments(formatted) == lexed_comments(text), formatted
    assert format_story(again, formatted) == formatted
    assert format_story(again) == format_story(story)  # comments aside, the layout is the model's


# ---- fmt keeps what a story compiles to ------------------------------------------------------------

PROVIDERS = [get("preview"), get("together")]
EXAMPLE_FOLDER = Path(__file__).resolve().parent.parent / "examples" / "kitten-general"


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    """A story file in a copy of the kitten-general folder (its cast images make plans compile)."""
    folder = tmp_path_factory.mktemp("fmt-meaning") / "film"
    shutil.copytree(EXAMPLE_FOLDER, folder)
    return folder / "gen.story"


def _assert_fmt_keeps_the_plans(film: Path, text: str) -> None:
    film.write_text(text, encoding="utf-8")
    changed = fmt_meaning_change(film, PROVIDERS)
    assert changed is None, f"{changed}\n--- input ---\n{text}"


@SETTINGS
@given(stories, st.randoms(use_true_random=False))
def test_fmt_keeps_the_plans_of_messy_models(film, story, rnd):
    _assert_fmt_keeps_the_plans(film, Messy(rnd).story(story))


@SETTINGS
@given(st.randoms(use_true_random=False))
def test_fmt_keeps_the_plans_of_stories_built_from_the_grammar(film, rnd):
    _assert_fmt_keeps_the_plans(film, generate(rnd))
