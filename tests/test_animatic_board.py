"""The animatic as a storyboard: beats as panels at the prompt's times, the cast composed in
front of the place, close-ups, captions that never overlap (in a transition, or with burned-in
subtitles at any aspect ratio), dialogue timed at a normal rate with a scratch voice, and the
contact sheet's tile per beat. Small frames (320x180) keep the renders quick."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storyboard import speech
from storyboard.animatic import voice
from storyboard.animatic.board import Board, Panel, camera_move, is_close_up
from storyboard.animatic.captions import band_height, caption_track, draw_band
from storyboard.animatic.render import FPS, render_animatic
from storyboard.api import compile_file
from storyboard.media.frames import frame_image
from storyboard.media.text import frame_layout, font, subtitle_image
from storyboard.plan import film_layout, placeholders_in, substitute
from storyboard.present.page import sheet_tiles
from storyboard.providers import get
from storyboard.providers.seedance import PIXELS

RED, BLUE, GREEN = (210, 40, 40), (40, 60, 200), (40, 170, 60)

STORY = """\
title: Board
size: 320x180
seed: 7

character Ann:
  image: ann.png
character Bo:
  image: bo.png
place Field:
  image: field.png

scene meet 6s:
  shot 2s: @Ann waits in @Field.
  shot 2s: Close-up of @Ann.
  shot: @Bo walks up to @Ann.
"""


def _figure(path: Path, colour, alpha: bool) -> None:
    """A figure: a coloured body in a thin margin, white or (with `alpha`) transparent."""
    im = Image.new("RGBA" if alpha else "RGB", (200, 300), (0, 0, 0, 0) if alpha else (250, 250, 250))
    body = Image.new(im.mode, (188, 288), colour + ((255,) if alpha else ()))
    im.paste(body, (6, 6))
    im.save(path)


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    folder = tmp_path_factory.mktemp("board")
    _figure(folder / "ann.png", RED, alpha=True)
    _figure(folder / "bo.png", BLUE, alpha=False)
    Image.new("RGB", (640, 360), GREEN).save(folder / "field.png")
    (folder / "film.story").write_text(STORY, encoding="utf-8")
    result = compile_file(folder / "film.story", get("preview"))
    assert result.ok, [str(d) for d in result.diagnostics]
    return folder, result.plan


def _body(plan, clip, folder: Path) -> dict:
    found = {raw: str(folder / v) for _, raw, (k, v) in placeholders_in(clip.request) if k == "file"}
    return substitute(clip.request, found)


def _render(film, tmp_path, seed=None):
    folder, plan = film
    clip = plan.clip("meet")
    body = _body(plan, clip, folder)
    if seed is not None:
        body["seed"] = seed
    out = tmp_path / f"meet-{seed}.mp4"
    return out, render_animatic(body, out, clip=clip, title="meet")


def _pixels(video: Path, seconds: float, total: int) -> np.ndarray:
    return np.asarray(frame_image(video, seconds / total).convert("RGB")).astype(int)


def _share_near(region: np.ndarray, colour, tol=60) -> float:
    return float((np.abs(region - np.array(colour)).max(axis=2) < tol).mean())


@pytest.mark.slow
def test_beats_are_panels_with_their_cast_and_place(film, tmp_path):
    video, layout = _render(film, tmp_path)
    assert layout.panels == ((0, 48), (48, 96), (96, 144))  # the prompt's "0-2s", "2-4s", "4-6s"
    frames = [_pixels(video, t, 6) for t in (1.0, 3.0, 5.0)]  # each beat's midpoint
    for a in range(3):
        for b in range(a + 1, 3):
            assert np.abs(frames[a] - frames[b]).mean() > 10  # three different panels
    names = [[p.name for p in placed] for placed in layout.figures]
    assert names == [["Ann"], ["Ann"], ["Bo", "Ann"]]  # mention order
    # each figure's region carries its reference's colour (Ann cut out, Bo on a card)
    for frame, placed in zip(frames, layout.figures, strict=True):
        for p in placed:
            b = p.box
            region = frame[b.y + b.h // 4: b.y + 3 * b.h // 4, b.x + b.w // 4: b.x + 3 * b.w // 4]
            assert _share_near(region, RED if p.name == "Ann" else BLUE) > 0.8, p
    # the place is the background: green below the caption band, beside Ann
    first = frames[0]
    ann = layout.figures[0][0].box
    beside = first[ann.y + 10: 170, 4: max(5, ann.x - 4)]
    assert _share_near(beside, GREEN) > 0.8


@pytest.mark.slow
def test_a_close_up_is_dominated_by_its_character(film, tmp_path):
    video, layout = _render(film, tmp_path)
    stage = _pixels(video, 3.0, 6)[layout.captions.band.bottom:]  # the picture below the caption band
    assert _share_near(stage, RED) > 0.5
    box = layout.figures[1][0].box
    assert box.w * box.h > 0.5 * stage.shape[0] * stage.shape[1]


@pytest.mark.slow
def test_takes_differ_in_framing_and_grade(film, tmp_path):
    a, la = _render(film, tmp_path, seed=1)
    b, lb = _render(film, tmp_path, seed=2)
    assert la.figures != lb.figures
    assert np.abs(_pixels(a, 1.0, 6) - _pixels(b, 1.0, 6)).mean() > 3
    (tmp_path / "again").mkdir()
    _, again = _render(film, tmp_path / "again", seed=1)
    assert again.figures == la.figures  # deterministic


def test_captions_of_dissolving_clips_never_show_at_once():
    board = Board("a", 5, (Panel(1, 0.0, 5.0, "0-5s", "A cat sits."),), dialogue=(("Cat", "Hello there."),))
    layout = frame_layout(320, 180)
    h = band_height(board, layout, "a")
    out_a = caption_track(board, speech.schedule(board.dialogue, 5), 5 * FPS, FPS, (0.0, 1.0), layout, h)
    in_b = caption_track(board, [], 5 * FPS, FPS, (1.0, 0.0), layout, h)
    # in the film, a's last second is b's first: frame k of the overlap is a's 96+k and b's k
    both = [k for k in range(FPS) if out_a.panel_at(4 * FPS + k) and in_b.panel_at(k)]
    assert both == []
    assert out_a.panel_at(2 * FPS) == 1 and in_b.panel_at(3 * FPS) == 1
    assert out_a.panel_at(0) == 0 and out_a.panel_at(5 * FPS - 1) == 0  # never the first or last frame
    spoken = [s for s in out_a.segments if s.spoken is not None]
    assert spoken and spoken[0].first == round(speech.LEAD * FPS)


@pytest.mark.parametrize("resolution,ratio", [(r, q) for r in PIXELS for q in PIXELS[r]])
def test_captions_and_burned_subtitles_never_collide(resolution, ratio):
    w, h = PIXELS[resolution][ratio]
    layout = frame_layout(w, h)
    assert layout.safe.contains(layout.caption) and layout.safe.contains(layout.subtitle)
    assert not layout.caption.overlaps(layout.subtitle)
    prose = "A very long description of what we see, " * 12
    board = Board("a-rather-long-clip-name", 15, (Panel(1, 0.0, 15.0, "0-15s", prose),),
                  camera="slow push in from far away across the whole valley " * 3,
                  dialogue=(("Ann", prose),))
    height = band_height(board, layout, None)
    assert height <= layout.caption.h
    band = draw_band(board, board.panels[0], speech.schedule(board.dialogue, 15)[0], layout, height, None)
    assert band.size == (layout.caption.w, height)
    image, (x, y) = subtitle_image("Ann: " + prose, layout)
    assert layout.subtitle.contains(type(layout.subtitle)(x, y, image.width, image.height))
    assert image.getbbox() is not None


def test_camera_words():
    assert camera_move("slow crane up from eye level").kind == "crane_up"
    assert camera_move("slow crane up from eye level").speed < 1
    assert camera_move("The camera pulls back to reveal the valley").kind == "pull_back"
    assert camera_move("pan left across the harbour").kind == "pan_left"
    assert camera_move("tilt down to the water").kind == "tilt_down"
    assert camera_move("slow push in").kind == "push_in"
    assert camera_move("static wide shot").kind == "static"
    assert camera_move("low-angle tracking shot") is None  # not clear: holds still
    assert camera_move(None, "handheld") is None
    assert is_close_up("Close-up of @Kitten's face") and not is_close_up("Wide aerial")


def test_speaking_rate():
    assert speech.speaking_seconds("one two three four five") == pytest.approx(2.0)  # 150 words a minute
    assert speech.speaking_seconds("No!") == speech.MIN_LINE
    assert speech.speaking_seconds("冲啊冲啊") == pytest.approx(1.0)
    lines = speech.schedule([("A", "one two three"), ("B", "four five six")], 10)
    assert lines[0].start == speech.LEAD and lines[1].start == pytest.approx(lines[0].end + speech.GAP)
    squeezed = speech.schedule([("A", "word " * 40)], 4)
    assert squeezed[0].end <= 4


@pytest.mark.skipif(not voice.available(), reason="espeak-ng is not installed (make demo installs it as root)")
def test_scratch_voice_reads_a_line_at_the_rate(tmp_path):
    from storyboard.media.probe import probe

    line = "Charge, brave mice, the valley is ours!"
    wav = voice.say(line, tmp_path / "line.wav")
    assert wav is not None
    seconds = probe(wav).audio.duration
    assert 0.5 * speech.speaking_seconds(line) < seconds < 2 * speech.speaking_seconds(line)
    assert voice.say("-v --help; rm -rf /", tmp_path / "odd.wav") is not None  # text, never options


@pytest.mark.slow
def test_contact_sheet_has_a_tile_per_beat(film, tmp_path):
    folder, plan = film
    video, _ = _render(film, tmp_path)
    tiles = sheet_tiles(plan, {}, {"meet": video})
    assert [t.name for t in tiles] == ["meet 1/3", "meet 2/3", "meet 3/3"]
    arrays = [np.asarray(t.picture.convert("RGB")).astype(int) for t in tiles]
    assert all(np.abs(arrays[i] - arrays[j]).mean() > 10 for i in range(3) for j in range(i + 1, 3))
    assert len(film_layout(plan)) == 1


def test_long_caption_rows_fit_the_band():
    layout = frame_layout(496, 864)  # 9:16 at 480p
    text = "Ein sehr langer Satz über das, was wir sehen, der nie aufhört " * 5
    board = Board("x", 5, (Panel(1, 0.0, 5.0, "0-5s", text),))
    band = draw_band(board, board.panels[0], None, layout, band_height(board, layout, None), None)
    rows = np.asarray(band.getchannel("A"))
    assert rows.shape[1] == layout.caption.w
    assert font(text, layout.caption_size).getlength(text) > layout.caption.w  # it had to wrap
