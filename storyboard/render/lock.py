"""One render per story at a time (POSIX advisory lock on the state folder)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .results import RenderLocked


class StoryLock:
    """One render per story state folder at a time. An OS lock (flock), so a killed render
    never leaves a stale lock behind."""

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / "render.lock"
        self._fd: int | None = None

    def __enter__(self) -> StoryLock:
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        ignore = self.path.parent / ".gitignore"
        if not ignore.exists():  # job ids and signed video URLs do not belong in a repository
            with contextlib.suppress(OSError):
                ignore.write_text("# storyboard's render state (cache, job journal): not for version control\n*\n")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                pid = os.read(fd, 32).decode(errors="replace").strip() or "?"
            finally:
                os.close(fd)
            raise RenderLocked(f"another render of this story is running (pid {pid}; lock {self.path}); "
                               "wait for it to finish or stop it first") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        import fcntl

        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
