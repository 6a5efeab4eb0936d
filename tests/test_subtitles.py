"""Subtitles: dialogue timed to where each clip sits in the stitched film."""

from __future__ import annotations

from types import SimpleNamespace
from itertools import pairwise

import pytest

from preview_helpers import FILM_SECONDS, compile_story, write_story
from storyboard.plan import film_layout
from storyboard.present.subtitles import (
    MIN_CUE, build_cues, srt_path, srt_timestamp, to_srt, write_srt,
)


@pytest.fixture(scope="module")
def plan(tmp_path_factory):
    return compile_story(write_story(tmp_path_factory.mktemp("subs")))


def test_layout_follows_the_stitcher(plan):
    layout = film_layout(plan)
    starts = {p.name: p.start for p in layout}
    # dissolve 1s overlaps one/two; extension plays right after; fade takes no time; the morph
    # plays at its transition's 1.5 s; the wipe overlaps four/five by 0.5 s
    assert starts == {"one": 0.0, "two": 3.0, "two+1": 7.0, "three": 11.0, "three~four": 15.0,
                      "four": 16.5, "five": 20.0}
    assert layout[-1].end == pytest.approx(plan.total_seconds) == pytest.approx(FILM_SECONDS)
    morph = next(p for p in layout if p.kind == "morph")
    assert (morph.seconds, morph.planned) == (1.5, 4)


def test_cues_spread_over_each_clip_in_order(plan):
    cues = build_cues(plan)
    assert [c.text for c in cues] == ["Cat: Hello there.", "Cat: Is anyone home? I have been waiting.",
                                      "Cat: Nobody."]
    one_a, one_b, two = cues
    # one plays 0-4 but dissolves into two over 3-4: its lines share 0-3.5, by length to read
    assert one_a.start == 0.0 and one_b.end == pytest.approx(3.5)
    assert one_a.end < one_b.start  # a little air between two cues of one clip
    assert (one_b.end - one_b.start) > (one_a.end - one_a.start)  # the longer line stays longer
    # two starts at 3 under the dissolve: its line starts half way through it
    assert two.start == pytest.approx(3.5) and two.end == pytest.approx(7.0)
    for a, b in pairwise(cues):
        assert a.end <= b.start
    assert all(c.end - c.start >= MIN_CUE for c in cues)


def test_srt_format(plan, tmp_path):
    text = to_srt(build_cues(plan))
    assert text.startswith("1\n00:00:00,000 --> 00:00:00,")
    blocks = text.strip().split("\n\n")
    assert len(blocks) == 3
    assert blocks[2] == "3\n00:00:03,500 --> 00:00:07,000\nCat: Nobody."
    out = write_srt(plan, srt_path(plan, tmp_path))
    assert out.name == "Test -Film.animatic.srt"  # named like the film: build/<title>.animatic.mp4 (preview)
    assert out.read_text(encoding="utf-8") == text
    # the stitcher's burn-in reads it back as written
    from storyboard.stitch import parse_srt

    assert [(s, e, t) for s, e, t in parse_srt(out)] == [(c.start, c.end, c.text) for c in build_cues(plan)]


def test_timestamps():
    assert srt_timestamp(0) == "00:00:00,000"
    assert srt_timestamp(3661.5) == "01:01:01,500"
    assert srt_timestamp(59.9996) == "00:01:00,000"


def test_file_name_matches_the_film(tmp_path):
    from storyboard.present.page import film_path

    for title in ("The Kitten General", "Test <Film>", "a/b: c?", "  ", "..x.."):
        for provider, tier in (("preview", "final"), ("together", "final"), ("together", "draft")):
            plan = SimpleNamespace(title=title, provider=provider, tier=tier)
            assert srt_path(plan, tmp_path).stem == film_path(plan, tmp_path).stem


def test_no_dialogue_gives_an_empty_file(tmp_path):
    plan = compile_story(write_story(tmp_path, "size: 320x180\n\nshot a 4s:\n  Rain.\n"))
    assert build_cues(plan) == []
    assert write_srt(plan, tmp_path / "x.srt").read_text() == ""


def test_morph_and_fade_shift_later_lines(tmp_path):
    story = ("size: 320x180\n\nshot a 4s:\n  Rain.\n\nfade 2s\n\nshot b 4s:\n  Sun.\n\n"
             "morph 2s: Sun to moon.\n\nshot c 4s:\n  @X: \"Night.\"\n\ncharacter X:\n  image: cast/cat.png\n")
    plan = compile_story(write_story(tmp_path, story))
    (cue,) = build_cues(plan)
    assert (cue.start, cue.end, cue.text) == (10.0, 14.0, "X: Night.")
    assert plan.total_seconds == pytest.approx(14.0)
