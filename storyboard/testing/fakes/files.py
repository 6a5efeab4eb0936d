"""A fake vendor's file storage: uploaded bytes kept in a temporary folder, by id, with their
content type, checksums and expiry, for the fakes whose vendors take uploads (fal storage,
Replicate files). The fakes serve the files back, check that an input URL names a file they
hold, and read a video's length to bill its input seconds."""

from __future__ import annotations

import hashlib
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .handler import FakeHandler


@dataclass(frozen=True)
class StoredFile:
    id: str
    name: str
    content_type: str
    path: Path
    size: int
    sha256: str
    md5: str
    created: float                 # wall clock
    expires: float | None          # wall clock; None: kept for good

    def alive(self, now: float | None = None) -> bool:
        return self.expires is None or (now or time.time()) < self.expires


def new_file_id() -> str:
    return secrets.token_hex(12)


class FileStore:
    """The files one fake holds. Thread-safe."""

    def __init__(self, label: str):
        self._label = label
        self._dir: Path | None = None
        self._files: dict[str, StoredFile] = {}
        self._seconds: dict[str, float | None] = {}
        self._lock = threading.Lock()

    def add(self, data: bytes, name: str, content_type: str, ttl: float | None,
            file_id: str | None = None) -> StoredFile:
        """Keep `data` (under `file_id` when the storage handed one out before the bytes came)."""
        file_id = file_id or new_file_id()
        with self._lock:
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix=f"{self._label.replace(' ', '-')}-files-"))
            path = self._dir / file_id
            path.write_bytes(data)
            now = time.time()
            stored = StoredFile(file_id, name, content_type, path, len(data), hashlib.sha256(data).hexdigest(),
                                hashlib.md5(data).hexdigest(), now, None if ttl is None else now + ttl)
            self._files[file_id] = stored
            return stored

    def get(self, file_id: str) -> StoredFile | None:
        """The file, unless it is unknown or has expired."""
        with self._lock:
            stored = self._files.get(file_id)
        return stored if stored is not None and stored.alive() else None

    def all(self) -> list[StoredFile]:
        with self._lock:
            return list(self._files.values())

    def seconds(self, file_id: str) -> float | None:
        """A stored video's length (None when it is not a video the probe can read)."""
        stored = self.get(file_id)
        if stored is None:
            return None
        if file_id not in self._seconds:
            from ...media.probe import MediaError, probe

            try:
                self._seconds[file_id] = probe(stored.path).duration
            except (MediaError, OSError, ValueError):
                self._seconds[file_id] = None
        return self._seconds[file_id]

    def close(self) -> None:
        with self._lock:
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
            self._files.clear()


def receive(handler: FakeHandler, cut: bool) -> bytes | None:
    """An upload's body, or None once answered. `cut`: read half of it, then hang up, as a
    connection lost mid-upload does (nothing is stored)."""
    if cut:
        length = int(handler.headers.get("Content-Length") or 0)
        handler.rfile.read(length // 2)
        handler._drop()
        return None
    return handler._read_body()


def serve_stored(handler: FakeHandler, stored: StoredFile | None) -> None:
    """GET of a stored file: its bytes, or the storage's 404."""
    if stored is None:
        return handler._send(404, b"<Error><Code>NoSuchKey</Code><Message>The specified key does not exist."
                                  b"</Message></Error>", "application/xml")
    handler._send(200, stored.path.read_bytes(), stored.content_type)
