"""Re-stitching in proportion to the edit: the sound in cached AAC segments and the windows
cached by content. Counted with the stitcher's own counters (StitchResult.counts), never timed;
every re-stitched film is compared byte for byte with a from-scratch stitch of the same plan."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest

import storyboard.stitch.sound as sound_module
import storyboard.stitch.stage as stage_module
from storyboard.plan import ScoreSpec
from storyboard.stitch import sound_segments, stitch
from storyboard.stitch.base import FPS, RATE, SPF
from test_stitch import FF, check_film, clips, kill_mid_stitch, make_clip, make_plan  # noqa: F401 - the fixture

pytestmark = pytest.mark.slow

SEGMENT_FRAMES = 94  # ~2 s segments: a 16.5-s test film has 8 of them


@pytest.fixture(autouse=True)
def small_segments(monkeypatch):
    monkeypatch.setattr(sound_module, "SEGMENT_FRAMES", SEGMENT_FRAMES)


@pytest.fixture(scope="module")
def other_c(tmp_path_factory) -> Path:
    """The edit: clip c rendered again (same length, another picture and tone)."""
    return make_clip(tmp_path_factory.mktemp("edit") / "c2.mp4", 2, 200, 1000)


def film_plan():
    # a | b ~dissolve~ c | d ~fade~ a | b: c plays 5.5-7.5 s; windows b>c, d fade out, a fade in
    return make_plan(("a", "shot", 3), ("b", "shot", 3), ("dissolve", 0.5), ("c", "shot", 2),
                     ("d", "shot", 3), ("fade", 1.0), ("a2", "shot", 3), ("b2", "shot", 3))


def files(clips, **changed) -> dict[str, Path]:  # noqa: F811 - the fixture
    out = {n: clips[n] for n in "abcd"}
    out.update(a2=clips["a"], b2=clips["b"], **changed)
    return out


def run(plan, files_, out: Path, work: Path):
    out.unlink(missing_ok=True)  # never the film's own reuse: the cache is what is tested
    return stitch(plan, files_, out, workdir=work, log=lambda m: None)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def pcm(path: Path) -> np.ndarray:
    """The film's sound as decoded (float, stereo, the decoder's own output: no resampling)."""
    with av.open(str(path)) as c:
        return np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)


def reaching(total: int, first: int, last: int) -> list[int]:
    """Segments whose encode (pre-roll and tail included) hears film samples [first, last)."""
    return [s.index for s in sound_segments(total) if s.enc_lo < last and s.enc_hi > first]


def test_one_changed_clip_reencodes_only_the_segments_and_window_it_reaches(clips, other_c, tmp_path):  # noqa: F811
    plan = film_plan()
    work, before, after = tmp_path / "work", tmp_path / "before.mp4", tmp_path / "after.mp4"
    first = run(plan, files(clips), before, work)
    total = round(plan.total_seconds * FPS) * SPF
    n = len(sound_segments(total))
    assert n == 8
    assert first.counts == {"sound_segments": n, "sound_encoded": n, "windows": 3, "windows_encoded": 3}

    second = run(plan, files(clips, c=other_c), after, work)
    c_span = (132 * SPF, 180 * SPF)  # c's picture (and sound) at 5.5-7.5 s
    touched = reaching(total, *c_span)
    assert touched == [2, 3, 4]  # 4's encoder starts 1 s early: inside c
    assert second.counts == {"sound_segments": n, "sound_encoded": len(touched), "windows": 3,
                             "windows_encoded": 1}
    assert any("re-encoded window b[48:72] dissolve to c[0:24]" in a for a in second.actions)
    assert any("reused 2 window(s) encoded by an earlier stitch" in a for a in second.actions)
    assert any("encoded 3 (4.011-10.027 s), reused 5 from the stitch cache" in a
               for a in second.actions), second.actions

    # the same film as a stitch from scratch, to the byte (so the same duration, frames and A/V)
    scratch = run(plan, files(clips, c=other_c), tmp_path / "scratch.mp4", tmp_path / "fresh")
    assert scratch.counts["sound_encoded"] == n
    assert sha(after) == sha(tmp_path / "scratch.mp4")
    check_film(after, plan.total_seconds)

    # the sound outside the re-encoded segments (and the one AAC frame either side whose overlap
    # reaches into them) is bit-exact; inside, c's new tone
    old, new = pcm(before), pcm(after)
    segs = sound_segments(total)
    lo, hi = segs[touched[0]].lo - 1024, segs[touched[-1]].hi + 1024
    assert old.shape == new.shape
    assert np.array_equal(old[:, :lo], new[:, :lo]) and np.array_equal(old[:, hi:], new[:, hi:])
    assert not np.array_equal(old[:, c_span[0]:c_span[1]], new[:, c_span[0]:c_span[1]])


def test_an_unchanged_film_built_again_encodes_nothing(clips, other_c, tmp_path, monkeypatch):  # noqa: F811
    probed: list[str] = []
    real = stage_module.probe_clip
    monkeypatch.setattr(stage_module, "probe_clip", lambda n, p: probed.append(n) or real(n, p))
    plan = film_plan()
    work = tmp_path / "work"
    run(plan, files(clips), tmp_path / "one.mp4", work)
    assert sorted(probed) == sorted(files(clips))
    probed.clear()
    again = run(plan, files(clips), tmp_path / "two.mp4", work)
    assert again.counts["sound_encoded"] == again.counts["windows_encoded"] == 0
    assert sha(tmp_path / "one.mp4") == sha(tmp_path / "two.mp4")
    assert probed == []  # the probes of files not changed since are remembered
    run(plan, files(clips, c=other_c), tmp_path / "three.mp4", work)
    assert probed == ["c"]


@pytest.fixture(scope="module")
def music(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("story")
    path = folder / "theme.wav"
    subprocess.run([FF, "-v", "error", "-y", "-f", "lavfi", "-i",
                    "sine=frequency=1500:sample_rate=48000:duration=2", "-ac", "2",
                    "-c:a", "pcm_s16le", str(path)], check=True)
    return path


def scored(music: Path, **settings):
    spec = ScoreSpec(file=music.name, sha256="theme", first="d", last="a2", fade_in=0.2,
                     fade_out=0.2, **settings)
    return film_plan().model_copy(update={"base_dir": str(music.parent), "scores": [spec]})


def test_a_changed_duck_setting_reencodes_the_score_span_only(clips, music, tmp_path):  # noqa: F811
    work = tmp_path / "work"
    first = run(scored(music, duck_db=-12), files(clips), tmp_path / "one.mp4", work)
    n = first.counts["sound_segments"]
    second = run(scored(music, duck_db=-3), files(clips), tmp_path / "two.mp4", work)
    total = round(film_plan().total_seconds * FPS) * SPF
    span = (180 * SPF, 336 * SPF)  # d (7.5 s) to the end of a2 (14 s)
    touched = reaching(total, *span)
    assert 0 < len(touched) < n
    assert second.counts["sound_encoded"] == len(touched)
    assert second.counts["windows_encoded"] == 0  # the pictures did not change
    scratch = run(scored(music, duck_db=-3), files(clips), tmp_path / "scratch.mp4", tmp_path / "fresh")
    assert sha(tmp_path / "two.mp4") == sha(tmp_path / "scratch.mp4")
    old, new = pcm(tmp_path / "one.mp4"), pcm(tmp_path / "two.mp4")
    mid = (span[0] + span[1]) // 2
    assert not np.array_equal(old[:, mid:mid + RATE], new[:, mid:mid + RATE])  # ducked less
    assert scratch.counts["sound_encoded"] == n


def test_a_damaged_or_missing_cache_entry_is_rebuilt_never_used(clips, tmp_path):  # noqa: F811
    plan = film_plan()
    work = tmp_path / "work"
    run(plan, files(clips), tmp_path / "good.mp4", work)
    cache = work / "stitch-cache"
    sounds = sorted(cache.glob("sound-*.m4a"))
    windows = sorted(cache.glob("window-*.mp4"))
    assert len(sounds) == 8 and len(windows) == 3
    flipped = bytearray(sounds[1].read_bytes())  # a bit flipped inside the AAC payload: the
    flipped[len(flipped) // 2] ^= 0x10  # file still opens and decodes, to the wrong sound
    sounds[1].write_bytes(bytes(flipped))
    sounds[4].unlink()  # gone
    Path(f"{sounds[6]}.json").unlink()  # its record gone (a stitch killed between the two)
    record = json.loads(Path(f"{windows[0]}.json").read_text())
    windows[0].write_bytes(windows[0].read_bytes()[: record["size"] // 2])  # torn
    again = run(plan, files(clips), tmp_path / "again.mp4", work)
    assert again.counts["sound_encoded"] == 3 and again.counts["windows_encoded"] == 1
    assert again.counts["damaged"] == 3
    assert sha(tmp_path / "again.mp4") == sha(tmp_path / "good.mp4")
    # and the cache is whole again: nothing more to rebuild
    third = run(plan, files(clips), tmp_path / "third.mp4", work)
    assert third.counts["sound_encoded"] == third.counts["windows_encoded"] == 0
    assert "damaged" not in third.counts


def test_a_killed_restitch_leaves_a_usable_cache(clips, other_c, tmp_path):  # noqa: F811
    plan = film_plan()
    work, out = tmp_path / "work", tmp_path / "film.mp4"
    run(plan, files(clips), out, work)
    edited = files(clips, c=other_c)
    # killed mid-re-stitch: the window or the sound segments are being made
    kill_mid_stitch(plan, edited, out, work, prelude=("import storyboard.stitch.sound as sound",
                                                      f"sound.SEGMENT_FRAMES = {SEGMENT_FRAMES}"))
    again = run(plan, edited, out, work)
    scratch = run(plan, edited, tmp_path / "scratch.mp4", tmp_path / "fresh")
    assert sha(out) == sha(tmp_path / "scratch.mp4")
    assert again.counts["sound_encoded"] <= 3 and again.counts["windows_encoded"] <= 1
    assert scratch.counts["sound_encoded"] == 8
    assert not list((work / "stitch-cache").glob(".*")) and not list(work.glob("stitch-run-*"))
