"""`storyboard fmt FILE... [--check] [--diff]`: rewrite in place, check, diff, and failures."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest
from typer.testing import CliRunner

from cli_process import storyboard
from storyboard.cli import app
from storyboard.language.fmt import format_source

MESSY = "title:   A film   # the title\nshot   a 5.0s :\n    @K  waves.\n    camera :   pan\ncut\nshot b:\n  x\n"
CANONICAL = "title: A film  # the title\n\nshot a 5s:\n  @K  waves.\n  camera: pan\n\ncut\n\nshot b:\n  x\n"
BROKEN = 'shot a:\n  x "unclosed\n'


def run(*args: str):
    return CliRunner().invoke(app, ["fmt", *args])


@pytest.fixture
def files(tmp_path):
    messy, canonical, broken = tmp_path / "messy.story", tmp_path / "canonical.story", tmp_path / "broken.story"
    messy.write_text(MESSY, encoding="utf-8")
    canonical.write_text(CANONICAL, encoding="utf-8")
    broken.write_text(BROKEN, encoding="utf-8")
    return messy, canonical, broken


def test_the_fixture_is_what_fmt_makes():
    assert format_source(MESSY)[0] == CANONICAL
    assert format_source(CANONICAL)[0] == CANONICAL


def test_rewrites_in_place(files):
    messy, canonical, _ = files
    before = canonical.stat().st_mtime_ns
    result = run(str(messy), str(canonical))
    assert result.exit_code == 0, result.output
    assert messy.read_text(encoding="utf-8") == CANONICAL
    assert f"reformatted {messy}" in result.stderr
    assert str(canonical) not in result.stderr.replace(f"reformatted {messy}", "")
    assert canonical.stat().st_mtime_ns == before  # an unchanged file is not rewritten
    assert result.stdout == ""
    assert [p.name for p in messy.parent.iterdir() if p.name.endswith(".tmp")] == []
    again = run(str(messy))
    assert again.exit_code == 0 and messy.read_text(encoding="utf-8") == CANONICAL


def test_rewrite_keeps_permissions_and_symlinks(tmp_path, files):
    messy, _, _ = files
    messy.chmod(0o640)
    link = tmp_path / "link.story"
    link.symlink_to(messy)
    assert run(str(link)).exit_code == 0
    assert link.is_symlink() and messy.read_text(encoding="utf-8") == CANONICAL
    assert stat.S_IMODE(messy.stat().st_mode) == 0o640


def test_line_ends_and_bom_are_rewritten(tmp_path):
    f = tmp_path / "crlf.story"
    f.write_bytes(("\ufeff" + CANONICAL).replace("\n", "\r\n").encode("utf-8"))
    assert run("--check", str(f)).exit_code == 1
    assert run(str(f)).exit_code == 0
    assert f.read_bytes() == CANONICAL.encode("utf-8")


def test_check_reports_and_writes_nothing(files):
    messy, canonical, _ = files
    result = run("--check", str(messy), str(canonical))
    assert result.exit_code == 1
    assert f"would reformat {messy}" in result.stderr
    assert f"would reformat {canonical}" not in result.stderr
    assert result.stdout == ""
    assert messy.read_text(encoding="utf-8") == MESSY
    ok = run("--check", str(canonical))
    assert ok.exit_code == 0, ok.output


def test_diff_prints_a_unified_diff_and_writes_nothing(files):
    messy, canonical, _ = files
    result = run("--diff", str(messy), str(canonical))
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"--- {messy}\n+++ {messy}\n@@ ")
    lines = out.splitlines()
    assert "-title:   A film   # the title" in lines and "+title: A film  # the title" in lines
    assert "-shot   a 5.0s :" in lines and "+shot a 5s:" in lines and " cut" in lines
    assert str(canonical) not in out
    assert messy.read_text(encoding="utf-8") == MESSY
    assert run("--diff", "--check", str(messy)).exit_code == 1


def test_diff_marks_a_missing_final_newline(tmp_path):
    f = tmp_path / "a.story"
    f.write_text("title: A", encoding="utf-8")
    out = run("--diff", str(f)).stdout
    assert out.endswith("-title: A\n\\ No newline at end of file\n+title: A\n")


@pytest.mark.parametrize("mode", [[], ["--check"], ["--diff"]])
def test_missing_file_is_a_usage_error_and_nothing_is_written(files, mode):
    messy, _, _ = files
    missing = messy.parent / "nope.story"
    result = run(*mode, str(messy), str(missing))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [f"storyboard: {missing}: no such file"]
    assert messy.read_text(encoding="utf-8") == MESSY


def test_directory_is_a_usage_error(tmp_path):
    result = run(str(tmp_path))
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "is a directory" in result.stderr


def test_unreadable_files_are_usage_errors_and_not_utf8_ones_diagnostics(tmp_path):
    latin = tmp_path / "latin.story"
    latin.write_bytes("title: caf\u00e9\n".encode("latin-1"))
    result = run(str(latin))
    assert result.exit_code == 1 and f"{latin}:1:11: error[SB034]: not UTF-8 text" in result.stderr
    assert latin.read_bytes() == "title: caf\u00e9\n".encode("latin-1")  # left alone
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.story"
        locked.write_text(CANONICAL, encoding="utf-8")
        locked.chmod(0)
        assert run(str(locked)).exit_code == 2


def test_syntax_errors_are_reported_and_the_file_left_alone(files):
    messy, _, broken = files
    result = run(str(broken), str(messy))
    assert result.exit_code == 1
    assert f"{broken}:2:5: error[SB006]: unclosed quote" in result.stderr
    assert '   2 |   x "unclosed' in result.stderr
    assert broken.read_text(encoding="utf-8") == BROKEN
    assert messy.read_text(encoding="utf-8") == CANONICAL  # the good file is still formatted
    assert run("--check", str(broken)).exit_code == 1


def _cli(*args: str) -> subprocess.CompletedProcess:
    return storyboard("fmt", *args, timeout=60)


def test_real_process_missing_file_long_path_one_line_no_traceback(tmp_path):
    missing = tmp_path / ("x" * 120) / "nope.story"
    proc = _cli(str(missing))
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"storyboard: {missing}: no such file"]
    assert "Traceback" not in proc.stderr


def test_real_process_usage_errors_exit_2_without_traceback():
    for args in ([], ["--no-such-option", "x.story"]):
        proc = _cli(*args)
        assert proc.returncode == 2, proc.stderr
        # one line, no usage block: `storyboard: missing argument 'FILE'. (try storyboard fmt --help)`
        assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) == 1
        assert proc.stderr.startswith("storyboard: ") and "(try storyboard fmt --help)" in proc.stderr


def test_real_process_check_and_rewrite(files):
    messy, canonical, _ = files
    proc = _cli("--check", str(messy), str(canonical))
    assert proc.returncode == 1 and f"would reformat {messy}" in proc.stderr
    proc = _cli(str(messy))
    assert proc.returncode == 0 and messy.read_text(encoding="utf-8") == CANONICAL
