"""CLI misuse: every command, every kind of wrong input, gives ONE line on stderr (no click usage
block, no traceback) and exit 2.

The matrix runs `storyboard.cli.main()` in-process (the same entry point as the `storyboard`
script and `python -m storyboard`); a few cases run the real process too, including a file that
cannot be read (chmod 000, read by an unprivileged user through setpriv, since root reads it).
"""

from __future__ import annotations

import builtins
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from cli_process import storyboard
from render_helpers import write_film
from storyboard import cli as cli_module

COMMANDS = ["check", "fmt", "compile", "plan", "render", "preview", "watch", "export"]
EXTRA = {"export": ["--srt", "out.srt"]}  # export needs something to export before it looks further

BAD_OPTIONS = {
    "unknown option": ["--frobnicate"],
    "concurrency 0": ["--concurrency", "0"],
    "concurrency abc": ["--concurrency", "abc"],
    "max-cost -1": ["--max-cost", "-1"],
    "max-cost abc": ["--max-cost", "abc"],
    "max-cost nan": ["--max-cost", "nan"],
    "provider nope": ["--provider", "nope"],
    "shot nosuch": ["--shot", "nosuch"],
    "base-url notaurl": ["--base-url", "notaurl"],
    "base-url ftp": ["--base-url", "ftp://example.com"],
    "job-timeout 0": ["--job-timeout", "0"],
    "interval abc": ["--interval", "abc"],
    "interval 0": ["--interval", "0"],
}


@pytest.fixture(scope="module")
def story(tmp_path_factory) -> Path:
    return write_film(tmp_path_factory.mktemp("cli") / "film", shots=1, extends=(), continues=(), morphs=(),
                      dissolves=())


def main(argv: list[str], capsys, monkeypatch) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["storyboard", *argv])
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    with pytest.raises(SystemExit) as exit_:
        cli_module.main()
    out, err = capsys.readouterr()
    return exit_.value.code, out, err


def assert_one_line(code: int, out: str, err: str, *, mentions: str | None = None) -> None:
    assert code == 2, (code, err)
    assert "Traceback" not in err and "Usage:" not in err and "Error:" not in err, err
    lines = err.strip("\n").split("\n")
    assert len(lines) == 1 and lines[0].startswith("storyboard: "), err
    assert out == ""
    if mentions:
        assert mentions in lines[0], err


@pytest.mark.parametrize("bad", list(BAD_OPTIONS))
@pytest.mark.parametrize("command", COMMANDS)
def test_bad_option_values(command, bad, story, capsys, monkeypatch):
    code, out, err = main([command, str(story), *EXTRA.get(command, []), *BAD_OPTIONS[bad]], capsys, monkeypatch)
    assert_one_line(code, out, err)
    option = BAD_OPTIONS[bad][0]
    assert option in err or "nosuch" in err or "nope" in err, err  # it says what was wrong


def test_the_messages_say_what_to_do(story, capsys, monkeypatch):
    cases = {
        ("render", "--frobnicate"): "no such option: --frobnicate (try storyboard render --help)",
        ("render", "-j", "abc"): "invalid value for '--concurrency'",
        ("render", "--concurrency", "0"): "--concurrency must be at least 1",
        ("render", "--max-cost", "-1"): "--max-cost must be a number of US dollars, 0 or more",
        ("preview", "--max-cost", "inf"): "--max-cost must be",
        ("render", "--provider", "nope"): "unknown provider 'nope'; choose one of: preview, together",
        ("render", "--shot", "nosuch"): "no clip named 'nosuch' in this film (clips: s01)",
        ("preview", "--shot", "nosuch"): "no clip named 'nosuch'",
        ("render", "--base-url", "notaurl"): "--base-url must be an http(s) URL",
        ("export", "--srt", "x.srt", "--base-url", "notaurl"): "--base-url must be an http(s) URL",
        ("watch", "--interval", "nan"): "--interval must be a positive number of seconds",
    }
    for (command, *args), expected in cases.items():
        code, out, err = main([command, str(story), *args], capsys, monkeypatch)
        assert_one_line(code, out, err, mentions=expected)


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_files(command, story, tmp_path, capsys, monkeypatch):
    fifo = tmp_path / "pipe.story"
    os.mkfifo(fifo)  # opening it would block forever
    folder = tmp_path / "folder"
    folder.mkdir()
    locked = tmp_path / "locked.story"
    shutil.copy(story, locked)
    real_open = builtins.open

    def no_read(file, *a, **kw):  # what a file we may not read does (root reads chmod 000 files)
        if str(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **kw)

    cases = {tmp_path / "missing.story": "no such file", folder: "is a directory", fifo: "not a regular file",
             locked: "permission denied"}
    for path, expected in cases.items():
        with monkeypatch.context() as m:
            m.setattr(builtins, "open", no_read)
            code, out, err = main([command, str(path), *EXTRA.get(command, [])], capsys, monkeypatch)
        assert_one_line(code, out, err, mentions=expected)
        assert str(path) in err


def test_usage_errors(capsys, monkeypatch, story):
    for argv, expected in (
        (["frobnicate"], "no such command 'frobnicate'. (try storyboard --help)"),
        (["render"], "missing argument 'file'. (try storyboard render --help)"),
        (["fmt"], "missing argument 'FILE'. (try storyboard fmt --help)"),
        (["render", str(story), "extra"], "unexpected extra argument"),
        (["render", str(story), "--concurency", "2"], "no such option: --concurency"),
        (["render", str(story), "--max-cost"], "option '--max-cost' requires an argument"),
    ):
        code, out, err = main(argv, capsys, monkeypatch)
        assert_one_line(code, out, err, mentions=expected)


def test_bare_command_still_shows_the_help(capsys, monkeypatch):
    code, out, err = main([], capsys, monkeypatch)
    assert code == 2 and "render" in out + err and "Traceback" not in out + err


# ---- the real process ------------------------------------------------------------------------

def run(*args: str, user: str | None = None, cwd: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOGETHER_API_KEY": ""}
    if not user:
        return storyboard(*args, cwd=cwd, env=env, timeout=60)
    cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", sys.executable, "-m", "storyboard", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=cwd, env=env)


def test_real_process_one_line(story):
    for args, expected in ((["frobnicate"], "no such command"),
                           (["render", str(story), "--frobnicate"], "no such option: --frobnicate"),
                           (["plan", str(story), "-p", "nope"], "unknown provider"),
                           (["render", str(story), "-j", "x"], "invalid value for '--concurrency'")):
        proc = run(*args)
        assert proc.returncode == 2 and proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and expected in proc.stderr, proc.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root and setpriv to "
                    "run as another user (root reads chmod 000 files; the in-process test simulates it)")
def test_real_unreadable_file_as_an_unprivileged_user(story):
    folder = Path(tempfile.mkdtemp(prefix="sb-perm-", dir="/tmp"))
    try:
        folder.chmod(0o755)
        locked = folder / "locked.story"
        shutil.copy(story, locked)
        locked.chmod(0o000)
        for command in ("check", "compile", "fmt"):
            proc = run(command, str(locked), user="65534", cwd=str(folder))
            assert proc.returncode == 2, proc.stderr
            assert proc.stderr == f"storyboard: {locked}: permission denied\n", proc.stderr
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_storys_words_are_never_taken_for_emoji_codes(capsys):
    """Every console of the CLI prints `:fire:` as written (rich would turn it into 🔥), in the
    progress lines as in the messages."""
    from storyboard.cli import common
    from storyboard.cli.progress import PlainProgress
    from storyboard.render import RenderEvent

    common.say("title: Night :fire: Falls")
    common.out.print("a :smile: plan")
    PlainProgress(common.err)(RenderEvent("s01", "note", "a :thumbs_up: note"))
    captured = capsys.readouterr()
    assert "Night :fire: Falls" in captured.err and "a :thumbs_up: note" in captured.err
    assert "a :smile: plan" in captured.out
    assert not any(ord(ch) > 0x2000 for ch in captured.out + captured.err)
