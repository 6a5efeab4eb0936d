"""The diagnostics catalogue (storyboard/messages.py) is the one place that words every problem.

- every code the source mentions is catalogued, and every catalogued code is used;
- every `report(...)` call names a variant, hint and notes the code has and gives the arguments
  their templates need (read from the source, so a typo fails here, not when a user meets it);
- only the catalogue builds diagnostics;
- every code has a golden error case (tests/golden/errors) with the catalogue's severity;
- docs/diagnostics.md is what `make docs` generates now.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

import storyboard
from storyboard.diagnostics import Severity, Span
from storyboard.messages import CATALOGUE, HINTS, NOTES, ONLY, markdown, not_utf8, note, report

PACKAGE = Path(storyboard.__file__).resolve().parent
ROOT = PACKAGE.parent
GOLDEN_ERRORS = ROOT / "tests" / "golden" / "errors"
DOCS = ROOT / "docs" / "diagnostics.md"
CODE_RE = re.compile(r"""["'](SB\d{3})["']""")
# Still builds `Diagnostic(...)` itself: its syntax errors are being rewritten as a table of
# examples (issue 11 item 5); they move to `report` with that rewrite. Its codes are catalogued.


def _sources() -> dict[str, str]:
    return {p.relative_to(PACKAGE).as_posix(): p.read_text(encoding="utf-8") for p in sorted(PACKAGE.rglob("*.py"))
            if p.name != "messages.py"}


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


# ---- codes ----------------------------------------------------------------------------------------

def test_every_code_the_source_uses_is_catalogued():
    unknown = {f"{path}: {code}" for path, text in _sources().items() for code in CODE_RE.findall(text)
               if code not in CATALOGUE}
    assert not unknown, "add these codes to storyboard/messages.py"


def test_every_catalogued_code_is_used():
    used = {code for text in _sources().values() for code in CODE_RE.findall(text)}
    assert not set(CATALOGUE) - used, "remove the codes nothing reports, or report them"


def test_codes_are_sorted_and_well_formed():
    assert list(CATALOGUE) == sorted(CATALOGUE)
    for entry in CATALOGUE.values():
        assert re.fullmatch(r"SB\d{3}", entry.code)
        assert entry.explanation.endswith(".") and "\n" not in entry.explanation, entry.code
        assert entry.messages and all(entry.messages.values()), entry.code
        templates = [*entry.messages.values(), *(t for t in entry.hints.values() if t), *entry.notes.values()]
        for template in templates + [entry.hint or ""]:
            _fields(template)  # raises on a stray brace


# ---- the calls ----------------------------------------------------------------------------------

def _constants(node: ast.AST | None) -> list:
    """The values a call argument can take when it is written as constants (`"a" if x else None`)."""
    if node is None:
        return []
    if isinstance(node, ast.Constant):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _constants(node.body) + _constants(node.orelse)
    if isinstance(node, (ast.Tuple, ast.List)):
        return [v for e in node.elts for v in _constants(e)]
    raise LookupError  # worked out at run time


def _report_calls():
    for path, text in _sources().items():
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and (getattr(node.func, "id", None) == "report"
                                               or getattr(node.func, "attr", None) == "report"):
                yield f"{path}:{node.lineno}", node


def _check_call(where: str, call: ast.Call) -> list[str]:
    kw = {k.arg: k.value for k in call.keywords}
    args = set(kw) - {"hint", "notes"} if None not in kw else None  # None: a **splat, arguments unknown
    variant_node = call.args[2] if len(call.args) > 2 else kw.get("variant")
    try:
        codes = _constants(call.args[0])
    except LookupError:  # a wrapper that hands its own arguments on is checked at its callers
        return [] if args is None else [f"{where}: the code is not written as a constant"]
    problems = []
    for code in codes:
        entry = CATALOGUE.get(code)
        if entry is None:
            problems.append(f"{where}: {code} is not catalogued")
            continue
        try:
            variants = _constants(variant_node) or [None]
        except LookupError:  # chosen at run time: the golden cases exercise it
            variants = []
        for variant in variants:
            key = variant or ONLY
            if key not in entry.messages:
                problems.append(f"{where}: {code} has no message form {variant!r}")
                continue
            needed = _fields(entry.messages[key])
            try:
                hints = _constants(kw["hint"]) if "hint" in kw else [entry.hints.get(key, entry.hint) and key]
            except LookupError:
                hints = []
            for hint in hints:
                if hint is None:
                    continue
                template = entry.hints.get(hint, entry.hint if hint == key else HINTS.get(hint))
                if template is None:
                    problems.append(f"{where}: {code} has no hint {hint!r}")
                else:
                    needed |= _fields(template)
            for name in _constants(kw.get("notes")):
                if name not in entry.notes and name not in NOTES:
                    problems.append(f"{where}: {code} has no note {name!r}")
                else:
                    needed |= _fields(entry.notes.get(name) or NOTES[name])
            if args is not None and needed - args:
                problems.append(f"{where}: {code} ({key}) is missing arguments {sorted(needed - args)}")
    return problems


def test_every_report_names_a_known_form_hint_and_note_and_gives_their_arguments():
    calls = list(_report_calls())
    assert len(calls) > 50  # the walk finds the calls
    problems = [p for where, call in calls for p in _check_call(where, call)]
    assert not problems, "\n".join(problems)


def test_only_the_catalogue_builds_diagnostics():
    builders = []
    for path, text in _sources().items():
        if path == "diagnostics.py":
            continue
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Diagnostic":
                builders.append(f"{path}:{node.lineno}")
    assert not builders, "report through storyboard.messages.report instead"


# ---- report() ---------------------------------------------------------------------------------

SPAN = Span("film.story", 3, 5)


def test_report_fills_in_the_message_and_its_hint_and_takes_the_severity_from_the_catalogue():
    d = report("SB009", SPAN, "wipe_direction", duration="1s")
    assert (d.code, d.message, d.span, d.severity) == ("SB009", "`wipe` needs a direction", SPAN, Severity.ERROR)
    assert d.hint == "write `wipe left 1s` (left, right, up or down)"
    assert report("SB901", SPAN, key="camra", near="camera").severity is Severity.WARNING


def test_a_hint_is_the_forms_own_else_the_codes_else_a_named_one_or_none():
    assert report("SB502", SPAN, "later", name="a").hint == "an extension continues the clip directly before it"
    assert report("SB101", SPAN, key="x").hint is None
    assert report("SB101", SPAN, key="x", hint="did_you_mean", near="title").hint == "did you mean `title`?"
    assert report("SB002", SPAN, hint=None).hint is None


def test_notes_are_named():
    d = report("SB204", SPAN, name="a", hint=None, notes=("namespace",))
    assert d.notes == ("cast members and clips share one namespace",)
    assert note("template_set_at", where=SPAN) == "the prompt template is set at film.story:3:5"


def test_counted_words_agree_with_their_number():
    args = {"label": "a", "provider": "p", "lo": 1, "hi": 9, "hint": None}
    assert report("SB406", SPAN, "length", length=1, **args).message.startswith("the prompt of a is 1 character;")
    assert report("SB406", SPAN, "length", length=12, **args).message.startswith("the prompt of a is 12 characters;")


@pytest.mark.parametrize("call", [
    lambda: report("SB999", SPAN),  # not catalogued
    lambda: report("SB009", SPAN, kind="fade"),  # several forms: the variant is needed
    lambda: report("SB009", SPAN, "no_such_form"),
    lambda: report("SB101", SPAN, key="x", hint="no_such_hint"),
    lambda: report("SB204", SPAN, name="a", hint=None, notes=("no_such_note",)),
    lambda: report("SB105", SPAN),  # its argument is missing
], ids=["code", "variant-needed", "variant", "hint", "note", "argument"])
def test_what_the_catalogue_does_not_know_raises(call):
    with pytest.raises(KeyError):
        call()


def test_not_utf8_points_at_the_byte():
    data = "ok\ncaf\u00e9".encode("latin-1")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        d = not_utf8("f.story", data, exc)
    assert (d.code, d.span.line, d.span.column, d.message) == (
        "SB034", 2, 4, "not UTF-8 text: byte 0xE9 cannot be read as UTF-8")


# ---- golden cases and the reference -------------------------------------------------------------

def _golden_reports() -> dict[str, set[str]]:
    """code -> the severities it is rendered with in the golden error cases."""
    found: dict[str, set[str]] = {}
    for path in GOLDEN_ERRORS.glob("*.txt"):
        for severity, code in re.findall(r"\b(error|warning)\[(SB\d{3})\]", path.read_text(encoding="utf-8")):
            found.setdefault(code, set()).add(severity)
    return found


def test_every_code_has_a_golden_error_case():
    shown = _golden_reports()
    missing = [code for code, entry in CATALOGUE.items() if code not in shown and not entry.no_example]
    assert not missing, "add a tests/golden/errors case that reports each of these"
    assert not [code for code, entry in CATALOGUE.items() if code in shown and entry.no_example]


def test_golden_cases_show_catalogued_codes_with_their_severity():
    for code, severities in _golden_reports().items():
        assert code in CATALOGUE, code
        assert severities == {CATALOGUE[code].severity.value}, code


def test_the_reference_is_current():
    expected = markdown(GOLDEN_ERRORS)
    assert DOCS.read_text(encoding="utf-8") == expected, "docs/diagnostics.md is stale: run `make docs`"


def test_the_reference_shows_every_code_and_its_example():
    text = DOCS.read_text(encoding="utf-8")
    for code, entry in CATALOGUE.items():
        assert f"## {code} ({entry.severity.value})" in text
        assert entry.no_example or re.search(rf"```text\n[^`]*\[{code}\]", text), code


def test_the_readme_and_the_language_reference_link_to_it():
    for doc, link in ((ROOT / "README.md", "docs/diagnostics.md"), (ROOT / "docs" / "language.md", "diagnostics.md")):
        assert f"]({link})" in doc.read_text(encoding="utf-8"), doc
