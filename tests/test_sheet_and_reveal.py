"""Issue 16's leftovers: the example film's contact sheet never repeats a picture (its extension
pulls back as a reveal, its beat that names nobody shows the cast), an extension's reveal starts
exactly on the frame it continues from, and title cards take their place on the sheet and in the
animatic film beside generated clips. Frames are 320x180 to keep the renders quick."""

from __future__ import annotations

import shutil
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from storyboard import api
from storyboard.animatic.board import Move, board_from_clip
from storyboard.animatic.render import _border, _move_from_the_frame, _perspective, _with_border
from storyboard.media.frames import frame_image
from storyboard.media.text import frame_layout
from storyboard.plan import film_overlaps
from storyboard.present.distinct import DISTINCT, difference, signature
from storyboard.present.page import sheet_tiles
from storyboard.providers import get

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "kitten-general"
SIZE = (320, 180)


def _small_copy(folder: Path, extra: str = "", before: str = "") -> Path:
    """The example film at 320x180 (same story otherwise), with `before` its first clip and
    `extra` after its last."""
    shutil.copytree(EXAMPLE, folder, dirs_exist_ok=True)
    story = folder / "kitten-general.story"
    text = story.read_text(encoding="utf-8").replace("resolution: 720p\nratio: 16:9\n", "size: 320x180\n")
    if before:
        text = text.replace("shot opening 5s:", before + "shot opening 5s:", 1)
    story.write_text(text + extra, encoding="utf-8")
    return story


def _preview(story: Path):
    result = api.compile_file(story, get("preview"))
    assert result.ok, [str(d) for d in result.diagnostics]
    plan = result.plan
    out = api.preview(plan, get("preview"), state_dir=story.parent / ".storyboard", out_dir=story.parent / "build")
    assert out.outputs is not None and not out.report.problems, [o.error for o in out.report.problems]
    clips, _ = api.page_clips(plan, get("preview"), out.report, story.parent / ".storyboard")
    return plan, clips, out.outputs


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    return _preview(_small_copy(tmp_path_factory.mktemp("example")))


def _band_free(picture) -> np.ndarray:
    """A tile's pixels at 320x180 without the caption band and the progress bar (raw pixels,
    independent of distinct.signature)."""
    im = (picture if isinstance(picture, Image.Image) else Image.open(picture)).convert("RGB").resize(SIZE)
    a = np.asarray(im).astype(float)
    band = frame_layout(*SIZE).caption
    return a[band.y + band.h:SIZE[1] - 6]


@pytest.mark.slow
def test_no_two_tiles_of_the_example_films_contact_sheet_are_the_same_picture(example):
    plan, clips, outputs = example
    tiles = sheet_tiles(plan, {}, clips)
    assert [t.name for t in tiles] == ["opening", "charge", "battle 1/3", "battle 2/3", "battle 3/3",
                                       "battle+1", "dawn"]
    assert all(t.picture is not None for t in tiles)
    sigs = {t.name: signature(t.picture, SIZE) for t in tiles}
    for a, b in combinations(tiles, 2):
        assert difference(sigs[a.name], sigs[b.name]) >= DISTINCT, (a.name, b.name)
    # the pair that used to repeat: battle+1 opens on battle's last frame, then pulls back
    by_name = {t.name: _band_free(t.picture) for t in tiles}
    assert np.abs(by_name["battle 3/3"] - by_name["battle+1"]).mean() > 8
    assert outputs.contact_sheet.is_file()


@pytest.mark.slow
def test_the_extension_pulls_back_from_the_exact_last_frame(example):
    plan, clips, _ = example
    last = np.asarray(frame_image(clips["battle"], "last")).astype(float)
    first = np.asarray(frame_image(clips["battle+1"], "first")).astype(float)
    end = np.asarray(frame_image(clips["battle+1"], "last")).astype(float)
    assert np.abs(first - last).mean() < 3  # the same frame, up to compression
    # at its end the whole of that frame shows smaller in the middle of a wider view
    h, w = last.shape[:2]
    inner = end[round(h * 0.2):round(h * 0.75), round(w * 0.2):round(w * 0.8)]
    shrunk = np.asarray(Image.fromarray(last.astype(np.uint8)).resize((round(w / 1.3), round(h / 1.3)))).astype(float)
    assert np.abs(end - last).mean() > 10
    assert inner.std() > 10 and shrunk.std() > 10
    # the border it opens onto is the frame's own colours (blurred), never black
    assert end[:, :4].mean() > 30 and end[:, -4:].mean() > 30


@pytest.mark.slow
def test_a_beat_that_names_nobody_shows_the_clips_cast(example):
    plan, _, _ = example
    clip = plan.clip("battle")
    body = {**clip.request, "media": {"reference_images": ["m.png", "k.png", "kb.png"]}}
    board = board_from_clip(clip, body, 12)
    assert [f.name for f in board.panels[2].figures] == ["Mice", "Kitten"]  # "The two armies collide"
    assert [f.name for f in board.panels[0].figures] == ["Mice"]  # a beat that names someone shows them


def test_a_place_is_enough_for_a_beat_that_names_nobody(tmp_path):
    story = _small_copy(tmp_path, extra="\nscene dusk 4s:\n  shot 2s: @Kitten on @Cliff.\n  shot: Snow falls.\n")
    plan = api.compile_file(story, get("preview")).plan
    clip = plan.clip("dusk")
    body = {**clip.request, "media": {"reference_images": ["k.png", "kb.png", "c.png"]}}
    panels = board_from_clip(clip, body, 4).panels
    assert panels[1].background == "c.png" and panels[1].figures == ()


def test_reveal_starts_on_the_frame_pixel_for_pixel():
    """At zoom 1 the bordered input, moved and cropped, is the frame itself."""
    import random

    m = _move_from_the_frame(Move("pull_back"), 0.1, random.Random(1))
    assert (m.z0, m.fx0) == (1.0, m.fx1) and m.z1 < 1 / 1.15
    left, top, right, bottom = border = _border(m, SIZE)
    assert all(b % 2 == 0 for b in border)
    # the view at its widest stays inside the border (no smeared edge pixels)
    view_w, view_h = SIZE[0] / m.z1, SIZE[1] / m.z1
    x, y = (SIZE[0] - view_w) * m.fx1, (SIZE[1] - view_h) * m.fy1
    assert -left + 2 <= x and x + view_w <= SIZE[0] + right - 2
    assert -top + 2 <= y and y + view_h <= SIZE[1] + bottom - 2
    frame = Image.effect_noise(SIZE, 60).convert("RGB")
    wide = _with_border(frame, border)
    assert wide.size == (SIZE[0] + left + right, SIZE[1] + top + bottom)
    assert wide.crop((left, top, left + SIZE[0], top + SIZE[1])).tobytes() == frame.tobytes()
    chain = _perspective(m, 24, SIZE, border)
    assert chain.endswith(f"crop={SIZE[0]}:{SIZE[1]}:{left}:{top}")
    assert _border(_move_from_the_frame(Move("pan_left"), 0.1, random.Random(1)), SIZE) == (0, 0, 0, 0)
    crane = _move_from_the_frame(Move("crane_up"), 0.1, random.Random(1))  # the frame ends low in the view
    assert _border(crane, SIZE)[1] > 3 * _border(crane, SIZE)[3]


CARD = """title: Cards
size: 320x180

character Kitten:
  image: cast/kitten.png

card title 2s:
  text: The Kitten General
  style: gold on navy, fade 0.5s

dissolve 1s

shot opening 4s:
  @Kitten stands in the snow.
  @Kitten: "Onward."

fade 1s

card end 2s:
  text: The End
"""


@pytest.mark.slow
def test_a_title_card_beside_generated_clips(tmp_path):
    """A card dissolving into the first shot: the shot renders (its caption kept out of the
    dissolve), the card gets its middle frame on the sheet, the film plays both."""
    (tmp_path / "cast").mkdir()
    shutil.copy(EXAMPLE / "cast" / "kitten.png", tmp_path / "cast" / "kitten.png")
    story = tmp_path / "cards.story"
    story.write_text(CARD, encoding="utf-8")
    plan, clips, outputs = _preview(story)
    assert film_overlaps(plan.generated(), "opening") == (1.0, 0.0)  # the engine's plan has no cards
    tiles = sheet_tiles(plan, {}, clips)
    assert [t.name for t in tiles] == ["title", "opening", "end"] and all(t.picture for t in tiles)
    card = np.asarray(tiles[0].picture.convert("RGB")).astype(float)
    navy, gold = np.array([0x14, 0x1E, 0x46], dtype=float), np.array([0xD4, 0xAF, 0x37], dtype=float)
    assert np.abs(card[5:20, 5:60] - navy).mean() < 6  # the card's own background, faded in fully
    title = card[60:120, 20:300].reshape(-1, 3)
    assert (np.abs(title - gold).sum(axis=1) < 90).sum() > 40  # and its gold title (thin letters)
    film = api.render(plan, get("preview"), state_dir=story.parent / ".storyboard", out_dir=story.parent / "build")
    assert film.film is not None and film.film.is_file(), film.film_problem
    from storyboard.media.probe import probe

    assert probe(film.film).duration == pytest.approx(plan.total_seconds, abs=0.05) == 7.0
    # the line is spoken, and subtitled, 0.25 s into the shot, which starts 1 s into the film
    from storyboard.present.subtitles import build_cues

    assert [(c.start, c.end) for c in build_cues(plan)] == [(1.5, 1.85)]  # from the dissolve's middle
    assert outputs.contact_sheet.is_file()
