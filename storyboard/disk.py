"""Local disk trouble (a full disk, a quota, a read-only folder), recognised wherever it
surfaces and told in one line that names the folder and what to do; and the one mapper from any
other OSError to a one-line message (`os_reason`, `read_failure`, `write_failure`,
`os_error_line`), so every
stage and command words the system's refusals the same way.

It surfaces three ways: an OSError from Python or PyAV (with its errno), an ffmpeg run that
failed (its exit status is AVERROR(errno) & 0xff, 228 for ENOSPC, and its stderr says the
errno's text), or either of those wrapped by a stage's own error (StitchError, AnimaticError,
ProviderError) raised `from` it. `media.run_ffmpeg` turns the second into the first; `disk_cause`
finds the first behind the third, so each command maps every path to the same line.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)


def disk_cause(exc: BaseException | None) -> OSError | None:
    """The local disk's refusal behind `exc` (itself, or what it was raised from), else None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in DISK_ERRNOS:
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def ffmpeg_disk_error(returncode: int, stderr: str, output: str | None) -> OSError | None:
    """The disk refusal an ffmpeg run that wrote `output` died of, else None."""
    for code in DISK_ERRNOS:
        if returncode == (-code) & 0xFF or os.strerror(code) in stderr:
            return OSError(code, os.strerror(code), output)
    return None


def disk_message(exc: OSError, folder: Path | str, what: str = "") -> str:
    """One line for a local write that failed: where (the folder of the file the error names, the
    destination of a link or rename, else `folder`), why, and what to do."""
    named = exc.filename2 or exc.filename
    where = Path(named).parent if isinstance(named, str) and named else folder
    return f"cannot write {what or 'in'} {where}: {exc.strerror or exc}; {remedy(exc)}"


def remedy(exc: OSError) -> str:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return "free some space there and run the same command again"
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "make the folder writable (or copy the story somewhere writable) and run the same command again"
    return "fix that folder and run the same command again"


def raise_disk_trouble(exc: BaseException) -> None:
    """Re-raise the disk's refusal behind `exc`, if that is what it is: where a failure is
    otherwise shrugged off (a thumbnail left out), a full disk is not, since everything after it
    fails too and the user has to free space."""
    disk = disk_cause(exc)
    if disk is not None:
        raise disk


def os_reason(exc: BaseException) -> str:
    """The system's words for why `exc` happened: an OSError's strerror (not its `[Errno n]`
    prefix), else the exception's own text, else its type's name."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def read_failure(exc: BaseException, path: Path | str) -> str:
    """One line for a file that could not be read: the path and the system's reason."""
    return f"{path}: cannot read: {getattr(exc, 'strerror', None) or exc}"


def write_failure(exc: BaseException, path: Path | str, what: str = "") -> str:
    """One line for a write of `path` (a file, or a folder written into) that failed: a full or
    read-only disk names the folder and what to do (`disk_message`); any other refusal names the
    path and the system's reason."""
    disk = disk_cause(exc)
    if disk is not None:
        folder = Path(path) if Path(path).is_dir() else Path(path).parent
        return disk_message(disk, folder, what)
    return f"cannot write {what + ' ' if what else ''}{path}: {os_reason(exc)}"


def os_error_line(exc: OSError) -> str:
    """An OSError nobody expected, as the one line a command ends with: the file it names and why
    (a full or read-only disk also says what to do)."""
    if exc.errno in DISK_ERRNOS and exc.filename:
        return disk_message(exc, "")
    where = f"{exc.filename}: " if exc.filename else ""
    return f"{where}{exc.strerror or exc}"


def local_disk_problem(exc: BaseException, folder: Path | str) -> str | None:
    """One line naming the folder when a full or read-only disk here is why `exc` happened (a
    provider that renders locally, a frame extraction), else None."""
    disk = disk_cause(exc)
    return disk_message(disk, folder) if disk is not None else None
