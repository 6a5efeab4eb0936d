"""End to end: the CLI as a user runs it (`python -m storyboard ...` in a subprocess).

Payloads on stdout, humans on stderr; exit 0 ok, 1 diagnostics, 2 usage errors; never a traceback.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from cli_process import storyboard

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.relative_to(ROOT) for p in (ROOT / "examples").glob("*/*.story") if p.stem == p.parent.name)
KITTEN = Path("examples/kitten-general/kitten-general.story")
LIGHTHOUSE = Path("examples/lighthouse/lighthouse.story")

BROKEN = """\
title: Broken
resolution: 4k

character Kitten:
  image: kitten.png

shot opening 3s:
  @Kiten stands on the cliff.
"""


def run(*args: str, cwd: Path = ROOT, fresh: bool = False) -> subprocess.CompletedProcess:
    proc = storyboard(*args, cwd=cwd, fresh=fresh)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout, proc.stdout
    return proc


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    story = tmp_path / "broken.story"
    story.write_text(BROKEN, encoding="utf-8")
    return story


def test_examples_exist():
    assert {p.parent.name for p in EXAMPLES} >= {"kitten-general"}
    assert len(EXAMPLES) >= 3


# ---- check ------------------------------------------------------------------------------------

@pytest.mark.parametrize("story", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_check_examples_are_clean(story: Path):
    proc = run("check", story)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert "error[" not in proc.stderr
    assert str(story) in proc.stderr  # the summary line names the file


def test_check_several_files_at_once():
    proc = run("check", *EXAMPLES)
    assert proc.returncode == 0, proc.stderr
    for story in EXAMPLES:
        assert str(story) in proc.stderr


def test_check_broken_story_reports_every_error(broken: Path):
    proc = run("check", broken.name, cwd=broken.parent)
    assert proc.returncode == 1
    assert proc.stdout == ""
    err = proc.stderr
    assert "broken.story:2:13: error[SB103]: unknown resolution `4k`" in err
    assert "broken.story:5:10: error[SB301]: file not found: kitten.png" in err
    assert "broken.story:7:14: error[SB401]" in err
    assert "broken.story:8:4: error[SB402]: @Kiten is not in the cast" in err
    assert "did you mean @Kitten?" in err
    assert "   8 |   @Kiten stands on the cliff." in err
    assert "     |    ^^^^^" in err
    assert err.rstrip().endswith("broken.story: 4 errors")


def test_check_exit_1_if_any_file_is_broken(broken: Path):
    proc = run("check", ROOT / KITTEN, broken.name, cwd=broken.parent)
    assert proc.returncode == 1
    assert "no problems" in proc.stderr and "4 errors" in proc.stderr


def test_check_json_is_machine_readable(broken: Path):
    proc = run("check", "--json", broken.name, cwd=broken.parent)
    assert proc.returncode == 1
    assert proc.stderr == ""
    diags = json.loads(proc.stdout)
    assert [(d["code"], d["line"], d["column"]) for d in diags] == [
        ("SB103", 2, 13), ("SB301", 5, 10), ("SB401", 7, 14), ("SB402", 8, 4)]
    for d in diags:
        assert d["severity"] == "error"
        assert d["file"] == "broken.story"
        assert d["message"]
    assert diags[3]["hint"] == "did you mean @Kitten?"


def test_check_json_of_a_clean_story_lists_only_warnings():
    proc = run("check", "--json", *EXAMPLES)
    assert proc.returncode == 0, proc.stderr
    diags = json.loads(proc.stdout)
    assert all(d["severity"] == "warning" for d in diags)


def test_check_against_together_rejects_local_video():
    lighthouse = Path("examples/lighthouse/lighthouse.story")
    proc = run("check", "--provider", "together", lighthouse)
    assert proc.returncode == 1
    assert "error[SB305]: together cannot take a local video file" in proc.stderr


# ---- compile ----------------------------------------------------------------------------------

@pytest.mark.parametrize("story", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_compile_prints_the_plan(story: Path):
    proc = run("compile", story)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert plan["provider"] == "preview"
    assert plan["story"] == str(story)
    assert plan["clips"] and all(c["request"]["prompt"] for c in plan["clips"])
    assert all(len(c["key"]) == 64 for c in plan["clips"])
    assert "error[" not in proc.stderr


def test_compile_is_byte_identical_twice():
    first = run("compile", "--provider", "together", KITTEN, fresh=True)  # two interpreters, two hash seeds
    second = run("compile", "--provider", "together", KITTEN, fresh=True)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    assert json.loads(first.stdout)["provider"] == "together"


def test_compile_output_file(tmp_path: Path):
    out = tmp_path / "plan.json"
    proc = run("compile", KITTEN, "-o", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert out.read_text(encoding="utf-8") == run("compile", KITTEN).stdout
    assert str(out) in proc.stderr


def test_compile_broken_story_prints_no_plan(broken: Path):
    proc = run("compile", broken)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "error[SB402]" in proc.stderr


def test_compile_shows_warnings_on_stderr():
    proc = run("compile", "examples/lighthouse/lighthouse.story")
    assert proc.returncode == 0
    assert "warning[SB902]" in proc.stderr
    json.loads(proc.stdout)


# ---- plan -------------------------------------------------------------------------------------

def test_plan_table():
    proc = run("plan", KITTEN)
    assert proc.returncode == 0, proc.stderr
    for word in ("The Kitten General", "opening", "charge", "battle", "battle+1", "dawn", "total"):
        assert word in proc.stdout
    assert "film length" in proc.stdout


def test_plan_json():
    proc = run("plan", "--json", "--provider", "together", KITTEN)
    assert proc.returncode == 0, proc.stderr
    plan = json.loads(proc.stdout)
    assert [c["clip"] for c in plan["clips"]] == ["opening", "charge", "battle", "battle+1", "dawn"]
    assert plan["provider"] == "together"
    assert plan["seconds"] == 5 + 6 + 12 + 5 + 5
    assert plan["estimated_cost_usd"] > 0


def test_plan_broken_story(broken: Path):
    # `--json` speaks JSON on stdout, errors included (it used to exit 1 saying nothing at all)
    proc = run("plan", "--json", broken)
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr
    diags = json.loads(proc.stdout)["diagnostics"]
    assert diags and all(d["severity"] == "error" for d in diags)
    assert any(d["code"] == "SB103" and d["line"] for d in diags), diags


@pytest.mark.parametrize("command", ["plan", "render"])
def test_every_json_command_prints_its_diagnostics_as_json(broken: Path, command: str):
    proc = run(command, "--json", broken)
    assert proc.returncode == 1 and proc.stderr == "", proc.stderr
    assert [d["code"] for d in json.loads(proc.stdout)["diagnostics"]][:1] == ["SB103"]


def test_plan_json_carries_the_warnings_as_diagnostics():
    proc = run("plan", "--json", LIGHTHOUSE)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert "SB902" in [d["code"] for d in json.loads(proc.stdout)["diagnostics"]]


def test_the_continue_warning_is_said_once():
    # SB902 (with its source line) and the plan's own warning told the same news in two formats
    proc = run("plan", LIGHTHOUSE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("goes in as Image 1 with an instruction to open on it") == 1, proc.stderr
    assert "warning[SB902]" in proc.stderr


def test_plan_table_off_a_terminal_cuts_no_name():
    proc = run("plan", LIGHTHOUSE)  # stdout is a pipe: no width to fit
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout, proc.stdout
    assert "boat+2~dawn" in proc.stdout and "references" in proc.stdout
    assert "Gull, Skipper, motion, music" in proc.stdout  # one cell, one line


# ---- usage errors -----------------------------------------------------------------------------

def _one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("storyboard:", "Error:"))]
    assert len(errors) == 1, proc.stderr
    for needle in needles:  # the whole message on that line, not wrapped onto the next
        assert needle in errors[0], proc.stderr
    return errors[0]


@pytest.mark.parametrize("command", ["check", "compile", "plan"])
def test_missing_file(command: str):
    _one_line_error(run(command, "no-such.story"), "no-such.story", "no such file")


@pytest.mark.parametrize("command", ["check", "compile", "plan"])
def test_directory_instead_of_a_file(command: str):
    line = _one_line_error(run(command, "examples/kitten-general"), "is a directory")
    assert line == ("storyboard: examples/kitten-general: is a directory, not a .story file "
                    "(did you mean examples/kitten-general/kitten-general.story?)")


def test_directory_message_is_one_line():
    # The message ends with a suggestion; all of it must stay on one line whatever the width.
    _one_line_error(run("check", "examples/kitten-general"),
                    "did you mean examples/kitten-general/kitten-general.story?")


def test_long_path_message_is_one_line(tmp_path: Path):
    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "missing.story"
    _one_line_error(run("check", deep), str(deep), "no such file")


@pytest.mark.parametrize("command", ["check", "compile", "plan"])
def test_bad_provider_name(command: str):
    _one_line_error(run(command, "--provider", "seedance", KITTEN), "unknown provider 'seedance'", "preview")


@pytest.mark.parametrize("command", ["check", "compile", "plan"])
def test_unknown_option(command: str):
    _one_line_error(run(command, "--frobnicate", KITTEN), "--frobnicate")


def test_unknown_command():
    _one_line_error(run("frobnicate"), "frobnicate")


def test_not_utf8(tmp_path: Path):
    story = tmp_path / "latin1.story"
    story.write_bytes("title: Caf\xe9\n\nshot a:\n  A caf\xe9.\n".encode("latin-1"))
    proc = run("check", story)  # a diagnostic at the first byte that is not UTF-8 (SB034), like any mistake
    assert proc.returncode == 1 and f"{story}:1:11: error[SB034]: not UTF-8 text" in proc.stderr, proc.stderr


def test_empty_story_is_one_error_without_a_crash(tmp_path: Path):
    # An empty file is a film with no clips: check says so before render can fail on it (SB510).
    story = tmp_path / "empty.story"
    story.write_text("", encoding="utf-8")
    proc = run("check", story.name, cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == "", proc.stderr
    assert proc.stderr.startswith("empty.story:1:1: error[SB510]: the film has no clips\n"), proc.stderr
    assert proc.stderr.endswith("empty.story: 1 error\n"), proc.stderr
