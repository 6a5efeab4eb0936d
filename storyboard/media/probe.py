"""Small media utilities shared by the render engine, the stitcher and the animatic renderer:
probing a file's streams (PyAV) and grabbing its first or last frame (ffmpeg)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Literal, Sequence

import av

from ..atomic import temp_sibling  # noqa: F401 - media.temp_sibling is part of this module's API
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

def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def probe(path: Path | str, *, keyframes: bool = False) -> MediaInfo:
    """Streams and durations of a media file. `keyframes=True` also demuxes the video packets
    (no decoding) to list keyframe times and count frames exactly."""
    path = Path(path)
    try:
        with av.open(str(path)) as container:
            return _probe(container, keyframes)
    except (av.FFmpegError, OSError, ValueError) as e:
        raise MediaError(f"cannot read media file {path}: {e}") from e


def _probe(container, keyframes: bool) -> MediaInfo:
    vs = container.streams.video[0] if container.streams.video else None
    as_ = container.streams.audio[0] if container.streams.audio else None
    if vs is None and as_ is None:
        raise MediaError(f"no audio or video stream in {container.name}")
    total = container.duration / av.time_base if container.duration else None

    keys: list[float] | None = None
    counted = 0
    if vs is not None and (keyframes or not vs.frames):
        keys = []
        for packet in container.demux(vs):
            if packet.size == 0:  # the flush packet
                continue
            counted += 1
            if packet.is_keyframe and packet.pts is not None:
                keys.append(float(packet.pts * vs.time_base))
        keys.sort()

    video = None
    if vs is not None:
        rate = vs.average_rate or vs.base_rate
        frames = vs.frames or counted
        duration = _seconds(vs.duration, vs.time_base)
        if duration is None:
            duration = frames / float(rate) if rate and frames else (total or 0.0)
        video = VideoInfo(
            width=vs.codec_context.width, height=vs.codec_context.height,
            fps=float(rate) if rate else 0.0, frames=frames,
            codec=vs.codec_context.name, pix_fmt=vs.codec_context.format.name if vs.codec_context.format else None,
            duration=duration,
        )
    audio = None
    if as_ is not None:
        duration = _seconds(as_.duration, as_.time_base)
        audio = AudioInfo(
            sample_rate=as_.codec_context.sample_rate, channels=as_.codec_context.channels,
            codec=as_.codec_context.name, duration=duration if duration is not None else (total or 0.0),
        )
    if total is None:
        total = max(video.duration if video else 0.0, audio.duration if audio else 0.0)
    return MediaInfo(duration=total, video=video, audio=audio,
                     keyframes=tuple(keys) if keyframes and keys is not None else None)


# ---- frames ----------------------------------------------------------------------------------

def extract_frame(video: Path | str, which: Literal["first", "last"], out: Path | str) -> Path:
    """Write the video's first or exact last frame to `out` as a PNG (atomically) and return it."""
    video, out = Path(video), Path(out)
    if which not in ("first", "last"):
        raise ValueError(f"which must be 'first' or 'last', not {which!r}")
    if not video.is_file():
        raise MediaError(f"cannot extract the {which} frame: no such file {video}")
    tmp = temp_sibling(out, ".png")
    if which == "first":
        args = ["-i", str(video), "-map", "0:v:0", "-frames:v", "1"]
    else:
        # Seek to shortly before the end (the decoder starts at the keyframe before that point),
        # then keep overwriting one image: what remains is the final decoded frame. 3 s covers
        # any sane GOP; -sseof clamps to the start for shorter files.
        args = ["-sseof", "-3", "-i", str(video), "-map", "0:v:0", "-fps_mode", "passthrough", "-update", "1"]
    args += ["-an", "-f", "image2", "-c:v", "png", str(tmp)]
    try:
        run_ffmpeg(args, what=f"extracting the {which} frame of {video}")
        if not tmp.is_file() or tmp.stat().st_size == 0:
            raise MediaError(f"extracting the {which} frame of {video}: ffmpeg wrote no image (no video frames?)")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
