"""Disk full and read-only folders, for real: tmpfs and read-only bind mounts (tests run as root
here); where mounting is not allowed these tests skip and the in-process simulations at the
bottom (OSError(ENOSPC/EROFS) raised at the same write points) still run.

Exit codes (see render_cli.py): 2 when the render cannot start or the film cannot be written
(nothing more happens until the folder is fixed); 3 when some clips could not be stored (the
others are done; their jobs are kept). Always one line per problem naming the folder and what to
do, never a traceback, and nothing already rendered or journaled is lost: the next run with space
resumes without creating any job again.
"""

from __future__ import annotations

import contextlib
import errno
import shutil
import subprocess
from pathlib import Path

import pytest

from render_helpers import FakeMedia, ScriptedProvider, clip, cli, make_plan, run, two_shot_film, write_film
from storyboard.cli.words import outcome_text
from storyboard.render.journal import Journal
PAGE = 4096


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=20)


def _can_mount() -> str | None:
    probe = Path("/tmp") / f"sb-mount-probe-{__import__('os').getpid()}"
    probe.mkdir(exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", "size=4k", "tmpfs", str(probe))
    except (OSError, subprocess.SubprocessError) as exc:
        return f"cannot mount a tmpfs here ({exc}); the simulated tests below cover the same code"
    subprocess.run(["umount", str(probe)], capture_output=True, timeout=20)
    probe.rmdir()
    return None


CANNOT_MOUNT = _can_mount()
real = pytest.mark.skipif(CANNOT_MOUNT is not None, reason=CANNOT_MOUNT or "")


@contextlib.contextmanager
def small_disk(folder: Path, size: int, free: int):
    """A tmpfs of `size` bytes at `folder` (kept as a subfolder tree by the caller) with only
    `free` bytes left: a filler file takes the rest. Yields a function that frees the space
    (deleting the filler keeps what was written, unlike unmounting)."""
    folder.mkdir(parents=True, exist_ok=True)
    _mount("-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder))
    filler = folder / "filler.bin"
    try:
        if size - free > 0:
            with open(filler, "wb") as f:
                f.write(b"\0" * (size - free))
        yield lambda: filler.unlink(missing_ok=True)
    finally:
        saved = folder.with_name(folder.name + ".saved")
        # keep what the test wrote there, on the real disk, so later runs see it after unmounting
        shutil.copytree(folder, saved, ignore=shutil.ignore_patterns("filler.bin"), dirs_exist_ok=True)
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=20)
        shutil.copytree(saved, folder, dirs_exist_ok=True)
        shutil.rmtree(saved, ignore_errors=True)


@contextlib.contextmanager
def read_only(folder: Path):
    _mount("--bind", str(folder), str(folder))
    try:
        _mount("-o", "remount,ro,bind", str(folder))
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=20)


@pytest.fixture
def film(tmp_path, fake_together, monkeypatch):
    f = two_shot_film(tmp_path, fake_together, monkeypatch, size="320x180", title="Disk")
    return dict(f, ns=f["provider"].namespace)


def one_line_errors(r) -> list[str]:
    """The problem lines of a CLI run; no traceback, no usage block."""
    assert "Traceback" not in r.output and "Usage:" not in r.output, r.output
    return [line for line in r.output.splitlines() if "error" in line or line.startswith("storyboard:")]


@pytest.mark.slow
@real
def test_read_only_story_folder_is_one_line_and_exit_2(film):
    story = film["story"]
    with read_only(story.parent):
        with pytest.raises(OSError):
            (story.parent / "probe").write_text("x")  # really read-only, even for root
        r = cli(film["base"], film["env"])
        assert r.exit_code == 2, r.output
        lines = one_line_errors(r)
        assert len(lines) == 1, r.output
        assert str(story.parent) in lines[0] and "Read-only file system" in lines[0]
        assert "make the folder writable" in lines[0]
        assert film["fake"].stats()["creates"] == 0
        # reading commands still work on a read-only story
        for args in (["check", str(story)], ["compile", str(story)], ["plan", str(story), "--json"]):
            assert cli(args).exit_code == 0
    r = cli(film["base"], film["env"])
    assert r.exit_code == 0, r.output


@pytest.mark.slow
@real
def test_disk_full_while_downloading_keeps_the_jobs_and_resumes(film):
    cache = film["state"] / "cache"
    with small_disk(cache, size=1 << 20, free=0) as free_space:
        r = cli(film["base"], film["env"])
        assert r.exit_code == 3, r.output
        lines = one_line_errors(r)
        errors = [x for x in lines if "error: clip" in x]
        assert len(errors) == 2, r.output
        for line in errors:
            assert f"in {cache}/" in line and "No space left on device" in line and "run again" in line
        assert film["fake"].stats()["creates"] == 2
        assert {rec.state for rec in film["journal"].all()} == {"completed"}  # paid for, kept
        assert not list((cache / film["ns"] / "tmp").glob("*"))  # no partial file keeps the space
        free_space()
        r = cli(film["base"], film["env"])
        assert r.exit_code == 0, r.output
    assert film["fake"].stats()["creates"] == 2  # downloaded, not paid again


@pytest.mark.slow
@real
@pytest.mark.parametrize("where", ["build", ".storyboard/stitch"])
def test_disk_full_while_stitching_is_exit_2_and_keeps_the_clips(where, film):
    full = film["story"].parent / where  # the film's folder, or the stitcher's work folder
    with small_disk(full, size=64 * PAGE, free=0) as free_space:
        r = cli(film["base"], film["env"])
        assert r.exit_code == 2, r.output
        lines = one_line_errors(r)
        assert len(lines) == 1, r.output
        assert str(full) in lines[0] and "No space left on device" in lines[0], lines
        assert "free some space" in lines[0] and "the clips are rendered and cached" in lines[0]
        assert {rec.state for rec in film["journal"].all()} == {"downloaded"}
        build = film["story"].parent / "build"
        assert not build.is_dir() or not [p for p in build.iterdir() if p.name != "filler.bin"]  # no half film
        free_space()
        r = cli(film["base"], film["env"])
        assert r.exit_code == 0, r.output
        assert Path(r.stdout.strip()).parent == build
    assert film["fake"].stats()["creates"] == 2


@pytest.mark.slow
@real
def test_disk_full_in_the_journal_before_and_after_a_create(film):
    jobs = film["state"] / "jobs"
    # No room at all: the `submitting` record cannot be written, so nothing is sent.
    with small_disk(jobs, size=2 * PAGE, free=0) as free_space:
        r = cli(film["base"] + ["-j", "1"], film["env"])
        assert r.exit_code == 3, r.output
        errors = [x for x in one_line_errors(r) if "error: clip" in x]
        assert len(errors) == 2 and all("nothing was submitted" in x and str(jobs) in x for x in errors), r.output
        assert film["fake"].stats()["creates"] == 0
    # Room for exactly one small file: the first clip's `submitting` record fits, its `submitted`
    # record does not (an atomic replace needs a second file): the job exists, only this process
    # knows its id, and it says so.
    shutil.rmtree(jobs)
    with small_disk(jobs, size=16 * PAGE, free=PAGE) as free_space:
        r = cli(film["base"] + ["-j", "1"], film["env"])
        assert r.exit_code == 3, r.output
        assert film["fake"].stats()["creates"] == 1
        job_id = film["fake"].stats()["jobs"][0]["id"]
        text = " ".join(r.output.split())
        assert f"job {job_id} was created, but the journal" in text and "--adopt" in text, r.output
        assert "nothing was submitted" in text  # the second clip
        adopt = next(x for x in text.split("`") if x.startswith("storyboard render --adopt"))
        free_space()
        r = cli(film["base"], film["env"])  # without a decision: in doubt, nothing sent again
        assert r.exit_code == 3 and film["fake"].stats()["creates"] == 2, r.output
        r = cli(film["base"] + ["--adopt", adopt.split("--adopt ")[1]], film["env"])
        assert r.exit_code == 0, r.output
        r = cli(film["base"], film["env"])
        assert r.exit_code == 0, r.output
    assert film["fake"].stats()["creates"] == 2  # every clip paid for once


# ---- simulated: the same failures raised in-process (run everywhere) ---------------------------

def _raiser(code: int):
    def boom(*args, **kwargs):
        raise OSError(code, __import__("os").strerror(code), str(args[0]) if args else None)
    return boom


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS])
def test_simulated_journal_write_failure_sends_nothing(code, tmp_path, monkeypatch):
    plan = make_plan(tmp_path, [clip("a"), clip("b")])
    p = ScriptedProvider(paid=True)
    monkeypatch.setattr("storyboard.render.journal.Journal.put", _raiser(code))
    report = run(plan, p, approve=lambda s: True)
    assert p.create_calls == 0 and report.exit_code == 3
    for o in report.outcomes:
        assert "nothing was submitted" in o.error and str(tmp_path / ".storyboard" / "jobs") in o.error


def test_simulated_journal_failure_after_create_names_the_job(tmp_path, monkeypatch):
    from storyboard.render.journal import Journal as J

    real_put = J.put

    def put(self, record):
        if record.state == "submitted":
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path(record.key)))
        return real_put(self, record)

    monkeypatch.setattr(J, "put", put)
    plan = make_plan(tmp_path, [clip("a")])
    p = ScriptedProvider(paid=True)
    report = run(plan, p, approve=lambda s: True)
    assert p.create_calls == 1 and report["a"].status == "failed"
    assert "job job-1-a was created" in report["a"].error and "--adopt a=job-1-a" in outcome_text(report["a"])
    monkeypatch.setattr(J, "put", real_put)
    again = run(plan, p, approve=lambda s: True)
    assert again["a"].status == "in-doubt" and p.create_calls == 1  # never resubmitted by itself


def test_simulated_disk_full_during_download_keeps_the_job(tmp_path, monkeypatch):
    plan = make_plan(tmp_path, [clip("a")])
    p = ScriptedProvider(paid=True)
    monkeypatch.setattr(p, "download", _raiser(errno.ENOSPC))
    report = run(plan, p, approve=lambda s: True)
    assert report["a"].status == "failed" and "No space left on device" in report["a"].error
    assert "run again to download it" in report["a"].error
    rec = Journal(tmp_path / ".storyboard", "scripted").get(report["a"].key)
    assert rec.state == "completed" and rec.job_id == "job-1-a"
    monkeypatch.undo()
    p2 = ScriptedProvider(paid=True)
    p2.jobs = p.jobs
    again = run(plan, p2, approve=lambda s: True, media=FakeMedia())
    assert again.exit_code == 0 and p2.create_calls == 0


def test_simulated_disk_full_while_storing_leaves_no_partial_file(tmp_path, monkeypatch):
    plan = make_plan(tmp_path, [clip("a")])
    p = ScriptedProvider(paid=True)
    monkeypatch.setattr("storyboard.render.cache.Cache.store", _raiser(errno.ENOSPC))
    report = run(plan, p, approve=lambda s: True)
    assert report["a"].status == "failed" and "No space left on device" in report["a"].error
    assert not list((tmp_path / ".storyboard" / "cache" / "scripted" / "tmp").glob("*"))


def test_simulated_read_only_state_folder_is_one_line(tmp_path, monkeypatch, capsys):
    """The CLI's message when the state folder cannot be created (what a read-only mount gives)."""
    from storyboard import cli as cli_module

    story = write_film(tmp_path / "film", shots=1, extends=(), continues=(), morphs=(), dissolves=())
    real_mkdir = Path.mkdir

    def mkdir(self, *a, **kw):
        if self.name == ".storyboard":
            raise OSError(errno.EROFS, "Read-only file system", str(self))
        return real_mkdir(self, *a, **kw)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setattr("sys.argv", ["storyboard", "render", str(story)])
    with pytest.raises(SystemExit) as exit_:
        cli_module.main()
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    problems = [line for line in err.splitlines() if line.startswith("storyboard:")]
    assert len(problems) == 1 and "Read-only file system" in problems[0] and str(story.parent) in problems[0], err
