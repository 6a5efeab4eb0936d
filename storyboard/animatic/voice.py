"""The scratch voice: each dialogue line read by espeak-ng at the normal speaking rate
(`speech.WORDS_PER_MINUTE`), so the animatic's sound tells the writer whether a line fits.

espeak-ng is run as a program (`/usr/bin/espeak-ng`, found on PATH) with a fixed argument list
and no shell; the line goes in on standard input as plain text (no SSML, no option can be
smuggled in through it), the WAV comes out in a temporary folder. Where espeak-ng is not
installed the animatic simply has no voice (`available()` says so); `make demo` installs it.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from ..media.text import has_wide
from ..speech import WORDS_PER_MINUTE

TIMEOUT = 20  # seconds for one line; espeak-ng says a long line in well under one
PROGRAM = "espeak-ng"


@lru_cache(maxsize=1)
def program() -> str | None:
    return shutil.which(PROGRAM)


def available() -> bool:
    return program() is not None


def voice_for(line: str) -> str:
    """espeak-ng's voice: Mandarin for CJK text, else English."""
    return "cmn" if has_wide(line) else "en"


def say(line: str, out: Path) -> Path | None:
    """Write `line` spoken to `out` (WAV); None when espeak-ng is missing or fails (the animatic
    goes on without this line's voice)."""
    exe = program()
    if exe is None or not line.strip():
        return None
    argv = [exe, "-v", voice_for(line), "-s", str(WORDS_PER_MINUTE), "-w", str(out), "--stdin"]
    try:
        subprocess.run(argv, input=line.encode("utf-8"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=TIMEOUT, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out if out.is_file() and out.stat().st_size > 44 else None
