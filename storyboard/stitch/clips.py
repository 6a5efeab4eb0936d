"""Each clip made ready to be placed: remuxed or conformed only when it cannot be stream-copied,
retimed when it plays longer or shorter than generated, and an extension's repeated start
trimmed."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from collections.abc import Iterable

import av
import numpy as np

from .base import Encoder, FPS, Join, RATE, retime_pick, TIMESCALE
from .probe import Source, VideoScan
from .workspace import ffmpeg, make_atomic, Workspace

EXTEND_TOLERANCE = 0.5  # s: "extension file = target + continuation" is decided by duration
DUP_MAD_FLOOR = 1.0  # mean abs diff (0..255) below which two frames are the same picture
CONFORM_PRESET = "veryfast"  # a whole clip: its size matters more than its speed (video.py)


@dataclass(frozen=True)
class AudioSource:
    path: Path | None  # None: silence
    zero: float = 0.0  # time on the audio file's clock at which the slot's video frame 0 shows


@dataclass(frozen=True)
class Slot:
    """A clip ready to be placed: a file whose video the concat demuxer can copy (the clip itself,
    a remux or a conformed re-encode), where its sound comes from, and the frames that play."""

    name: str
    join: Join
    video: Path
    scan: VideoScan
    audio: AudioSource
    start: int  # first frame that plays
    end: int  # one past the last frame that plays

    @property
    def frames(self) -> int:
        return self.end - self.start


def concat_ready(scan: VideoScan) -> bool:
    """Can the concat demuxer read this file's video directly? It matches streams by index and
    does not rescale time bases, so the video must be stream 0 with the pieces' time base."""
    return scan.index == 0 and scan.time_base == Fraction(1, TIMESCALE)


def remux_video(ws: Workspace, src: Source) -> Path:
    """Video-only copy with the common timescale: concat-copyable, no AAC priming offset."""
    target = ws.cached(src.path, {"op": "remux", "ts": TIMESCALE}, ".v.mp4")
    return make_atomic(target, lambda tmp: ffmpeg(
        ["-i", str(src.path), "-map", "0:v:0", "-c", "copy", "-an", "-sn", "-dn",
         "-video_track_timescale", str(TIMESCALE), "-f", "mp4", str(tmp)],
        f"remuxing clip {src.name!r}"))


def retime_select(n_src: int, n_out: int) -> str:
    """Video filter that plays n_src frames as n_out, keeping the first and last frame."""
    if n_out == 1 or n_src == 1:
        return f"select='eq(n\\,0)',setpts=N/({FPS}*TB)"
    if n_out <= n_src:  # pick frames: first and last are exact picks
        picks = sorted({retime_pick(j, n_src, n_out) for j in range(n_out)})
        expr = "+".join(f"eq(n\\,{i})" for i in picks)
        return f"select='{expr}',setpts=N/({FPS}*TB)"
    # slower: spread the frames over the new length and let fps repeat them; tpad gives the
    # last frame a successor so fps emits its final slot
    r = (n_out - 1) / (n_src - 1)
    return f"setpts=N*{r:.9f}/({FPS}*TB),tpad=stop_mode=clone:stop=1,fps={FPS}"


def conform_video(ws: Workspace, src: Source, size: tuple[int, int], out_frames: int | None,
                  enc: Encoder) -> Path:
    """Re-encode a clip's video in the film format (size, 24 fps CFR, yuv420p, SAR 1, 1-s GOPs),
    optionally retimed to `out_frames` frames (speed change)."""
    w, h = size
    chain = ["setpts=PTS-STARTPTS"]
    if out_frames is not None:
        chain.append(retime_select(src.scan.frames, out_frames))
    chain += [f"scale={w}:{h}:force_original_aspect_ratio=decrease",
              f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2", "setsar=1"]
    if out_frames is None:
        chain.append(f"fps={FPS}")
    chain.append("format=yuv420p")
    limit = ["-frames:v", str(out_frames)] if out_frames is not None else []
    op = {"op": "conform", "size": size, "frames": out_frames,
          "x264": enc.ffmpeg_args(CONFORM_PRESET)}
    target = ws.cached(src.path, op, ".v.mp4")
    return make_atomic(target, lambda tmp: ffmpeg(
        ["-i", str(src.path), "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", ",".join(chain),
         *enc.ffmpeg_args(CONFORM_PRESET), "-r", str(FPS), *limit, "-f", "mp4", str(tmp)],
        f"conforming clip {src.name!r}"))


def atempo_chain(factor: float) -> str:
    parts = []
    while factor > 100.0:
        parts.append("atempo=100")
        factor /= 100.0
    while factor < 0.5:
        parts.append("atempo=0.5")
        factor /= 0.5
    parts.append(f"atempo={factor:.9f}")
    return ",".join(parts)


def retime_audio(ws: Workspace, src: Source, out_frames: int) -> Path:
    factor = src.scan.duration * FPS / out_frames
    op = {"op": "retime-audio", "frames": out_frames}
    target = ws.cached(src.path, op, ".a.wav")
    return make_atomic(target, lambda tmp: ffmpeg(
        ["-i", str(src.path), "-map", "0:a:0", "-vn", "-af", atempo_chain(factor),
         "-ar", str(RATE), "-ac", "2", "-c:a", "pcm_f32le", "-f", "wav", str(tmp)],
        f"retiming the audio of clip {src.name!r}"))


def extension_overlap(target: Source, ext: Source, ext_seconds: float) -> float | None:
    """Seconds at the head of `ext` that repeat its target, when the provider returned
    source + continuation (decided by duration), else None."""
    d_target, d_ext = target.scan.duration, ext.scan.duration
    if abs(d_ext - (d_target + ext_seconds)) <= EXTEND_TOLERANCE:
        return d_target
    return None


def gray_frames(path: Path, scan: VideoScan, wanted: Iterable[int]) -> dict[int, np.ndarray]:
    """Decode the given frame indices (presentation order) as float32 grey images."""
    wanted = sorted(set(wanted))
    k = max(0, bisect_right(scan.keyframes, wanted[0]) - 1)
    out: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        vs = container.streams.video[0]
        if scan.keyframes and scan.keyframes[k] > 0:
            # seek by the keyframe's DTS: never past it, whichever clock the index uses
            container.seek(int(scan.key_dts[k] / vs.time_base), stream=vs, backward=True)
        for frame in container.decode(vs):
            if frame.pts is None:
                continue
            i = round((float(frame.pts * vs.time_base) - scan.start) * FPS)
            if i in wanted:
                out[i] = frame.to_ndarray(format="gray").astype(np.float32)
            if i >= wanted[-1]:
                break
    return out


def is_duplicate_boundary(prev: Slot, nxt: Slot) -> bool:
    """True when `nxt`'s first frame repeats `prev`'s last (stitching.md 6.1). A repeat differs
    from it by compression noise only; a real next frame by about as much as neighbouring frames
    do, so the seam is compared with half the clips' own frame-to-frame change."""
    if prev.frames < 2 or nxt.frames < 2:
        return False
    a = gray_frames(prev.video, prev.scan, [prev.end - 2, prev.end - 1])
    b = gray_frames(nxt.video, nxt.scan, [nxt.start, nxt.start + 1])
    if len(a) < 2 or len(b) < 2 or a[prev.end - 1].shape != b[nxt.start].shape:
        return False

    def mad(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.abs(x - y).mean())

    motion = (mad(a[prev.end - 2], a[prev.end - 1]) + mad(b[nxt.start], b[nxt.start + 1])) / 2
    return mad(a[prev.end - 1], b[nxt.start]) < max(DUP_MAD_FLOOR, 0.5 * motion)
