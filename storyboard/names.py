"""File names made from the writer's words (the film's title): one rule, so that every file
system accepts them and `check` can refuse a title before any clip is rendered.

The film is written as `<name>.mp4` (and `<name>.mp4.key`, `<name>.srt`, the atomic writers'
`.<name>.mp4.<pid>.<random>.tmp.mp4` beside it), and most file systems allow 255 bytes per name:
the name keeps to NAME_BYTES of UTF-8 so every one of those fits, whatever the script.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

OUT_DIR_NAME = "build"  # the outputs' folder (film, page, subtitles) beside the story
NAME_BYTES = 120
FALLBACK = "film"
_HASH_CHARS = 8
# separators and what Windows refuses; control characters are found by category below
_REFUSED = re.compile(r'[/\\:*?"<>|]+')
# Windows refuses these as a name's stem whatever follows the first dot ("CON.mp4", "com1.srt")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
# control characters, line and paragraph separators, unpaired surrogates (not encodable)
_UNSAFE_CATEGORIES = ("Cc", "Cs", "Zl", "Zp")
# bidirectional overrides and isolates: they make a listed name read differently from what it is
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def title_file_stem(title: str) -> str | None:
    """The title as a file name stem, or None when nothing is left (only separators, dots,
    dashes, spaces or control characters). Refused characters become `-`, leading dots and dashes
    go (a hidden file, an ffmpeg option), a name Windows reserves gets `_`, and a name longer
    than NAME_BYTES is cut on a character boundary with a short hash of the whole title, so two
    long titles that start alike still name two films."""
    name = _REFUSED.sub("-", "".join("/" if _unsafe(ch) else ch for ch in title)).strip(" .-")
    if not name:
        return None
    stem, dot, rest = name.partition(".")
    if stem.rstrip(" ").upper() in _RESERVED:
        name = f"{stem}_{dot}{rest}"
    if len(name.encode("utf-8")) > NAME_BYTES:
        digest = hashlib.sha256(title.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]
        room = NAME_BYTES - len(digest) - 1
        head = name.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(" .-")
        name = f"{head}-{digest}"
    return name


def film_file_name(title: str) -> str:
    """The stem of the film's file and of everything named after it (`.srt`, `.mp4.key`)."""
    return title_file_stem(title) or FALLBACK


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES or ch in _BIDI_CONTROLS


def output_dir(story_dir: Path | str, chosen: Path | str | None = None) -> Path:
    """Where a story's outputs go: the folder the writer chose, else `build/` beside the story."""
    return Path(chosen) if chosen else Path(story_dir) / OUT_DIR_NAME


ANIMATIC_SUFFIX = ".animatic"  # the free preview provider's film
DRAFT_SUFFIX = ".draft"  # a `render --draft` film (every clip at the cheapest tier)


def film_stem(title: str, provider: str, tier: str = "final") -> str:
    """The stem of a film's file: the animatic, the draft and the final film never share one, so
    a free preview render after a paid one never replaces the paid film."""
    stem = film_file_name(title)
    if provider == "preview":
        stem += ANIMATIC_SUFFIX
    if tier == "draft":
        stem += DRAFT_SUFFIX
    return stem


def plan_film_stem(plan) -> str:
    """`film_stem` of a RenderPlan (its title, provider and tier)."""
    return film_stem(plan.title, plan.provider, getattr(plan, "tier", "final"))
