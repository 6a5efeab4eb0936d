"""The page quotes the paid provider (Together) only for a story that provider would take, and
otherwise says why, in the words of its own check; clocks that never read 0:60.0 or round a film
up into a second its player never shows. No clip is rendered here (no ffmpeg, no browser)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from preview_helpers import compile_story, write_story
from storyboard.present.page import fmt_clock, fmt_film_clock, send_problems, write_page
from storyboard.providers import quoted

# A real MP4's first bytes (an `ftyp` box) are all the checker reads of a file to know its type.
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64

LOCAL_VIDEO_STORY = """\
title: Waves
resolution: 480p
{host}
prop Sea:
  image: cast/cat.png
  video: refs/sea.mp4
  description: the grey sea

shot calm 4s:
  A calm morning.

shot swell 5s:
  @Sea rolls under the boat.
  motion: refs/waves.mp4
"""


def _story(tmp_path: Path, host: str = "") -> Path:
    story = write_story(tmp_path / "film", LOCAL_VIDEO_STORY.format(host=host))
    (story.parent / "refs").mkdir()
    for name in ("sea.mp4", "waves.mp4"):
        (story.parent / "refs" / name).write_bytes(MP4_HEAD)
    return story


def test_a_story_together_refuses_is_not_quoted_its_price(tmp_path):
    plan = compile_story(_story(tmp_path))  # fine for the free preview, which reads local files
    html = write_page(plan, {}, tmp_path / "build").read_text(encoding="utf-8")
    assert "Together 480p" not in html and "Together 720p" not in html  # no tier boxes
    assert "cannot be sent as written" in html
    # the reason, each place it arises (short, the full path in a title) and the check's hint
    assert "together cannot take a local video file: it needs a URL" in html
    assert re.search(r'title="[^"]*film\.story:6:10">film\.story:6:10</span>, '
                     r'<span class="mono where" title="[^"]*film\.story:14:11">film\.story:14:11</span>', html)
    assert "name a bucket to upload it to with the `host` setting" in html.replace("&#96;", "`")
    assert "storyboard check -p together film.story" in html
    # and no card quotes a Together price either: only the free provider's own estimate
    assert re.findall(r"\$\d+\.\d\d", html) == ["$0.00"] * 3  # the header's plan box and the two cards
    assert html.count("Together: cannot be sent as written") == 2


def test_a_bucket_makes_it_sendable_so_it_is_quoted(tmp_path):
    """The page asks the provider itself: with the story's `host:` bucket Together takes local
    videos (uploaded at render time), so the same story gets its prices."""
    plan = compile_story(_story(tmp_path, host="host: s3://my-bucket/films"))
    assert send_problems(plan, quoted()) == []
    html = write_page(plan, {}, tmp_path / "build").read_text(encoding="utf-8")
    assert "cannot be sent as written" not in html
    assert 'data-tier="480p"' in html and "Together 480p" in html


def test_send_problems_group_places_by_message(tmp_path):
    plan = compile_story(_story(tmp_path))
    problems = send_problems(plan, quoted())
    assert [p.message for p in problems] == ["together cannot take a local video file: it needs a URL"]
    assert [Path(p).name for p in problems[0].places] == ["film.story:6:10", "film.story:14:11"]
    assert problems[0].hint and "host" in problems[0].hint


def test_a_story_moved_away_since_compiling_gets_no_quote(tmp_path):
    plan = compile_story(_story(tmp_path))
    Path(plan.story).rename(Path(plan.story).with_name("gone.story"))
    problems = send_problems(plan, quoted())
    assert len(problems) == 1 and "could not be read again" in problems[0].message


@pytest.mark.parametrize(("seconds", "clock"), [(0, "0:00.0"), (5, "0:05.0"), (59.96, "1:00.0"),
                                                (61.25, "1:01.2"), (600.04, "10:00.0")])
def test_clock(seconds, clock):
    assert fmt_clock(seconds) == clock


@pytest.mark.parametrize(("seconds", "clock"), [(29.958, "0:29.96"), (30, "0:30.00"), (31.999, "0:31.99"),
                                                (59.9999, "0:59.99"), (719 / 24, "0:29.96")])
def test_film_clock_never_rounds_into_a_second_the_player_does_not_reach(seconds, clock):
    assert fmt_film_clock(seconds) == clock
