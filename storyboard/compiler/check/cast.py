"""A cast entry: known fields, each set once (`image` may repeat), values given, its media
usable, and at least one image."""

from __future__ import annotations

from ...language.model import CAST_FIELDS
from .context import Context
from .files import check_media
from .near import close

MEDIA_KINDS = {"image": "image", "video": "video", "voice": "audio"}  # field -> the kind of file it takes


def check_cast(ctx: Context, entry) -> None:
    m = entry.member
    counts: dict[str, int] = {}
    misspelt_image = False
    for f in m.fields:
        if f.key not in CAST_FIELDS:
            near = close(f.key, CAST_FIELDS)
            misspelt_image |= near == "image"
            ctx.report("SB201", f.span, kind=m.kind, key=f.key, hint="did_you_mean" if near else "fields", near=near)
            continue
        counts[f.key] = counts.get(f.key, 0) + 1
        if f.key != "image" and counts[f.key] > 1:
            ctx.report("SB203", f.span, name=m.name, key=f.key, kind=m.kind)
        if not f.value:
            ctx.report("SB105", f.span, key=f.key)
            continue
        kind = MEDIA_KINDS.get(f.key)
        if kind:
            check_media(ctx, f.value, entry.rel_dir, f.value_span, kind)
    if not m.images and not misspelt_image:  # a misspelt `image:` is the one problem to report
        ctx.report("SB202", m.name_span, kind=m.kind, name=m.name)
