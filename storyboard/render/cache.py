"""The content-addressed clip cache beside a story: `.storyboard/cache/<namespace>/<key>.mp4`.

A clip's key is the compiler's content address of its request (dependency keys folded in), so a
cached file is reused exactly when the same request would be sent again. Each clip has a small
JSON record beside it (who made it, job id, cost, the provider's URL, a probe summary): enough to
re-download a paid clip whose file went bad instead of paying for it again.

Files are written by renaming a complete temp file into place, so a clip is either whole or
absent; a file that is present but wrong (truncated, wrong duration) is moved aside to
`corrupt/`, never deleted, and reported.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from .journal import atomic_write

DURATION_TOLERANCE = 0.5  # seconds; providers round clip lengths to frames


@dataclass(frozen=True)
class CacheRecord:
    name: str
    key: str
    provider: str
    job_id: str | None = None
    cost: float | None = None
    video_url: str | None = None
    created: float = field(default_factory=time.time)
    probe: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    size: int | None = None  # bytes of the clip file as stored: a truncated file is caught by a stat
    # The stored file's identity: while size, mtime and inode all match, the file is the one that
    # was probed and checked when stored, and `probe` says what it is without reading it again.
    mtime_ns: int | None = None
    inode: int | None = None

    def identifies(self, st: os.stat_result) -> bool:
        """`st` is the stat of the very file this record was written for (unchanged since)."""
        return (self.size is not None and self.mtime_ns is not None and self.inode is not None
                and (st.st_size, st.st_mtime_ns, st.st_ino) == (self.size, self.mtime_ns, self.inode)
                and bool(self.probe.get("duration")))

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    def with_identity(self, st: os.stat_result) -> CacheRecord:
        return replace(self, size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino)

    @classmethod
    def from_json(cls, text: str) -> CacheRecord:
        """Parse a record; ValueError/TypeError for anything that is not one."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"not a cache record (a JSON {type(data).__name__})")
        for name in ("name", "key", "provider"):
            if not isinstance(data.get(name), str):
                raise ValueError(f"not a cache record (no {name!r})")
        for name in ("job_id", "video_url", "source"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ValueError(f"{name!r} is not a string")
        if not isinstance(data.get("probe", {}), dict):
            raise ValueError("'probe' is not an object")
        cost = data.get("cost")
        if cost is not None and (isinstance(cost, bool) or not isinstance(cost, (int, float))):
            raise ValueError("'cost' is not a number")
        for name in ("size", "mtime_ns", "inode"):
            value = data.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ValueError(f"{name!r} is not an integer")
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Expectation:
    """What a clip's file must be to be accepted."""

    durations: tuple[float, ...]  # any of these (an extension may come back with its source)
    audio: bool

    def describe(self) -> str:
        return " or ".join(f"{d:g} s" for d in self.durations)


def probe_summary(info: Any) -> dict[str, Any]:
    """A JSON-able digest of a `media.MediaInfo` (duck-typed: duration, video, audio)."""
    out: dict[str, Any] = {"duration": round(float(getattr(info, "duration", 0.0) or 0.0), 3)}
    video = getattr(info, "video", None)
    out["video"] = video is not None
    for attr in ("width", "height", "fps", "codec"):
        value = getattr(video, attr, None)
        if isinstance(value, (int, float, str)):
            out[attr] = value
    out["audio"] = getattr(info, "audio", None) is not None
    return out


def check_media(summary: dict[str, Any], expect: Expectation,
                tolerance: float = DURATION_TOLERANCE) -> str | None:
    """Why a probed clip is not acceptable, or None when it is. Pure."""
    if not summary.get("video"):
        return "has no video stream"
    if expect.audio and not summary.get("audio"):
        return "has no audio stream"
    duration = float(summary.get("duration") or 0.0)
    if not any(abs(duration - d) <= tolerance for d in expect.durations):
        return f"lasts {duration:.2f} s, expected {expect.describe()}"
    return None


class Cache:
    def __init__(self, state_dir: Path, namespace: str):
        self.root = Path(state_dir) / "cache" / namespace
        self.namespace = namespace

    # ---- paths ----
    def clip_path(self, key: str) -> Path:
        return self.root / f"{key}.mp4"

    def record_path(self, key: str) -> Path:
        return self.root / f"{key}.json"

    def frame_path(self, key: str, which: str) -> Path:
        return self.root / "frames" / f"{key}-{which}.png"

    def temp_path(self, key: str) -> Path:
        tmp = self.root / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return tmp / f"{key}.{os.getpid()}.{time.monotonic_ns()}.part.mp4"

    # ---- records ----
    def read_record(self, key: str) -> CacheRecord | None:
        """The clip's record, or None when it is missing or unreadable (never trusted half-read;
        the clip file itself is checked on its own)."""
        try:
            record = CacheRecord.from_json(self.record_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):
            return None
        return record if record.key == key else None

    def has_file(self, key: str) -> bool:
        return self.clip_path(key).is_file()

    def verify(self, key: str, expect: Expectation,
               probe: Callable[[Path], Any]) -> tuple[dict[str, Any] | None, str | None]:
        """(probe summary, problem) of the cached file; problem None means it is usable.

        A file whose size, mtime and inode match its record is the file that was checked when it
        was stored: its recorded probe stands (no media library is loaded for it). Otherwise it is
        probed. A probe reads the container's header, which a faststart MP4 keeps at the front: a
        file cut short still probes as whole. So the file's size is also checked against its record."""
        path = self.clip_path(key)
        record = self.read_record(key)
        try:
            st = path.stat()
        except OSError as exc:
            return None, f"cannot be read ({exc.strerror or exc})"
        if record is not None and record.identifies(st):
            return dict(record.probe), check_media(record.probe, expect)
        try:
            summary = probe_summary(probe(path))
        except Exception as exc:  # media.MediaError and anything a broken file provokes
            return None, f"cannot be read ({exc})"
        if record is not None and record.size is not None and st.st_size != record.size:
            return None, f"is {st.st_size} bytes, not the {record.size} stored (truncated or overwritten)"
        return summary, check_media(summary, expect)

    def store(self, tmp: Path, record: CacheRecord) -> Path:
        """Move a checked temp file into place, then write its record."""
        dest = self.clip_path(record.key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "rb") as f:  # the bytes must be on disk before the name points at them
            os.fsync(f.fileno())
            record = record.with_identity(os.fstat(f.fileno()))  # a rename keeps inode and mtime
        os.replace(tmp, dest)
        self.write_record(record)  # its atomic write fsyncs the folder, covering both renames
        return dest

    def write_record(self, record: CacheRecord) -> None:
        atomic_write(self.record_path(record.key), record.to_json())

    def quarantine(self, key: str) -> Path | None:
        """Move a bad cached file (and its record) aside; returns where the file went."""
        src = self.clip_path(key)
        if not src.exists():
            return None
        aside = self.root / "corrupt"
        aside.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        dest = aside / f"{key}-{stamp}.mp4"
        n = 1
        while dest.exists():
            n += 1
            dest = aside / f"{key}-{stamp}-{n}.mp4"
        shutil.move(str(src), dest)
        rec = self.record_path(key)
        if rec.exists():
            shutil.move(str(rec), dest.with_suffix(".json"))
        return dest

    def discard_temp(self, tmp: Path) -> None:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
