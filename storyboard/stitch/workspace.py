"""Where the stitcher works: a cache of per-clip intermediates, a folder per run, and the
sweep that removes what a killed stitch left behind; the ffmpeg runner."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from collections.abc import Callable

from ..atomic import temp_sibling
from ..media.probe import run_ffmpeg
from ..disk import disk_cause
from .filmkey import STITCH_VERSION
from .base import StitchError

# what ffmpeg's concat demuxer accepts in safe mode: a relative name in the portable character set
SAFE_LIST_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*")


class Workspace:
    """Cache of per-clip intermediates (remuxes, conformed clips) plus a per-run temp folder."""

    def __init__(self, workdir: Path):
        self.cache = workdir / "stitch-cache"
        self.cache.mkdir(parents=True, exist_ok=True)
        sweep(self.cache)
        sweep(workdir)
        self.run = Path(tempfile.mkdtemp(prefix=f"stitch-run-{os.getpid()}-", dir=workdir))
        self.started = time.time()
        self.used: set[Path] = set()
        self.links: dict[Path, str] = {}

    def cached(self, src: Path, op: dict, suffix: str) -> Path:
        st = src.stat()
        ident = {"src": str(src.resolve()), "size": st.st_size, "mtime": st.st_mtime_ns,
                 "op": op, "v": STITCH_VERSION}
        digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]
        path = self.cache / f"{digest}{suffix}"
        self.used.add(path)
        with contextlib.suppress(OSError):  # not made yet
            os.utime(path)  # in use: another stitch's prune (see prune) leaves it alone
        return path

    def listed(self, path: Path) -> str:
        """`path` as a concat list names it: relative to the run folder (where the lists are
        written), in the characters ffmpeg's safe mode allows. A file made in the run folder goes
        by its own name; any other (a clip in the render cache, under a folder the writer named)
        gets a link with a name chosen here."""
        path = Path(path)
        if path.parent == self.run and SAFE_LIST_NAME.fullmatch(path.name):
            return path.name
        if path not in self.links:
            link = self.run / f"input{len(self.links):04d}.mp4"
            try:
                os.symlink(path.resolve(), link)
            except OSError as exc:
                if disk_cause(exc):
                    raise
                os.link(path, link)  # a file system without symlinks (the run folder is beside the cache)
            self.links[path] = link.name
        return self.links[path]

    def write_list(self, name: str, lines: list[str]) -> Path:
        """Write a concat list into the run folder, where the names it lists (`listed`) resolve."""
        listing = self.run / name
        try:
            listing.write_text("\n".join(lines) + "\n")
        except OSError as exc:
            exc.filename = exc.filename or str(listing)  # a failed write() does not say which file
            raise
        return listing

    def prune(self) -> list[Path]:
        """After a film is written: drop the intermediates it did not use (clips edited, re-rendered
        or taken out of the timeline), so the cache holds one film's worth, not every version's.
        Entries touched since this stitch started belong to another one running: kept."""
        gone = []
        for path in self.cache.iterdir():
            try:
                if path in self.used or not path.is_file() or ".tmp" in path.name \
                        or path.stat().st_mtime >= self.started:
                    continue
                path.unlink()
                gone.append(path)
            except OSError:
                pass  # gone already, or not ours to delete: the next prune tries again
        return gone

    def cleanup(self) -> None:
        shutil.rmtree(self.run, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


def temp_owner(path: Path) -> int | None:
    """The pid in a name this module gives temp files and run folders, else None:
    `.<stem>.<pid>.<hex>.tmp<suffix>` (atomic.temp_sibling) or `stitch-run-<pid>-<random>`."""
    name = path.name
    if name.startswith("stitch-run-"):
        pid = name[len("stitch-run-"):].split("-")[0]
    else:
        parts = name.split(".")
        if not (name.startswith(".") and len(parts) >= 5 and parts[-2] == "tmp"):
            return None
        pid = parts[-4]
    return int(pid) if pid.isdigit() else None


def sweep(folder: Path, only: str = "*") -> None:
    """Remove temp files and run folders left by stitches that were killed (their pid is gone):
    a stitch leaves no partial film behind, even across a crash."""
    for path in folder.glob(only):
        pid = temp_owner(path)
        if pid is None or pid_alive(pid):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def ffmpeg(args: list[str], what: str) -> None:
    run_ffmpeg(args, what=what, error=StitchError, timeout=3600)


def make_atomic(target: Path, build: Callable[[Path], None]) -> Path:
    """Build `target` through a temp sibling unless it already exists (cache hit)."""
    if target.exists():
        return target
    tmp = temp_sibling(target)
    try:
        build(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
