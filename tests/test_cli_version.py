"""`storyboard --version` and shell completion, through the console script pip installed (the
command a user types, so completion sees the program name `storyboard`)."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

SCRIPT = Path(sys.executable).with_name("storyboard")


@pytest.fixture(scope="module")
def storyboard() -> Path:
    assert SCRIPT.is_file(), f"{SCRIPT} is missing: install the project with pip install -e '.[test]'"
    return SCRIPT


def run(script: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run as from a bash prompt. typer finds the user's shell among the parent processes (make's
    sh or pytest would not do), so bash stays the parent: `exit $?` keeps it from exec-ing."""
    proc = subprocess.run(["bash", "-c", '"$0" "$@"; exit $?', str(script), *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_version_prints_the_installed_version(storyboard: Path):
    proc = run(storyboard, "--version")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"storyboard {version('storyboard')}\n", "")


def test_version_is_listed_in_help(storyboard: Path):
    proc = run(storyboard, "--help")
    assert proc.returncode == 0
    for option in ("--version", "--install-completion", "--show-completion"):
        assert option in proc.stdout


def test_show_completion_prints_a_bash_script(storyboard: Path):
    proc = run(storyboard, "--show-completion")
    assert proc.returncode == 0, proc.stderr
    assert "_STORYBOARD_COMPLETE=complete_bash" in proc.stdout
    assert "complete -o default -F _storyboard_completion storyboard" in proc.stdout


@pytest.mark.parametrize("words, cword, expected", [
    ("storyboard ch", "1", "check"),
    ("storyboard render --burn", "2", "--burn-subtitles"),
])
def test_completion_answers_the_shell(storyboard: Path, words: str, cword: str, expected: str):
    proc = run(storyboard, env={"_STORYBOARD_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [expected]


def test_install_completion_writes_only_into_home(storyboard: Path, tmp_path: Path):
    proc = run(storyboard, "--install-completion", env={"HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / ".bash_completions" / "storyboard.sh"
    assert "_storyboard_completion" in script.read_text()
    assert str(script) in (tmp_path / ".bashrc").read_text()
