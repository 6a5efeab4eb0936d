"""Is the film up to date? The film key (what the film is made of) and its sidecar
`<film>.key`, without the stitcher's media stack: a render with nothing changed answers this
before importing PyAV and numpy, which are most of what a no-op costs after the compile."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from collections.abc import Callable

from ..atomic import temp_sibling, write_text
from ..plan import RenderPlan

# Part of every film key and of the stitcher's cached intermediates: bump it when the stitcher
# makes a different film from the same inputs, so films made before are rebuilt once.
# 2: AAC 256 kbit/s left/right, decode order laid out afresh, exact edit lists.
# 3: dissolves and fades mixed in RGB (video.blends_colours), wipe edges at exactly k/n.
# 4: and the sound encoded in ~20-s segments on a fixed grid (cached by content).
STITCH_VERSION = "4"


def file_identity(path: Path) -> dict:
    st = path.stat()
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def film_key(plan: RenderPlan, clips: dict[str, Path], subtitles: Path | None, via: str | None = None) -> str:
    """Hash of the timeline, each clip's cache key and file, the burned-in subtitles and the
    stitcher's version; `via` names another writer of the film (e.g. "moviepy"), so a film made
    by one is never taken for the other's."""
    names = [e.clip for e in plan.timeline if e.clip is not None]
    data = {
        "stitcher": STITCH_VERSION,
        "timeline": [e.model_dump(mode="json", exclude_none=True) for e in plan.timeline],
        "clips": {n: {"key": plan.clip(n).key, **file_identity(Path(clips[n]))} for n in names},
        "subtitles": hashlib.sha256(subtitles.read_bytes()).hexdigest() if subtitles else None,
    }
    if plan.scores:  # (absent otherwise: films made before scores keep their keys)
        data["scores"] = [s.model_dump(mode="json") for s in plan.scores]
    if via is not None:
        data["via"] = via
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def key_path(out: Path) -> Path:
    return out.with_name(out.name + ".key")


def reusable(out: Path, key: str) -> dict | None:
    """The sidecar's record when `out` is the film of `key`, untouched since it was written."""
    try:
        record = json.loads(key_path(out).read_text())
        st = out.stat()
    except (OSError, ValueError):
        return None
    if isinstance(record, dict) and record.get("key") == key \
            and record.get("size") == st.st_size and record.get("mtime_ns") == st.st_mtime_ns:
        return record
    return None


def up_to_date(plan: RenderPlan, clips: dict[str, Path], out: Path, subtitles: Path | None,
               log: Callable[[str], None], via: str | None = None) -> dict | None:
    """The record of `out` when it was made from exactly these inputs (and says so), else None.
    A clip or subtitle file that is missing means "not up to date": the stitch says which."""
    try:
        key = film_key(plan, clips, subtitles, via)
    except (OSError, KeyError, ValueError):
        return None
    record = reusable(out, key)
    if record is not None:
        log(f"{out} is up to date")
    return record


def remember(out: Path, key: str, duration: float) -> None:
    """Write the film key beside the film (after the film itself: a crash in between rebuilds)."""
    st = out.stat()
    record = json.dumps({"key": key, "duration": duration, "size": st.st_size,
                         "mtime_ns": st.st_mtime_ns}) + "\n"
    target = key_path(out)
    # pid in the temp's name: the stitcher sweeps a crash's leftover next time
    write_text(target, record, tmp=temp_sibling(target))
