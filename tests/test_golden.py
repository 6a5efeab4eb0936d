"""Golden tests of the front half: parse trees, compiled plans and rendered diagnostics.

One input and one expected file per case, each case its own test id:

- tests/golden/parse/<case>.story   -> <case>.json  (`Story.model_dump()`, sorted, indented)
- tests/golden/compile/<case>.story -> <case>.json  (the plan JSON; provider `together` unless the
  first line says `# provider: preview`), and each example film -> example-<film>.json
- tests/golden/errors/<case>.story  -> <case>.txt   (the rendered diagnostics, warnings included;
  provider `preview` unless the first line says `# provider: together`)

Inputs are read with the case's folder as the working directory, so every path in the output is
relative to it. Regenerate with STORYBOARD_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from golden_util import assert_golden
from storyboard.api import compile_file
from storyboard.diagnostics import render
from storyboard.language.parser import parse
from storyboard.providers import get

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
EXAMPLES = HERE.parent / "examples"
# Example films whose references a remote provider can take are compiled for it.
EXAMPLE_PROVIDERS = {"kitten-general": "together"}

# The symlink case needs a link pointing out of the golden folder; it is made at run time.
SYMLINK = GOLDEN / "errors" / "assets" / "outside-link.png"
SYMLINK_TARGET = Path("..") / ".." / "compile" / "assets" / "red.png"


def _cases(folder: str) -> list[Path]:
    return sorted((GOLDEN / folder).glob("*.story"))


def _provider_line(path: Path, default: str) -> str:
    first = path.read_text(encoding="utf-8").split("\n", 1)[0]
    m = re.fullmatch(r"#\s*provider:\s*(\w+)\s*", first)
    return m.group(1) if m else default


def _ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


# ---- parse ------------------------------------------------------------------------------------

PARSE_CASES = _cases("parse")


@pytest.mark.parametrize("case", PARSE_CASES, ids=_ids(PARSE_CASES))
def test_parse(case: Path):
    story, diags = parse(case.read_text(encoding="utf-8"), case.name)
    assert diags == [], render(diags)
    dumped = json.dumps(story.model_dump(mode="json"), sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert_golden(case.with_suffix(".json"), dumped)


# ---- compile ----------------------------------------------------------------------------------

COMPILE_CASES = [(p, _provider_line(p, "together"), p.with_suffix(".json")) for p in _cases("compile")]
COMPILE_CASES += [(p, EXAMPLE_PROVIDERS.get(p.parent.name, "preview"),
                   GOLDEN / "compile" / f"example-{p.parent.name}.json")
                  for p in sorted(EXAMPLES.glob("*/*.story")) if p.stem == p.parent.name]


def _normalise_paths(text: str, folder: Path) -> str:
    for absolute in {str(folder), str(folder.resolve())}:
        text = text.replace(absolute + os.sep, "").replace(absolute, ".")
    return text


@pytest.mark.parametrize("case,provider,expected", COMPILE_CASES,
                         ids=[e.stem for _, _, e in COMPILE_CASES])
def test_compile(case: Path, provider: str, expected: Path, monkeypatch):
    monkeypatch.chdir(case.parent)
    result = compile_file(case.name, get(provider))
    errors = [d for d in result.diagnostics if d.is_error]
    assert not errors, render(result.diagnostics, result.sources)
    assert_golden(expected, _normalise_paths(result.plan.to_json(), case.parent))


# ---- errors -----------------------------------------------------------------------------------

ERROR_CASES = _cases("errors")


@pytest.fixture
def outside_symlink():
    """A link inside the folder to a file outside it (made here: not every checkout keeps links)."""
    if SYMLINK.is_symlink():
        return
    try:
        SYMLINK.symlink_to(SYMLINK_TARGET)
    except OSError as exc:  # e.g. Windows without the privilege
        pytest.skip(f"cannot create a symlink here: {exc}")


@pytest.mark.parametrize("case", ERROR_CASES, ids=_ids(ERROR_CASES))
def test_errors(case: Path, monkeypatch, request):
    if "symlink" in case.stem:
        request.getfixturevalue("outside_symlink")
    monkeypatch.chdir(case.parent)
    result = compile_file(case.name, get(_provider_line(case, "preview")))
    assert result.diagnostics, f"{case.name} is a mistake but reports nothing"
    text = render(result.diagnostics, result.sources)
    assert "Traceback" not in text
    assert_golden(case.with_suffix(".txt"), text)


def test_every_folder_has_cases():
    assert len(PARSE_CASES) >= 8
    assert len(COMPILE_CASES) >= 8
    assert len(ERROR_CASES) >= 45


@pytest.mark.parametrize("folder,suffix", [("parse", ".json"), ("compile", ".json"), ("errors", ".txt")])
def test_no_orphaned_expectations(folder: str, suffix: str):
    """An expected file without its input is a renamed or deleted case: delete it too."""
    inputs = {p.stem for p in _cases(folder)}
    if folder == "compile":
        inputs |= {e.stem for _, _, e in COMPILE_CASES}
    orphans = [p.name for p in (GOLDEN / folder).glob(f"*{suffix}") if p.stem not in inputs]
    assert not orphans
