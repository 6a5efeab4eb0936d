"""Title cards (drawn locally with moviepy, never sent to a provider) and the score (music under
a span of clips, mixed in the stitcher with fades, loops and a sidechain duck).

Cards are checked by their pixels (centred text on the styled background, a picture behind it,
credits that move up); the score by its level at points of the film (starts with its span, fades,
loops, ducks smoothly under a loud clip and not under a silent one) with the film's length and
A/V agreement unchanged; the render engine by the fake Together server's own job list."""

from __future__ import annotations

import itertools
from pathlib import Path

import av
import numpy as np
import pytest

from storyboard import api, providers
from storyboard.cards.render import draw_card
from storyboard.plan import ScoreSpec
from storyboard.stitch.base import RATE
from storyboard.stitch.score import Ducker, PlacedScore, ScoreMix, warmup

from render_helpers import compile_story, together, trun
from test_stitch import FF, audio_mono, check_film, make_clip, make_plan

FPS = 24


def story(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "film.story"
    path.write_text(text, encoding="utf-8")
    return path


def frame_at(path: Path, t: float) -> np.ndarray:
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            if f.time is not None and f.time >= t - 1e-6:
                return f.to_ndarray(format="rgb24").astype(np.int16)
    raise AssertionError(f"no frame at {t}s in {path}")


def draw(tmp_path: Path, body: str, size: str = "320x180") -> Path:
    path = story(tmp_path / "film", f"size: {size}\n\n{body}\nshot a 4s:\n  A quiet street.\n")
    plan = compile_story(path, providers.get("preview"))
    card = plan.cards[0]
    out = tmp_path / "card.mp4"
    draw_card(card, Path(plan.base_dir), out)
    return out


# ---- cards ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_card_draws_centred_text_on_its_background(tmp_path):
    out = draw(tmp_path, "card title 2s:\n  text: The Kitten General\n  style: cream on navy, serif\n")
    with av.open(str(out)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.codec_context.width, v.codec_context.height) == (320, 180)
        assert sum(1 for _ in c.decode(video=0)) == 2 * FPS
        assert a.codec_context.sample_rate == RATE and a.codec_context.channels == 2
    img = frame_at(out, 1.0)
    navy = np.array([0x14, 0x1E, 0x46])
    corners = [img[:20, :20], img[:20, -20:], img[-20:, :20], img[-20:, -20:]]
    assert all(np.abs(c.reshape(-1, 3).mean(0) - navy).max() < 8 for c in corners)
    text = np.abs(img - navy).sum(2) > 120  # cream strokes
    rows, cols = np.nonzero(text)
    assert len(rows) > 200
    assert abs(rows.mean() - 90) < 12 and abs(cols.mean() - 160) < 12  # centred
    pcm, _ = audio_mono(out)
    assert len(pcm) >= 2 * RATE - 1024 and np.abs(pcm).max() < 1e-4  # silent, as long as the picture


@pytest.mark.slow
def test_a_card_picture_fills_the_background(tmp_path):
    from PIL import Image

    (tmp_path / "film").mkdir()
    Image.new("RGB", (40, 40), (200, 30, 30)).save(tmp_path / "film" / "red.png")
    out = draw(tmp_path, "card later 1s:\n  text: Later\n  image: red.png\n")
    img = frame_at(out, 0.5)
    assert np.abs(img[:10, :10].reshape(-1, 3).mean(0) - [200, 30, 30]).max() < 12
    assert np.abs(img[-10:, -10:].reshape(-1, 3).mean(0) - [200, 30, 30]).max() < 12


@pytest.mark.slow
def test_credits_scroll_up(tmp_path):
    credits = "".join(f"  credits: Person number {i}\n" for i in range(6))
    out = draw(tmp_path, f"card end 6s:\n  text: The End\n{credits}")

    def text_rows(t: float) -> float:
        img = frame_at(out, t)
        rows, _ = np.nonzero(img.sum(2) > 300)
        return rows.mean()

    early, late = text_rows(1.5), text_rows(4.0)
    assert early > late + 30  # the roll moved up


def test_a_card_costs_nothing_and_sends_no_request(tmp_path):
    path = story(tmp_path / "film", "card t 2.5s:\n  text: Hi\n\ndissolve 1s\n\nshot a 4s:\n  A street.\n")
    plan = compile_story(path, providers.get("together"))
    card = plan.clip("t")
    assert card.kind == "card" and card.request == {} and card.estimated_cost_usd == 0.0
    assert card.seconds == 2.5 and plan.total_seconds == pytest.approx(5.5)
    assert [c.name for c in plan.generated().clips] == ["a"]
    assert plan.estimated_cost_usd == plan.clip("a").estimated_cost_usd


@pytest.mark.slow
def test_the_render_engine_never_sends_a_card(tmp_path, fake_together):
    fake = fake_together()
    path = story(tmp_path / "film", "size: 320x180\n\ncard opening 2s:\n  text: Opening\n\nshot a 4s:\n"
                 "  A street.\n\nfade 1s\n\ncard middle 2s:\n  text: Later\n\nshot b 4s:\n  A river.\n")
    provider = together(fake)
    plan = compile_story(path, provider)
    report = trun(plan, provider)
    assert sorted(o.name for o in report.outcomes) == ["a", "b"]
    assert len(fake.stats()["jobs"]) == 2  # the server saw the two shots, nothing else
    result = api.render(plan, together(fake), approve=lambda s: True, max_cost=None)
    assert result.film is not None, result.film_problem
    assert len(fake.stats()["jobs"]) == 2
    check_film(result.film, 2 + 4 + 2 + 4)


# ---- the score: the ducker on its own ---------------------------------------------------------------

def spec(**kw) -> ScoreSpec:
    return ScoreSpec(file="s.wav", sha256="x", first="a", last="b", **kw)


def test_ducking_is_a_smooth_envelope_with_attack_and_release():
    ducker = Ducker(spec(duck_db=-12, attack=0.1, release=0.5))
    loud = np.full((RATE, 2), 0.3, np.float32)
    mix = np.concatenate([np.zeros((RATE, 2), np.float32), loud, np.zeros((2 * RATE, 2), np.float32)])
    gains = np.concatenate([ducker.feed(i, mix[i:i + 777]) for i in range(0, len(mix), 777)])
    db = 20 * np.log10(gains)
    assert db[:RATE].max() == 0  # nothing before the clip sound
    assert db[RATE + RATE // 2] == pytest.approx(-12, abs=0.01)  # the full amount under it
    assert db[-RATE // 2:].max() == 0  # let go after the release
    onset = np.argmax(db < -11.9) - RATE
    assert 0.08 * RATE < onset < 0.14 * RATE  # reached over the attack
    back = np.argmax(db[2 * RATE:] > -0.1)
    assert 0.4 * RATE < back < 0.6 * RATE  # let go over the release
    assert np.abs(np.diff(db)).max() < 0.05  # no step anywhere: a ramp, not a switch


def test_ducking_from_a_warmed_up_start_is_exact():
    """The second part of a two-part encode hears the clips from `warmup` before its range and
    then ducks sample for sample as the first part did."""
    rng = np.random.default_rng(3)
    mix = (rng.standard_normal((6 * RATE, 2)) * np.repeat(rng.random(600) > 0.5, RATE // 100)[:, None] * 0.2
           ).astype(np.float32)
    music = np.full((8 * RATE, 2), 0.1, np.float32)
    placed = [PlacedScore(spec(release=1.5), music, 0, 6 * RATE)]

    def run(start: int, skip: int) -> np.ndarray:
        got = []
        sink = ScoreMix(got.append, placed, start, skip)
        for i in range(start, len(mix), 1000):
            sink(mix[i:i + 1000].copy())
        return np.concatenate(got)

    whole = run(0, 0)
    split = 3 * RATE + 123
    lo = split - warmup(placed)
    part = run(lo, split - lo)
    assert np.array_equal(part, whole[split:])


# ---- the score in a film ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def score_clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("score-clips")
    loud = make_clip(d / "loud.mp4", 3, 0, 440)  # a sine at -6 dBFS or so
    quiet = make_clip(d / "quiet.mp4", 3, 90, 0, audio=False)
    music = d / "music.wav"  # 2 s of a 1 kHz tone: shorter than its span, so it loops
    import subprocess

    subprocess.run([FF, "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=1000:sample_rate=48000:duration=2",
                    "-af", "volume=0.5", "-ac", "2", "-c:a", "pcm_s16le", str(music)], check=True)
    return {"loud": loud, "quiet": quiet, "music": music}


def level(pcm: np.ndarray, t: float, freq: int = 1000, width: int = 2400) -> float:
    """dB of the `freq` component around time t (the music, apart from the clips' tones)."""
    i = int(t * RATE)
    seg = pcm[i:i + width]
    n = np.arange(len(seg))
    amp = 2 * abs(np.dot(seg, np.exp(-2j * np.pi * freq * n / RATE))) / len(seg)
    return 20 * np.log10(amp + 1e-9)


@pytest.mark.slow
def test_score_starts_with_its_span_fades_loops_and_ducks(score_clips, tmp_path):
    plan = make_plan(("intro", "shot", 3), ("quiet", "shot", 3), ("loud", "shot", 3), ("outro", "shot", 3))
    plan = plan.model_copy(update={
        "base_dir": str(score_clips["music"].parent),
        "scores": [ScoreSpec(file="music.wav", sha256="m", first="quiet", last="loud", fade_in=0.5, fade_out=1.0,
                             duck_db=-12, attack=0.1, release=0.4)]})
    files = {"intro": score_clips["quiet"], "quiet": score_clips["quiet"], "loud": score_clips["loud"],
             "outro": score_clips["quiet"]}
    out = tmp_path / "film.mp4"
    from storyboard.stitch import stitch

    result = stitch(plan, files, out, workdir=tmp_path / "work", log=lambda m: None)
    assert any("laid the score music.wav under quiet to loud" in a for a in result.actions)
    check_film(out, 12)  # the film's length and A/V agreement are what they were without it
    pcm, _ = audio_mono(out)
    full = 20 * np.log10(0.125 * 0.5)  # lavfi's sine is at 1/8, and the file at half of that
    assert level(pcm, 1.0) < -60  # before its span: nothing
    assert level(pcm, 3.0) < level(pcm, 3.2) - 4  # fading in from the span's first frame
    assert level(pcm, 3.6) == pytest.approx(level(pcm, 5.4), abs=1.0)  # full level under the silent clip
    assert level(pcm, 3.6) == pytest.approx(full, abs=1.0)
    assert level(pcm, 5.4) == pytest.approx(full, abs=1.0)  # 2.4 s in: the 2 s music has looped
    ducked = level(pcm, 7.0)
    assert ducked == pytest.approx(level(pcm, 3.6) - 12, abs=1.5)  # under the loud clip: 12 dB down
    ramp = [level(pcm, 6.0 + k * 0.025, width=480) for k in range(6)]  # the attack: smooth, not a step
    assert all(b <= a + 0.5 for a, b in itertools.pairwise(ramp))
    assert ramp[0] - ramp[-1] > 6 and max(a - b for a, b in itertools.pairwise(ramp)) < 6
    assert level(pcm, 8.6) < ducked - 6  # fading out before the span's end
    assert level(pcm, 10.0) < -60  # after it: nothing


@pytest.mark.slow
def test_a_score_is_part_of_the_film_key(score_clips, tmp_path):
    from storyboard.stitch.filmkey import film_key

    plan = make_plan(("quiet", "shot", 3))
    files = {"quiet": score_clips["quiet"]}
    base = film_key(plan, files, None)
    scored = plan.model_copy(update={"scores": [ScoreSpec(file="m.wav", sha256="a", first="quiet", last="quiet")]})
    other = plan.model_copy(update={"scores": [ScoreSpec(file="m.wav", sha256="b", first="quiet", last="quiet")]})
    assert len({base, film_key(scored, files, None), film_key(other, files, None)}) == 3


def test_score_spans_resolve_to_timeline_clips(tmp_path):
    (tmp_path / "film").mkdir()
    (tmp_path / "film" / "m.wav").write_bytes(b"RIFF\0\0\0\0WAVEfmt ")
    path = story(tmp_path / "film", "score: m.wav from b to b, once, duck off\nscore: m.wav\n\n"
                 "shot a 4s:\n  A.\n\nshot b 4s:\n  B.\n\nextend b 4s:\n  More B.\n\ncard c 2s:\n  text: C\n")
    result = api.compile_file(path, providers.get("preview"))
    # the file is no decodable sound: the checker says so (it is probed, not only sniffed)
    assert [d.code for d in result.diagnostics if d.is_error] == ["SB302", "SB302"]
    assert not result.ok


def test_cards_add_no_subtitle_but_shift_the_cues_after_them(tmp_path):
    from storyboard.present.subtitles import build_cues

    path = story(tmp_path / "film", 'character Bo:\n  image: bo.png\n\ncard opening 3.5s:\n  text: Hi\n\n'
                 'dissolve 0.5s\n\nshot a 4s:\n  @Bo waves.\n  @Bo: "Hello."\n')
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "film" / "bo.png")
    cues = build_cues(compile_story(path, providers.get("preview")))
    assert len(cues) == 1 and cues[0].start >= 3.0  # after the card (3.5 s, less the 0.5 s dissolve)
