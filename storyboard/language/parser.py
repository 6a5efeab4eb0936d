"""Text -> `Story`. The only module that imports lark.

Syntax errors become diagnostics; the parser recovers line by line (it blanks out the offending
line, or the whole block whose header is broken) so that one run reports every problem.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import pprint
import re
import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from collections.abc import Callable

from lark import Lark, Token
from lark.grammar import Rule
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import DedentError, Indenter
from lark.lexer import TerminalDef

from ..diagnostics import Diagnostic, Span
from ..messages import report
from .model import (
    Beat, Card, CastMember, Clip, Dialogue, Include, Prose, Setting, Story, Text, Transition,
)

MAX_RECOVERIES = 50
TOP_KEYWORDS = ("character", "prop", "place", "shot", "scene", "extend",
                "cut", "dissolve", "fade", "wipe", "morph", "continue", "card")


class _StoryIndenter(Indenter):
    """Lark's own indenter, set for the story grammar (the raw parse of the bench uses it as is)."""

    NL_type = "_NL"
    OPEN_PAREN_types: list = []
    CLOSE_PAREN_types: list = []
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


class _LeanIndenter(_StoryIndenter):
    """The tokens of Lark's `Indenter`, made in one loop: the story grammar has no brackets, so
    the bracket count Lark keeps on every token (and a generator per newline) go. A twentieth of
    a big story's parse; tests/test_front_half.py holds it to Lark's tokens.

    While `checked` holds the text's lines, it also stops the parse (`_NotClean`) at the first
    problem the pre-checks report (see `_parse_clean`); a dedent to a level never opened stops it
    anyway (DedentError)."""

    checked: list[str] | None = None  # the text's lines, while `_parse_clean` parses it

    def process(self, stream):
        self.paren_level = 0
        self.indent_level = levels = [0]
        lines = self.checked
        token = None
        for token in stream:
            yield token
            if token.type != "_NL":
                continue
            indent_str = token.rsplit("\n", 1)[1]  # spaces and tabs after the last newline
            if lines is not None and _needs_prechecks(lines, token.line, indent_str):
                raise _NotClean
            indent = indent_str.count(" ") + indent_str.count("\t") * self.tab_len
            if indent > levels[-1]:
                levels.append(indent)
                yield Token.new_borrow_pos("_INDENT", indent_str, token)
                continue
            while indent < levels[-1]:
                levels.pop()
                yield Token.new_borrow_pos("_DEDENT", indent_str, token)
            if indent != levels[-1]:
                raise DedentError(f"Unexpected dedent to column {indent}. Expected dedent to {levels[-1]}")
        while len(levels) > 1:
            levels.pop()
            yield Token.new_borrow_pos("_DEDENT", "", token) if token else Token("_DEDENT", "", 0, 0, 0, 0, 0, 0)


def grammar_text() -> str:
    """The grammar lives beside this module, so a checkout and the wheel read the same file."""
    return (resources.files(__package__) / "story.lark").read_text(encoding="utf-8")


# One parse at a time sets `_BUILD.path` and `_INDENTER.checked` (watch mode parses in a thread).
_PARSING = threading.Lock()


class _NotClean(Exception):
    """The text has a problem the pre-checks report: it is parsed the careful way."""


def _needs_prechecks(lines: list[str], line: int, indent: str) -> bool:
    """Whether the newline ending line `line` (1-based), with `indent` before the next line with
    content (empty at the end of the text), shows what a pre-check reports: that line indented
    with a tab (`_check_indentation`), or line `line` a block header with no body under it
    (`_check_empty_blocks`)."""
    return "\t" in indent or (not indent and _is_block_header(lines[line - 1]))


_INDENTER = _LeanIndenter()  # the postlex of `_lark()`


@lru_cache(maxsize=1)
def _lark() -> Lark:
    """The parser, building the model as it parses (see `_Build`). Building it from the grammar
    (Lark reads the grammar, then works out the LALR tables) costs about as much as compiling a
    small story, in every process: the tables come from `tables.py`, generated from the grammar
    as plain Python literals (nothing is unpickled), unless the grammar has changed since."""
    from . import tables

    if grammar_digest() != tables.GRAMMAR_SHA256:  # a grammar being edited: `make grammar`
        return _built_lark()
    return Lark._load_from_dict(tables.DATA, tables.MEMO, transformer=_BUILD, postlex=_INDENTER)


def _built_lark() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="contextual", postlex=_INDENTER,
                maybe_placeholders=False, cache=False, transformer=_BUILD)


def _canonical_table(table: dict) -> dict:
    """Lark numbers the tokens and states of its LALR table in an order that changes from one run
    to the next: renumber the tokens by name and the states in the order a walk from the start
    state meets them, so that one grammar always gives the same `tables.py`."""
    names, states = table["tokens"], table["states"]
    token_no = {old: new for new, old in enumerate(sorted(names, key=names.__getitem__))}
    state_no: dict[int, int] = {}
    todo = deque(table["start_states"][start] for start in sorted(table["start_states"]))
    while todo:
        state = todo.popleft()
        if state not in state_no:
            state_no[state] = len(state_no)
            todo.extend(arg for _, (action, arg) in sorted(states[state].items(), key=lambda kv: names[kv[0]])
                        if action == 0)  # a shift (or a goto): the state it leads to
    if len(state_no) != len(states):
        raise AssertionError("an LALR state no start state leads to")

    def row(old: dict) -> dict:
        moves = {token_no[tok]: (action, state_no[arg] if action == 0 else arg) for tok, (action, arg) in old.items()}
        return dict(sorted(moves.items()))

    return {"tokens": {token_no[old]: name for old, name in sorted(names.items(), key=lambda kv: token_no[kv[0]])},
            "states": {state_no[old]: row(states[old]) for old in sorted(states, key=state_no.__getitem__)},
            "start_states": {k: state_no[v] for k, v in table["start_states"].items()},
            "end_states": {k: state_no[v] for k, v in table["end_states"].items()}}


def grammar_digest() -> str:
    return hashlib.sha256(grammar_text().encode()).hexdigest()


def tables_source() -> str:
    """The text of `tables.py`: the parser `_lark()` builds from the grammar, as Lark serialises
    it (what its standalone generator embeds), without the two objects given at load time."""
    data, memo = _built_lark().memo_serialize([TerminalDef, Rule])
    data["options"] = {k: v for k, v in data["options"].items() if k not in ("postlex", "transformer")}
    data["parser"]["parser"] = _canonical_table(data["parser"]["parser"])
    literal = functools.partial(pprint.pformat, width=120, sort_dicts=False)
    return (f'"""The LALR tables of story.lark, generated by `make grammar` (parser.tables_source): do not edit.\n'
            f'tests/test_front_half.py fails when they are stale; `_lark()` builds from the grammar meanwhile."""\n\n'
            f"GRAMMAR_SHA256 = {grammar_digest()!r}\n\n"
            f"DATA = {literal(data)}\n\nMEMO = {literal(memo)}\n")


@lru_cache(maxsize=1)
def _tree_lark() -> Lark:
    """The same grammar as Lark parses it out of the box (its own Indenter, its parse tree with
    positions, as this parser used it before): the baseline of `bench/compile.py`."""
    return Lark(grammar_text(), parser="lalr", lexer="contextual", postlex=_StoryIndenter(),
                propagate_positions=True, maybe_placeholders=False, cache=False)


@contextmanager
def _parsing(path: str, checked: list[str] | None = None):
    with _PARSING:
        _BUILD.path = path
        _INDENTER.checked = checked
        try:
            yield
        finally:
            _INDENTER.checked = None


def raw_parse(text: str):
    """The bare Lark parse tree (for benchmarks comparing against the full pipeline)."""
    return _tree_lark().parse(_normalise(text))


def reads_as_prose(line: str) -> bool:
    """Whether `line`, written alone as a line of a clip's body, reads back as prose with this
    exact text. Dialogue, beats and clip settings win over prose at the start of a line, so two
    prose lines joined into one can read as something else (`@A:` and `"Hi"` make dialogue,
    `shot` and `4s: x` a beat): the formatter asks the grammar itself before it joins them."""
    try:
        with _parsing("<prose>"):
            items = _lark().parse(f"shot _:\n  {line}\n")
    except (UnexpectedInput, DedentError):
        return False
    body = items[0].body if items else ()
    return len(body) == 1 and isinstance(body[0], Prose) and [p.value for p in body[0].pieces] == [line]


def _normalise(text: str) -> str:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


# ---- public API ------------------------------------------------------------------------------

def parse(text: str, path: str = "<story>") -> tuple[Story, list[Diagnostic]]:
    """Parse a whole file. Always returns a Story (possibly partial) and the syntax diagnostics."""
    text = _normalise(text)
    lines = text.split("\n")
    outcome = _parse_clean(text, lines, path)
    if isinstance(outcome, list):
        return _story(path, outcome), []
    return _parse_with_problems(lines, path, outcome)


def _parse_clean(text: str, lines: list[str], path: str) -> list | UnexpectedInput | None:
    """The items of a text without syntax problems, in one parse; else the parser's refusal, or
    None if the text has a problem the pre-checks report.

    The pre-checks read every line before the parse, for the problems the parser reports without
    a place. But a clean text, the common case, needs neither pass: the indenter meets the same
    problems, each in the one newline before the line concerned, and stops the parse (`_NotClean`,
    DedentError). It never sees the first line's indentation: that one is left to the checks.
    Two passes over a big story's lines were a twentieth of its load."""
    if lines[0][:1] in (" ", "\t") and _has_content(lines[0]):
        return None
    try:
        with _parsing(path, checked=lines):
            return _lark().parse(text)
    except UnexpectedInput as refused:
        return refused
    except (DedentError, _NotClean):
        return None


def _parse_with_problems(lines: list[str], path: str, refused: UnexpectedInput | None = None,
                         ) -> tuple[Story, list[Diagnostic]]:
    """Parse a text with problems: the pre-checks first, each line they report blanked, then the
    parse that recovers from every other syntax error. `refused`, if given, is how the parser
    refused `lines` as they stand: if the pre-checks blank nothing, that is the first refusal."""
    diags = _check_indentation(lines, path) + _check_empty_blocks(lines, path)
    for d in diags:  # a line with bad indentation cannot be parsed: blank it and go on
        _blank(lines, d.span.line, d.span.line)
    try:
        with _parsing(path):
            items = _parse_recovering(lines, path, diags, None if diags else refused)
    except DedentError:
        # _check_indentation catches these first; this is a last line of defence.
        diags.append(report("SB003", Span(path, 1, 1), "bare"))
        return Story(path=path, span=Span(path, 1, 1)), diags
    if items is None:
        return Story(path=path, span=Span(path, 1, 1)), diags
    return _story(path, items), sorted(diags, key=_pos)


def _story(path: str, items: list) -> Story:
    # The items are nodes `_Build` made, of the types `Story` takes: validating them again, each
    # against the union of top-level types, cost two milliseconds a thousand clips.
    return Story.built(path=path, items=tuple(items), span=Span(path, 1, 1))


def _parse_recovering(lines: list[str], path: str, diags: list[Diagnostic],
                      refused: UnexpectedInput | None = None) -> list | None:
    """Parse `lines` into the story's items, blanking what cannot be parsed (and adding its
    diagnostic to `diags`) until the rest parses; None after MAX_RECOVERIES errors. `refused`:
    how the parser refused `lines` already, if known (the text is not parsed again for it).

    After an error only the text from a top-level line before it is parsed again: the items above
    that line parsed cleanly and are not touched by the blanking. Once that rest parses, the whole
    text is parsed once more for the items. Re-parsing from the top after every error made a long
    file with its errors near the end take minutes."""
    recoveries = 0
    start = 0  # lines before this index are blank to the parser this time round (it is linear)
    outcome = refused if refused is not None else _attempt(lines, start)
    while True:
        if isinstance(outcome, UnexpectedInput):
            diag, first, last = _syntax_error(outcome, lines, path)
            if diag is not None:
                diags.append(diag)
            _blank(lines, first, last)
            recoveries += 1
            if recoveries == MAX_RECOVERIES:
                return None
            start = _resume_index(lines, min(first, _error_line(outcome, lines)))
        elif start == 0:
            return outcome
        else:
            start = 0
        outcome = _attempt(lines, start)


def _attempt(lines: list[str], start: int) -> list | UnexpectedInput:
    """The items of `lines` read as blank above index `start`, or how the parser refused them."""
    try:
        return _lark().parse("\n" * start + "\n".join(lines[start:]))
    except UnexpectedInput as refused:
        return refused


def _error_line(exc: UnexpectedInput, lines: list[str]) -> int:
    """The line of the token the parser refused (past the end for an unexpected end of file)."""
    line = getattr(exc, "line", -1)
    return line if isinstance(line, int) and line > 0 else len(lines) + 1


_NOT_TOP_LEVEL = ("", " ", "\t", "#")  # how a blank, indented or comment line starts


def _resume_index(lines: list[str], before: int) -> int:
    """The index of the last top-level line above line `before` (1-based), 0 if there is none.
    A top-level line above the refused token was read in full with every item above it complete,
    so a parse that starts there finds what a parse from the top would find."""
    for index in range(min(before, len(lines) + 1) - 2, 0, -1):
        if lines[index][:1] not in _NOT_TOP_LEVEL:
            return index
    return 0


def _pos(d: Diagnostic):
    return (d.span.line, d.span.column) if d.span else (0, 0)


# ---- indentation pre-pass ----------------------------------------------------------------------

def _check_indentation(lines: list[str], path: str) -> list[Diagnostic]:
    """Tabs and dedents to a level that was never opened, with exact positions (Lark's
    indenter only raises a DedentError without a location)."""
    diags: list[Diagnostic] = []
    stack = [0]
    for n, line in enumerate(lines, 1):
        stripped = line.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        lead = line[: len(line) - len(stripped)]
        if "\t" in lead:
            col = lead.index("\t") + 1
            diags.append(report("SB002", Span(path, n, col, n, col + 1)))
            continue
        width = len(lead)
        if width > stack[-1]:
            stack.append(width)
        else:
            inner = stack[-1]
            while width < stack[-1]:
                inner = stack.pop()
            if width != stack[-1]:
                diags.append(report("SB003", Span(path, n, 1, n, width + 1), "levels",
                                    width=width, inner=inner, outer=stack[-1]))
                stack.append(width)
    return diags


BLOCK_KEYWORDS = ("character", "prop", "place", "shot", "scene", "extend", "card")


def _check_empty_blocks(lines: list[str], path: str) -> list[Diagnostic]:
    """A block header with no indented body under it (Lark would only see a stray dedent)."""
    diags = []
    for n, line in enumerate(lines, 1):
        # The first test decides for most lines at a glance. (A header whose name follows a tab
        # once went unreported here, and recovery then dropped it without a word.)
        if line[:1] in _NOT_TOP_LEVEL or not _is_block_header(line):
            continue
        nxt = _next_content_line(lines, n)
        if nxt is None or not lines[nxt - 1].startswith((" ", "\t")):
            code = line.split("#", 1)[0].rstrip()
            diags.append(report("SB005", Span(path, n, 1, n, len(code) + 1), header=" ".join(code[:-1].split())))
    return diags


def _blank(lines: list[str], first: int, last: int) -> None:
    """Comment out lines first..last (1-based) in place so the next parse skips them; positions
    stay. In place: a copy per diagnostic made 50,000 tab errors quadratic."""
    for n in range(first, min(last, len(lines)) + 1):
        if lines[n - 1].strip():
            indent = len(lines[n - 1]) - len(lines[n - 1].lstrip(" \t"))
            lines[n - 1] = lines[n - 1][:indent] + "#" + lines[n - 1][indent + 1:]


def _block_end(lines: list[str], header: int) -> int:
    """The last line of the block whose header is line `header` (1-based)."""
    text = lines[header - 1]
    indent = len(text) - len(text.lstrip(" "))
    last = header
    for n in range(header + 1, len(lines) + 1):
        line = lines[n - 1]
        if not _has_content(line):
            continue
        if len(line) - len(line.lstrip(" ")) <= indent:
            break
        last = n
    return last


# ---- syntax errors -------------------------------------------------------------------------

_EXPECTED_WORDS = {
    "NAME": "a name", "DURATION": "a duration like 5s", "TEXT": "text", "WORD": "a direction",
    "COLON": "':'", "_NL": "the end of the line", "_INDENT": "an indented body",
    "_DEDENT": "less indentation", "KEY": "`key: value`", "CLIP_KEY": "a clip setting",
    "CAST_KIND": "character/prop/place", "CLIP_KIND": "shot/scene/extend",
}


def _describe_expected(expected: set[str]) -> str:
    words = sorted({_EXPECTED_WORDS.get(e, e.lower()) for e in expected if e not in ("COMMENT",)})
    if not words:
        return ""
    return ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1]


@dataclass(frozen=True)
class _Refused:
    """Where the parser refused the text, as the rules below read it."""

    exc: UnexpectedInput
    lines: list[str]
    path: str
    line: int  # 1-based; past the end for an unexpected end of file
    column: int

    @property
    def src(self) -> str:
        return self.lines[self.line - 1]

    @property
    def stripped(self) -> str:
        return self.src.strip()

    @property
    def indent(self) -> int:
        return _indent_of(self.src)

    @property
    def token(self) -> Token | None:
        return self.exc.token if isinstance(self.exc, UnexpectedToken) else None

    @property
    def expected(self) -> set[str]:
        return set(getattr(self.exc, "expected", None) or getattr(self.exc, "allowed", None) or ())

    @property
    def at_line_start(self) -> bool:
        """The refused token is the line's first: the line as a whole is not what may stand here."""
        return self.column - 1 <= self.indent

    def span(self, line: int, column: int, end_column: int) -> Span:
        return Span(self.path, line, column, line, end_column)

    def to_line_end(self, line: int | None = None, column: int = 1) -> Span:
        line = self.line if line is None else line
        return self.span(line, column, len(self.lines[line - 1]) + 1)


# A rule explains one kind of refusal: it returns the diagnostic (None to drop the refusal
# quietly) with the first and last line to blank for recovery, or None when it does not apply.
_Explained = tuple[Diagnostic | None, int, int]


def _file_ends_in_block(r: _Refused) -> _Explained | None:
    if not isinstance(r.exc, UnexpectedEOF) and r.line <= len(r.lines):
        return None
    line = _previous_content_line(r.lines, len(r.lines) + 1) or 1
    return report("SB001", r.to_line_end(line), "eof"), line, line


def _unexpected_indentation(r: _Refused) -> _Explained | None:
    if r.token is None or r.token.type != "_INDENT":
        return None
    # The indenter dates an _INDENT from the newline that ends the line before it (and any blank
    # or comment lines in between): the indented line is the next one with content.
    line = _next_content_line(r.lines, r.line) or r.line
    indent = _indent_of(r.lines[line - 1])
    prev = _previous_content_line(r.lines, line)
    last = max(_block_end(r.lines, prev), line) if prev is not None else line
    under_no_header = prev is not None and not r.lines[prev - 1].rstrip().endswith(":") and indent
    return report("SB004", r.span(line, 1, indent + 1), hint="no_body" if under_no_header else None), line, last


def _block_ends_early(r: _Refused) -> _Explained | None:
    if r.token is None or r.token.type not in ("_DEDENT", "$END"):
        return None
    line = min(max(getattr(r.token, "line", None) or r.line, 1), len(r.lines))
    if _is_block_header(r.lines[line - 1]):  # the block lost its body to an earlier error: not new
        return None, line, line
    return report("SB001", r.to_line_end(line), "end_of_block"), line, line


def _unclosed_quote_token(r: _Refused) -> _Explained | None:
    if r.token is None or not str(r.token).startswith('"'):
        return None
    return report("SB006", r.to_line_end(column=r.column)), r.line, r.line


def _malformed_top_line(r: _Refused) -> _Explained | None:
    """A block header or a transition with a part missing or malformed: say which part."""
    found = _top_line_problem(r.src, r.line, r.path) if r.indent == 0 else None
    if found is None:
        return None
    diag, is_header = found
    return diag, r.line, _block_end(r.lines, r.line) if is_header else r.line


def _header_lost_its_body(r: _Refused) -> _Explained | None:
    """The line after a block header is refused at its start: the header's body was blanked by an
    earlier error. Drop the header quietly."""
    prev = _previous_content_line(r.lines, r.line)
    if not r.at_line_start or prev is None or not _is_block_header(r.lines[prev - 1]) \
            or r.indent > _indent_of(r.lines[prev - 1]):
        return None
    return None, prev, prev


def _unknown_top_line(r: _Refused) -> _Explained | None:
    if not r.at_line_start or r.indent != 0:
        return None
    stripped = r.stripped
    first_word = stripped.split(" ", 1)[0].split(":", 1)[0]
    span = r.to_line_end(column=r.column)
    if stripped.endswith(":") and first_word in TOP_KEYWORDS:
        usage = "cast_usage" if first_word in _CAST_KINDS else "clip_usage"
        diag = report("SB010", span, "needs_name", hint=usage, kind=first_word)
    else:
        close = difflib.get_close_matches(first_word, TOP_KEYWORDS, n=1, cutoff=0.6)
        diag = report("SB010", span, "unknown", hint=_unknown_line_hint(r, close), line=_shorten(stripped),
                      near=close[0] if close else None)
    return diag, r.line, _block_end(r.lines, r.line)


def _unknown_line_hint(r: _Refused, close: list[str]) -> str:
    """The name of the hint for a line that is no setting, block or transition."""
    if close:
        return "did_you_mean"
    prev = _previous_content_line(r.lines, r.line)
    return "indent" if prev is not None and r.lines[prev - 1].startswith(" ") else "unknown"


def _not_a_cast_field(r: _Refused) -> _Explained | None:
    if not r.at_line_start:
        return None
    header = _previous_header(r.lines, r.line)
    hint = "card" if header is not None and header.split(None, 1)[0] == "card" else None
    kw = {"hint": hint} if hint else {}
    return report("SB011", r.to_line_end(column=r.column), line=_shorten(r.stripped), **kw), r.line, r.line


def _previous_header(lines: list[str], line: int) -> str | None:
    """The top-level line above line `line` (1-based): the header of the block it stands in."""
    for index in range(line - 2, -1, -1):
        if lines[index][:1] not in ("", " ", "\t", "#"):
            return lines[index]
    return None


def _unclosed_quote_text(r: _Refused) -> _Explained | None:
    if not isinstance(r.exc, UnexpectedCharacters) or r.src[r.column - 1:r.column] != '"':
        return None
    return report("SB006", r.to_line_end(column=r.column)), r.line, _header_extent(r.lines, r.line)


def _unexpected_part(r: _Refused) -> _Explained | None:
    """Anything else: the part of the line that was refused, and what could stand there."""
    found = _found(r.exc, r.src, r.column)
    expected = r.expected
    if len(expected) > 1:  # LALR states offer the end of the line where it would not parse
        expected.discard("_NL")
    described = _describe_expected(expected)
    bare = found.strip("`").rstrip(":")
    span = r.span(r.line, r.column, r.column + max(len(found.strip("`")), 1))
    diag = report("SB007", span, "expected" if described else "bare", hint=_unexpected_hint(r, expected, bare),
                  found=found, expected=described, number=bare)
    return diag, r.line, _header_extent(r.lines, r.line)


def _unexpected_hint(r: _Refused, expected: set[str], bare: str) -> str | None:
    """The name of the hint for an unexpected part of a line, if one fits."""
    if "DURATION" in expected and re.fullmatch(r"[0-9]+(\.[0-9]+)?", bare):
        return "unit"
    if "NAME" in expected:
        return "name"
    if expected == {"_NL"} and _DIALOGUE_RE.match(r.stripped):
        return "dialogue"
    return None


# Syntax errors by example. Each rule, tried in this order, with bad inputs it explains and the
# code each one gets (None: dropped quietly); tests/test_syntax_errors.py parses every example.
# The first rule that applies explains the refusal; the last one applies to anything. Two rules
# have no example: Lark's LALR parser reports the end of the file as a `$END` token and lexes a
# lone `"` as a WORD, so they guard against a Lark that reports those differently.
SYNTAX_RULES: tuple[tuple[Callable[[_Refused], _Explained | None], dict[str, str | None]], ...] = (
    (_file_ends_in_block, {}),
    (_unexpected_indentation, {"cut\n  A cat.\n": "SB004"}),
    (_block_ends_early, {"  shot a:\n": "SB001", 'shot a:\n  camera: "x\n': None}),
    (_unclosed_quote_token, {'shot a:\n  @A: "unclosed\n': "SB006"}),
    (_malformed_top_line, {"shot 5s:\n  A cat.\n": "SB008", "character 1st:\n  image: a.png\n": "SB008",
                           "dissolve\n": "SB009", "wipe 1s\n": "SB009", "cut 1s\n": "SB009"}),
    (_header_lost_its_body, {"shot a:\n\tA cat.\nshot b:\n  A dog.\n": None}),
    (_unknown_top_line, {"disolve 1s\n": "SB010", "The kitten wakes up.\n": "SB010"}),
    (_not_a_cast_field, {"character A:\n  image: a.png\n  A small kitten.\n": "SB011"}),
    (_unclosed_quote_text, {}),
    (_unexpected_part, {"shot a 5:\n  A cat.\n": "SB007", 'shot a:\n  @A: "Hi" she says.\n': "SB007"}),
)


def _syntax_error(exc: UnexpectedInput, lines: list[str], path: str) -> _Explained:
    refused = _Refused(exc, lines, path, max(getattr(exc, "line", 1) or 1, 1), max(getattr(exc, "column", 1) or 1, 1))
    for rule, _examples in SYNTAX_RULES:
        explained = rule(refused)
        if explained is not None:
            return explained
    raise AssertionError("the last syntax rule applies to every refusal")


def _indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


_DURATION_RE = re.compile(r"[0-9]+(\.[0-9]+)?s")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_CAST_KINDS = ("character", "prop", "place")


def _top_line_problem(src: str, line: int, path: str) -> tuple[Diagnostic, bool] | None:
    """A block header without a (valid) name, or a transition missing its duration or direction.
    Returns the diagnostic and whether the line is a block header (whose body goes with it)."""
    code = _strip_comment(src).rstrip()
    words = code.replace(":", " : ", 1).split()
    if not words:
        return None
    at = _TopLine(path, line, code, words[0])
    if at.kind in BLOCK_KEYWORDS and code.endswith(":"):
        found = _header_problem(at)
        return (found, True) if found else None
    found = _transition_problem(at)
    return (found, False) if found else None


@dataclass(frozen=True)
class _TopLine:
    path: str
    line: int
    code: str  # the line without its comment
    kind: str  # its first word

    def col(self, word: str) -> int:  # 1-based; the first occurrence is the one meant
        return self.code.index(word) + 1

    def diag(self, code: str, variant: str, start: int, length: int, **args) -> Diagnostic:
        span = Span(self.path, self.line, start, self.line, start + max(length, 1))
        return report(code, span, variant, kind=self.kind, **args)


def _header_problem(at: _TopLine) -> Diagnostic | None:
    kind = at.kind
    usage = f"`{kind} NAME:`" if kind in _CAST_KINDS else f"`{kind} NAME [DURATION]:`"
    parts = at.code[len(kind):-1].split()
    if not parts:
        return at.diag("SB008", "no_name", 1, len(kind), usage=usage)
    if _DURATION_RE.fullmatch(parts[0]) and kind not in _CAST_KINDS:
        return at.diag("SB008", "name_before_duration", at.col(parts[0]), len(parts[0]), duration=parts[0])
    if not _NAME_RE.fullmatch(parts[0]):
        script = any(ord(ch) > 127 for ch in parts[0])
        return at.diag("SB008", "bad_name", at.col(parts[0]), len(parts[0]), name=parts[0],
                       hint="script" if script else "bad_name")
    if kind in _CAST_KINDS and len(parts) > 1:
        return at.diag("SB008", "cast_duration", at.col(parts[1]), len(parts[1]), usage=usage)
    return None


def _transition_problem(at: _TopLine) -> Diagnostic | None:
    kind, code = at.kind, at.code
    args = code[len(kind):].split()
    if kind in ("dissolve", "fade") and not args:
        return at.diag("SB009", "needs_duration", 1, len(kind))
    if kind == "wipe" and len(args) <= 1:
        return _wipe_problem(at, args)
    if kind == "morph" and (not args or args[0] == ":"):
        return at.diag("SB009", "morph", 1, len(kind))
    if kind in ("cut", "continue") and args:
        return at.diag("SB009", "nothing_after", at.col(args[0]), len(code) - at.col(args[0]) + 1, hint=kind)
    return None


def _wipe_problem(at: _TopLine, args: list[str]) -> Diagnostic:
    if not args:
        return at.diag("SB009", "wipe_both", 1, len("wipe"))
    if _DURATION_RE.fullmatch(args[0]):
        return at.diag("SB009", "wipe_direction", at.col(args[0]), len(args[0]), duration=args[0])
    return at.diag("SB009", "wipe_duration", len(at.code) + 1, 1, direction=args[0])


def _strip_comment(text: str) -> str:
    """The line without its comment (a `#` inside "quotes" is text)."""
    in_quote = False
    for i, ch in enumerate(text):
        if ch == '"':
            in_quote = not in_quote
        elif ch == "#" and not in_quote:
            return text[:i]
    return text


def _header_extent(lines: list[str], line: int) -> int:
    """A broken header takes its body with it; a broken body line only itself."""
    text = lines[line - 1].rstrip()
    return _block_end(lines, line) if text.endswith(":") or text.split(" ", 1)[0] in TOP_KEYWORDS else line


def _is_block_header(line: str) -> bool:
    """A top-level `character|prop|place|shot|scene|extend ...:` line. Only these lose a body to
    recovery; other lines ending in ':' (`camera:`, `shot 4s:`, a continued line) are not dropped
    quietly, or a line could vanish without a diagnostic."""
    if line[:1].isspace():  # a body line, as most are: no need to cut its comment off
        return False
    code = line.split("#", 1)[0].rstrip()
    return bool(code) and code.endswith(":") and code.split(None, 1)[0] in BLOCK_KEYWORDS


def _has_content(line: str) -> bool:
    """Whether a line holds more than blanks and a comment."""
    s = line.strip()
    return bool(s) and not s.startswith("#")


def _next_content_line(lines: list[str], line: int) -> int | None:
    """The first line after line `line` (1-based) with content, if any."""
    return next((n for n in range(line + 1, len(lines) + 1) if _has_content(lines[n - 1])), None)


def _previous_content_line(lines: list[str], line: int) -> int | None:
    """The last line before line `line` (1-based) with content, if any."""
    return next((n for n in range(line - 1, 0, -1) if _has_content(lines[n - 1])), None)


def _found(exc: UnexpectedInput, src: str, column: int) -> str:
    token = getattr(exc, "token", None)
    if isinstance(token, Token) and token.type not in ("_NL", "$END"):
        return f"`{_shorten(str(token))}`"
    if isinstance(token, Token) and token.type == "_NL":
        return "end of line"
    rest = src[column - 1:].split(" ", 1)[0]
    return f"`{_shorten(rest)}`" if rest else "end of line"


def _shorten(s: str, n: int = 40) -> str:
    return s if len(s) <= n else s[: n - 1] + "…"


# ---- parse -> model -------------------------------------------------------------------------

_new_tuple = tuple.__new__
_DIALOGUE_RE = re.compile(r'@(?P<name>[A-Za-z_][A-Za-z0-9_-]*)[ \t]*(\((?P<how>[^)\n]*)\))?'
                          r'[ \t]*:[ \t]*"(?P<line>[^"\n]*)"')
_BEAT_RE = re.compile(r"shot(?:[ \t]+(?P<dur>[0-9]+(?:\.[0-9]+)?)s)?[ \t]*:")


class _Build:
    """The grammar's callbacks: Lark calls the method named after each rule (or alias) with the
    rule's children, already built, as it reduces the rule. Building the model inside the parse,
    instead of building a tree and walking it, saves a parse tree per story: on big stories that
    tree was a third of the parse. `path` is set by `_parsing` before each parse."""

    path = "<story>"

    # helpers
    def _span(self, tok: Token) -> Span:
        # tuple.__new__ straight away: the named tuple's own __new__ is a Python call more, per token
        return _new_tuple(Span, (self.path, tok.line, tok.column, tok.end_line, tok.end_column))

    def _text(self, tok: Token) -> Text:
        return Text.built(value=tok.rstrip(), span=self._span(tok))  # str's rstrip makes a plain str of a Token

    def continuation(self, toks):
        return [self._text(t) for t in toks]

    def _joined(self, first: Token | None, cont) -> tuple[str, list[Text]]:
        if not cont and first is not None:  # most values are one line: nothing to join
            piece = self._text(first)
            return piece.value, [piece]
        pieces = ([self._text(first)] if first is not None else []) + list(cont or [])
        return " ".join([p.value for p in pieces if p.value]), pieces

    def _value(self, first: Token | None, cont) -> tuple[str, Span | None]:
        """A value's text and the place of its first line: `_joined` without a node per line
        where no one keeps them (settings, morphs)."""
        if cont:
            text, pieces = self._joined(first, cont)
            return text, pieces[0].span
        if first is not None:
            return first.rstrip(), self._span(first)
        return "", None

    @staticmethod
    def _split(args):
        """Split optional value/continuation arguments."""
        value = cont = None
        for a in args:
            if isinstance(a, Token):
                value = value if value is not None else a
            elif isinstance(a, list) and cont is None:
                cont = a
        return value, cont

    # top level
    def start(self, items):
        return items

    def setting(self, children):
        key, *rest = children
        value, cont = self._split(rest)
        text, value_span = self._value(value, cont)
        name = str(key).rstrip(":").rstrip()
        span = _new_tuple(Span, (self.path, key.line, key.column, key.line, key.column + len(name)))
        value_span = value_span or Span(self.path, key.end_line, key.end_column)
        if name == "include":
            return Include.built(path=text, span=span, path_span=value_span)
        return Setting.built(key=name, value=text, span=span, value_span=value_span)

    def cast(self, children):
        kind, name, *fields = children
        fields = tuple(f if isinstance(f, Setting) else Setting.built(key="include", value=f.path, span=f.span,
                                                              value_span=f.path_span) for f in fields)
        return CastMember.built(kind=str(kind), name=str(name), fields=fields, span=self._span(kind),
                          name_span=self._span(name))

    def clip(self, children):
        kind, name, *rest = children
        seconds, seconds_span, body = None, None, []
        for r in rest:
            if isinstance(r, Token) and r.type == "DURATION":
                seconds_span = self._span(r)
                seconds = _clip_seconds(str(r))
            elif not isinstance(r, Token):
                body.append(r)
        return Clip.built(kind=str(kind), name=str(name), seconds=seconds, body=tuple(_merge_prose(body)),
                    span=self._span(kind), name_span=self._span(name), seconds_span=seconds_span)

    def card(self, children):
        kind, name, *rest = children
        seconds, seconds_span, fields = None, None, []
        for r in rest:
            if isinstance(r, Token) and r.type == "DURATION":
                seconds_span, seconds = self._span(r), _clip_seconds(str(r))
            elif isinstance(r, Include):  # `include:` is no card line: the checker says so
                fields.append(Setting.built(key="include", value=r.path, span=r.span, value_span=r.path_span))
            elif isinstance(r, Setting):
                fields.append(r)
        return Card.built(name=str(name), seconds=seconds, fields=tuple(fields), span=self._span(kind),
                    name_span=self._span(name), seconds_span=seconds_span)

    # body lines
    field = setting  # a clip's `key: value` is built like any setting

    def prose(self, children):
        if len(children) == 1:  # one line, as most prose is: no continuation to look for
            piece = self._text(children[0])
            return Prose.built(text=piece.value, pieces=(piece,), span=piece.span)
        tok, *rest = children
        _, cont = self._split(rest)
        text, pieces = self._joined(tok, cont)
        return Prose.built(text=text, pieces=tuple(pieces), span=pieces[0].span)  # the first piece is `tok`

    def dialogue(self, children):
        tok = children[0]
        m = _DIALOGUE_RE.match(str(tok))
        span = self._span(tok)
        how = m.group("how").strip() if m.group("how") is not None else None
        return Dialogue.built(speaker=m.group("name"), how=how or None, line=m.group("line").strip(), span=span,
                        speaker_span=span.at(1, len(m.group("name"))))

    def beat(self, children):
        tok, *rest = children
        m = _BEAT_RE.match(str(tok))
        value, cont = self._split(rest)
        text, pieces = self._joined(value, cont)
        span = self._span(tok)
        seconds = seconds_span = None
        if m.group("dur"):
            seconds = _clip_seconds(m.group("dur") + "s")
            seconds_span = span.at(m.start("dur"), len(m.group("dur")) + 1)
        first_span = pieces[0].span if pieces else span
        text_node = Prose.built(text=text, pieces=tuple(pieces), span=first_span)
        return Beat.built(seconds=seconds, text=text_node, span=span, seconds_span=seconds_span)

    # transitions
    def _transition(self, kind: str, tok: Token, duration: Token | None = None, **kw):
        seconds = float(str(duration)[:-1]) if duration is not None else None
        return Transition.built(kind=kind, seconds=seconds, span=self._span(tok),
                          seconds_span=self._span(duration) if duration is not None else None,
                          seconds_text=str(duration) if duration is not None else None, **kw)

    def cut(self, children):
        return self._transition("cut", children[0])

    def continue_(self, children):
        return self._transition("continue", children[0])

    def dissolve(self, children):
        return self._transition("dissolve", *children)

    def fade(self, children):
        return self._transition("fade", *children)

    def wipe(self, children):
        tok, word, duration = children
        return self._transition("wipe", tok, duration, direction=str(word), direction_span=self._span(word))

    def morph(self, children):
        tok, duration, *rest = children
        value, cont = self._split(rest)
        text, _ = self._value(value, cont)
        return self._transition("morph", tok, duration, text=text)


_BUILD = _Build()  # the callbacks of `_lark()`


def _clip_seconds(text: str) -> int | float:
    value = float(text[:-1])
    return int(value) if value.is_integer() else value


def _merge_prose(body: list) -> list:
    """Consecutive prose lines are one paragraph, joined with one space. Each run is joined once
    (merging pairwise re-copied and re-validated the growing paragraph: quadratic in its lines)."""
    out: list = []
    run: list[Prose] = []
    for item in body:
        if isinstance(item, Prose):
            run.append(item)
            continue
        if run:
            out.append(_paragraph(run))
            run = []
        out.append(item)
    if run:
        out.append(_paragraph(run))
    return out


def _paragraph(run: list[Prose]) -> Prose:
    """One run of consecutive prose lines as one Prose."""
    if len(run) == 1:
        return run[0]
    return Prose.built(text=" ".join(p.text for p in run), pieces=tuple(piece for p in run for piece in p.pieces),
                       span=run[0].span)
