"""The film as a moviepy clip (`api.film_clip`, `render --stitcher moviepy`) and the differential
test: the fast stitcher and the moviepy composition make the same film from the same timeline,
each the other's oracle (duration to one frame, pictures within 30 dB PSNR at sampled times,
inside every transition too, sound envelopes within 1 dB)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from moviepy import vfx

from preview_helpers import write_story
from storyboard.api import FilmClipError, compile_file, film_clip
from storyboard.present.subtitles import build_cues
from storyboard.plan import PlannedClip, RenderPlan, TimelineEntry, film_layout
from storyboard.providers import get
from storyboard.stitch import stitch
from storyboard.stitch.composition import OPEN_READERS, compose, wipe_mask, write_film
from test_stitch import make_clip

FPS, RATE = 24, 48000
pytestmark = pytest.mark.slow

# name: (seconds, hue, tone Hz, make_clip options). Small and short: the moviepy side composes
# every frame in Python.
CLIPS = {
    "a": (2, 0, 220, {}),
    "b": (2, 60, 300, {}),
    "c": (2, 120, 380, {"audio": False}),  # no sound: silence in both films
    "d": (2, 180, 460, {"size": "640x360"}),  # another size: scaled to the film's
    "e": (2, 240, 540, {}),
    "f": (2, 300, 620, {}),
    "g": (2, 30, 700, {}),
    "m": (4, 90, 780, {}),  # a morph: generated at 4 s, played at 1 s
    "h": (2, 150, 860, {"size": "240x180"}),  # narrower: pillarboxed
    "t": (2, 270, 940, {}),  # an extension's target ...
    "x": (3, 270, 940, {}),  # ... and the extension, returned as the target + 1 s more
}
# The timeline: cuts, every transition kind, mixed sizes, a clip without sound, a retimed morph.
# A title card and a score join here as two more cases when they land (a ("card", ...) item and
# a score setting on the plan); the checks below need no change for them.
TIMELINE = [
    ("a", "shot", 2), ("dissolve", 0.5), ("b", "shot", 2), ("fade", 0.5), ("c", "shot", 2),
    ("wipe", 0.5, "left"), ("d", "shot", 2), ("wipe", 0.5, "right"), ("e", "shot", 2),
    ("wipe", 0.5, "up"), ("f", "shot", 2), ("wipe", 0.5, "down"), ("g", "shot", 2),
    ("m", "morph", 4, 1.0), ("h", "shot", 2), ("t", "shot", 2), ("x", "extend", 1),
]
PSNR_MIN = 30.0
ENVELOPE_DB = 1.0


def planned(name: str, kind: str, seconds: int) -> PlannedClip:
    return PlannedClip(name=name, kind=kind, seconds=seconds, request={}, estimated_cost_usd=0.0,
                       key=f"key-{name}", mode="text", source="test.story:1:1", width=320, height=180)


def make_plan(*items) -> RenderPlan:
    clips, timeline = [], []
    for item in items:
        if item[0] in ("cut", "dissolve", "fade", "wipe"):
            timeline.append(TimelineEntry(transition=item[0], seconds=item[1],
                                          direction=item[2] if len(item) > 2 else None))
        else:
            clips.append(planned(item[0], item[1], item[2]))
            timeline.append(TimelineEntry(clip=item[0], seconds=item[3] if len(item) > 3 else None))
    return RenderPlan(title="diff", provider="preview", model="m", story="diff.story",
                      clips=clips, timeline=timeline, estimated_cost_usd=0.0)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("film-clips")
    return {n: make_clip(d / f"{n}.mp4", s, h, f, **o) for n, (s, h, f, o) in CLIPS.items()}


@pytest.fixture(scope="module")
def films(clips, tmp_path_factory):
    """The same timeline through both stitchers."""
    d = tmp_path_factory.mktemp("films")
    plan = make_plan(*TIMELINE)
    fast = stitch(plan, clips, d / "fast.mp4", workdir=d / "work-fast", log=lambda m: None)
    slow = write_film(plan, clips, d / "moviepy.mp4", workdir=d / "work-moviepy", log=lambda m: None)
    return plan, fast.path, slow.path


# ---- probes ----------------------------------------------------------------------------------

def rgb_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24").astype(np.float64) for f in c.decode(video=0)]


def pcm(path: Path) -> np.ndarray:
    """The decoded sound as mono 48 kHz, edit list applied (ffmpeg)."""
    from storyboard.media.probe import ffmpeg_exe

    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:a", "-f", "f32le",
                          "-ac", "1", "-ar", str(RATE), "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.float32).astype(np.float64)


def psnr(x: np.ndarray, y: np.ndarray) -> float:
    mse = float(((x - y) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def envelope_db(samples: np.ndarray, window: int = RATE // 20) -> np.ndarray:
    """RMS level per 50 ms window, in dBFS."""
    n = len(samples) // window
    rms = np.sqrt((samples[:n * window].reshape(n, window) ** 2).mean(axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-6))


def sample_frames(plan: RenderPlan) -> dict[int, str]:
    """12 film frames to compare, by what they show: the middle of every dissolve and wipe, each
    half of the fade, and the clips that are silent, scaled, retimed or an extension."""
    at: dict[int, str] = {}
    layout = film_layout(plan)
    for prev, p in zip(layout, layout[1:], strict=False):
        if p.join_in is None:
            continue
        kind = p.join_in.transition + (f" {p.join_in.direction}" if p.join_in.direction else "")
        if p.overlap_in:
            at[round((p.start + p.overlap_in / 2) * FPS)] = f"mid {kind}"
        else:  # a fade: its out half, then its in half
            at[round(prev.end * FPS) - 3] = "fade out"
            at[round(p.start * FPS) + 3] = "fade in"
    for p in layout:
        if p.name in ("c", "d", "m", "h", "x"):
            at[round((p.start + p.seconds / 2) * FPS)] = f"inside {p.name}"
    return dict(sorted(at.items()))


# ---- the differential test -------------------------------------------------------------------

def test_both_stitchers_make_the_same_film(films):
    plan, fast, slow = films
    a, b = rgb_frames(fast), rgb_frames(slow)
    assert abs(len(a) - len(b)) <= 1, (len(a), len(b))
    assert abs(len(a) - plan.total_seconds * FPS) <= 1
    samples = sample_frames(plan)
    assert len(samples) == 12
    scores = {f"{what} (frame {k})": round(psnr(a[k], b[k]), 1) for k, what in samples.items()}
    low = {k: v for k, v in scores.items() if v < PSNR_MIN}
    assert not low, scores


def test_both_stitchers_make_the_same_sound(films):
    plan, fast, slow = films
    x, y = pcm(fast), pcm(slow)
    assert abs(len(x) - len(y)) <= RATE // FPS, (len(x), len(y))
    ex, ey = envelope_db(x), envelope_db(y)
    n = min(len(ex), len(ey))
    ex, ey = ex[:n], ey[:n]
    audible = (ex > -40) | (ey > -40)
    worst = np.abs(ex - ey)[audible]
    assert audible.sum() > n // 2 and worst.max() <= ENVELOPE_DB, \
        [(round(i / 20, 2), round(ex[i], 1), round(ey[i], 1)) for i in np.flatnonzero(audible & (np.abs(ex - ey) > 1))]
    # the clip without sound is silent in both until the next clip's sound comes in under the wipe
    c = next(p for p in film_layout(plan) if p.name == "c")
    inside = slice(int(c.start * 20) + 1, int((c.end - c.overlap_out) * 20) - 1)
    assert ex[inside].max() < -60 and ey[inside].max() < -60


# ---- the composition itself ------------------------------------------------------------------

def test_wipe_masks_move_as_xfade_wipes_do():
    left = wipe_mask("left", 4, (8, 2), 1.0)
    assert left.get_frame(0).sum() == 0  # frame 0: all outgoing
    assert left.get_frame(2 / FPS)[0].tolist() == [0, 0, 0, 0, 0, 1, 1, 1]  # comes in from the right
    right = wipe_mask("right", 4, (8, 2), 1.0)
    assert right.get_frame(2 / FPS)[0].tolist() == [1, 1, 1, 1, 1, 0, 0, 0]
    down = wipe_mask("down", 4, (2, 8), 1.0)
    assert down.get_frame(2 / FPS)[:, 0].tolist() == [1, 1, 1, 1, 1, 0, 0, 0]
    up = wipe_mask("up", 4, (2, 8), 1.0)
    assert up.get_frame(2 / FPS)[:, 0].tolist() == [0, 0, 0, 0, 0, 1, 1, 1]
    assert left.get_frame(4 / FPS).min() == 1  # after the wipe: all incoming


def test_composition_follows_the_film_layout_and_opens_few_readers(clips):
    plan = make_plan(*TIMELINE)
    with compose(plan, clips) as film:
        assert film.size == (320, 180) and film.fps == FPS
        assert round(film.duration * FPS) == round(plan.total_seconds * FPS)
        assert [(s.name, s.first / FPS) for s in film.shots] == \
            [(p.name, round(p.start * FPS) / FPS) for p in film_layout(plan)]
        morph = next(s for s in film.shots if s.name == "m")
        assert morph.frames == 24 and [morph.file_frame(j) for j in (0, 23)] == [0, 95]
        for t in np.arange(0, film.duration, 0.25):  # scrubbing the whole film
            film.get_frame(t)
        assert len(film.readers.video) <= OPEN_READERS
        film.audio.to_soundarray(tt=np.arange(0, film.duration, 1 / 4800))
        assert len(film.readers.audio) <= OPEN_READERS
        readers = film.readers
    assert not readers.video and not readers.audio  # closed with the film


# ---- the pipeline's face: api.film_clip and `render --stitcher moviepy` ------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "storyboard", *args], capture_output=True, text=True,
                          timeout=240)


def test_film_clip_and_the_moviepy_stitcher_on_a_story(tmp_path):
    story = write_story(tmp_path / "film")
    with pytest.raises(FilmClipError, match=r"not rendered yet: one, two, two\+1, .*storyboard render"):
        film_clip(story)

    proc = run_cli("render", str(story), "--stitcher", "moviepy", "--burn-subtitles")
    assert proc.returncode == 0, proc.stderr
    film = Path(proc.stdout.strip())
    assert "with moviepy" in proc.stderr and "Traceback" not in proc.stderr
    plan = compile_file(story, get("preview")).plan
    with av.open(str(film)) as c:
        frames = c.streams.video[0].frames
        assert c.streams.audio[0].codec_context.name == "aac" and c.streams.audio[0].rate == RATE
    assert abs(frames - plan.total_seconds * FPS) <= 1  # the extension's repeated first frame left out

    again = run_cli("render", str(story), "--stitcher", "moviepy", "--burn-subtitles")
    assert again.returncode == 0 and "is up to date" in again.stderr
    fast = run_cli("render", str(story), "--burn-subtitles")  # the other stitcher's film is another film
    assert fast.returncode == 0 and "copied" in fast.stderr and "is up to date" not in fast.stderr
    with av.open(str(film)) as c:
        assert c.streams.video[0].frames == frames

    with film_clip(story) as clip:  # what a user does: their own effect, then moviepy's writer
        assert round(clip.duration * FPS) == frames and clip.size == (320, 180)
        flipped = clip.subclipped(0, 0.5).with_effects([vfx.MirrorX()])
        flipped.write_videofile(str(tmp_path / "fx.mp4"), fps=FPS, audio_codec="aac", audio_fps=RATE,
                                logger=None, temp_audiofile_path=str(tmp_path))
        original = clip.get_frame(0.25)
    cue = build_cues(plan)[0]
    with film_clip(story, subtitles=True) as titled, film_clip(story) as plain:
        t = (cue.start + cue.end) / 2
        low, high = titled.get_frame(t)[120:].astype(float), plain.get_frame(t)[120:].astype(float)
        assert np.abs(low - high).mean() > 2  # the cue is drawn near the bottom
        assert np.abs(titled.get_frame(t)[:60].astype(float) - plain.get_frame(t)[:60]).mean() < 0.5
    with av.open(str(tmp_path / "fx.mp4")) as c:
        first = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(first) == 12 and psnr(first[6].astype(float), original[:, ::-1].astype(float)) > 30


def test_film_clip_of_a_story_with_errors_carries_its_diagnostics(tmp_path):
    story = tmp_path / "bad.story"
    story.write_text("title: Bad\n\nshot one 5s:\n  @Nobody waves.\n", encoding="utf-8")
    with pytest.raises(FilmClipError, match=r"bad.story:4:\d+: error\[SB\d+\]"):
        film_clip(story)
