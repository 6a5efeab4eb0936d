"""Prompt text from jinja2 templates (StrictUndefined), shipped in the package.

The compiler gathers the parts; the template only arranges them. A story may name its own
template (`template: my-prompt.j2`, relative to the story) with the same variables. A story's
template is shared text like the story itself, so it is rendered in jinja2's immutable sandbox
(no attributes that lead to Python's internals, no loader to reach other files, no huge values)
and whatever goes wrong in it is a `TemplateProblem`: a diagnostic at the template's own line.
User text only ever reaches a template as a variable, never as template source.
"""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from ..language.model import MENTION_RE
from ..diagnostics import Diagnostic, Span
from ..messages import not_utf8, report

MAX_TEMPLATE_VALUE = 100_000  # characters or items a template may build by `*`; prompts are far shorter
MAX_TEMPLATE_EXPONENT = 1_000


def prompt_variables(action: str, style: str | None = None, legend: Sequence[str] = (), opening: str | None = None,
                     extend: bool = False, beats: Sequence[dict] = (), camera: str | None = None,
                     dialogue: Sequence[dict] = (), sound: str | None = None, negative: str | None = None) -> dict:
    """A prompt's parts as the variables of its template, the package's or a story's own (each a
    list where it is several). One dict made straight away, for every prompt: a dataclass of
    the parts and then this dict from it cost a microsecond more a prompt."""
    return {"style": style, "legend": list(legend), "opening": opening, "extend": extend, "action": action,
            "beats": list(beats), "camera": camera, "dialogue": list(dialogue), "sound": sound, "negative": negative}


@lru_cache(maxsize=1)
def _package_env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@lru_cache(maxsize=1)  # looked up once: jinja2 would stat the file on every lookup
def _package_template() -> jinja2.Template:
    tmpl = _package_env().get_template("prompt.j2")
    tmpl.globals = _flat(tmpl.globals)
    return tmpl


def _flat(template_globals) -> dict:
    """A template's globals as one plain dict. jinja2 keeps them as a ChainMap over the
    environment's, and copies them into every render: through a ChainMap that copy was half the
    cost of rendering a prompt. Nothing changes either environment's globals after loading."""
    return dict(template_globals)


class TemplateProblem(Exception):
    """A story's own template cannot be used: `diagnostic` is at the template's file and line,
    `source` is the template's text (for showing that line)."""

    def __init__(self, diagnostic: Diagnostic, source: str):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic
        self.source = source


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, also refusing `*` and `**` that would build values big enough to exhaust the
    machine (`{{ "a" * 10**10 }}`, `{{ 9 ** 999999999 }}`): the checker runs on whoever opens a shared story."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator, left, right):
        if operator == "**" and isinstance(right, int) and abs(right) > MAX_TEMPLATE_EXPONENT:
            raise SecurityError(f"an exponent above {MAX_TEMPLATE_EXPONENT} is not allowed in a template")
        if operator == "*" and _repeat_length(left, right) > MAX_TEMPLATE_VALUE:
            raise SecurityError(f"a value longer than {MAX_TEMPLATE_VALUE:,} is not allowed in a template")
        return super().call_binop(context, operator, left, right)


def _repeat_length(left, right) -> int:
    """How long `left * right` would be when it repeats a string or a list (0 for numbers)."""
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
            return len(seq) * times
    return 0


@dataclass(frozen=True, eq=False)  # compared and hashed as itself: prompts are memoised per template
class StoryTemplate:
    """A story's own template, compiled in the sandbox; `shown` is how messages name its file."""

    template: jinja2.Template
    filename: str  # the real path, as jinja2's traceback frames name it
    shown: str
    source: str

    def render(self, **variables) -> str:
        try:
            return self.template.render(**variables)
        except Exception as exc:  # noqa: BLE001 - a shared template can fail in any way; each is a diagnostic
            raise TemplateProblem(_runtime_diagnostic(self, exc), self.source) from None


def _runtime_diagnostic(tmpl: StoryTemplate, exc: Exception) -> Diagnostic:
    # jinja2 rewrites the traceback so that frames of the template carry its file and line.
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == tmpl.filename and f.lineno]
    span = _span_of_name(tmpl, lines[-1] if lines else 1, str(exc))
    if isinstance(exc, SecurityError):
        return report("SB421", span, why=exc)
    if isinstance(exc, jinja2.UndefinedError):
        return report("SB420", span, "failed", hint="variables", why=exc)
    words = str(exc) if isinstance(exc, jinja2.TemplateError) else f"{type(exc).__name__}: {exc}"
    return report("SB420", span, "failed", why=words)


def _span_of_name(tmpl: StoryTemplate, line: int, message: str) -> Span:
    """Line `line` of the template, at the name the message quotes ('x' is undefined, attribute
    '__init__') when that line holds it, else at its start."""
    quoted = re.search(r"'([A-Za-z_][A-Za-z0-9_]*)'", message)
    lines = re.split(r"\r\n|\r|\n", tmpl.source)  # as jinja2 counts lines
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    found = re.search(r"\b" + re.escape(quoted.group(1)) + r"\b", text) if quoted else None
    if found is None:
        return Span(tmpl.shown, line, 1)
    return Span(tmpl.shown, line, found.start() + 1, line, found.end() + 1)


@lru_cache(maxsize=16)
def _file_template(path: str, mtime_ns: int, shown: str) -> StoryTemplate:
    data = Path(path).read_bytes()
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateProblem(not_utf8(shown, data, exc), data.decode("utf-8", errors="replace")) from None
    env = _Sandbox(undefined=jinja2.StrictUndefined, autoescape=False)
    try:
        code = env.compile(source, name=shown, filename=path)
    except jinja2.TemplateSyntaxError as exc:
        span = Span(shown, exc.lineno or 1, 1)
        raise TemplateProblem(report("SB420", span, "syntax", why=exc.message), source) from None
    return StoryTemplate(env.template_class.from_code(env, code, _flat(env.make_globals(None))), path, shown, source)


def template(path: Path | None = None) -> jinja2.Template | StoryTemplate:
    """The package's prompt template, or the story's own at `path` (a file the story may use:
    `Film.story_file` decides). Raises TemplateProblem for a template that cannot be used and
    OSError for one that cannot be read."""
    if path is None:
        return _package_template()
    return _file_template(str(path), path.stat().st_mtime_ns, os.path.relpath(path))


# A run of blanks that is more than one space (one space stays as it is: no needless rewrite).
_BLANKS = re.compile(r"[ \t]{2,}|\t")


def render_prompt(variables: dict, tmpl: jinja2.Template | StoryTemplate | None = None) -> str:
    """The prompt from `prompt_variables`, through the story's template or else the package's."""
    package = _package_template()
    text = _render_fast(package, variables) if tmpl is None or tmpl is package else tmpl.render(**variables)
    return tidy(text)


def _render_fast(tmpl: jinja2.Template, variables: dict) -> str:
    """`tmpl.render(**variables)` less its copy of `variables` into a new dict: a quarter of the
    cost around the template's own code, in the render of every prompt. Only for the package's
    template: a story's own renders through `StoryTemplate.render`, which names its failures."""
    try:
        return "".join(tmpl.root_render_func(tmpl.new_context(variables)))
    except Exception:  # noqa: BLE001 - as `Template.render` does: jinja2 points the traceback at the template
        tmpl.environment.handle_exception()


def tidy(text: str) -> str:
    """Each line with its runs of blanks as one space and no blanks at its ends; no empty lines."""
    if "  " in text or "\t" in text:
        text = _BLANKS.sub(" ", text)
    return "\n".join(filter(None, map(str.strip, text.splitlines())))


def rewrite_mentions(text: str, words: dict[str, str]) -> str:
    """`@Kitten` -> its index words ("Image 1"); unknown names are left for the checker."""
    if "@" not in text:  # most lines mention no one: no regex pass
        return text
    # split, not `sub` with a callback: no match object and no call per mention
    parts = MENTION_RE.split(text)  # text, name, text, name, ..., text
    for i in range(1, len(parts), 2):
        parts[i] = words.get(parts[i], "@" + parts[i])
    return "".join(parts)
