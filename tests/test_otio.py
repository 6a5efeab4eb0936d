"""The OTIO export: one clip per generation with its real media, transitions as OTIO
transitions, provenance in metadata; OTIO's own readers agree on the film's duration."""

from __future__ import annotations

import shutil
from pathlib import Path

import opentimelineio as otio
import pytest

from preview_helpers import FILM_SECONDS, SCRIPT, compile_story, make_clip, make_clips, write_story
from cli_process import storyboard
from storyboard.present.export import (
    DISSOLVE, FADE_IN, FADE_OUT, WIPE, ExportError, adapter_for, build_timeline, write_timeline,
)
from storyboard.present.page import ClipState

FPS = 24
FILM_FRAMES = round(FILM_SECONDS * FPS)  # 576


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    root = tmp_path_factory.mktemp("otio")
    plan = compile_story(write_story(root / "film"))
    clips = make_clips(plan, root / "clips")
    states = {n: ClipState("rendered", job_id=f"job-{n}", cost=0.25, provider="preview") for n in clips}
    return plan, clips, states, root


def items(track):
    return [(type(x).__name__, x.name) for x in track]


@pytest.mark.slow
def test_timeline_structure(film):
    plan, clips, states, _ = film
    tl = build_timeline(plan, clips, provenance=states)
    video, audio = tl.tracks
    assert video.kind == otio.schema.TrackKind.Video and audio.kind == otio.schema.TrackKind.Audio
    assert [x.name for x in video if isinstance(x, otio.schema.Clip)] == [c.name for c in plan.clips]
    assert items(video) == [
        ("Clip", "one"), ("Transition", "dissolve 1s"), ("Clip", "two"), ("Clip", "two+1"),
        ("Transition", "fade 1s (out)"), ("Gap", "black"), ("Transition", "fade 1s (in)"), ("Clip", "three"),
        ("Clip", "three~four"), ("Clip", "four"), ("Transition", "wipe left 0.5s"), ("Clip", "five")]
    for track in tl.tracks:
        assert track.duration() == otio.opentime.RationalTime(FILM_FRAMES, FPS)
    assert tl.duration().to_seconds() == pytest.approx(plan.total_seconds)


@pytest.mark.slow
def test_transitions(film):
    plan, clips, states, _ = film
    video = build_timeline(plan, clips, provenance=states).tracks[0]
    tr = {t.name: t for t in video if isinstance(t, otio.schema.Transition)}
    dissolve = tr["dissolve 1s"]
    assert dissolve.transition_type == DISSOLVE
    assert (dissolve.in_offset.value, dissolve.out_offset.value) == (12, 12)  # half of 1 s each
    wipe = tr["wipe left 0.5s"]
    assert wipe.transition_type == WIPE and (wipe.in_offset.value, wipe.out_offset.value) == (6, 6)
    assert wipe.metadata["storyboard"]["direction"] == "left"
    out, into = tr["fade 1s (out)"], tr["fade 1s (in)"]
    assert (out.transition_type, out.in_offset.value, out.out_offset.value) == (FADE_OUT, 12, 0)
    assert (into.transition_type, into.in_offset.value, into.out_offset.value) == (FADE_IN, 0, 12)
    # the overlapping transitions take their halves from the neighbours' handles
    by = {c.name: c for c in video if isinstance(c, otio.schema.Clip)}
    assert (by["one"].source_range.start_time.value, by["one"].source_range.duration.value) == (0, 84)
    assert (by["two"].source_range.start_time.value, by["two"].source_range.duration.value) == (12, 84)
    assert video.handles_of_child(by["two"])[0] == otio.opentime.RationalTime(12, FPS)
    # a fade takes no time: both clips keep their whole length
    assert by["two+1"].source_range.duration.value == by["three"].source_range.duration.value == 96


@pytest.mark.slow
def test_clips_reference_their_media_with_real_durations(film):
    plan, clips, states, _ = film
    video = build_timeline(plan, clips, provenance=states).tracks[0]
    for clip in video.find_clips():
        ref = clip.media_reference
        assert isinstance(ref, otio.schema.ExternalReference)
        assert ref.target_url == clips[clip.name].resolve().as_uri()
        assert ref.available_range.duration == otio.opentime.RationalTime(96, FPS)  # the file's 4 s
    morph = next(c for c in video.find_clips() if c.name == "three~four")
    assert morph.source_range.duration.value == 36  # played at the transition's 1.5 s ...
    (warp,) = morph.effects
    assert isinstance(warp, otio.schema.LinearTimeWarp)
    assert warp.time_scalar == pytest.approx(96 / 36)  # ... by playing its 4 s faster


@pytest.mark.slow
def test_provenance_metadata(film):
    plan, clips, states, _ = film
    video = build_timeline(plan, clips, provenance=states).tracks[0]
    one = next(c for c in video.find_clips() if c.name == "one")
    meta = one.metadata["storyboard"]
    assert meta["name"] == "one"
    assert SCRIPT in meta["prompt"] and meta["prompt"] == plan.clip("one").request["prompt"]
    assert meta["seed"] == plan.clip("one").request["seed"]
    assert (meta["provider"], meta["job_id"], meta["cost"], meta["status"]) == ("preview", "job-one", 0.25, "rendered")
    assert meta["source"].endswith("film.story:9:1")
    assert [d["line"] for d in meta["dialogue"]] == ["Hello there.", "Is anyone home? I have been waiting."]


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".otio", ".otioz", ".edl", ".xml"])
def test_written_file_opens_in_otio_with_the_film_duration(film, suffix, tmp_path):
    plan, clips, states, _ = film
    out = write_timeline(plan, clips, tmp_path / f"film{suffix}", provenance=states)
    back = otio.adapters.read_from_file(str(out))
    assert back.tracks[0].duration() == otio.opentime.RationalTime(FILM_FRAMES, FPS)
    assert back.duration().to_seconds() == pytest.approx(FILM_SECONDS)
    names = [c.name for c in back.find_clips()]
    assert "one" in names and "five" in names
    if suffix in (".otio", ".otioz"):
        one = next(c for c in back.find_clips() if c.name == "one")
        assert one.metadata["storyboard"]["job_id"] == "job-one"


@pytest.mark.slow
def test_extension_file_holding_its_target_starts_past_it(film, tmp_path):
    plan, clips, states, _ = film
    long_ext = make_clip(tmp_path / "two+1-full.mp4", 8)  # target (4 s) + continuation (4 s)
    video = build_timeline(plan, {**clips, "two+1": long_ext}).tracks[0]
    ext = next(c for c in video.find_clips() if c.name == "two+1")
    assert ext.source_range.start_time.value == 96 and ext.source_range.duration.value == 96
    assert ext.media_reference.available_range.duration.value == 192
    assert video.duration().value == FILM_FRAMES


@pytest.mark.slow
def test_missing_clip_is_a_missing_reference(film):
    plan, clips, _, _ = film
    partial = {k: v for k, v in clips.items() if k != "three"}
    tl = build_timeline(plan, partial)
    three = next(c for c in tl.find_clips() if c.name == "three")
    assert isinstance(three.media_reference, otio.schema.MissingReference)
    assert three.metadata["storyboard"]["status"] == "missing"
    assert tl.tracks[0].duration().value == FILM_FRAMES


@pytest.mark.slow
def test_silent_clip_is_a_gap_in_the_audio_track(film):
    plan, clips, states, _ = film
    audio = build_timeline(plan, clips, provenance=states).tracks[1]
    assert ("Gap", "five (no audio)") in items(audio)
    wipe = next(x for x in audio if isinstance(x, otio.schema.Transition) and x.name.startswith("wipe"))
    assert wipe.transition_type == DISSOLVE  # sound cannot wipe: it crossfades (here into silence)


@pytest.mark.slow
def test_edl_carries_the_morphs_speed(film, tmp_path):
    """The morph plays its 4 s file in 1.5 s: the event's source range is the 4 s it plays, an
    M2 line on its reel says 64 fps (2.67 x 24), and the adapter reads the speed back."""
    plan, clips, states, _ = film
    out = write_timeline(plan, clips, tmp_path / "film.edl", provenance=states)
    lines = out.read_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("M2 "))
    event, m2 = lines[k - 1].split(), lines[k].split()
    assert event[-4:] == ["00:00:00:00", "00:00:04:00", "00:00:15:00", "00:00:16:12"]  # 96 source frames in 36
    assert m2 == ["M2", event[1], "064.0", "00:00:00:00"]
    assert lines[k + 1] == "* FROM CLIP NAME:  three~four"
    back = otio.adapters.read_from_file(str(out))
    morph = next(c for c in back.find_clips() if c.name == "three~four")
    (warp,) = morph.effects
    assert isinstance(warp, otio.schema.LinearTimeWarp) and warp.time_scalar == pytest.approx(96 / 36)
    assert morph.source_range.duration.value == 36
    assert back.tracks[0].duration().value == FILM_FRAMES
    others = [c for c in back.find_clips() if c.name != "three~four"]
    assert others and all(not c.effects for c in others)


@pytest.mark.slow
def test_fcp_xml_carries_the_morphs_speed(film, tmp_path):
    """FCP 7 XML: the morph's clipitem takes the 96 source frames (in/out) over 36 timeline
    frames (start/end) with a Time Remap of 266.667 %; OTIO reads it back."""
    from xml.etree import ElementTree as ET  # noqa: N817

    plan, clips, states, _ = film
    out = write_timeline(plan, clips, tmp_path / "film.xml", provenance=states)
    root = ET.parse(out).getroot()
    media = root.find(".//sequence/media")
    (item,) = [c for c in media.find("video").iter("clipitem") if c.findtext("name") == "three~four"]
    assert int(item.findtext("end")) - int(item.findtext("start")) == 36
    assert (int(item.findtext("in")), int(item.findtext("out"))) == (0, 96)
    remap = item.find("filter/effect")
    assert remap.findtext("effectid") == "timeremap"
    speed = next(p for p in remap.iter("parameter") if p.findtext("parameterid") == "speed")
    assert float(speed.findtext("value")) == pytest.approx(9600 / 36, abs=1e-3)
    # the audio track's clipitem is a reference to the same one: the same source range
    assert item.get("id") in [c.get("id") for c in media.find("audio").iter("clipitem")]
    one = next(c for c in media.find("video").iter("clipitem") if c.findtext("name") == "one")
    assert one.find("filter") is None  # a clip playing at its own speed keeps what the adapter wrote
    back = otio.adapters.read_from_file(str(out))
    assert back.tracks[0].duration().value == FILM_FRAMES
    morph = next(c for c in back.tracks[0].find_clips() if c.name == "three~four")
    assert [e.name for e in morph.effects] == ["Time Remap"]


def test_adapter_choice():
    assert adapter_for("a.otio") == "otio_json" and adapter_for("a.EDL") == "cmx_3600"
    assert adapter_for("a.xml") == "fcp_xml"
    with pytest.raises(ExportError):
        adapter_for("a.mov")


@pytest.mark.slow
def test_export_command(film, tmp_path):
    """`storyboard export FILE --otio PATH` takes the clips from the render cache."""
    plan, clips, _, root = film
    from storyboard.render.cache import Cache
    from storyboard.render import default_state_dir

    cache = Cache(default_state_dir(plan), "preview")
    for c in plan.clips:
        dest = cache.clip_path(c.key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clips[c.name], dest)
    out = tmp_path / "cut.otio"
    srt = tmp_path / "cut.srt"
    proc = storyboard("export", plan.story, "--otio", out, "--srt", srt, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(out), str(srt)]
    back = otio.adapters.read_from_file(str(out))
    assert back.duration().value == FILM_FRAMES
    assert {Path(c.media_reference.target_url).name for c in back.find_clips()} == \
        {f"{c.key}.mp4" for c in plan.clips}
    assert "Cat: Nobody." in srt.read_text()
    bad = storyboard("export", plan.story, "--otio", tmp_path / "x.mov", timeout=60)
    assert bad.returncode == 2 and "cannot tell the timeline format" in bad.stderr
