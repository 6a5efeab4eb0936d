"""The stitch cache's content-keyed entries: the film's sound in AAC segments and its re-encoded
video windows, each stored under a key made of everything it was made from, so a re-stitch after
a small edit re-encodes only what the edit touched and copies the rest.

An entry is its file plus a sidecar `<file>.json` holding the file's size and SHA-256 and what
the stitcher needs to know about it (frame counts, decoding delay). Both are written to temp
names in the stitch's run folder and renamed into place, the file first: a stitch killed at any
point leaves either a whole entry, or a file without its sidecar (rebuilt next time), or temp
files the next stitch sweeps.
An entry whose file does not hash to its sidecar's digest (a disk error, a hand edit, a torn
write after a power loss) is rebuilt, never used. No fsync: a lost entry costs an encode, not
the film.

Keys name inputs by content (SHA-256 of the clip and score files, memoised per file identity
in `digests.json` so an unchanged clip is hashed once), never by path alone."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import av

from ..digest import file_sha256
from ..atomic import temp_sibling
from .filmkey import STITCH_VERSION
from .workspace import Workspace

# bump when an entry made from the same inputs would come out different (its format, the encode)
SEGMENT_VERSION = "1"
DIGESTS = "digests.json"
PROBES = "probes.json"


class SegmentCache:
    """Content-keyed entries in the workspace's cache folder, and counts of what was reused."""

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.counts: Counter[str] = Counter()
        self._memo_path = ws.cache / DIGESTS
        self._memo = self._read_memo()
        self._memo_used: dict[str, str] = {}
        self._probe_path = ws.cache / PROBES
        self._probes = read_json(self._probe_path)
        self._probes_used: dict[str, dict] = {}
        ws.used.update((self._memo_path, self._probe_path))

    # ---- content digests of inputs ----------------------------------------------------------

    def _read_memo(self) -> dict[str, str]:
        memo = read_json(self._memo_path)
        return {k: v for k, v in memo.items() if isinstance(v, str)}

    def probe(self, path: Path) -> dict | None:
        """The probe memo's record of the file (media facts of a clip: probing a hundred clips
        again is most of what a re-stitch would otherwise cost), by file identity."""
        found = self._probes.get(identity(path))
        return found if isinstance(found, dict) else None

    def remember_probe(self, path: Path, record: dict) -> None:
        self._probes_used[identity(path)] = record

    def digest(self, path: Path | None) -> str | None:
        """SHA-256 of a file's content, computed once per file identity (device, inode, size,
        modification time): a file replaced or rewritten is hashed again."""
        if path is None:
            return None
        ident = identity(path)
        found = self._memo_used.get(ident) or self._memo.get(ident)
        if found is None:
            found = file_sha256(path)
        self._memo_used[ident] = found
        return found

    def save_digests(self) -> None:
        """Keep the digests and probes of the files this film used (the memos never grow
        without bound)."""
        for path, old, used in ((self._memo_path, self._memo, self._memo_used),
                                (self._probe_path, self._probes, self._probes_used)):
            if used != old:
                write_memo(path, used)

    # ---- entries ----------------------------------------------------------------------------

    @staticmethod
    def key(kind: str, inputs: dict) -> str:
        """The entry's key: its kind and inputs, the stitcher's and this cache's versions, and the
        versions of the encoders (PyAV's libraries make the AAC and drive ffmpeg's x264)."""
        data = {"kind": kind, "inputs": inputs, "stitcher": STITCH_VERSION,
                "segments": SEGMENT_VERSION, "av": av.__version__}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:32]

    def path(self, kind: str, key: str, suffix: str) -> Path:
        path = self.ws.cache / f"{kind}-{key}{suffix}"
        self.ws.used.update((path, sidecar(path)))
        return path

    def lookup(self, path: Path) -> dict | None:
        """The entry's recorded facts when its file is whole (size and SHA-256 as recorded), else
        None; a damaged entry is removed so it is rebuilt."""
        try:
            record = json.loads(sidecar(path).read_text())
            st = path.stat()
        except (OSError, ValueError):
            return self._damaged(path) if path.exists() else None
        if not isinstance(record, dict) or record.get("size") != st.st_size \
                or record.get("sha256") != file_sha256(path) or not isinstance(record.get("info"), dict):
            return self._damaged(path)
        for p in (path, sidecar(path)):  # in use: another stitch's prune leaves it alone
            with contextlib.suppress(OSError):
                os.utime(p)
        return record["info"]

    def _damaged(self, path: Path) -> None:
        self.counts["damaged"] += 1
        for p in (path, sidecar(path)):
            p.unlink(missing_ok=True)
        return None

    def store(self, path: Path, build: Callable[[Path], dict]) -> dict:
        """Make the entry with `build(temp path)` (returns the facts to record) and put it in
        place atomically, file first, then its sidecar."""
        # made in the run folder: an ffmpeg orphaned by a killed stitch writes there, and the
        # folder goes with its sweep (the cache only ever receives whole files by rename)
        tmp = temp_sibling(self.ws.run / path.name)
        side = sidecar(path)
        side_tmp = temp_sibling(self.ws.run / side.name)
        try:
            info = build(tmp)
            record = {"size": tmp.stat().st_size, "sha256": file_sha256(tmp), "info": info}
            os.replace(tmp, path)
            side_tmp.write_text(json.dumps(record, sort_keys=True))
            os.replace(side_tmp, side)
        finally:
            tmp.unlink(missing_ok=True)
            side_tmp.unlink(missing_ok=True)
        return info


def identity(path: Path) -> str:
    st = os.stat(path)
    return f"{STITCH_VERSION}:{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_memo(path: Path, memo: dict) -> None:
    tmp = temp_sibling(path)
    try:
        tmp.write_text(json.dumps(memo, sort_keys=True))
        os.replace(tmp, path)
    except OSError:
        pass  # only a memo: the next stitch probes and hashes again
    finally:
        tmp.unlink(missing_ok=True)


def sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")
