"""What the front half's speed-ups stand on (issue 11, item 10): each shortcut gives what the
long way gave. The lean indenter makes Lark's tokens, a mention's name is what its node says,
a clip's undefined mentions are each reported with their places, a prompt is tidied and its
mentions rewritten as the plain ways did, and the bench's baseline is still Lark's own parse."""

from __future__ import annotations

import contextlib
import random
import re
from pathlib import Path

import pytest
from lark import Lark
from lark.exceptions import UnexpectedInput
from lark.indenter import DedentError, Indenter

from storyboard import messages
from storyboard.compiler import prompts
from storyboard.compiler.requests import expand, gather_inputs
from storyboard.language import parser
from storyboard.language.load import load
from storyboard.language import model
from storyboard.language.model import MENTION_RE, Beat, Clip, Dialogue, Prose
from storyboard.testing.fuzz import generate, mutate

ROOT = Path(__file__).resolve().parent.parent
WRITTEN = sorted({*ROOT.glob("examples/*/*.story"), *ROOT.glob("tests/golden/*/*.story")})
EDGES = [
    "",
    "shot a:\n  A cat.",  # no newline at the end
    "shot a:\n  A cat.\n    continued deeper\n  camera: slow\n",
    "scene s 8s:\n  shot 4s: one\n    more of one\n  shot: two\n",
    "character A:\n  image: a.png\n\n\n# a comment\n   # an indented comment\nshot a:\n  @A waits.\n",
    "shot a:\n    deep\n  shallower than the first line\n",  # a dedent to a level never opened
    "shot a:\n\tA tab.\n",
    "shot a:\n  one\n    two\n      three\n",  # the file ends three levels in
    "  shot a:\n  A cat.\n",
]


class _Recording(parser._StoryIndenter):
    """Lark's indenter, keeping the tokens the lexer gave it."""

    def process(self, stream):
        self.raw: list = []
        return super().process(self._keep(stream))

    def _keep(self, stream):
        for token in stream:
            self.raw.append(token)
            yield token


def _indented(indenter, raw: list):
    """What an indenter makes of a token stream: each token as a tuple, or the error it raised."""
    out = []
    try:
        for t in indenter.process(iter(raw)):
            out.append((t.type, str(t), t.line, t.column, t.end_line, t.end_column, t.start_pos, t.end_pos))
    except DedentError as exc:
        out.append(("DedentError", str(exc)))
    return out


def _texts() -> list[str]:
    rng = random.Random(11)
    written = [p.read_text(encoding="utf-8") for p in WRITTEN]
    generated = [generate(rng) for _ in range(150)]
    mutated = [mutate(rng.choice(written), rng) for _ in range(150)]
    return EDGES + written + generated + mutated


def test_the_lean_indenter_makes_larks_tokens():
    recording = _Recording()
    lark = Lark(parser.grammar_text(), parser="lalr", lexer="contextual", postlex=recording,
                maybe_placeholders=False)
    texts = _texts()
    dedent_errors = 0
    for text in texts:
        with contextlib.suppress(UnexpectedInput, DedentError):  # the tokens up to a refusal count the same
            lark.parse(parser._normalise(text))
        expected = _indented(parser._StoryIndenter(), recording.raw)
        assert _indented(parser._LeanIndenter(), recording.raw) == expected, text
        dedent_errors += expected[-1][0] == "DedentError" if expected else 0
    assert dedent_errors, "no input made the indenter refuse a dedent: the error path went untested"


def test_a_clean_parse_is_the_careful_parse():
    """`parse` skips the pre-checks when the indenter meets none of their problems, and hands
    the parser's first refusal to the recovering parse: whatever it returns is what the
    pre-checks and the recovering parse return from scratch."""
    clean = careful = 0
    for text in _texts() + ["shot a:\ncut\n", "shot a:\n# only a comment\n", "\tshot a:\n  A cat.\n",
                            "# head\n  shot a:\n  A cat.\n", "character A:\n  image: a.png\nshot b:\n"]:
        lines = parser._normalise(text).split("\n")
        found = parser.parse(text, "t.story")
        assert found == parser._parse_with_problems(list(lines), "t.story"), text
        took_clean = isinstance(parser._parse_clean("\n".join(lines), lines, "t.story"), list)
        assert not (took_clean and found[1]), text  # a text with diagnostics never takes the short way
        clean += took_clean
        careful += not took_clean
    assert clean > 100 and careful > 100


def test_the_generated_tables_are_the_grammars():
    """`make grammar` was run after the last change to story.lark (and its output depends on
    nothing but the grammar: Lark's own numbering changes from run to run)."""
    from storyboard.language import tables

    assert parser.grammar_digest() == tables.GRAMMAR_SHA256, "story.lark changed: run `make grammar`"
    assert Path(tables.__file__).read_text(encoding="utf-8") == parser.tables_source(), "run `make grammar`"


def test_the_parser_from_the_tables_parses_as_the_one_from_the_grammar():
    loaded, built = parser._lark(), parser._built_lark()
    assert loaded is not built and type(loaded.options.postlex) is parser._LeanIndenter
    for text in _texts():
        outcomes = []
        for lark in (loaded, built):
            with parser._parsing("t.story"):
                try:
                    outcomes.append(repr(lark.parse(parser._normalise(text))))
                except (UnexpectedInput, DedentError) as exc:
                    outcomes.append(f"{type(exc).__name__} {getattr(exc, 'line', '')}:{getattr(exc, 'column', '')} "
                                    f"{sorted(getattr(exc, 'expected', None) or getattr(exc, 'allowed', None) or [])}")
        assert outcomes[0] == outcomes[1], text


def test_stale_tables_are_not_used(monkeypatch):
    """A grammar being edited is parsed with tables built from it, not with the stale ones."""
    from storyboard.language import tables

    monkeypatch.setattr(tables, "GRAMMAR_SHA256", "0" * 64)
    parser._lark.cache_clear()
    try:
        lark = parser._lark()
        assert lark.source_grammar  # built from the grammar text (a loaded parser has none)
    finally:
        monkeypatch.undo()
        parser._lark.cache_clear()
    assert not getattr(parser._lark(), "source_grammar", None)


def test_the_bench_baseline_is_larks_own_parse():
    """bench/compile.py divides by `raw_parse`: it must stay Lark's own indenter and tree."""
    baseline = parser._tree_lark()
    assert type(baseline.options.postlex).process is Indenter.process
    assert baseline.options.propagate_positions and baseline.options.transformer is None
    assert type(parser._lark().options.postlex) is parser._LeanIndenter


def _mentioning_nodes(text: str):
    story, _ = parser.parse(text, "t.story")
    for item in story.items:
        if isinstance(item, Clip):
            for line in item.body:
                yield line.text if isinstance(line, Beat) else line
    yield Prose(text="@A morphs into @B@C and e@mail (@D)")  # a morph's text: no pieces


def test_mention_names_are_the_names_of_mentions():
    rng = random.Random(3)
    texts = [generate(rng) for _ in range(100)] + [
        'shot a:\n  @A and @B meet @A.\n    @C (@D) e@mail @@E @F@G\n  @H (softly): "Hi @I and @J"\n',
        "scene s:\n  shot: @A runs\n    after @B\n  shot 2s: @C\n",
    ]
    seen = 0
    for text in texts:
        for node in _mentioning_nodes(text):
            if isinstance(node, (Prose, Dialogue)):
                assert node.mention_names() == [m.value for m in node.mentions()], node
                seen += bool(node.mention_names())
    assert seen > 50


def test_each_mention_of_an_undefined_name_is_reported_at_its_place(tmp_path):
    story = tmp_path / "film.story"
    story.write_text("character Bo:\n  description: a dog\n\n"
                     "shot a:\n  @Kit meets @Bo,\n    then @Kit and @Rex leave @Bo.\n", encoding="utf-8")
    film = load(story)
    unit = expand(film)[0][0]
    inputs = gather_inputs(film, unit)
    assert [m.member.name for m in inputs.members] == ["Bo"]
    assert [(m.value, m.span.line, m.span.column) for m in inputs.unknown] == [
        ("Kit", 5, 4), ("Kit", 6, 11), ("Rex", 6, 20)]


@pytest.mark.parametrize("template, args, expected", [
    ("the prompt is {length:~character}", {"length": 1}, "the prompt is 1 character"),
    ("the prompt is {length:~character}", {"length": 3}, "the prompt is 3 characters"),
    ("{name!r} at {x:>4}", {"name": "a", "x": 7}, "'a' at    7"),
])
def test_messages_fill_templates_like_the_formatter(template, args, expected):
    assert messages._format(template, args) == expected == messages._FORMATTER.format(template, **args)


def _tidy_line_by_line(text: str) -> str:
    """How prompts were tidied before `prompts.tidy`: each line on its own."""
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in text.splitlines()]
    return "\n".join([ln for ln in lines if ln])


def test_a_prompt_is_tidied_as_line_by_line():
    rng = random.Random(5)
    pieces = [" ", "  ", "\t", " \t ", "a", "word", "\n", "\n\n", "\r\n", "\x0b", "\u2028", "\xa0", "@Bo"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 20))) for _ in range(3000)]
    for text in texts:
        assert prompts.tidy(text) == _tidy_line_by_line(text), repr(text)


def test_mentions_are_rewritten_as_by_substitution():
    words = {"A": "Image 1", "B": "B (a dog)", "C": ""}
    rng = random.Random(7)
    pieces = ["@A", "@B", "@C", "@D", "@", "@@A", "e@A", " ", "x", "-", "_", ",", "@A-b", "\n"]
    texts = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 12))) for _ in range(3000)]
    for text in texts:
        expected = MENTION_RE.sub(lambda m: words.get(m.group(1), m.group(0)), text)
        assert prompts.rewrite_mentions(text, words) == expected, repr(text)


def test_no_node_class_is_subclassed():
    """The checker and the compiler pick lines and timeline items by exact class (`Clip` says why)."""
    nodes = [c for c in vars(model).values() if isinstance(c, type) and issubclass(c, model.Node)]
    assert {c.__name__ for c in nodes} >= {"Setting", "Prose", "Dialogue", "Beat", "Clip", "Transition", "Card"}
    assert [(c.__name__, [s.__name__ for s in c.__subclasses__()]) for c in nodes
            if c is not model.Node and c.__subclasses__()] == []
