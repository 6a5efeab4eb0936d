"""A file's content hash: the one reader behind every content address (cache keys of local
references, hosted object names, picks, the stitcher's segment checksums)."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_sha256(path: Path | str) -> str:
    """The hex SHA-256 of a file's bytes, read in chunks (never whole into memory)."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()
