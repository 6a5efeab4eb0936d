"""The local files a plan sends: what a provider must host (upload) before the first create."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .. import paths
from ..plan import RenderPlan, placeholders_in
from .placeholders import media_kind


def local_inputs(plan: RenderPlan, clips: Iterable[str] | None = None) -> list[tuple[str, Path]]:
    """(media kind, absolute path) of each story file the requests of `clips` (default: every
    clip) name, once each, in film order. Files that cannot be found are left to the render,
    which reports them at their clip."""
    wanted = None if clips is None else set(clips)
    base = Path(plan.base_dir).resolve()
    found: dict[Path, str] = {}
    for clip in plan.clips:
        if wanted is not None and clip.name not in wanted:
            continue
        for kind, _raw, (ph_kind, arg) in placeholders_in(clip.request):
            if ph_kind != "file":
                continue
            where = paths.resolve(base, arg)
            if where.ok and where.path.is_file():
                found.setdefault(where.path, media_kind(kind, where.path))
    return [(kind, path) for path, kind in found.items()]


def planned_uploads(plan: RenderPlan, provider: Any) -> list[tuple[Path, str]]:
    """(file, where it will be uploaded) for what carries the provider's local files (a bucket,
    or the vendor's own storage), if anything does: what `plan` shows before anything leaves
    the machine."""
    uploader = getattr(provider, "uploader", None)
    if uploader is None:
        return []
    holds = getattr(uploader, "holds", None)
    if holds is not None:  # the vendor's storage: a file it has already is not uploaded again
        from .decide import default_state_dir

        uploader.bind(default_state_dir(plan))
    return [(path, uploader.where(path)) for kind, path in local_inputs(plan)
            if provider.uploads(kind, path) and not (holds and holds(path))]
