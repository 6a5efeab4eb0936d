"""storyboard.stitch on tiny synthetic clips (ffmpeg lavfi: testsrc2 + a sine per clip, 320x180,
24 fps, 1-s GOP), checked with PyAV: frame counts, durations, a/v agreement, copied bytes, which
source frame each film frame shows, and where each clip's tone starts."""

from __future__ import annotations

import errno
import hashlib
import signal
import os
import subprocess
import sys
import threading
import time
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av
import imageio_ffmpeg
import numpy as np
import pytest

import storyboard.stitch.sound as sound_module
from storyboard.stitch.filmkey import up_to_date
from storyboard.plan import PlannedClip, RenderPlan, TimelineEntry
from storyboard.stitch import (
    AacRun, AudioSource, Join, Slot, StitchError, Video, VideoScan, mux_film,
    plan_pieces, read_timeline, required_delay, scan_video, sound_segments, stitch, total_frames,
    verify,
)

FF = imageio_ffmpeg.get_ffmpeg_exe()
FPS, RATE = 24, 48000
pytestmark = pytest.mark.slow

# name: (seconds, hue, tone Hz, extra options)
CLIPS = {
    "a": (3, 0, 220, {}),
    "b": (3, 60, 300, {}),
    "c": (2, 120, 380, {}),
    "d": (3, 180, 460, {}),
    "m": (4, 240, 540, {}),  # the morph: generated at 4 s, played at 1 s
    "e": (3, 300, 620, {}),  # extension target: the first 3 s of source S
    "x": (5, 300, 620, {}),  # extension returned as source + continuation (all 5 s of S)
    "big": (2, 30, 700, {"size": "640x360"}),
    "f25": (2, 90, 760, {"rate": 25}),
    "s441": (2, 150, 820, {"sample_rate": 44100, "channels": 1}),
    "mute": (2, 210, 0, {"audio": False}),
    "nob": (2, 270, 880, {"bframes": False}),  # no B-frames: no decoding delay
}


def make_clip(path: Path, seconds: float, hue: int, freq: int, *, size: str = "320x180",
              rate: int = FPS, sample_rate: int = RATE, channels: int = 2, audio: bool = True,
              skip_frames: int = 0, bframes: bool = True) -> Path:
    vf = f"testsrc2=size={size}:rate={rate}:duration={seconds},hue=h={hue}"
    af = f"sine=frequency={freq}:sample_rate={sample_rate}:duration={seconds}"
    if skip_frames:  # start later in the same source: an extension that repeats a frame
        vf += f",trim=start_frame={skip_frames},setpts=PTS-STARTPTS"
        af += f",atrim=start={skip_frames / rate:.6f},asetpts=PTS-STARTPTS"
    args = [FF, "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", vf]
    if audio:
        args += ["-f", "lavfi", "-i", af, "-ac", str(channels), "-c:a", "aac", "-b:a", "96k"]
    args += [] if bframes else ["-bf", "0"]
    args += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
             "-x264-params", f"keyint={rate}:min-keyint={rate}:scenecut=0", str(path)]
    subprocess.run(args, check=True)
    return path


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    out = {n: make_clip(d / f"{n}.mp4", s, h, f, **o) for n, (s, h, f, o) in CLIPS.items()}
    # starts with S's frame 71, which is also e's last frame
    out["y"] = make_clip(d / "y.mp4", 5, 300, 620, skip_frames=71)
    bad = d / "bad.mp4"
    bad.write_text("this is not a video\n")
    out["bad"] = bad
    return out


def planned(name: str, kind: str = "shot", seconds: int = 3) -> PlannedClip:
    return PlannedClip(name=name, kind=kind, seconds=seconds, request={}, estimated_cost_usd=0.0,
                       key=f"key-{name}", mode="text", source="test.story:1:1",
                       width=320, height=180)


def make_plan(*items, clip=planned, title: str = "test") -> RenderPlan:
    """items: clip specs (name, kind, generated seconds[, played seconds]) and transitions
    (kind, seconds[, direction]); `clip` makes a PlannedClip of (name, kind, seconds)."""
    clips, timeline = [], []
    for item in items:
        if item[0] in ("cut", "dissolve", "fade", "wipe"):
            timeline.append(TimelineEntry(transition=item[0], seconds=item[1],
                                          direction=item[2] if len(item) > 2 else None))
        else:
            clips.append(clip(item[0], item[1], item[2]))
            timeline.append(TimelineEntry(clip=item[0], seconds=item[3] if len(item) > 3 else None))
    return RenderPlan(title=title, provider="preview", model="m", story=f"{title}.story",
                      clips=clips, timeline=timeline, estimated_cost_usd=0.0)


def shots(*names: str) -> RenderPlan:
    return make_plan(*[(n, "shot", CLIPS[n][0] if n in CLIPS else 3) for n in names])


# ---- probes ----------------------------------------------------------------------------------

def grey_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="gray").astype(np.float32) for f in c.decode(video=0)]


def mad(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).mean())


def audio_mono(path: Path) -> tuple[np.ndarray, float]:
    """Decoded audio as mono 48 kHz and the time of its first sample."""
    chunks, t0 = [], None
    with av.open(str(path)) as c:
        rs = av.AudioResampler(format="flt", layout="mono", rate=RATE)
        for f in c.decode(audio=0):
            t0 = float(f.pts * f.time_base) if t0 is None else t0
            chunks += [g.to_ndarray().ravel() for g in rs.resample(f)]
    return np.concatenate(chunks), t0 or 0.0


def audio_seconds(path: Path) -> float:
    """The audio stream's duration as the container states it (edit list applied)."""
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return float(a.duration * a.time_base)


def streams(path: Path) -> dict:
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        return {"width": v.codec_context.width, "height": v.codec_context.height,
                "fps": float(v.average_rate), "video": v.codec_context.name,
                "audio": a.codec_context.name, "rate": a.codec_context.sample_rate,
                "channels": a.codec_context.channels,
                "frames": sum(1 for p in c.demux(v) if p.size)}


def decode_errors(path: Path) -> str:
    proc = subprocess.run([FF, "-hide_banner", "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, text=True)
    return proc.stderr.strip()


def tone(pcm: np.ndarray, t: float, freqs: dict[str, int], width: int = 1200) -> str:
    """Which clip's sine dominates the `width` samples from time t."""
    i = int(round(t * RATE))
    seg = pcm[i:i + width]
    n = np.arange(len(seg))
    energy = {k: abs(np.dot(seg, np.exp(-2j * np.pi * f * n / RATE))) for k, f in freqs.items()}
    return max(energy, key=energy.get)


def check_film(path: Path, expected_seconds: float) -> list[np.ndarray]:
    """Duration within one frame, a/v agree within one frame (by samples), clean decode."""
    frames = grey_frames(path)
    pcm, t0 = audio_mono(path)
    video = len(frames) / FPS
    assert abs(video - expected_seconds) <= 1 / FPS + 1e-9, (video, expected_seconds)
    assert abs(t0) < 1e-3
    assert abs(len(pcm) / RATE - video) <= 1 / FPS, (len(pcm) / RATE, video)
    assert abs(audio_seconds(path) - video) <= 1 / FPS
    assert decode_errors(path) == ""
    return frames


# ---- tests -----------------------------------------------------------------------------------

def test_every_transition(clips, tmp_path):
    plan = make_plan(("a", "shot", 3), ("dissolve", 0.5), ("b", "shot", 3), ("fade", 1.0),
                     ("c", "shot", 2), ("wipe", 0.5, "left"), ("d", "shot", 3),
                     ("m", "morph", 4, 1.0), ("e", "shot", 3), ("x", "extend", 2))
    out = tmp_path / "film.mp4"
    result = stitch(plan, clips, out, workdir=tmp_path / "work", log=lambda m: None)
    assert not result.reused and result.path == out
    assert abs(result.duration - plan.total_seconds) < 1e-6 and plan.total_seconds == 16.0
    frames = check_film(out, plan.total_seconds)
    assert len(frames) == 384
    assert streams(out)["frames"] == 384
    log = "\n".join(result.actions)
    assert "trimmed extension overlap of 3.0 s from x" in log
    assert "retimed clip m from 4.00 s to 1.00 s" in log
    assert "re-encoded window c[0:48] (fade in) wipe left to d[0:24]: 60 frames" in log, log
    assert "re-encoded window a[48:72] dissolve to b[0:24]: 36 frames" in log, log
    assert "copied" in log

    src = {n: grey_frames(clips[n]) for n in "abcdmex"}
    # film frame -> (clip, source frame) wherever no transition blends or fades the picture
    expect = [(f, "a", f) for f in range(60)] + [(72 + k, "b", 12 + k) for k in range(48)]
    expect += [(144 + k, "c", 12 + k) for k in range(24)]
    expect += [(180 + k, "d", 12 + k) for k in range(60)]
    expect += [(240 + j, "m", round(j * 95 / 23)) for j in range(24)]  # first and last kept
    expect += [(264 + k, "e", k) for k in range(72)] + [(336 + k, "x", 72 + k) for k in range(48)]
    wrong = [(f, n, s) for f, n, s in expect if mad(frames[f], src[n][s]) > 2.5]
    assert not wrong, wrong[:5]
    # the transitions really happen: mid-dissolve is neither clip, mid-fade is dark
    assert mad(frames[66], src["a"][66]) > 5 and mad(frames[66], src["b"][6]) > 5
    assert frames[131].mean() < 20 and frames[132].mean() < 20

    pcm, _ = audio_mono(out)
    freqs = {n: CLIPS[n][2] for n in "abcdme"}
    assert [tone(pcm, t, freqs) for t in (1.0, 4.0, 6.5, 8.5, 10.5, 12.0, 15.0)] == \
        ["a", "b", "c", "d", "m", "e", "e"]
    assert tone(pcm, 10.0 - 0.03, freqs, 480) == "d" and tone(pcm, 10.0 + 0.012, freqs, 480) == "m"
    def rms(t: float) -> float:
        return float(np.sqrt((pcm[int(t * RATE):int(t * RATE) + 480] ** 2).mean()))

    assert rms(5.49) < 0.2 * rms(4.0)  # the sound fades with the picture


def nal_units(packet: bytes) -> list[bytes]:
    """H.264 NAL units of an MP4 sample, without SPS/PPS (the concat demuxer repeats those
    in-band before keyframes)."""
    out, i = [], 0
    while i + 4 <= len(packet):
        n = int.from_bytes(packet[i:i + 4], "big")
        out.append(packet[i + 4:i + 4 + n])
        i += 4 + n
    return [u for u in out if u[0] & 0x1F not in (7, 8)]


def video_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]


def test_hard_cuts_copy_video_and_keep_audio_in_sync(clips, tmp_path, monkeypatch):
    names = ["a", "b", "d", "e", "a", "b", "d", "c"]  # 23 s: two sound segments
    plan = shots(*names)
    out = tmp_path / "cuts.mp4"
    decoded: list[Path] = []
    real_decode = sound_module.decode_pcm
    monkeypatch.setattr(sound_module, "decode_pcm",
                        lambda src: decoded.append(src.path) or real_decode(src))
    result = stitch(plan, clips, out, workdir=tmp_path / "work", log=lambda m: None)
    # the second d (18-21 s) spans the segments' boundary: both encoders take its sound (and
    # the second encoder's pre-roll reaches back into b), each decoded once
    assert sorted(decoded) == sorted(clips[n] for n in names)
    assert not any("re-encoded" in a or "conformed" in a for a in result.actions), result.actions
    assert sum(a.startswith("copied") for a in result.actions) == 5  # one line per clip
    assert result.counts["sound_segments"] == result.counts["sound_encoded"] == 2
    split = sound_module.SEGMENT_FRAMES * 1024
    assert 20 * RATE < split < 21 * RATE
    frames = check_film(out, plan.total_seconds)
    assert len(frames) == 23 * FPS

    # byte level: every video packet is the source's packet
    got = video_packets(out)
    want = [p for n in names for p in video_packets(clips[n])]
    assert len(got) == len(want)
    assert all(nal_units(g) == nal_units(w) for g, w in zip(got, want, strict=True))

    # audio as long as the video (container: exact; decoded: + the last AAC frame's padding),
    # and each clip's tone starts at its cut (no drift)
    assert audio_seconds(out) == 23.0
    pcm, _ = audio_mono(out)
    assert 0 <= len(pcm) - 23 * RATE < 1024
    freqs = {n: CLIPS[n][2] for n in "abdec"}
    starts = np.cumsum([0] + [CLIPS[n][0] for n in names[:-1]])
    for (prev, name), t in zip(pairwise(names), starts[1:], strict=True):
        assert tone(pcm, t - 0.015, freqs, 480) == prev
        assert tone(pcm, t + 0.005, freqs, 480) == name
    # where the two AAC segments meet: no dip, no click
    levels = [float(np.sqrt((pcm[k:k + 240] ** 2).mean()))
              for k in range(split - 2400, split + 2400, 240)]
    steady = float(np.sqrt((pcm[split - RATE // 2:split - RATE // 4] ** 2).mean()))
    assert max(abs(v - steady) for v in levels) < 0.05 * steady


def test_pieces_with_different_decoding_delays_join(clips, tmp_path):
    """A clip without B-frames next to windows and clips with them: where a piece with more delay
    follows, its first DTS are behind; the film still has rising DTS and PTS >= DTS."""
    plan = make_plan(("nob", "shot", 2), ("dissolve", 0.5), ("a", "shot", 3), ("cut", 0.0),
                     ("nob", "shot", 2), ("fade", 1.0), ("b", "shot", 3))
    out = tmp_path / "delays.mp4"
    result = stitch(plan, clips, out, workdir=tmp_path / "work", log=lambda m: None)
    assert any(a.startswith("copied") for a in result.actions)
    check_film(out, plan.total_seconds)
    with av.open(str(out)) as c:
        stamps = [(p.pts, p.dts) for p in c.demux(video=0) if p.size]
    assert all(b[1] > a[1] for a, b in pairwise(stamps))
    assert all(pts >= dts for pts, dts in stamps)
    assert sorted(pts for pts, _ in stamps) == [k * 512 for k in range(len(stamps))]


def test_sound_lasts_exactly_as_long_as_the_picture(clips, tmp_path):
    """143 frames = 5.958333 s: not a whole millisecond, the default MP4 movie time scale."""
    plan = make_plan(("a", "shot", 3, 71 / FPS), ("b", "shot", 3))
    out = tmp_path / "odd.mp4"
    stitch(plan, clips, out, workdir=tmp_path / "work", log=lambda m: None)
    with av.open(str(out)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert v.frames == 143 and v.duration * v.time_base == Fraction(143, FPS)
        assert a.duration * a.time_base == Fraction(143, FPS)  # 286,000 samples, not 285,984
    decoded = subprocess.run([FF, "-v", "error", "-i", str(out), "-map", "0:a", "-f", "s16le",
                              "-ac", "1", "-"], capture_output=True, check=True).stdout
    assert len(decoded) // 2 == 143 * RATE // FPS  # ffmpeg applies the edit list


@pytest.mark.parametrize("suffix", [".ts", ".mp3"])
def test_sound_decodes_from_formats_that_find_their_streams_late(suffix, clips, tmp_path):
    """MPEG-TS has no stream list before probing, so the probe shortcut cannot apply."""
    other = tmp_path / f"a{suffix}"
    subprocess.run([FF, "-v", "error", "-i", str(clips["a"]), str(other)], check=True)
    pcm, _ = sound_module.decode_pcm(AudioSource(other))
    mp4, _ = sound_module.decode_pcm(AudioSource(clips["a"]))
    assert pcm.shape[1] == 2 and abs(len(pcm) - len(mp4)) < 3 * 1152  # codec padding only
    assert tone(pcm[:, 0], 1.0, {"a": 220, "b": 300}) == "a"


def test_mux_measures_the_decode_delay_when_keyframes_understate_it(clips, tmp_path):
    def listing(name: str) -> Video:
        return Video(clips[name], 0)  # a joined video as mux_film gets it, its delay unknown

    delay = scan_video(clips["a"]).delay
    assert delay >= 1 and scan_video(clips["nob"]).delay == 0
    assert required_delay(listing("a")) == delay and required_delay(listing("nob")) == 0
    out = tmp_path / "a.mp4"
    written = mux_film(listing("a"), [AacRun(clips["a"])], out)  # told 0: measures, muxes again
    assert verify(out, 72, written) == 3.0


def test_mixed_formats_are_conformed(clips, tmp_path):
    plan = shots("a", "big", "f25", "s441", "mute", "b")
    out = tmp_path / "mixed.mp4"
    result = stitch(plan, clips, out, workdir=tmp_path / "work", log=lambda m: None)
    log = "\n".join(result.actions)
    assert "conformed clip big from 640x360 to 320x180 24fps" in log
    assert "conformed clip f25 from 25fps" in log
    assert "resampled the audio of clip s441 from 44100 Hz 1 ch" in log
    assert "added silence to clip mute" in log
    assert "conformed clip a " not in log and "conformed clip b " not in log
    info = streams(out)
    assert (info["width"], info["height"], info["fps"]) == (320, 180, 24.0)
    assert (info["video"], info["audio"]) == ("h264", "aac")
    assert (info["rate"], info["channels"]) == (RATE, 2)
    check_film(out, plan.total_seconds)
    pcm, _ = audio_mono(out)
    freqs = {n: CLIPS[n][2] for n in ("a", "big", "f25", "s441", "b")}
    heard = [tone(pcm, t, freqs) for t in (1.5, 4.0, 6.0, 8.0, 12.0)]
    assert heard == ["a", "big", "f25", "s441", "b"]
    silent = pcm[int(9.1 * RATE):int(10.9 * RATE)]
    assert float(np.sqrt((silent ** 2).mean())) < 1e-3
    assert tone(pcm, 11.0 + 0.005, freqs, 480) == "b"  # b's sound starts with b's picture


def test_duplicated_boundary_frame_is_dropped(clips, tmp_path):
    plan = make_plan(("e", "shot", 3), ("y", "extend", 2))
    out = tmp_path / "dup.mp4"
    result = stitch(plan, clips, out, workdir=tmp_path / "work", log=lambda m: None)
    assert "dropped the duplicated boundary frame at the start of y" in result.actions
    assert not any("trimmed extension" in a for a in result.actions)  # y is continuation only
    frames = check_film(out, 120 / FPS)
    assert len(frames) == 120
    s = grey_frames(clips["x"])  # all of source S
    assert mad(frames[71], s[71]) < 2.5 and mad(frames[72], s[72]) < 2.5


def test_rerun_reuses_and_changes_rebuild(clips, tmp_path):
    plan = shots("a", "b")
    out, work = tmp_path / "film.mp4", tmp_path / "work"
    first = stitch(plan, clips, out, workdir=work, log=lambda m: None)
    stamp = out.stat().st_mtime_ns
    again = stitch(plan, clips, out, workdir=work, log=lambda m: None)
    assert again.reused and again.duration == first.duration and out.stat().st_mtime_ns == stamp
    said: list[str] = []
    assert up_to_date(plan, clips, out, None, said.append)["duration"] == first.duration
    assert said == [f"{out} is up to date"]
    gone = dict(clips, a=tmp_path / "nowhere.mp4")  # the stitch will say which: not up to date
    assert up_to_date(plan, gone, out, None, said.append) is None
    changed = shots("b", "a")
    assert not stitch(changed, clips, out, workdir=work, log=lambda m: None).reused
    assert not list(work.glob("stitch-run-*")) and not list(tmp_path.glob(".film.*"))


def test_the_cache_keeps_only_what_the_last_film_used(clips, tmp_path):
    work = tmp_path / "work"
    stitch(shots("a", "big"), clips, tmp_path / "film.mp4", workdir=work, log=lambda m: None)
    first = set((work / "stitch-cache").glob("*.v.mp4"))
    assert len(first) == 1  # big, conformed to a's size
    said: list[str] = []
    stitch(shots("a", "f25", "b"), clips, tmp_path / "film.mp4", workdir=work, log=said.append)
    second = set((work / "stitch-cache").glob("*.v.mp4"))
    assert len(second) == 1 and not first & second  # f25's conform; big's is gone
    # and the first film's sound segment (file and sidecar): a different film, a different sound
    assert any(m.startswith("removed 3 intermediate file(s) no longer used") for m in said), said
    stitch(shots("a", "f25"), clips, tmp_path / "film.mp4", workdir=work, log=said.append)
    assert set((work / "stitch-cache").glob("*.v.mp4")) == second  # still used: kept


def test_killed_stitch_leaves_no_partial_film(clips, tmp_path):
    plan = make_plan(("a", "shot", 3), ("dissolve", 0.5), ("b", "shot", 3), ("fade", 1.0),
                     ("d", "shot", 3))
    ref = stitch(plan, clips, tmp_path / "ref" / "film.mp4", workdir=tmp_path / "ref-work",
                 log=lambda m: None)
    out, work = tmp_path / "build" / "film.mp4", tmp_path / "work"
    out.parent.mkdir()
    stale = out.parent / ".film.4194305.deadbeef.tmp.mp4"  # a pid above pid_max: long gone
    stale.write_bytes(b"half a film")
    kill_mid_stitch(plan, {n: clips[n] for n in "abd"}, out, work, settle=0.2)

    again = stitch(plan, clips, out, workdir=work, log=lambda m: None)
    assert file_sha(again.path) == file_sha(ref.path)  # deterministic, whatever was left behind
    assert not list(out.parent.glob(".*")) and not list(work.glob("stitch-run-*"))
    assert not list((work / "stitch-cache").glob(".*"))


def kill_mid_stitch(plan: RenderPlan, clips: dict[str, Path], out: Path, work: Path, *,
                    prelude: tuple[str, ...] = (), settle: float = 0.15) -> None:
    """Stitch in another process and kill -9 it `settle` seconds after its run folder appears
    (mid-encode), with its ffmpeg children, as a shell's kill of the job does: an orphaned ffmpeg
    would go on writing into the dead run's folder while the next stitch sweeps it, and leave it
    behind. `prelude`: lines run first (e.g. module settings a test shrinks)."""
    script = "\n".join([
        "import sys",
        "from pathlib import Path",
        *prelude,
        "from storyboard.plan import RenderPlan",
        "from storyboard.stitch import stitch",
        "plan = RenderPlan.from_json(sys.stdin.read())",
        f"clips = {{k: Path(v) for k, v in {({k: str(v) for k, v in clips.items()})!r}.items()}}",
        f"Path({str(out)!r}).unlink(missing_ok=True)",
        f"stitch(plan, clips, Path({str(out)!r}), workdir=Path({str(work)!r}), log=print)",
    ])
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, env=env, start_new_session=True)
    proc.stdin.write(plan.to_json().encode())
    proc.stdin.close()
    deadline = time.monotonic() + 30
    while not list(work.glob("stitch-run-*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(settle)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bad_inputs_name_the_clip(clips, tmp_path):
    out = tmp_path / "film.mp4"
    missing = dict(clips, b=tmp_path / "nowhere.mp4")
    with pytest.raises(StitchError, match=r"clip 'b'.*not found"):
        stitch(shots("a", "b"), missing, out, workdir=tmp_path / "work", log=lambda m: None)
    with pytest.raises(StitchError, match=r"clip 'bad'.*not a readable video"):
        stitch(shots("a", "bad"), clips, out, workdir=tmp_path / "work", log=lambda m: None)
    with pytest.raises(StitchError, match=r"clip 'zzz' has no rendered file"):
        stitch(shots("a", "zzz"), clips, out, workdir=tmp_path / "work", log=lambda m: None)
    assert not out.exists() and not list(tmp_path.glob(".film.*"))


def test_audio_encoder_failure_is_one_error_and_no_film(clips, tmp_path, monkeypatch):
    class FullDisk:
        """The encoder's container: the fourth write finds the disk full."""

        def __init__(self, real):
            self.real, self.writes = real, 0

        def mux(self, packets):
            self.writes += 1
            if self.writes > 3:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.real.mux(packets)

        def close(self):
            self.real.close()

    real_init = sound_module.AacWriter.__init__

    def init(self, out):
        real_init(self, out)
        self.container = FullDisk(self.container)

    monkeypatch.setattr(sound_module.AacWriter, "__init__", init)
    out = tmp_path / "film.mp4"
    before = set(threading.enumerate())  # threads of earlier tests may end meanwhile: compare sets, not counts
    with pytest.raises(StitchError, match=r"encoding the film's audio failed: .*No space left"):
        stitch(shots("a", "b", "c", "d", "e", "a", "b", "d"), clips, out,
               workdir=tmp_path / "work", log=lambda m: None)
    assert not out.exists() and not list(tmp_path.glob(".film.*"))
    assert not list((tmp_path / "work").glob("stitch-run-*"))
    assert not set(threading.enumerate()) - before  # both encoder threads ended


def written(path: Path) -> tuple[list[int], Fraction]:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return [p.pts for p in c.demux(v) if p.size], Fraction(v.time_base)


def test_verify_checks_what_was_muxed_against_the_file(clips, tmp_path):
    film = tmp_path / "film.mp4"
    stitch(shots("a", "b"), clips, film, workdir=tmp_path / "work", log=lambda m: None)
    pts, base = written(film)
    assert verify(film, 144, (pts, base)) == 6.0
    with pytest.raises(StitchError, match="has 144 frames, expected 150"):
        verify(film, 150, (pts, base))
    with pytest.raises(StitchError, match="has 144 frames"):  # the index disagrees with the mux
        verify(film, 143, (pts[:-1], base))
    late = list(pts)
    late[50] += round(Fraction(1, 2 * FPS) / base)  # half a frame late
    with pytest.raises(StitchError, match="irregular"):
        verify(film, 144, (late, base))
    with pytest.raises(StitchError, match="lacks a stream"):
        verify(clips["mute"], 48, written(clips["mute"]))
    short = tmp_path / "short-audio.mp4"  # 3 s of picture, 2 s of sound
    subprocess.run([FF, "-v", "error", "-i", str(clips["a"]), "-c:v", "copy", "-c:a", "aac",
                    "-af", "atrim=end=2", str(short)], check=True)
    with pytest.raises(StitchError, match="differ by more than one frame"):
        verify(short, 72, written(short))


def test_subtitles_are_burned_into_their_windows_only(clips, tmp_path):
    srt = tmp_path / "subs.srt"
    srt.write_text("1\n00:00:01,200 --> 00:00:01,800\nHello there\n\n"
                   "2\n00:00:04,000 --> 00:00:04,500\nSecond line\n")
    plan = shots("a", "b")
    out = tmp_path / "subs.mp4"
    result = stitch(plan, clips, out, workdir=tmp_path / "work", log=lambda m: None,
                    burn_subtitles=srt)
    assert any("burned 2 subtitles" in a for a in result.actions)
    frames = check_film(out, 6.0)
    src = grey_frames(clips["a"]) + grey_frames(clips["b"])
    assert mad(frames[36], src[36]) > 1.5  # a cue is on screen at 1.5 s
    assert mad(frames[100], src[100]) > 1.5  # and at 4.17 s
    assert mad(frames[12], src[12]) < 2.5 and mad(frames[130], src[130]) < 2.5  # copied
    assert mad(frames[36][:60], src[36][:60]) < 2.5  # text sits at the bottom


# ---- pure core -------------------------------------------------------------------------------

def fake_slot(name: str, join: Join, frames: int, gop: int | None) -> Slot:
    keys = tuple(range(0, frames, gop)) if gop else (0,)
    scan = VideoScan(frames=frames, start=0.0, end=frames / FPS, cfr=True, keyframes=keys,
                     key_pts=tuple(k / FPS for k in keys), key_dts=tuple(k / FPS for k in keys),
                     sar=None, profile="High", index=0, time_base=1 / 12288, file_start=0.0,
                     step=1 / FPS,
                     codec="h264", width=320, height=180, pix_fmt="yuv420p")
    return Slot(name, join, Path(name), scan, AudioSource(None), 0, frames)


def test_plan_pieces_reencode_only_transition_windows():
    slots = [fake_slot("a", Join("cut"), 120, 24), fake_slot("b", Join("dissolve", 0.5), 120, 24),
             fake_slot("c", Join("cut"), 120, 24), fake_slot("d", Join("fade", 1.0), 120, 24)]
    pieces = plan_pieces(slots)
    assert sum(p.frames for p in pieces) == total_frames(slots) == 468
    encoded = [p for p in pieces if p.kind == "encode"]
    assert sum(p.frames for p in encoded) == 36 + 24 + 24  # a's last GOP + b's first, two fade GOPs
    assert [p.xfade for p in encoded] == ["fade", None, None]


def test_plan_pieces_single_keyframe_clips_use_two_input_graphs():
    joins = [Join("cut"), Join("wipe", 0.5, "up"), Join("dissolve", 1.0), Join("dissolve", 0.5)]
    slots = [fake_slot(c, j, 96, None) for c, j in zip("abcd", joins, strict=True)]
    pieces = plan_pieces(slots)
    assert all(p.kind == "encode" and len(p.strands) <= 2 for p in pieces)
    assert [p.xfade for p in pieces] == ["wipeup", "fade", "fade"]
    assert sum(p.frames for p in pieces) == total_frames(slots) == 4 * 96 - 12 - 24 - 12


def test_plan_pieces_rejects_transitions_longer_than_the_clip():
    slots = [fake_slot("a", Join("cut"), 48, 24), fake_slot("b", Join("dissolve", 1.5), 48, 24),
             fake_slot("c", Join("dissolve", 1.5), 48, 24)]
    with pytest.raises(StitchError, match="clip 'b'.*too short"):
        plan_pieces(slots)


def test_sound_segments_sit_on_a_fixed_grid_of_aac_frames():
    seg = sound_module.SEGMENT_FRAMES * 1024
    one = sound_segments(9 * RATE)
    assert [(s.lo, s.hi, s.enc_lo, s.enc_hi, s.last) for s in one] == [(0, 9 * RATE, 0, 9 * RATE, True)]
    total = 3 * seg + sound_module.PREROLL // 2  # a last piece shorter than a pre-roll joins
    segs = sound_segments(total)  # the segment before it
    assert len(sound_segments(total + sound_module.PREROLL)) == 4  # a longer one does not
    assert [(s.lo, s.hi) for s in segs] == [(0, seg), (seg, 2 * seg), (2 * seg, total)]
    assert segs[1].enc_lo == seg - sound_module.PREROLL and segs[1].enc_hi == 2 * seg + sound_module.TAIL
    assert all(s.lo % 1024 == 0 and s.enc_lo % 1024 == 0 for s in segs)
    # a longer film keeps every boundary before its end: an edit moves none of them
    assert [(s.lo, s.hi) for s in sound_segments(total + seg)[:2]] == [(s.lo, s.hi) for s in segs[:2]]
    runs = [s.run(Path(f"s{s.index}"), lambda: None) for s in segs]
    assert (runs[0].start, runs[0].stop, runs[0].shift) == (None, seg, 0)
    assert (runs[1].start, runs[1].stop) == (sound_module.PREROLL, sound_module.PREROLL + seg)
    assert runs[2].stop is None and runs[2].shift == 2 * seg - sound_module.PREROLL


def test_read_timeline_joins():
    plan = make_plan(("a", "shot", 3), ("fade", 1.0), ("b", "shot", 3), ("x", "extend", 2))
    assert [(e.name, e.join.kind) for e in read_timeline(plan)] == \
        [("a", "cut"), ("b", "fade"), ("x", "extend")]
    bad = plan.model_copy(update={"timeline": [TimelineEntry(transition="fade", seconds=1.0),
                                               TimelineEntry(clip="a")]})
    with pytest.raises(StitchError, match="between two clips"):
        read_timeline(bad)
