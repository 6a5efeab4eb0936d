"""The film as a moviepy clip (`api.film_clip`, `render --stitcher moviepy`) and the differential
test: the fast stitcher and the moviepy composition make the same film from the same timeline,
each the other's oracle (duration to one frame, pictures within 30 dB PSNR at sampled times,
inside every transition too, sound envelopes within 1 dB), title card and scores included."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
from moviepy import vfx

from preview_helpers import write_story
from cli_process import storyboard
from storyboard.api import FilmClipError, compile_file, film_clip
from storyboard.present.subtitles import build_cues
from storyboard.cards.render import draw_card
from storyboard.media.probe import ffmpeg_exe
from storyboard.plan import CardSpec, PlannedClip, RenderPlan, ScoreSpec, film_layout
from storyboard.providers import get
from storyboard.stitch import stitch
from storyboard.stitch.composition import OPEN_READERS, compose, wipe_mask, write_film
from test_stitch import make_clip
from test_stitch import make_plan as make_stitch_plan

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
# The timeline: cuts, every transition kind, mixed sizes, a clip without sound, a retimed morph,
# a title card dissolved into (drawn as `render` draws it: its silent track ducks nothing).
TIMELINE = [
    ("a", "shot", 2), ("dissolve", 0.5), ("b", "shot", 2), ("fade", 0.5), ("c", "shot", 2),
    ("wipe", 0.5, "left"), ("d", "shot", 2), ("wipe", 0.5, "right"), ("e", "shot", 2),
    ("wipe", 0.5, "up"), ("f", "shot", 2), ("wipe", 0.5, "down"), ("g", "shot", 2),
    ("dissolve", 0.5), ("k", "card", 2), ("m", "morph", 4, 1.0), ("h", "shot", 2), ("t", "shot", 2),
    ("x", "extend", 1),
]
# The scores, in tones apart from the clips' (file: seconds, Hz, amplitude; a mono tone written
# as stereo, -3 dB a channel, which `pcm`'s mono downmix sums back: it measures at its amplitude).
# "loop" is shorter than its span (a to d) and plays again; it is ducked under a, b and d and
# plays at full level under c, which has no sound. "once" starts on the card (no sound: not
# ducked), is ducked under the morph and ends before its span does.
MUSIC = {"loop.wav": (1.5, 1200, 0.25), "once.wav": (2.8, 1500, 0.25)}
SCORES = [
    ScoreSpec(file="loop.wav", sha256="loop", first="a", last="d", fade_in=0.5, fade_out=0.5, duck_db=-12),
    ScoreSpec(file="once.wav", sha256="once", first="k", last="x", fade_in=0.25, volume_db=-6, loop=False,
              attack=0.1, release=0.3),
]
PSNR_MIN = 30.0
ENVELOPE_DB = 1.0


def planned(name: str, kind: str, seconds: int) -> PlannedClip:
    card = CardSpec(text="Three days later", subtitle="at the front", font="serif") if kind == "card" else None
    return PlannedClip(name=name, kind=kind, seconds=seconds, request={}, estimated_cost_usd=0.0,
                       key=f"key-{name}", mode="card" if card else "text", source="test.story:1:1",
                       width=320, height=180, card=card)


def scored_plan(clips: dict[str, Path]) -> RenderPlan:
    """The differential timeline with its scores, their files beside the clips."""
    return make_plan(*TIMELINE).model_copy(update={"scores": SCORES, "base_dir": str(clips["a"].parent)})


def make_plan(*items) -> RenderPlan:
    return make_stitch_plan(*items, clip=planned, title="diff")


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("film-clips")
    out = {n: make_clip(d / f"{n}.mp4", s, h, f, **o) for n, (s, h, f, o) in CLIPS.items()}
    plan = make_plan(*TIMELINE)
    for card in plan.cards:
        out[card.name] = d / f"{card.name}.mp4"
        draw_card(card, d, out[card.name])
    for name, (seconds, freq, amplitude) in MUSIC.items():
        subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i",
                        f"aevalsrc={amplitude}*sin(2*PI*{freq}*t):s={RATE}:d={seconds}", "-ac", "2",
                        "-c:a", "pcm_s16le", str(d / name)], check=True)
    return out


@pytest.fixture(scope="module")
def films(clips, tmp_path_factory):
    """The same timeline through both stitchers."""
    d = tmp_path_factory.mktemp("films")
    plan = scored_plan(clips)
    fast = stitch(plan, clips, d / "fast.mp4", workdir=d / "work-fast", log=lambda m: None)
    slow = write_film(plan, clips, d / "moviepy.mp4", workdir=d / "work-moviepy", log=lambda m: None)
    return plan, fast.path, slow.path


# ---- probes ----------------------------------------------------------------------------------

def rgb_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24").astype(np.float64) for f in c.decode(video=0)]


def pcm(path: Path) -> np.ndarray:
    """The decoded sound as mono 48 kHz, edit list applied (ffmpeg)."""
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
    """Film frames to compare (14), by what they show: the middle of every dissolve and wipe, each
    half of the fade, and the clips that are silent, scaled, a card, retimed or an extension."""
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
        if p.name in ("c", "d", "k", "m", "h", "x"):
            at[round((p.start + p.seconds / 2) * FPS)] = f"inside {p.name}"
    return dict(sorted(at.items()))


# ---- the differential test -------------------------------------------------------------------

def test_both_stitchers_make_the_same_film(films):
    plan, fast, slow = films
    a, b = rgb_frames(fast), rgb_frames(slow)
    assert abs(len(a) - len(b)) <= 1, (len(a), len(b))
    assert abs(len(a) - plan.total_seconds * FPS) <= 1
    samples = sample_frames(plan)
    assert len(samples) == 14
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
    # the clip without sound adds none: only the score plays under it, in both
    place = {p.name: p for p in film_layout(plan)}
    c = place["c"]
    for film in (x, y):
        assert tone_db(film, c.start + 0.9, CLIPS["b"][2]) < -60 and tone_db(film, c.start + 0.9, CLIPS["d"][2]) < -60


def tone_db(pcm: np.ndarray, t: float, freq: float, width: int = RATE // 10) -> float:
    """The level (dBFS, of a sine's peak) of the `freq` component in the `width` samples from t."""
    seg = pcm[int(t * RATE):int(t * RATE) + width]
    amp = 2 * abs(np.dot(seg, np.exp(-2j * np.pi * freq * np.arange(len(seg)) / RATE))) / len(seg)
    return float(20 * np.log10(amp + 1e-9))


def test_both_stitchers_lay_the_scores_alike(films):
    """Each score by its own tone: faded in at its span's start, full under the clip without
    sound and the card, ducked by its amount under clips with sound, looped or ended, and the
    same in both films to 1 dB."""
    plan, fast, slow = films
    x, y = pcm(fast), pcm(slow)
    place = {p.name: p for p in film_layout(plan)}
    (loop, loop_hz, loop_amp), (once, once_hz, once_amp) = [(s, *MUSIC[s.file][1:]) for s in SCORES]
    loop_full, once_full = 20 * np.log10(loop_amp), 20 * np.log10(once_amp) + once.volume_db
    k, m = place["k"], place["m"]
    assert m.start + 0.5 < k.start + MUSIC[once.file][0] < place["x"].end  # shorter than its span
    at = {  # time: (Hz, expected dB; None: only the same in both)
        0.05: (loop_hz, None),  # fading in
        1.0: (loop_hz, loop_full + loop.duck_db),  # under a (its sound)
        place["b"].start + 0.8: (loop_hz, loop_full + loop.duck_db),  # 1.5 s music, played again
        place["c"].start + 0.9: (loop_hz, loop_full),  # under c (no sound): not ducked
        place["d"].start + 0.8: (loop_hz, loop_full + loop.duck_db),
        place["d"].end - 0.2: (loop_hz, None),  # fading out at the span's end
        place["d"].end + 0.3: (loop_hz, -80),  # after its span
        k.start + 0.3: (once_hz, None),  # fading in on the card
        k.start + 1.0: (once_hz, once_full),  # the card has no sound
        m.start + 0.5: (once_hz, once_full + once.duck_db),  # under the morph's sound
        k.start + MUSIC[once.file][0] + 0.2: (once_hz, -80),  # played once: over when it ends
    }
    levels = {t: (tone_db(x, t, hz), tone_db(y, t, hz), want) for t, (hz, want) in at.items()}
    report = "; ".join(f"{t:.2f} s: fast {a:.1f}, moviepy {b:.1f}, want {w if w is None else round(w, 1)}"
                       for t, (a, b, w) in levels.items())
    for fast_db, slow_db, want in levels.values():
        if want is not None and want <= -80:  # silence
            assert fast_db < -60 and slow_db < -60, report
            continue
        assert abs(fast_db - slow_db) <= ENVELOPE_DB, report
        assert want is None or abs(fast_db - want) <= 1.0, report
    assert tone_db(x, 0.05, loop_hz) < loop_full + loop.duck_db - 6  # the fade in starts from nothing


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
    plan = scored_plan(clips)
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
    return storyboard(*args, timeout=240)


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


SCORED_STORY = """\
title: Scored
size: 320x180

score: music/theme.wav, fade 0.5s, duck -12dB

card opening 2s:
  text: The Kitten General
  subtitle: a short film
  style: white on black, serif

dissolve 0.5s

shot one 4s:
  A quiet street at dawn.

fade 0.5s

card later 2s:
  text: Three days later
"""


def test_render_with_the_moviepy_stitcher_draws_the_cards_and_lays_the_score(tmp_path):
    story = tmp_path / "scored" / "film.story"
    (story.parent / "music").mkdir(parents=True)
    story.write_text(SCORED_STORY, encoding="utf-8")
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"aevalsrc=0.25*sin(2*PI*1200*t):s={RATE}:d=3",
                    "-ac", "2", "-c:a", "pcm_s16le", str(story.parent / "music" / "theme.wav")], check=True)
    proc = run_cli("render", str(story), "--stitcher", "moviepy")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "drew card opening on this machine" in proc.stderr
    assert "1 clip composed, 2 title cards, 1 score)" in proc.stderr
    film = Path(proc.stdout.strip())
    plan = compile_file(story, get("preview")).plan
    opening, one, later = film_layout(plan)
    slow_frames = rgb_frames(film)
    assert len(slow_frames) == round(plan.total_seconds * FPS)
    slow = pcm(film)
    full = tone_db(slow, opening.start + 1.0, 1200)  # under a card: nothing to duck under
    assert full == pytest.approx(20 * np.log10(0.25), abs=1.0)
    assert tone_db(slow, one.start + 2.0, 1200) < full - 6  # ducked under the shot's sound
    assert tone_db(slow, later.start + 1.0, 1200) == pytest.approx(full, abs=1.0)  # 3 s music: looped

    kept = film.read_bytes()
    fast = run_cli("render", str(story))  # the fast stitcher's film of the same story, to hold it to
    assert fast.returncode == 0, fast.stderr
    other = Path(fast.stdout.strip())
    fast_sound, fast_frames = pcm(other), rgb_frames(other)
    assert len(fast_frames) == len(slow_frames) and kept != other.read_bytes()
    for t in (0.1, opening.start + 1.0, one.start + 0.2, one.start + 2.0, later.start + 1.0, later.end - 0.2):
        assert tone_db(slow, t, 1200) == pytest.approx(tone_db(fast_sound, t, 1200), abs=ENVELOPE_DB), t
    for t in (opening.start + 1.0, one.start + 2.0, later.start + 1.0):  # the cards as drawn, the shot
        k = round(t * FPS)
        assert psnr(slow_frames[k], fast_frames[k]) > PSNR_MIN, t

    from storyboard.cards.render import card_path
    from storyboard.render import default_state_dir

    drawn = card_path(default_state_dir(plan), plan.clip("later"))
    drawn.unlink()  # film_clip draws a card the cache lacks, as render does
    with film_clip(story) as clip:
        assert drawn.is_file() and clip.scores == 1 and [s.name for s in clip.shots] == ["opening", "one", "later"]
        k = round((later.start + 1.0) * FPS)
        assert psnr(clip.get_frame((k + 0.5) / FPS).astype(float), fast_frames[k]) > PSNR_MIN
