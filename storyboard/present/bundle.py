"""`preview --bundle DIR`: the storyboard page as a folder to zip and send, that opens anywhere.

    bundle = write_bundle(plan, clips, Path("share/kitten"), statuses=..., film=...)

The folder holds the page and everything it shows, linked by relative paths: every rendered clip
(`clips/`), the film, the contact sheet, the subtitles, reference thumbnails and poster frames.
Nothing points back into the story's folder or the render cache, so it works from a copy, a zip
or a plain web server.

Safety: a bundle never writes into a folder that holds anything else (a non-empty folder must be
a previous bundle, known by its marker file). The bundle is built in a hidden sibling folder and
renamed into place once complete; its marker is written last, so a folder without one (an
interrupted build) is never taken for a bundle, and the previous bundle stays whole until the
new one replaces it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import fsync_dir, write_text
from ..plan import RenderPlan
from .page import Outputs, file_slug, film_path, write_all

MARKER = ".storyboard-bundle"  # JSON: what wrote the folder, and its files
MARKER_KIND = "storyboard-bundle"
CLIPS_DIR = "clips"


class BundleError(Exception):
    """The folder cannot take a bundle (it holds other files, or is a file); nothing was written."""


@dataclass(frozen=True)
class Bundle:
    folder: Path
    outputs: Outputs  # the page, contact sheet and subtitles, inside `folder`
    files: int
    bytes: int


def is_bundle(folder: Path) -> bool:
    """Whether `folder` is a complete bundle: its marker, written last, is there and is ours."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("kind") == MARKER_KIND


def bundle_refusal(folder: Path | str) -> str | None:
    """Why a bundle cannot be written to `folder`, in one line; None when it can (the folder is
    missing, empty, or a previous bundle, which the new one replaces)."""
    folder = Path(folder)
    if not folder.exists():
        return None
    if not folder.is_dir():
        return f"{folder} is a file, not a folder: choose a new folder for the bundle"
    try:
        empty = next(folder.iterdir(), None) is None
    except OSError as exc:
        return f"{folder} cannot be read ({exc.strerror or exc}): choose another folder for the bundle"
    if empty or is_bundle(folder):
        return None
    return (f"{folder} is not empty and is not a storyboard bundle: nothing was written there; "
            "choose a new or empty folder (or a previous bundle, which is replaced)")


def write_bundle(plan: RenderPlan, clips: Mapping[str, Path], folder: Path | str, *,
                 statuses: Mapping[str, Any] | None = None, film: Path | None = None,
                 takes_plan: RenderPlan | None = None) -> Bundle:
    """Write the bundle to `folder` (see the module's docstring); raises BundleError when the
    folder may not take it, OSError when the disk refuses (the folder is then as it was)."""
    folder = Path(folder).resolve()  # a link to a previous bundle: replace the real folder
    refusal = bundle_refusal(folder)
    if refusal:
        raise BundleError(refusal)
    folder.parent.mkdir(parents=True, exist_ok=True)
    _sweep_leftovers(folder)
    staging = _sibling(folder, "partial")
    staging.mkdir()
    try:
        outputs = _fill(plan, clips, staging, statuses, film, takes_plan)
        files, size = _inventory(staging)
        _write_marker(plan, staging, files)
        _swap_in(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    def inside(path: Path | None) -> Path | None:
        return folder / path.relative_to(staging) if path is not None else None

    moved = Outputs(inside(outputs.page), inside(outputs.contact_sheet), inside(outputs.subtitles))
    return Bundle(folder, moved, len(files) + 1, size)


def _fill(plan: RenderPlan, clips: Mapping[str, Path], staging: Path, statuses: Mapping[str, Any] | None,
          film: Path | None, takes_plan: RenderPlan | None = None) -> Outputs:
    """Copies of the clips (every take the page shows) and the film, then the page and its
    pictures, all inside `staging`."""
    copies: dict[str, Path] = {}
    names = [c.name for c in plan.clips]
    names += [c.name for c in takes_plan.clips if c.name not in set(names)] if takes_plan is not None else []
    for index, name in enumerate(names, 1):
        src = clips.get(name)
        if src is not None and Path(src).is_file():
            copies[name] = _copy(Path(src), staging / CLIPS_DIR / f"{index:02d}-{file_slug(name)}{Path(src).suffix}")
    film_copy = None
    if film is not None and Path(film).is_file():
        film_copy = _copy(Path(film), film_path(plan, staging))
    return write_all(plan, copies, staging, statuses=statuses, film=film_copy, takes_plan=takes_plan)


def _copy(src: Path, dest: Path) -> Path:
    """A real copy (not a link into the render cache, which a recipient does not have); its
    modification time is kept, so the page still tells a film older than its clips."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
    os.chmod(dest, 0o644)
    return dest


def _inventory(folder: Path) -> tuple[list[str], int]:
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    return files, sum((folder / f).stat().st_size for f in files)


def _write_marker(plan: RenderPlan, folder: Path, files: list[str]) -> None:
    data = {"kind": MARKER_KIND, "version": 1, "title": plan.title,
            "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "files": files}
    write_text(folder / MARKER, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    os.chmod(folder / MARKER, 0o644)


def _sibling(folder: Path, what: str) -> Path:
    """A hidden sibling of `folder` (same file system, so renames are atomic) with our pid."""
    return folder.with_name(f".{folder.name}.{what}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


def _swap_in(staging: Path, folder: Path) -> None:
    """Put the complete bundle at `folder`: one rename when the folder is missing or empty; a
    previous bundle is first renamed aside (then deleted), so `folder` is at every moment the
    old bundle, the new one, or absent, never a mixture."""
    if folder.is_dir() and not is_bundle(folder):
        with contextlib.suppress(OSError):
            folder.rmdir()  # empty (bundle_refusal said so): the rename below takes its place
    old = None
    if folder.exists():
        old = _sibling(folder, "old")
        os.rename(folder, old)
    try:
        os.rename(staging, folder)
    except BaseException:
        if old is not None:
            os.rename(old, folder)
        raise
    fsync_dir(folder.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _sweep_leftovers(folder: Path) -> None:
    """Clear what an interrupted bundle of this folder left beside it, only names this module
    makes and only of processes no longer running: a `partial` build is deleted; a previous
    bundle renamed aside goes back in place if nothing took it, else it is deleted."""
    from ..stitch.workspace import pid_alive

    for what in ("old", "partial"):
        for path in sorted(folder.parent.glob(f".{glob.escape(folder.name)}.{what}-*-*")):
            pid = path.name.rsplit("-", 2)[-2]
            if not (path.is_dir() and pid.isdigit() and not pid_alive(int(pid))):
                continue
            if what == "old" and not folder.exists() and is_bundle(path):
                os.rename(path, folder)
            else:
                shutil.rmtree(path, ignore_errors=True)
