"""The process exit codes, defined once: the CLI exits with them and the render report states
the one its outcome maps to (`RenderReport.exit_code`, in `--json` too)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    DIAGNOSTICS = 1  # the story has errors (or `fmt --check` would change a file)
    USAGE = 2  # a bad option, an unreadable file, a folder that cannot be written, a bug
    REMOTE = 3  # some clips failed, were skipped or are in doubt
    INTERRUPTED = 130  # Ctrl-C, or a prompt answered no
