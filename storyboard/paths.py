"""The one rule for a file a story names (image, frames, motion, music, voice, include, template),
used by load, check, compile and render alike, so they can never disagree about which file it is.

A path is relative to the folder of the file that names it and is resolved as the system opens
it: symlinks followed and `..` taken from the real folder (never by editing the text, which
names another file when a folder on the way is a link). The story may use the file only if that
real file lies in the story's real folder tree. Plans name it by that real relative path, so the
file the checker approved is the file the cache hashes and the render engine sends.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

URL_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class StoryPath:
    written: str
    path: Path | None = None  # the real file (links followed); None when the path is refused
    rel: str = ""  # `path` relative to the story's real folder, '/'-separated: what a plan names
    refusal: str | None = None  # "absolute" | "outside" | "link-outside" | "nul" | "unusable"
    reason: str = ""  # why, as words that follow the path in a message

    @property
    def ok(self) -> bool:
        return self.refusal is None

    @property
    def outside(self) -> bool:
        """Refused for where it leads (not for being unreadable as a name)."""
        return self.refusal in ("absolute", "outside", "link-outside")

    def reason_in(self, base: Path) -> str:
        """The reason, naming the story's folder, for a message about a plan (render engine)."""
        return f"points outside the story's folder {base}" if self.outside else self.reason


def resolve(base_dir: Path | str, written: str, rel_dir: str = "") -> StoryPath:
    """`written`, relative to the subfolder `rel_dir` ("" = itself) of the story's folder `base_dir`:
    the real file and its real path relative to the story's folder, or why the story may not use it."""
    if "\0" in written:  # checked first: every system call below would refuse it with a vaguer word
        return StoryPath(written, refusal="nul", reason="contains a NUL character, which no file name can hold")
    if Path(written).is_absolute() or written.startswith("~"):
        return StoryPath(written, refusal="absolute", reason="is an absolute path")
    try:
        base = Path(base_dir).resolve()
        target = base / rel_dir / written
        real = target.resolve()
    except (OSError, RuntimeError) as exc:  # a name too long; RuntimeError: a loop of links (Python 3.11)
        return StoryPath(written, refusal="unusable", reason=f"cannot be opened: {_os_words(exc)}")
    if not real.is_relative_to(base):
        if Path(os.path.normpath(target)).is_relative_to(base):  # the text stays inside; a link leads out
            return StoryPath(written, refusal="link-outside", reason="is a link to a file outside the story's folder")
        return StoryPath(written, refusal="outside", reason="is outside the story's folder")
    return StoryPath(written, path=real, rel=real.relative_to(base).as_posix())


def shown(written: str, limit: int = 60) -> str:
    """A path as messages quote it: shortened, a NUL made visible."""
    text = written.replace("\0", "\\0")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _os_words(exc: BaseException) -> str:
    if isinstance(exc, RuntimeError):
        return "its links lead round in a loop"
    return getattr(exc, "strerror", None) or str(exc)


def is_url(value: str) -> bool:
    """Whether a story's value names a URL rather than a file (any scheme: check refuses the others)."""
    return "://" in value


def url_problem(value: str) -> tuple[str, str] | None:
    """Why a URL cannot be sent to a provider, or None. ("scheme", why): not http(s);
    ("host", why): no host, or a port that is not one."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as exc:
        return "host", f"it is not a valid URL ({exc})"
    if parts.scheme.lower() not in URL_SCHEMES:
        return "scheme", f"only http(s) URLs can be sent, not `{shown(value.split('://', 1)[0])}://`"
    if not parts.hostname:
        return "host", "it has no host name"
    return None
