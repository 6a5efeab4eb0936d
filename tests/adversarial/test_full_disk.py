"""Issue 10 item 10: a full disk is one line that names the folder and says what to do, on
every path: the preview provider's animatic, the stitch, the preview page and its contact sheet,
the export. Never "provider refused the request", never ffmpeg's own lines, never a traceback;
the same command resumes once there is room, without rendering finished clips again.

Real small tmpfs mounts where the tests may mount (root), with the harness of
tests/test_hardening_disk.py; the simulated tests at the bottom raise the same failures in
process (an OSError, or ffmpeg exiting with 228 = -ENOSPC & 0xff) and run everywhere."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from render_helpers import cli
from test_hardening_disk import PAGE, one_line_errors, real, small_disk

TWO_SHOTS = ("title: Full Disk\nsize: 320x180\n\nshot a 4s:\n  Rain on the window.\n  @Ann: \"Stay.\"\n\n"
             "shot b 4s:\n  The sun comes out.\n\ncharacter Ann:\n  image: ann.png\n")
FFMPEG_CHATTER = ("ffmpeg", "exited with", "av_interleaved_write_frame", "Error writing trailer", "provider refused")


@pytest.fixture
def story(tmp_path) -> Path:
    folder = tmp_path / "film"
    folder.mkdir()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(folder / "ann.png")
    path = folder / "film.story"
    path.write_text(TWO_SHOTS, encoding="utf-8")
    return path


def problem_lines(r) -> list[str]:
    lines = one_line_errors(r)
    for line in lines:
        assert not any(word in line for word in FFMPEG_CHATTER), line
    assert not any(line.startswith("  ") for line in r.output.splitlines()), r.output  # no quoted tool output
    return lines


def the_one_line(r, folder: Path) -> str:
    lines = problem_lines(r)
    assert len(lines) == 1, r.output
    line = lines[0]
    assert str(folder) in line and "No space left on device" in line, line
    assert "free some space there and run the same command again" in line, line
    return line


def rendered_again(r) -> bool:
    return "submitting" in r.output or "rendered" in r.output.split("cached")[0]


# ---- real: small tmpfs mounts ------------------------------------------------------------------

@pytest.mark.slow
@real
def test_animatic_on_a_full_disk(story):
    work = story.parent / ".storyboard" / "work"
    with small_disk(work, size=256 * PAGE, free=0) as free_space:
        r = cli(["render", str(story)])
        assert r.exit_code == 3, r.output
        errors = [x for x in problem_lines(r) if "error: clip" in x]
        assert len(errors) == 2, r.output  # one line per clip that could not be made
        for line in errors:
            assert f"cannot write in {work / 'preview'}: No space left on device" in line, line
            assert "free some space there and run the same command again" in line
        free_space()
        r = cli(["render", str(story)])
        assert r.exit_code == 0, r.output
    assert Path(r.stdout.strip()).name == "Full Disk.animatic.mp4"  # the preview provider's film


@pytest.mark.slow
@real
@pytest.mark.parametrize("where, other", [(".storyboard/stitch", "build")])  # a full build/: test_hardening_disk
def test_stitch_on_a_full_disk(story, where, other):
    assert cli(["preview", str(story)]).exit_code == 0  # the clips, not the film
    full = story.parent / where
    with small_disk(full, size=64 * PAGE, free=0) as free_space:
        r = cli(["render", str(story)])
        assert r.exit_code == 2, r.output
        line = the_one_line(r, full)
        assert str(story.parent / other) not in line  # the folder that is full, not a guess
        assert "the clips are rendered and cached" in line
        free_space()
        r = cli(["render", str(story)])
        assert r.exit_code == 0, r.output
        assert "2 cached" in r.output and not rendered_again(r), r.output
        assert Path(r.stdout.strip()).is_file()


@pytest.mark.slow
@real
def test_preview_page_and_contact_sheet_on_a_full_disk(story):
    assert cli(["preview", str(story)]).exit_code == 0  # the clips, not the film
    build = story.parent / "build"
    with small_disk(build, size=64 * PAGE, free=0) as free_space:
        r = cli(["preview", str(story)])
        assert r.exit_code == 2, r.output
        assert the_one_line(r, build).startswith("storyboard: cannot write the page in")
        free_space()
        r = cli(["preview", str(story)])
        assert r.exit_code == 0, r.output
        assert not rendered_again(r), r.output
        assert (build / "contact-sheet.png").is_file() and list((build / "posters").glob("*.jpg"))


@pytest.mark.slow
@real
@pytest.mark.parametrize("option, name", [("--otio", "film.otio"), ("--otio", "film.otioz"), ("--srt", "film.srt")])
def test_export_on_a_full_disk(story, option, name):
    assert cli(["preview", str(story)]).exit_code == 0  # the clips, not the film
    out = story.parent / "export"
    with small_disk(out, size=512 * PAGE, free=0) as free_space:  # room for the .otioz's media, later
        r = cli(["export", str(story), option, str(out / name)])
        assert r.exit_code == 2, r.output
        the_one_line(r, out)
        free_space()
        r = cli(["export", str(story), option, str(out / name)])
        assert r.exit_code == 0, r.output


# ---- simulated: the same failures in process ---------------------------------------------------

def ffmpeg_out_of_space(monkeypatch, *, when=lambda args: True):
    """ffmpeg as it fails on a full disk: exit 228 and its own lines on stderr."""
    real_run = subprocess.run

    def run(cmd, *args, **kwargs):
        if not when(cmd):
            return real_run(cmd, *args, **kwargs)
        stderr = (b"[out#0/mp4 @ 0x55d0c0] Error muxing a packet\n[mp4 @ 0x55d0c1] "
                  b"av_interleaved_write_frame(): No space left on device\n"
                  b"Error writing trailer of " + str(cmd[-1]).encode() + b": No space left on device\n")
        return subprocess.CompletedProcess(cmd, 228, b"", stderr)

    monkeypatch.setattr("storyboard.media.probe.subprocess.run", run)


def test_ffmpeg_out_of_space_is_the_disk_error(monkeypatch, tmp_path):
    from storyboard.disk import disk_cause
    from storyboard.media.probe import MediaError, run_ffmpeg

    ffmpeg_out_of_space(monkeypatch)
    with pytest.raises(MediaError) as info:
        run_ffmpeg(["-i", "in.mp4", str(tmp_path / "out.mp4")], what="making out.mp4")
    assert "\n" not in str(info.value) and "228" not in str(info.value)
    cause = disk_cause(info.value)
    assert cause is not None and cause.errno == errno.ENOSPC and cause.filename == str(tmp_path / "out.mp4")


@pytest.mark.parametrize("code, returncode, stderr", [
    (errno.ENOSPC, 228, ""), (errno.ENOSPC, 1, "x: No space left on device"),
    (errno.EROFS, 1, "x: Read-only file system"), (errno.EDQUOT, 1, "x: Disk quota exceeded"),
])
def test_ffmpeg_disk_errors_are_recognised(code, returncode, stderr):
    from storyboard.disk import ffmpeg_disk_error

    assert ffmpeg_disk_error(returncode, stderr, "/o.mp4").errno == code
    assert ffmpeg_disk_error(183, "Invalid data found when processing input", "/o.mp4") is None


def test_simulated_animatic_on_a_full_disk(monkeypatch, story):
    ffmpeg_out_of_space(monkeypatch, when=lambda cmd: "animatic" in str(cmd[-1]) or ".tmp" in str(cmd[-1]))
    r = cli(["render", str(story)])
    assert r.exit_code == 3, r.output
    work = story.parent / ".storyboard" / "work" / "preview"
    errors = [x for x in problem_lines(r) if "error: clip" in x]
    assert len(errors) == 2 and all(f"cannot write in {work}: No space left on device" in x for x in errors), r.output
    journal = story.parent / ".storyboard" / "jobs" / "preview"
    assert "in_doubt" not in "".join(p.read_text() for p in journal.glob("*.json"))  # nothing was sent anywhere


def test_simulated_animatic_that_cannot_write_its_inputs_is_not_in_doubt(monkeypatch, story):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(story.parent / ".storyboard" / "work" / "x.rgb"))

    monkeypatch.setattr("storyboard.animatic.render._raw_input", full)
    r = cli(["render", str(story)])
    assert r.exit_code == 3, r.output
    assert "in-doubt" not in r.output and "error: clip a failed" in r.output, r.output
    assert all("No space left on device" in x and "free some space" in x
               for x in problem_lines(r) if "error: clip" in x), r.output


@pytest.mark.slow
def test_simulated_stitch_on_a_full_disk(monkeypatch, story):
    assert cli(["preview", str(story)]).exit_code == 0  # the clips, not the film
    stitch = story.parent / ".storyboard" / "stitch"
    ffmpeg_out_of_space(monkeypatch, when=lambda cmd: "stitch-run" in str(cmd[-1]))
    r = cli(["render", str(story)])
    assert r.exit_code == 2, r.output
    line = the_one_line(r, stitch)
    assert str(story.parent / "build") not in line
    monkeypatch.undo()
    r = cli(["render", str(story)])
    assert r.exit_code == 0 and "2 cached" in r.output and not rendered_again(r), r.output


@pytest.mark.slow
def test_simulated_posters_on_a_full_disk_stop_the_page(monkeypatch, story):
    """A poster that cannot be written is not a clip without a poster: the page says the disk is
    full instead of quietly leaving every picture out."""
    assert cli(["preview", str(story)]).exit_code == 0  # the clips, not the film
    build = story.parent / "build"

    def full(video, posters_dir, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(Path(posters_dir) / "a.jpg"))

    monkeypatch.setattr("storyboard.present.page.make_poster", full)
    r = cli(["preview", str(story)])
    assert r.exit_code == 2, r.output
    the_one_line(r, build / "posters")
