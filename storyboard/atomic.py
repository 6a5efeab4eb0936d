"""Atomic file writes: a temp file in the same folder, fsync, rename, fsync the folder.
A crash leaves the old file or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from pathlib import Path


def temp_sibling(path: Path, suffix: str | None = None) -> Path:
    """A unique temp name next to `path`, so the final os.replace is atomic (same filesystem).
    The pid in the name lets a later run tell a crash's leftover from a live writer's file."""
    return path.with_name(
        f".{path.stem}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{suffix or path.suffix}")


def fsync_dir(folder: Path) -> None:
    """Make a rename durable (best effort: some filesystems cannot open folders)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_bytes(path: str | Path, data: bytes, *, mode: int | None = None,
                tmp: Path | None = None) -> None:
    """`tmp`: the temp file's name when a sweep must recognise it (temp_sibling), else mkstemp's."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if tmp is None:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    else:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def write_text(path: str | Path, text: str, *, mode: int | None = None,
               tmp: Path | None = None) -> None:
    write_bytes(path, text.encode("utf-8"), mode=mode, tmp=tmp)
