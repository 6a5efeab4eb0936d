"""What a clip file is (media.probe's packet scan, the stitcher's one probe) and what the
stitcher makes of it: the film's size, and why a clip cannot be stream-copied."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from ..media.probe import AudioInfo, MediaError, VideoScan, scan_file
from .base import FPS, StitchError


@dataclass(frozen=True)
class Source:
    """A clip file as probed."""

    name: str
    path: Path
    scan: VideoScan
    audio: AudioInfo | None

    @property
    def size(self) -> tuple[int, int]:
        return self.scan.width, self.scan.height


def scan_video(path: Path) -> VideoScan:
    """The packet timing of a file the stitcher made or copies (StitchError when unreadable)."""
    try:
        return scan_file(path, fps=FPS)[0]
    except MediaError as e:
        raise StitchError(str(e)) from e


def probe_clip(name: str, path: Path) -> Source:
    if not path.is_file():
        raise StitchError(f"clip {name!r}: file not found: {path}")
    try:
        scan, audio = scan_file(path, fps=FPS)
    except MediaError as e:
        raise StitchError(f"clip {name!r}: {path} is not a readable video ({e.__cause__ or e})") from e
    return Source(name, path, scan, audio)


def source_to_json(src: Source) -> dict:
    """A probe as the stitch cache's probe memo keeps it (JSON: fractions as text)."""
    scan = asdict(src.scan)
    for name in ("sar", "time_base"):
        scan[name] = None if scan[name] is None else str(scan[name])
    return {"scan": scan, "audio": None if src.audio is None else asdict(src.audio)}


def source_from_json(name: str, path: Path, data: dict) -> Source | None:
    """The memo's probe of `path`, or None when it is not one this code wrote."""
    try:
        scan = dict(data["scan"])
        for field in ("sar", "time_base"):
            scan[field] = None if scan[field] is None else Fraction(scan[field])
        for field in ("keyframes", "key_pts", "key_dts"):
            scan[field] = tuple(scan[field])
        audio = data["audio"]
        return Source(name, path, VideoScan(**scan), None if audio is None else AudioInfo(**audio))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None


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
