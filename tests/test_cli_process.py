"""tests/cli_process.py: a command forked from the zygote answers as a fresh interpreter does."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from cli_process import storyboard

ROOT = Path(__file__).resolve().parent.parent
BROKEN = "title: Broken\nresolution: 4k\n\nshot opening 3s:\n  @Kiten stands on the cliff.\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "broken.story").write_text(BROKEN, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("args", [["--version"], ["check", "broken.story"], ["plan", "broken.story", "--json"],
                                  ["compile", "nope.story"], ["frobnicate"], []])
def test_forked_and_fresh_commands_answer_alike(folder: Path, args: list[str]):
    forked, fresh = storyboard(*args, cwd=folder), storyboard(*args, cwd=folder, fresh=True)
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert "Traceback" not in forked.stderr


def test_each_command_has_its_own_folder_and_environment(folder: Path, tmp_path_factory):
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    assert storyboard("check", "broken.story", cwd=folder).returncode == 1
    assert "no such file" in storyboard("check", "broken.story", cwd=elsewhere).stderr
    env = {**os.environ, "STORYBOARD_PROVIDER": "nope"}
    refused = storyboard("check", "broken.story", cwd=folder, env=env)
    assert refused.returncode == 2 and "unknown provider" in refused.stderr
    assert storyboard("check", "broken.story", cwd=folder).returncode == 1  # the variable did not stay


def test_stdin_and_bytes(folder: Path):
    exit_now = '{"jsonrpc":"2.0","method":"exit"}'
    message = f"Content-Length: {len(exit_now)}\r\n\r\n{exit_now}"  # the language server reads stdin
    forked = storyboard("lsp", input=message, cwd=folder, timeout=60)
    fresh = storyboard("lsp", input=message, cwd=folder, timeout=60, fresh=True)
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    raw = storyboard("--version", text=False)
    assert raw.stdout.startswith(b"storyboard ")


def test_a_command_past_its_timeout_is_killed(folder: Path):
    (folder / "big.story").write_text("title: Big\n\n" + "".join(f"shot s{i} 5s:\n  A shot.\n\n" for i in range(3000)),
                                      encoding="utf-8")
    with pytest.raises(subprocess.TimeoutExpired):
        storyboard("compile", "big.story", cwd=folder, timeout=0.05)
    assert storyboard("--version").returncode == 0  # the next command is served as before
