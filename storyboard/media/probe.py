"""What a media file is, for every stage that reads one (the render engine, the stitcher, the
animatic renderer, the OTIO export): its streams and durations (`probe`), or the packet timing
the stitcher decides stream copies with (`scan_file`), read with PyAV without decoding; and the
one way to run ffmpeg (`run_ffmpeg`). Frames are grabbed in `media.frames`, text is fitted in
`media.text`."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import av

from ..disk import ffmpeg_disk_error


class MediaError(Exception):
    """A media file could not be read, or ffmpeg failed on it."""


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float  # average frame rate (0.0 when the container does not say)
    frames: int  # frame count (from the container's index, or counted when it has none)
    codec: str
    pix_fmt: str | None
    duration: float  # seconds


@dataclass(frozen=True)
class AudioInfo:
    sample_rate: int
    channels: int
    codec: str
    duration: float  # seconds


@dataclass(frozen=True)
class MediaInfo:
    duration: float  # the container's duration in seconds (longest stream)
    video: VideoInfo | None
    audio: AudioInfo | None
    keyframes: tuple[float, ...] | None = None  # video keyframe times, when asked for


# ---- ffmpeg ----------------------------------------------------------------------------------

def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def run_ffmpeg(args: Sequence[str], *, what: str, error: type[Exception] = MediaError,
               timeout: float = 300.0) -> None:
    """Run ffmpeg quietly; on failure raise `error` with ffmpeg's last stderr lines (never a bare
    CalledProcessError, so callers can show the user something meaningful). The last argument is
    the output file (every caller's): when the disk refused it, `error` says so in one line and
    is raised from the OSError (see disk.py), without ffmpeg's chatter."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        raise error(f"{what}: ffmpeg timed out after {timeout:.0f}s") from e
    except OSError as e:
        raise error(f"{what}: cannot run ffmpeg ({e})") from e
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace")
        disk = ffmpeg_disk_error(proc.returncode, stderr, str(args[-1]) if args else None)
        if disk is not None:
            raise error(f"{what}: cannot write {disk.filename}: {disk.strerror}") from disk
        tail = stderr.strip().splitlines()[-8:]
        raise error(f"{what}: ffmpeg exited with {proc.returncode}:\n  " + "\n  ".join(tail or ["(no output)"]))


# ---- probe -----------------------------------------------------------------------------------

def open_media(path: Path | str, *, pictures: bool = True) -> av.container.InputContainer:
    """Open a media file with PyAV. Opening probes every stream by decoding a little of it;
    `pictures=False` (a caller that only wants the sound) lets the pictures' probe skip
    decoding, a third of the open."""
    if pictures:
        return av.open(str(path))
    try:
        return av.open(str(path), stream_options=[{"skip_frame": "all"}] * 8)
    except ValueError:  # a format that only finds its streams by probing (MPEG-TS, ...)
        return av.open(str(path))


@dataclass(frozen=True)
class VideoScan:
    """Timing facts of a video stream from its packets (no decoding): what deciding whether a
    clip can be stream-copied needs (DTS, SAR, profile, per-frame timing)."""

    frames: int
    start: float  # presentation time of the first frame, s
    end: float  # end of the last frame, s
    cfr: bool  # constant frame rate: every frame lasts as long as the first
    step: float  # seconds per frame (the first frame's, when not constant)
    keyframes: tuple[int, ...]  # frame indices (presentation order)
    key_pts: tuple[float, ...]  # s, same order
    key_dts: tuple[float, ...]  # s; the concat demuxer's outpoint compares DTS
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
        return max((round((p - d) / self.step) for p, d in zip(self.key_pts, self.key_dts, strict=True)),
                   default=0)


@dataclass
class _Packets:
    """The video packets of a file, demuxed without decoding."""

    count: int = 0  # packets with data (the flush packet left out)
    pts: list[int] = field(default_factory=list)  # presentation times, ticks, sorted
    keys: list[tuple[int, int]] = field(default_factory=list)  # keyframes' (pts, dts), sorted by pts
    last_duration: int = 0  # of the last packet read that has a time


def _demux(container, vs) -> _Packets:
    found = _Packets()
    for packet in container.demux(vs):
        if packet.size == 0:  # the flush packet
            continue
        found.count += 1
        if packet.pts is None:
            continue
        found.pts.append(packet.pts)
        if packet.is_keyframe:
            found.keys.append((packet.pts, packet.dts if packet.dts is not None else packet.pts))
        found.last_duration = packet.duration or 0
    found.pts.sort()
    found.keys.sort()
    return found


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def _pix_fmt(cc) -> str | None:
    return cc.format.name if cc.format else None


def _video_info(vs, counted: int, total: float | None) -> VideoInfo:
    rate = vs.average_rate or vs.base_rate
    frames = vs.frames or counted
    duration = _seconds(vs.duration, vs.time_base)
    if duration is None:
        duration = frames / float(rate) if rate and frames else (total or 0.0)
    cc = vs.codec_context
    return VideoInfo(width=cc.width, height=cc.height, fps=float(rate) if rate else 0.0, frames=frames,
                     codec=cc.name, pix_fmt=_pix_fmt(cc), duration=duration)


def _audio_info(stream, total: float | None) -> AudioInfo:
    cc = stream.codec_context
    duration = _seconds(stream.duration, stream.time_base)
    return AudioInfo(sample_rate=cc.sample_rate, channels=cc.channels, codec=cc.name,
                     duration=duration if duration is not None else (total or 0.0))


def _read(path: Path | str, what, *args):
    """`what(container, *args)` on the opened file; unreadable files raise MediaError."""
    path = Path(path)
    try:
        with open_media(path) as container:
            return what(container, *args)
    except (av.FFmpegError, OSError, ValueError) as e:
        raise MediaError(f"cannot read media file {path}: {e}") from e


def probe(path: Path | str, *, keyframes: bool = False) -> MediaInfo:
    """Streams and durations of a media file. `keyframes=True` also demuxes the video packets
    (no decoding) to list keyframe times and count frames exactly."""
    return _read(path, _probe, keyframes)


def _first(streams):
    return streams[0] if streams else None


def _probe(container, keyframes: bool) -> MediaInfo:
    vs, as_ = _first(container.streams.video), _first(container.streams.audio)
    if vs is None and as_ is None:
        raise MediaError(f"no audio or video stream in {container.name}")
    total = container.duration / av.time_base if container.duration else None
    video, keys = _probe_video(container, vs, total, keyframes) if vs is not None else (None, None)
    audio = _audio_info(as_, total) if as_ is not None else None
    if total is None:
        total = max(s.duration for s in (video, audio) if s is not None)
    return MediaInfo(duration=total, video=video, audio=audio, keyframes=keys)


def _probe_video(container, vs, total: float | None, keyframes: bool
                 ) -> tuple[VideoInfo, tuple[float, ...] | None]:
    """The video stream's facts, and its keyframe times when asked for. Packets are demuxed only
    then, or when the container's index does not count the frames."""
    packets = _demux(container, vs) if keyframes or not vs.frames else _Packets()
    keys = tuple(float(p * vs.time_base) for p, _ in packets.keys) if keyframes else None
    return _video_info(vs, packets.count, total), keys


def scan_file(path: Path | str, *, fps: int) -> tuple[VideoScan, AudioInfo | None]:
    """The video packet timing and stream facts of a clip, in one open (the stitcher's probe).
    `fps`: the frame length assumed for a file of one frame that does not say. Raises MediaError
    for a file without a readable video stream or frames."""
    return _read(path, _scan, Path(path), fps)


def _scan(container, path: Path, fps: int) -> tuple[VideoScan, AudioInfo | None]:
    vs, as_ = _first(container.streams.video), _first(container.streams.audio)
    if vs is None:
        raise MediaError("no video stream")
    total = container.duration / av.time_base if container.duration else None
    audio = _audio_info(as_, total) if as_ is not None else None
    packets = _demux(container, vs)
    if not packets.pts:
        raise MediaError(f"{path} has no video frames")
    file_start = None if container.start_time is None else container.start_time / av.time_base
    # read while open: a closed container's streams return garbage
    return _video_scan(vs, packets, file_start, fps), audio


def _video_scan(vs, packets: _Packets, file_start: float | None, fps: int) -> VideoScan:
    tb, pts = vs.time_base, packets.pts
    steps = [b - a for a, b in pairwise(pts)] or [packets.last_duration or round(1 / (fps * tb))]
    index = {p: i for i, p in enumerate(pts)}
    end = pts[-1] + (packets.last_duration or steps[-1])
    sar = vs.sample_aspect_ratio or vs.codec_context.sample_aspect_ratio
    cc = vs.codec_context
    return VideoScan(
        frames=len(pts), start=float(pts[0] * tb), end=float(end * tb),
        cfr=max(steps) - min(steps) <= 1,  # 1 tick: ms time bases round 1/24 s
        step=float(sum(steps) / len(steps) * tb),
        keyframes=tuple(index[p] for p, _ in packets.keys),
        key_pts=tuple(float(p * tb) for p, _ in packets.keys),
        key_dts=tuple(float(d * tb) for _, d in packets.keys),
        sar=Fraction(sar) if sar else None, profile=cc.profile, index=vs.index, time_base=Fraction(tb),
        file_start=float(pts[0] * tb) if file_start is None else file_start,
        codec=cc.name, width=cc.width, height=cc.height, pix_fmt=_pix_fmt(cc),
    )
