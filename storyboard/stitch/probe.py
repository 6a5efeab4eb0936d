"""What a clip file is: stream facts and video packet timing, read without decoding (PyAV)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from .base import FPS, StitchError


@dataclass(frozen=True)
class VideoScan:
    """Timing facts of a video stream from its packets (no decoding)."""

    frames: int
    start: float  # presentation time of the first frame, s
    end: float  # end of the last frame, s
    cfr: bool  # constant frame rate: every frame lasts as long as the first
    step: float  # seconds per frame (the first frame's, when not constant)
    keyframes: tuple[int, ...]  # frame indices (presentation order)
    key_pts: tuple[float, ...]  # s, same order
    key_dts: tuple[float, ...]  # s; the concat demuxer's outpoint compares DTS (§5.5.1)
    sar: Fraction | None
    profile: str | None  # H.264 profile name, e.g. "High", "Constrained Baseline"
    index: int  # the video stream's index in its file
    time_base: Fraction
    file_start: float  # s: the file's start (earliest stream, e.g. AAC priming); -ss counts from it
    codec: str
    width: int
    height: int
    pix_fmt: str | None

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def delay(self) -> int:
        """Frames a decoder holds back to reorder B-frames: how far DTS trail PTS at keyframes."""
        return max((round((p - d) * FPS) for p, d in zip(self.key_pts, self.key_dts)), default=0)


@dataclass(frozen=True)
class AudioFacts:
    codec: str
    rate: int
    channels: int


@dataclass(frozen=True)
class Source:
    """A clip file as probed."""

    name: str
    path: Path
    scan: VideoScan
    audio: AudioFacts | None

    @property
    def size(self) -> tuple[int, int]:
        return self.scan.width, self.scan.height


def scan_video(path: Path) -> VideoScan:
    return scan_file(path)[0]


def scan_file(path: Path) -> tuple[VideoScan, AudioFacts | None]:
    """Stream facts and video packet timing in one open. media.probe's MediaInfo does not carry
    DTS, SAR, profile or per-frame timing, which deciding what can be stream-copied needs."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise StitchError("no video stream")
        vs = container.streams.video[0]
        cc = vs.codec_context
        audio = None
        if container.streams.audio:
            ac = container.streams.audio[0].codec_context
            audio = AudioFacts(ac.name, ac.sample_rate, ac.channels)
        tb = vs.time_base
        pts: list[int] = []
        keys: list[tuple[int, int]] = []
        for pkt in container.demux(vs):
            if pkt.size == 0 or pkt.pts is None:
                continue
            pts.append(pkt.pts)
            if pkt.is_keyframe:
                keys.append((pkt.pts, pkt.dts if pkt.dts is not None else pkt.pts))
            last_dur = pkt.duration or 0
        sar = vs.sample_aspect_ratio or vs.codec_context.sample_aspect_ratio
        profile = vs.codec_context.profile
        file_start = None if container.start_time is None else container.start_time / av.time_base
        stream_index = vs.index  # read while open: a closed container's streams return garbage
    if not pts:
        raise StitchError(f"{path} has no video frames")
    pts.sort()
    steps = [b - a for a, b in zip(pts, pts[1:])] or [last_dur or round(Fraction(1, FPS) / tb)]
    cfr = max(steps) - min(steps) <= 1  # 1 tick: ms time bases round 1/24 s
    index = {p: i for i, p in enumerate(pts)}
    keys.sort()
    end = pts[-1] + (last_dur or steps[-1])
    return VideoScan(
        frames=len(pts), start=float(pts[0] * tb), end=float(end * tb), cfr=cfr,
        step=float(sum(steps) / len(steps) * tb),
        keyframes=tuple(index[p] for p, _ in keys),
        key_pts=tuple(float(p * tb) for p, _ in keys),
        key_dts=tuple(float(d * tb) for _, d in keys),
        sar=Fraction(sar) if sar else None, profile=profile, index=stream_index,
        time_base=Fraction(tb),
        file_start=float(pts[0] * tb) if file_start is None else file_start,
        codec=cc.name, width=cc.width, height=cc.height,
        pix_fmt=cc.format.name if cc.format else None,
    ), audio


def probe_clip(name: str, path: Path) -> Source:
    if not path.is_file():
        raise StitchError(f"clip {name!r}: file not found: {path}")
    try:
        scan, audio = scan_file(path)
    except (av.FFmpegError, OSError, ValueError, StitchError) as e:
        raise StitchError(f"clip {name!r}: {path} is not a readable video ({e})") from e
    return Source(name, path, scan, audio)


def film_size(sources: list[Source]) -> tuple[int, int]:
    """The most common clip size; ties go to the size seen first."""
    counts = Counter(s.size for s in sources)
    best = max(counts.values())
    return next(s.size for s in sources if counts[s.size] == best)


def video_deviations(src: Source, size: tuple[int, int]) -> list[str]:
    """Why this clip's video cannot be stream-copied into the film (empty: it can)."""
    scan = src.scan
    out = []
    if scan.codec != "h264":
        out.append(f"codec {scan.codec}")
    if src.size != size:
        out.append(f"{scan.width}x{scan.height}")
    if not scan.cfr:
        out.append(f"VFR (avg {scan.frames / scan.duration:.3g}fps)")
    elif abs(scan.step * FPS - 1) > 1e-3:
        out.append(f"{1 / scan.step:g}fps")
    if scan.pix_fmt != "yuv420p":
        out.append(f"pix_fmt {scan.pix_fmt}")
    if scan.sar not in (None, Fraction(0), Fraction(1)):
        out.append(f"SAR {scan.sar}")
    if not scan.keyframes or scan.keyframes[0] != 0:
        out.append("no keyframe at the start")
    return out
