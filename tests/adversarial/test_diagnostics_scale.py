"""Issue 10, item 8: diagnostics stay linear in the number of problems, and the CLI prints the
first SHOWN_PER_FILE of each file plus a count of the rest (`check --all` prints every one).

Linearity is asserted by counting work (source reads, characters handed to the parser,
did-you-mean comparisons), with one generous time bound where a count would only restate the code.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from cli_process import storyboard
from storyboard.compiler.check import near as near_module
from storyboard import diagnostics as errors
from storyboard.language import parser
from storyboard.diagnostics import Diagnostic, Span, render
from storyboard.language.parser import parse

TAB_HINT = "tab in indentation"
SHOWN_PER_FILE = 50  # as the README says


def tab_story(errors_wanted: int) -> str:
    """A clip whose every other line is indented with a tab (one SB002 each)."""
    lines = ["shot a:"]
    for _ in range(errors_wanted):
        lines += ["  A quiet garden.", "\tA tab line."]
    return "\n".join(lines + ["  The end."]) + "\n"


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = storyboard(*args, cwd=cwd, timeout=300)
    assert "Traceback" not in proc.stderr + proc.stdout
    return proc


def test_render_reads_and_splits_each_source_once(monkeypatch):
    text = "\n".join(f"line {n}" for n in range(20_000)) + "\n"
    diags = [Diagnostic("SB002", "tab", Span("big.story", n, 1, n, 2)) for n in range(1, 20_001)]
    reads = []
    real = errors._source_text
    monkeypatch.setattr(errors, "_source_text", lambda *a: reads.append(a[0]) or real(*a))
    started = time.monotonic()
    out = render(diags, {"big.story": text})
    assert time.monotonic() - started < 5  # the per-diagnostic split took 13.7 s here
    assert reads == ["big.story"]
    assert out.count("error[SB002]") == 20_000
    assert "20000 | line 19999" in out


def test_many_tab_errors_parse_in_seconds():
    text = tab_story(30_000)  # 60,000 lines: a minute before (a list copy per error, prose merged pairwise)
    started = time.monotonic()
    story, diags = parse(text, "tabs.story")
    assert time.monotonic() - started < 10
    assert sum(d.code == "SB002" for d in diags) == 30_000
    assert len(story.timeline[0].prose) == 1  # the lines around the tabs are still one paragraph


def test_recovery_rereads_only_from_the_block_before_each_error(monkeypatch):
    """Errors near the end of a long file: each retry used to parse the whole file again."""
    lines = []
    for block in range(100):
        lines.append(f"shot s{block}:")
        lines += ["  A quiet garden."] * 99
    lines += ["bogus line here"] * 40
    text = "\n".join(lines) + "\n"
    real = parser._lark()
    read: list[int] = []

    class Counting:
        def parse(self, source: str):
            read.append(len(source.lstrip("\n")))  # blank lines before the resume point cost nothing
            return real.parse(source)

    monkeypatch.setattr(parser, "_lark", lambda: Counting())
    story, diags = parse(text, "late.story")
    assert sum(d.code == "SB010" for d in diags) == 40
    assert len(story.timeline) == 100
    assert sum(read) < 3 * len(text)  # was 41 whole files


def test_recovered_parse_is_the_same_as_before_for_errors_in_many_blocks():
    text = "shot a:\n  One.\nbogus one\nshot b:\n  Two.\n  \"unclosed\nshot c:\n  Three.\nbogus two\n"
    story, diags = parse(text, "x.story")
    assert [(d.code, d.span.line) for d in diags] == [("SB010", 3), ("SB006", 6), ("SB010", 9)]
    assert [c.name for c in story.timeline] == ["a", "b", "c"]


def test_did_you_mean_over_thousands_of_clips_is_not_quadratic(tmp_path, monkeypatch):
    clips = 2_000
    lines = []
    for n in range(clips):
        lines += [f"shot s{n} 4s:", "  A walk.", f"extend q{n} 4s:", "  More."]
    lines += ["extend s1999x 4s:", "  A typo."]
    story = tmp_path / "many.story"
    story.write_text("\n".join(lines) + "\n", encoding="utf-8")
    compared = []
    real = near_module.difflib.get_close_matches

    def counting(word, possibilities, *a, **kw):
        compared.append(len(possibilities))
        return real(word, possibilities, *a, **kw)

    monkeypatch.setattr(near_module.difflib, "get_close_matches", counting)
    from storyboard.api import compile_file
    from storyboard.providers import get

    result = compile_file(story, get("preview"))
    unknown = [d for d in result.diagnostics if d.code == "SB501" and "no clip named" in d.message]
    assert len(unknown) == clips + 1
    assert sum(compared) < 50 * clips  # a scan of every name per problem was 8,000,000 comparisons
    typo = next(d for d in unknown if "s1999x" in d.message)
    assert typo.hint == "did you mean `s1999`?"  # a long list still finds the one-letter slip


def test_check_prints_the_first_ones_and_counts_the_rest(tmp_path):
    assert getattr(errors, "SHOWN_PER_FILE", None) == SHOWN_PER_FILE
    (tmp_path / "tabs.story").write_text(tab_story(SHOWN_PER_FILE + 70), encoding="utf-8")
    capped = run_cli("check", "tabs.story", cwd=tmp_path)
    assert capped.returncode == 1
    assert capped.stderr.count(TAB_HINT) == SHOWN_PER_FILE
    assert "… and 70 more errors in tabs.story; run with --all to see every one" in capped.stderr
    assert capped.stderr.rstrip().endswith(f"tabs.story: {SHOWN_PER_FILE + 70} errors")

    every = run_cli("check", "--all", "tabs.story", cwd=tmp_path)
    assert every.returncode == 1
    assert every.stderr.count(TAB_HINT) == SHOWN_PER_FILE + 70
    assert "more errors" not in every.stderr

    as_json = run_cli("check", "--json", "tabs.story", cwd=tmp_path)
    assert len(json.loads(as_json.stdout)) == SHOWN_PER_FILE + 70  # machines get every one


def test_other_commands_point_at_check_all(tmp_path):
    (tmp_path / "tabs.story").write_text(tab_story(SHOWN_PER_FILE + 1), encoding="utf-8")
    proc = run_cli("compile", "tabs.story", cwd=tmp_path)
    assert proc.returncode == 1
    assert proc.stderr.count(TAB_HINT) == SHOWN_PER_FILE
    assert "… and 1 more error in tabs.story; run `storyboard check --all tabs.story` to see every one" in proc.stderr


def test_the_count_of_the_rest_names_warnings_apart():
    diags = [Diagnostic("SB002", "e", Span("a.story", n, 1)) for n in range(1, 4)]
    diags += [Diagnostic("SB901", "w", Span("a.story", 9, 1), errors.Severity.WARNING)]
    assert render(diags, {"a.story": ""}, limit=1).splitlines()[-1] == \
        "… and 3 more problems (2 errors, 1 warning) in a.story; run with --all to see every one"
