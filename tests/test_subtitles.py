"""Subtitles: dialogue timed to where each clip sits in the stitched film."""

from __future__ import annotations

from types import SimpleNamespace
from itertools import pairwise

import pytest

from preview_helpers import FILM_SECONDS, compile_story, write_story
from storyboard.plan import film_layout
from storyboard.present.subtitles import Cue, _cue, build_cues, srt_path, srt_timestamp, to_srt, write_srt
from storyboard.speech import schedule


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


def _shifted(plan, name: str) -> list[tuple[float, float]]:
    """speech.schedule's times for a clip's lines, moved to where the clip plays in the film."""
    clip = plan.clip(name)
    at = next(p.start for p in film_layout(plan) if p.name == name)
    return [(round(at + s.start, 3), round(at + s.end, 3))
            for s in schedule([(d.speaker, d.line) for d in clip.dialogue], clip.seconds)]


def test_cues_are_the_spoken_lines_on_the_films_clock(plan):
    cues = build_cues(plan)
    assert [c.text for c in cues] == ["Cat: Hello there.", "Cat: Is anyone home? I have been waiting.",
                                      "Cat: Nobody."]
    one_a, one_b, two = cues
    # `one` (4 s) starts the film: its lines show while speech.schedule says they are spoken
    # (squeezed a little to fit: check warns SB912), the second until the middle of the dissolve
    (a0, a1), (b0, b1) = _shifted(plan, "one")
    assert (one_a.start, one_a.end) == (a0, a1) and one_b.start == b0
    assert b1 == 4.0 and one_b.end == 3.5
    # `two` starts at 3 under the 1 s dissolve: its line (said from 3.25) shows from the dissolve's
    # middle, where the animatic's caption band shows it too, and ends when it is said
    ((s0, s1),) = _shifted(plan, "two")
    assert s0 == pytest.approx(3.25) and two.start == pytest.approx(3.5) and two.end == s1
    for x, y in pairwise(cues):
        assert x.end <= y.start


def test_an_unhurried_clip_shows_each_line_exactly_while_it_is_said(tmp_path):
    story = ('size: 320x180\n\ncharacter X:\n  image: cast/cat.png\n\nshot a 4s:\n  Rain.\n\n'
             'fade 1s\n\nshot b 8s:\n  @X looks up.\n  @X: "Who is there?"\n  @X (quietly): "Oh. It is you."\n')
    plan = compile_story(write_story(tmp_path, story))
    cues = build_cues(plan)  # b starts at 4 s (a fade takes no time)
    assert [(c.start, c.end) for c in cues] == _shifted(plan, "b") == [(4.25, 5.45), (5.75, 7.6)]


def test_a_retimed_clip_scales_its_lines_and_a_line_inside_an_overlap_is_kept():
    from storyboard.plan import Placement
    from storyboard.speech import Spoken

    morph = Placement("m", "morph", 10.0, 1.0, 4, None, None)  # made 4 s long, plays in 1 s
    assert _cue(morph, Spoken(0, "A", "Hi.", 0.4, 2.0), "A: Hi.") == Cue(10.1, 10.5, "A: Hi.", "m")
    from storyboard.plan import TimelineEntry

    dissolve = TimelineEntry(transition="dissolve", seconds=2.0)
    late = Placement("x", "shot", 0.0, 4.0, 4, None, dissolve)  # clear part ends at 3.0
    assert _cue(late, Spoken(0, "A", "Hi.", 2.5, 3.6), "t") == Cue(2.5, 3.0, "t", "x")
    assert _cue(late, Spoken(0, "A", "Hi.", 3.2, 3.8), "t") == Cue(3.2, 3.8, "t", "x")  # never lost


@pytest.mark.slow
def test_the_animatic_shows_each_line_when_the_srt_does(plan, tmp_path):
    """The animatic of `one` (rendered as the engine does) speaks its lines at the .srt's times."""
    from storyboard.animatic.render import render_animatic
    from storyboard.plan import substitute

    clip = plan.clip("one")
    body = substitute(clip.request, {"<file:cast/cat.png>": str(tmp_path / "cat.png")})
    from PIL import Image

    Image.new("RGB", (64, 48), (120, 130, 160)).save(tmp_path / "cat.png")
    layout = render_animatic(body, tmp_path / "one.mp4", clip=clip, edges=(0.0, 1.0))
    cues = [c for c in build_cues(plan) if c.clip == "one"]
    assert [s.start for s in layout.spoken] == [c.start for c in cues]  # one clock: speech.schedule
    # its caption band shows each line over the frames the .srt gives it (to the frame), the
    # second one up to the middle of the dissolve, where the .srt stops too
    fps = layout.frames / clip.seconds
    for s, cue in zip(layout.spoken, cues, strict=True):
        shown = [sg for sg in layout.captions.segments if sg.spoken == s.index]
        assert (shown[0].first, shown[-1].end) == (round(cue.start * fps), round(cue.end * fps))


def test_srt_format(plan, tmp_path):
    text = to_srt(build_cues(plan))
    assert text.startswith("1\n00:00:00,227 --> 00:00:00,955\nCat: Hello there.\n")
    blocks = text.strip().split("\n\n")
    assert len(blocks) == 3
    assert blocks[2] == "3\n00:00:03,500 --> 00:00:03,850\nCat: Nobody."
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
    assert (cue.start, cue.end, cue.text) == (10.25, 10.85, "X: Night.")  # c starts at 10 s
    assert plan.total_seconds == pytest.approx(14.0)
