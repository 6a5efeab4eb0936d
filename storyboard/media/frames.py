"""Frames of a video as pictures: the one frame grabber (PyAV decodes in process; nothing is
spawned). The render engine hands a clip's exact first or last frame to the clip that continues
it (`extract_frame`, a PNG); the page shows a frame from inside a clip (`frame_image`).

The PNG is made by FFmpeg's own encoder, as the ffmpeg command line made it: the same bytes,
so a request that inlines a frame is the same request it always was."""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Literal

import av

from ..atomic import temp_sibling, write_bytes
from .probe import MediaError, open_media

Which = Literal["first", "last"]
LAST_GOP_SECONDS = 3.0  # the last frame is decoded from the keyframe before this much of the end


def frame_image(video: Path | str, at: float | Which):
    """A PIL image (RGB) of one frame: the first, the exact last, or the one at share `at` of the
    duration (the first frame when it cannot seek). Raises MediaError."""
    return _grab(Path(video), at)[0].to_image()


def _grab(video: Path, at: float | Which):
    """The decoded frame, and the stream's sample aspect ratio (None: not said)."""
    try:
        with open_media(video) as container:
            frame = _decode_frame(container, at)
            sar = _sample_aspect_ratio(container)
    except (av.FFmpegError, OSError, ValueError) as e:
        raise MediaError(f"ffmpeg cannot read {video}: {e}") from e
    if frame is None:
        raise MediaError(f"{video} has no video frames")
    return frame, sar


def _sample_aspect_ratio(container):
    if not container.streams.video:
        return None
    vs = container.streams.video[0]
    return vs.sample_aspect_ratio or vs.codec_context.sample_aspect_ratio


def _png(frame, sar) -> bytes:
    rgb = frame.reformat(format="rgb24")
    encoder = av.CodecContext.create("png", "w")
    encoder.width, encoder.height, encoder.pix_fmt = rgb.width, rgb.height, "rgb24"
    if sar:
        encoder.sample_aspect_ratio = sar  # written as the PNG's pHYs chunk
    return b"".join(bytes(packet) for packet in [*encoder.encode(rgb), *encoder.encode(None)])


def _duration(container, vs) -> float | None:
    if vs.duration is not None and vs.time_base is not None:
        return float(vs.duration * vs.time_base)
    return container.duration / av.time_base if container.duration else None


def _seek(container, vs, target: float) -> None:
    """To the keyframe at or before `target` seconds (the start when the file cannot seek)."""
    if target <= 0:
        return
    try:
        container.seek(int(target / vs.time_base), stream=vs, backward=True, any_frame=False)
    except (av.FFmpegError, OSError, ValueError):
        container.seek(0)


def _decode_frame(container, at: float | Which):
    if not container.streams.video:
        return None
    vs = container.streams.video[0]
    duration = _duration(container, vs) or 0.0
    if at == "first":
        return next(iter(container.decode(vs)), None)
    if at == "last":
        _seek(container, vs, duration - LAST_GOP_SECONDS)
        tail = deque(container.decode(vs), maxlen=1)  # decoded to the end: the final frame stays
        return tail[0] if tail else None
    target = duration * float(at)
    _seek(container, vs, target)
    first = None
    for frame in container.decode(vs):
        if first is None:
            first = frame
        if (frame.time if frame.time is not None else 0.0) + 1e-6 >= target:
            return frame
    return first


def extract_frame(video: Path | str, which: Which, out: Path | str) -> Path:
    """Write the video's first or exact last frame to `out` as a PNG (atomically) and return it."""
    video, out = Path(video), Path(out)
    if which not in ("first", "last"):
        raise ValueError(f"which must be 'first' or 'last', not {which!r}")
    what = f"extracting the {which} frame of {video}"
    if not video.is_file():
        raise MediaError(f"cannot extract the {which} frame: no such file {video}")
    try:
        png = _png(*_grab(video, which))
    except (MediaError, av.FFmpegError) as e:
        raise MediaError(f"{what}: {e}") from e
    try:
        write_bytes(out, png, tmp=temp_sibling(out, ".png"))
    except OSError as e:  # a full disk says so in one line (disk.py finds the OSError behind it)
        raise MediaError(f"{what}: cannot write {out}: {e.strerror or e}") from e
    return out
