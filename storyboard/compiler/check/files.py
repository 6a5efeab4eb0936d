"""Files a story names: URLs well formed, local files inside the story's folder, present, and
of a type the role takes (read from their first bytes, not their extension); a missing file's
near-named neighbour as `did you mean`."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ... import paths
from ...diagnostics import Span
from ...messages import report
from .context import Context
from .near import NearNames

TYPE_NAMES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP", "mp4": "MP4", "mov": "MOV", "mp3": "MP3", "wav": "WAV",
              "gif": "GIF", "bmp": "BMP", "pdf": "PDF", "text": "text"}
IMAGE_TYPES = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP"}
VIDEO_TYPES = {"mp4": "MP4", "mov": "MOV"}
AUDIO_TYPES = {"mp3": "MP3", "wav": "WAV"}
EXTENSIONS = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp", ".mp4": "mp4", ".mov": "mov",
              ".mp3": "mp3", ".wav": "wav"}
KIND_TYPES = {"image": IMAGE_TYPES, "video": VIDEO_TYPES, "audio": AUDIO_TYPES}
ALLOWED_SHOWN = {"image": "PNG, JPEG or WebP", "video": "MP4 or MOV", "audio": "MP3 or WAV"}


def check_media(ctx: Context, value: str, rel_dir: str, span: Span | None, kind: str,
                role: str | None = None) -> None:
    """A media reference (`kind`: image, video or audio): a URL or a local file the provider takes."""
    if paths.is_url(value):
        problem = paths.url_problem(value)
        if problem:
            which, why = problem
            ctx.report("SB304" if which == "scheme" else "SB306", span, why=why, url=paths.shown(value, 80),
                       scheme=paths.shown(value.split("://", 1)[0]))
        return
    if kind not in ctx.limits.local_media:
        hint = {"hint": "host"} if ctx.provider.hosts_files else {}  # a bucket would carry it: say how
        ctx.report("SB305", span, provider=ctx.provider.name, kind=kind, path=value, **hint)
    check_local_file(ctx, value, rel_dir, span, kinds=kind, role=role)


def check_local_file(ctx: Context, value: str, rel_dir: str, span: Span | None, kinds: str | None,
                     role: str | None = None) -> None:
    """Report the file's problems at `span` (worked out once per file: big films reuse frames)."""
    key = (value, rel_dir, kinds, role)
    if key not in ctx.checked_files:
        ctx.checked_files[key] = tuple(_file_problems(ctx, value, rel_dir, kinds, role))
    ctx.diags.extend(replace(d, span=span) for d in ctx.checked_files[key])


def _file_problems(ctx: Context, value: str, rel_dir: str, kinds: str | None, role: str | None):
    """The file's diagnostics, without a place: each use of the file puts them at its own."""
    found = ctx.film.story_file(value, rel_dir)
    if not found.ok:
        if found.outside:
            yield report("SB303", None, hint=found.refusal, path=paths.shown(value), reason=found.reason)
        else:
            yield report("SB301", None, "refused", path=paths.shown(value), reason=found.reason)
        return
    resolved = found.path
    target = ctx.film.base_dir / rel_dir / value  # as written: near names are looked for beside it
    try:
        exists, is_file = resolved.exists(), resolved.is_file()
    except OSError as exc:  # e.g. a name longer than the filesystem allows
        yield report("SB301", None, "unopenable", path=paths.shown(value), why=exc.strerror or exc)
        return
    if not exists:
        near = near_file(ctx, target)
        if near:
            near = str(Path(value).parent / near) if Path(value).parent != Path(".") else near
        yield report("SB301", None, "not_found", path=value, hint="near" if near else None, near=near)
        return
    if not is_file:
        yield report("SB301", None, "not_a_file", path=value)
        return
    if kinds is not None:
        yield from _type_problems(value, resolved, kinds, role)


def _type_problems(value: str, resolved: Path, kinds: str, role: str | None):
    """A present file whose real type the role does not take, or whose extension says another."""
    allowed = KIND_TYPES[kinds]
    ext_type = EXTENSIONS.get(resolved.suffix.lower())
    real = sniff(resolved)
    if real is None or real not in allowed:
        yield report("SB302", None, "typed" if real else "unknown", path=value,
                     what=real and _a(TYPE_NAMES.get(real, real)), role=role or kinds + " references",
                     allowed=ALLOWED_SHOWN[kinds])
    elif ext_type and ext_type != real and not {ext_type, real} <= {"mp4", "mov"}:
        yield report("SB906", None, path=value, what=_a(TYPE_NAMES[real]), extension=real.replace("jpeg", "jpg"))


def near_file(ctx: Context, target: Path) -> str | None:
    """A file in the target's folder named like it (the folder is listed once)."""
    folder = target.parent
    if folder not in ctx.near_in_folder:
        try:
            ctx.near_in_folder[folder] = NearNames(p.name for p in folder.iterdir())
        except OSError:
            ctx.near_in_folder[folder] = None
    near = ctx.near_in_folder[folder]
    return near.closest(target.name) if near else None


def _a(type_name: str) -> str:
    """`a PNG`, `an MP4` (the article goes by how the letters are said)."""
    return ("an " if type_name[:1] in "AEFHILMNORSX" and type_name.isupper() else "a ") + type_name


_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"RIFF", 0, None),  # webp or wav, decided below
    (b"ID3", 0, "mp3"),
    (b"ftyp", 4, None),  # mp4 or mov
    (b"GIF8", 0, "gif"),
    (b"BM", 0, "bmp"),
    (b"%PDF", 0, "pdf"),
)


def sniff(path: Path) -> str | None:
    """The real type from the first bytes (a renamed file must not reach the API)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(64)
    except OSError:
        return None
    if head[:4] == b"RIFF":
        return {b"WEBP": "webp", b"WAVE": "wav"}.get(head[8:12])
    if head[4:8] == b"ftyp":
        return "mov" if head[8:10] == b"qt" else "mp4"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[:3] != b"\xff\xd8\xff":
        return "mp3"
    for magic, offset, kind in _MAGIC:
        if head[offset:offset + len(magic)] == magic and kind:
            return kind
    if head and b"\0" not in head:
        try:
            head.decode("utf-8")
            return "text"
        except UnicodeDecodeError as exc:
            if exc.start >= len(head) - 3:  # a character cut off by the 64-byte window
                return "text"
    return None
