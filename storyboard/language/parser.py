"""Text -> `Story`. The only module that imports lark.

Syntax errors become diagnostics; the parser recovers line by line (it blanks out the offending
line, or the whole block whose header is broken) so that one run reports every problem.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import DedentError, Indenter

from ..diagnostics import Diagnostic, Span
from .model import (
    Beat, CastMember, Clip, Dialogue, Include, Prose, Setting, Story, Text, Transition,
)

MAX_RECOVERIES = 50
TOP_KEYWORDS = ("character", "prop", "place", "shot", "scene", "extend",
                "cut", "dissolve", "fade", "wipe", "morph", "continue")


class _StoryIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types: list = []
    CLOSE_PAREN_types: list = []
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


def grammar_text() -> str:
    """The grammar lives beside this module, so a checkout and the wheel read the same file."""
    return (resources.files(__package__) / "story.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(grammar_text(), parser="lalr", lexer="contextual", postlex=_StoryIndenter(),
                propagate_positions=True, maybe_placeholders=False, cache=False)


def raw_parse(text: str):
    """The bare Lark parse tree (for benchmarks comparing against the full pipeline)."""
    return _lark().parse(_normalise(text))


def reads_as_prose(line: str) -> bool:
    """Whether `line`, written alone as a line of a clip's body, reads back as prose with this
    exact text. Dialogue, beats and clip settings win over prose at the start of a line, so two
    prose lines joined into one can read as something else (`@A:` and `"Hi"` make dialogue,
    `shot` and `4s: x` a beat): the formatter asks the grammar itself before it joins them."""
    try:
        tree = _lark().parse(f"shot _:\n  {line}\n")
    except (UnexpectedInput, DedentError):
        return False
    body = tree.children[0].children[2:] if tree.children else []
    return len(body) == 1 and body[0].data == "prose" and [str(t) for t in body[0].children] == [line]


def _normalise(text: str) -> str:
    text = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    return text if text.endswith("\n") else text + "\n"


# ---- public API ------------------------------------------------------------------------------

def parse(text: str, path: str = "<story>") -> tuple[Story, list[Diagnostic]]:
    """Parse a whole file. Always returns a Story (possibly partial) and the syntax diagnostics."""
    text = _normalise(text)
    lines = text.split("\n")
    diags = _check_indentation(lines, path) + _check_empty_blocks(lines, path)
    for d in diags:  # a line with bad indentation cannot be parsed: blank it and go on
        _blank(lines, d.span.line, d.span.line)
    try:
        tree = _parse_recovering(lines, path, diags)
    except DedentError:
        # _check_indentation catches these first; this is a last line of defence.
        diags.append(Diagnostic("SB003", "inconsistent indentation", Span(path, 1, 1)))
        return Story(path=path, span=Span(path, 1, 1)), diags
    if tree is None:
        return Story(path=path, span=Span(path, 1, 1)), diags
    items = _Build(path).transform(tree)
    return Story(path=path, items=tuple(items), span=Span(path, 1, 1)), sorted(diags, key=_pos)


def _parse_recovering(lines: list[str], path: str, diags: list[Diagnostic]) -> Tree | None:
    """Parse `lines`, blanking what cannot be parsed (and adding its diagnostic to `diags`) until
    the rest parses; None after MAX_RECOVERIES errors.

    After an error only the text from a top-level line before it is parsed again: the items above
    that line parsed cleanly and are not touched by the blanking. Once that rest parses, the whole
    text is parsed once more for the tree. Re-parsing from the top after every error made a long
    file with its errors near the end take minutes."""
    recoveries = 0
    start = 0  # lines before this index are blank to the parser this time round (it is linear)
    while True:
        try:
            tree = _lark().parse("\n" * start + "\n".join(lines[start:]))
        except UnexpectedInput as exc:
            diag, first, last = _syntax_error(exc, lines, path)
            if diag is not None:
                diags.append(diag)
            _blank(lines, first, last)
            recoveries += 1
            if recoveries == MAX_RECOVERIES:
                return None
            start = _resume_index(lines, min(first, _error_line(exc, lines)))
            continue
        if start == 0:
            return tree
        start = 0


def _error_line(exc: UnexpectedInput, lines: list[str]) -> int:
    """The line of the token the parser refused (past the end for an unexpected end of file)."""
    line = getattr(exc, "line", -1)
    return line if isinstance(line, int) and line > 0 else len(lines) + 1


def _resume_index(lines: list[str], before: int) -> int:
    """The index of the last top-level line above line `before` (1-based), 0 if there is none.
    A top-level line above the refused token was read in full with every item above it complete,
    so a parse that starts there finds what a parse from the top would find."""
    for index in range(min(before, len(lines) + 1) - 2, 0, -1):
        if lines[index][:1] not in ("", " ", "\t", "#"):
            return index
    return 0


def parse_file(path: Path | str) -> tuple[Story, list[Diagnostic], str]:
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    story, diags = parse(text, str(path))
    return story, diags, text


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
            diags.append(Diagnostic("SB002", "tab in indentation; indent with spaces",
                                    Span(path, n, col, n, col + 1),
                                    hint="replace each tab with spaces (storyboard fmt does not guess tab widths)"))
            continue
        width = len(lead)
        if width > stack[-1]:
            stack.append(width)
        else:
            inner = stack[-1]
            while width < stack[-1]:
                inner = stack.pop()
            if width != stack[-1]:
                diags.append(Diagnostic(
                    "SB003", f"inconsistent indentation: {width} spaces matches no enclosing level",
                    Span(path, n, 1, n, width + 1),
                    hint=f"indent it {inner} spaces like the lines above it, or {stack[-1]} to end their block"))
                stack.append(width)
    return diags


BLOCK_KEYWORDS = ("character", "prop", "place", "shot", "scene", "extend")


def _check_empty_blocks(lines: list[str], path: str) -> list[Diagnostic]:
    """A block header with no indented body under it (Lark would only see a stray dedent)."""
    diags = []
    for n, line in enumerate(lines, 1):
        code = line.split("#", 1)[0].rstrip()
        if not code or code[0] == " " or not code.endswith(":") or code.split(" ", 1)[0] not in BLOCK_KEYWORDS:
            continue
        nxt = next((m for m in range(n + 1, len(lines) + 1)
                    if lines[m - 1].strip() and not lines[m - 1].lstrip().startswith("#")), None)
        if nxt is None or not lines[nxt - 1].startswith((" ", "\t")):
            diags.append(Diagnostic("SB005", f"`{code[:-1].strip()}` has no body",
                                    Span(path, n, 1, n, len(code) + 1),
                                    hint="indent the lines that belong to this block under its header"))
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
        if not line.strip() or line.lstrip().startswith("#"):
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


def _syntax_error(exc: UnexpectedInput, lines: list[str], path: str) -> tuple[Diagnostic | None, int, int]:
    line = max(getattr(exc, "line", 1) or 1, 1)
    column = max(getattr(exc, "column", 1) or 1, 1)
    if isinstance(exc, UnexpectedEOF) or line > len(lines):
        line = len([ln for ln in lines if ln.strip()]) and max(i + 1 for i, ln in enumerate(lines) if ln.strip())
        line = line or 1
        return (Diagnostic("SB001", "the file ends in the middle of a block",
                           Span(path, line, 1, line, len(lines[line - 1]) + 1)), line, line)
    src = lines[line - 1]
    stripped = src.strip()
    indent = len(src) - len(src.lstrip(" "))
    token = exc.token if isinstance(exc, UnexpectedToken) else None
    expected = set(getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ())
    first = last = line

    # An unexpected indented line right after a line that cannot own a body.
    if token is not None and token.type == "_INDENT":
        # The indenter dates an _INDENT from the newline that ends the line before it (and any
        # blank or comment lines in between): the indented line is the next one with content.
        line = _next_content_line(lines, line) or line
        src = lines[line - 1]
        indent = len(src) - len(src.lstrip(" "))
        prev = _previous_content_line(lines, line)
        last = max(_block_end(lines, prev), line) if prev is not None else line
        msg = "unexpected indentation"
        hint = None
        if prev is not None and lines[prev - 1].rstrip().endswith(":") is False and indent:
            hint = "only block headers (lines ending in ':') and continued text take indented lines"
        return Diagnostic("SB004", msg, Span(path, line, 1, line, indent + 1), hint=hint), line, last

    if token is not None and token.type in ("_DEDENT", "$END"):
        # A block lost its body to an earlier error (its lines were blanked): not a new problem.
        prev = min(max(getattr(token, "line", None) or line, 1), len(lines))
        if _is_block_header(lines[prev - 1]):
            return None, prev, prev
        return (Diagnostic("SB001", "unexpected end of block", Span(path, prev, 1, prev, len(lines[prev - 1]) + 1)),
                prev, prev)

    if token is not None and str(token).startswith('"'):
        return (Diagnostic("SB006", "unclosed quote", Span(path, line, column, line, len(src) + 1),
                           hint='close the "..." on the same line'), line, line)

    # Headers and transitions with a missing or malformed part: say which part.
    if indent == 0:
        found_problem = _top_line_problem(src, line, path)
        if found_problem is not None:
            diag, is_header = found_problem
            return diag, line, _block_end(lines, line) if is_header else line

    # Where the problem is at the start of the line, say what the line is not.
    first_word = stripped.split(" ", 1)[0].split(":", 1)[0] if stripped else ""
    at_line_start = column - 1 <= indent
    prev = _previous_content_line(lines, line)
    if at_line_start and prev is not None and _is_block_header(lines[prev - 1]) \
            and indent <= len(lines[prev - 1]) - len(lines[prev - 1].lstrip(" ")):
        # The block above lost its body to an earlier error: drop its header quietly.
        return None, prev, prev
    if at_line_start:
        if indent == 0:
            msg = f"unknown line `{_shorten(stripped)}`"
            hint = ("expected a setting (`key: value`), a block (character, prop, place, shot, scene, extend) "
                    "or a transition (cut, dissolve, fade, wipe, morph, continue)")
            close = difflib.get_close_matches(first_word, TOP_KEYWORDS, n=1, cutoff=0.6)
            if close:
                hint = f"did you mean `{close[0]}`?"
            elif prev is not None and lines[prev - 1].startswith(" "):
                hint = "to continue the block above, indent this line like the lines above it"
            if stripped.endswith(":") and first_word in TOP_KEYWORDS:
                msg = f"`{first_word}` needs a name"
                hint = f"write `{first_word} NAME:`" if first_word in ("character", "prop", "place") else \
                       f"write `{first_word} NAME [DURATION]:`"
            last = _block_end(lines, line)
            code = "SB010"
        else:
            msg = f"expected `key: value` here, found `{_shorten(stripped)}`"
            hint = "cast blocks take image:, video:, voice: and description: lines"
            code = "SB011"
        return Diagnostic(code, msg, Span(path, line, column, line, len(src) + 1), hint=hint), first, last

    found = _found(exc, src, column)
    if isinstance(exc, UnexpectedCharacters) and src[column - 1:column] == '"':
        msg = "unclosed quote"
        return (Diagnostic("SB006", msg, Span(path, line, column, line, len(src) + 1),
                           hint='close the "..." on the same line'), line, _header_extent(lines, line))
    msg = f"unexpected {found}"
    if len(expected) > 1:  # LALR states offer the end of the line where it would not parse
        expected.discard("_NL")
    exp = _describe_expected(expected)
    if exp:
        msg += f"; expected {exp}"
    bare = found.strip("`").rstrip(":")
    if "DURATION" in expected and re.fullmatch(r"[0-9]+(\.[0-9]+)?", bare):
        hint = f"durations carry a unit: `{bare}s`"
    elif "NAME" in expected:
        hint = NAME_HINT
    elif expected == {"_NL"} and _DIALOGUE_RE.match(stripped):
        hint = "a dialogue line is one quoted line; put what follows on a line of its own"
    else:
        hint = None
    return (Diagnostic("SB007", msg, Span(path, line, column, line, column + max(len(found.strip("`")), 1)), hint=hint),
            line, _header_extent(lines, line))


NAME_HINT = "names start with a letter or _ and use only A-Z, a-z, 0-9, _ and -"
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
    kind = words[0]

    def col(word: str) -> int:  # 1-based; the first occurrence is the one meant
        return code.index(word) + 1

    def diag(code_: str, msg: str, start: int, length: int, hint: str) -> Diagnostic:
        return Diagnostic(code_, msg, Span(path, line, start, line, start + max(length, 1)), hint=hint)

    if kind in BLOCK_KEYWORDS and code.endswith(":"):
        usage = f"`{kind} NAME:`" if kind in _CAST_KINDS else f"`{kind} NAME [DURATION]:`"
        parts = code[len(kind):-1].split()
        if not parts:
            return diag("SB008", f"`{kind}` needs a name", 1, len(kind), f"write {usage}"), True
        if _DURATION_RE.fullmatch(parts[0]) and kind not in _CAST_KINDS:
            return diag("SB008", f"`{kind}` needs a name before its duration", col(parts[0]), len(parts[0]),
                        f"write `{kind} NAME {parts[0]}:`"), True
        if not _NAME_RE.fullmatch(parts[0]):
            hint = NAME_HINT
            if any(ord(ch) > 127 for ch in parts[0]):
                hint += "; write other scripts (Chinese, accents) in prose and descriptions, not in names"
            return diag("SB008", f"`{parts[0]}` is not a valid name", col(parts[0]), len(parts[0]), hint), True
        if kind in _CAST_KINDS and len(parts) > 1:
            return diag("SB008", f"a {kind} takes no duration", col(parts[1]), len(parts[1]),
                        f"write {usage}; durations belong to clips"), True
        return None
    args = code[len(kind):].split()
    if kind in ("dissolve", "fade") and not args:
        return diag("SB009", f"`{kind}` needs a duration", 1, len(kind), f"for example `{kind} 1s`"), False
    if kind == "wipe" and len(args) <= 1:
        directions = "left, right, up or down"
        if not args:
            return diag("SB009", "`wipe` needs a direction and a duration", 1, len(kind),
                        f"for example `wipe left 1s` ({directions})"), False
        if _DURATION_RE.fullmatch(args[0]):
            return diag("SB009", "`wipe` needs a direction", col(args[0]), len(args[0]),
                        f"write `wipe left {args[0]}` ({directions})"), False
        return diag("SB009", "`wipe` needs a duration", len(code) + 1, 1,
                    f"for example `wipe {args[0]} 1s`"), False
    if kind == "morph" and (not args or args[0] == ":"):
        return diag("SB009", "`morph` needs a duration and a prompt", 1, len(kind),
                    "for example `morph 1s: the helmet melts into the rising sun`"), False
    if kind in ("cut", "continue") and args:
        return diag("SB009", f"`{kind}` takes nothing after it", col(args[0]), len(code) - col(args[0]) + 1,
                    f"a {kind} has no duration; use `dissolve 1s` or `fade 1s` for a gradual transition"
                    if kind == "cut" else "write `continue` on a line of its own"), False
    return None


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
    code = line.split("#", 1)[0].rstrip()
    return bool(code) and not line[:1].isspace() and code.endswith(":") and code.split(None, 1)[0] in BLOCK_KEYWORDS


def _next_content_line(lines: list[str], line: int) -> int | None:
    for n in range(line + 1, len(lines) + 1):
        s = lines[n - 1].strip()
        if s and not s.startswith("#"):
            return n
    return None


def _previous_content_line(lines: list[str], line: int) -> int | None:
    for n in range(line - 1, 0, -1):
        s = lines[n - 1].strip()
        if s and not s.startswith("#"):
            return n
    return None


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


# ---- tree -> model -------------------------------------------------------------------------

def _span(path: str, tok: Token) -> Span:
    return Span(path, tok.line, tok.column, tok.end_line, tok.end_column)


_DIALOGUE_RE = re.compile(r'@(?P<name>[A-Za-z_][A-Za-z0-9_-]*)[ \t]*(\((?P<how>[^)\n]*)\))?[ \t]*:[ \t]*"(?P<line>[^"\n]*)"')
_BEAT_RE = re.compile(r"shot(?:[ \t]+(?P<dur>[0-9]+(?:\.[0-9]+)?)s)?[ \t]*:")


class _Build:
    """Tree -> model nodes: each rule (or alias) is a method taking the rule's children, built
    bottom-up. A plain walk rather than a lark Transformer: a third of the time on big stories."""

    def __init__(self, path: str):
        self.path = path

    def transform(self, tree: Tree):
        return getattr(self, tree.data)(*[self.transform(c) if isinstance(c, Tree) else c for c in tree.children])

    # helpers
    def _text(self, tok: Token) -> Text:
        return Text(value=str(tok).rstrip(), span=_span(self.path, tok))

    def continuation(self, *toks):
        return [self._text(t) for t in toks]

    def _joined(self, first: Token | None, cont) -> tuple[str, list[Text]]:
        pieces = ([self._text(first)] if first is not None else []) + list(cont or [])
        return " ".join(p.value for p in pieces if p.value), pieces

    def _split(self, args):
        """Split optional value/continuation arguments."""
        value = cont = None
        for a in args:
            if isinstance(a, Token):
                value = value if value is not None else a
            elif isinstance(a, list) and cont is None:
                cont = a
        return value, cont

    # top level
    def start(self, *items):
        return list(items)

    def setting(self, key: Token, *rest):
        value, cont = self._split(rest)
        text, pieces = self._joined(value, cont)
        name = str(key).rstrip(":").rstrip()
        span = Span(self.path, key.line, key.column, key.line, key.column + len(name))
        value_span = pieces[0].span if pieces else Span(self.path, key.end_line, key.end_column)
        if name == "include":
            return Include(path=text, span=span, path_span=value_span)
        return Setting(key=name, value=text, span=span, value_span=value_span)

    def cast(self, kind: Token, name: Token, *fields):
        fields = tuple(f if isinstance(f, Setting) else Setting(key="include", value=f.path, span=f.span,
                                                              value_span=f.path_span) for f in fields)
        return CastMember(kind=str(kind), name=str(name), fields=fields, span=_span(self.path, kind),
                          name_span=_span(self.path, name))

    def clip(self, kind: Token, name: Token, *rest):
        seconds, seconds_span, body = None, None, []
        for r in rest:
            if isinstance(r, Token) and r.type == "DURATION":
                seconds_span = _span(self.path, r)
                seconds = _clip_seconds(str(r))
            elif not isinstance(r, Token):
                body.append(r)
        return Clip(kind=str(kind), name=str(name), seconds=seconds, body=tuple(_merge_prose(body)),
                    span=_span(self.path, kind), name_span=_span(self.path, name), seconds_span=seconds_span)

    # body lines
    def field(self, key: Token, *rest):  # a clip's `key: value` is built like any setting
        return self.setting(key, *rest)

    def prose(self, tok: Token, *rest):
        _, cont = self._split(rest)
        text, pieces = self._joined(tok, cont)
        return Prose(text=text, pieces=tuple(pieces), span=_span(self.path, tok))

    def dialogue(self, tok: Token, *rest):
        m = _DIALOGUE_RE.match(str(tok))
        span = _span(self.path, tok)
        how = m.group("how").strip() if m.group("how") is not None else None
        return Dialogue(speaker=m.group("name"), how=how or None, line=m.group("line").strip(), span=span,
                        speaker_span=span.at(1, len(m.group("name"))))

    def beat(self, tok: Token, *rest):
        m = _BEAT_RE.match(str(tok))
        value, cont = self._split(rest)
        text, pieces = self._joined(value, cont)
        span = _span(self.path, tok)
        seconds = seconds_span = None
        if m.group("dur"):
            seconds = _clip_seconds(m.group("dur") + "s")
            seconds_span = span.at(m.start("dur"), len(m.group("dur")) + 1)
        first_span = pieces[0].span if pieces else span
        return Beat(seconds=seconds, text=Prose(text=text, pieces=tuple(pieces), span=first_span), span=span,
                    seconds_span=seconds_span)

    # transitions
    def _transition(self, kind: str, tok: Token, duration: Token | None = None, **kw):
        seconds = float(str(duration)[:-1]) if duration is not None else None
        return Transition(kind=kind, seconds=seconds, span=_span(self.path, tok),
                          seconds_span=_span(self.path, duration) if duration is not None else None,
                          seconds_text=str(duration) if duration is not None else None, **kw)

    def cut(self, tok):
        return self._transition("cut", tok)

    def continue_(self, tok):
        return self._transition("continue", tok)

    def dissolve(self, tok, duration):
        return self._transition("dissolve", tok, duration)

    def fade(self, tok, duration):
        return self._transition("fade", tok, duration)

    def wipe(self, tok, word, duration):
        return self._transition("wipe", tok, duration, direction=str(word), direction_span=_span(self.path, word))

    def morph(self, tok, duration, *rest):
        value, cont = self._split(rest)
        text, _ = self._joined(value, cont)
        return self._transition("morph", tok, duration, text=text)


def _clip_seconds(text: str) -> int | float:
    value = float(text[:-1])
    return int(value) if value.is_integer() else value


def _merge_prose(body: list) -> list:
    """Consecutive prose lines are one paragraph, joined with one space. Each run is joined once
    (merging pairwise re-copied and re-validated the growing paragraph: quadratic in its lines)."""
    out: list = []
    run: list[Prose] = []
    for item in body + [None]:
        if isinstance(item, Prose):
            run.append(item)
            continue
        if len(run) == 1:
            out.append(run[0])
        elif run:
            out.append(Prose(text=" ".join(p.text for p in run),
                             pieces=tuple(piece for p in run for piece in p.pieces), span=run[0].span))
        run = []
        if item is not None:
            out.append(item)
    return out
