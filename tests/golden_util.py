"""Golden files: `assert_golden(path, actual)` compares `actual` with the file at `path`.

Regenerate every golden in one run with `STORYBOARD_UPDATE_GOLDEN=1 make test` (or pytest), then
review the change with `git diff` before committing it.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

UPDATE_ENV = "STORYBOARD_UPDATE_GOLDEN"


def updating() -> bool:
    return os.environ.get(UPDATE_ENV, "") not in ("", "0")


def read_golden(path: Path) -> str:
    """The golden file's text; a missing one fails the test (never a skip) and says how to make it."""
    if not path.exists():
        pytest.fail(f"golden file {path} is missing; create it with {UPDATE_ENV}=1", pytrace=False)
    return path.read_bytes().decode("utf-8")


def assert_golden(path: Path, actual: str) -> None:
    """Write `actual` to `path` when STORYBOARD_UPDATE_GOLDEN=1, else fail with a diff if they differ.

    Text is compared and written as UTF-8 with "\\n" line ends, byte for byte.
    """
    path = Path(path)
    if updating():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_bytes() != actual.encode("utf-8"):
            path.write_bytes(actual.encode("utf-8"))
        return
    expected = read_golden(path)
    if actual != expected:
        diff = "".join(difflib.unified_diff(
            expected.splitlines(keepends=True), actual.splitlines(keepends=True),
            f"{path} (expected)", f"{path} (actual)"))
        if not diff:  # same lines, different line ends or final newline
            diff = f"expected {expected!r}\n  actual {actual!r}\n"
        pytest.fail(f"output differs from golden file {path} (update with {UPDATE_ENV}=1):\n{diff}",
                    pytrace=False)
