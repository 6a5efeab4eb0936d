"""Shared helpers for the preview page, browser, OTIO, subtitles and watch tests: a small story
that uses every kind of clip and transition, and tiny stand-in clips made with ffmpeg's lavfi
(320x180, H.264 + AAC, 24 fps) instead of real renders."""

from __future__ import annotations

import subprocess
from pathlib import Path

from PIL import Image

from storyboard.api import compile_file
from storyboard.media.probe import ffmpeg_exe
from storyboard.providers import get

SCRIPT = "<script>alert(1)</script>"

STORY = f"""\
title: Test <Film>
size: 320x180
seed: 3

character Cat:
  image: cast/cat.png
  description: a grey cat

shot one 4s:
  @Cat looks up. {SCRIPT}
  camera: slow push in
  @Cat (softly): "Hello there."
  @Cat: "Is anyone home? I have been waiting."

dissolve 1s

shot two 4s:
  The empty room.
  @Cat: "Nobody."

extend two 4s:
  The light fades.

fade 1s

shot three 4s:
  A door opens.

morph 1.5s: The door becomes a window.

shot four 4s:
  A window.

wipe left 0.5s

shot five 4s:
  The end.
  audio: off
"""

FILM_SECONDS = 4 + 4 - 1 + 4 + 4 + 1.5 + 4 + 4 - 0.5  # cuts, dissolve -1, fade 0, morph 1.5, wipe -0.5
COLORS = ["0x3366cc", "0xcc6633", "0x33aa66", "0xaa3377", "0x888822", "0x226688", "0x664422"]


def write_story(folder: Path, text: str = STORY) -> Path:
    (folder / "cast").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (640, 480), (120, 130, 160)).save(folder / "cast" / "cat.png")
    path = folder / "film.story"
    path.write_text(text, encoding="utf-8")
    return path


def compile_story(path: Path):
    result = compile_file(path, get("preview"))
    assert result.ok, [str(d) for d in result.diagnostics]
    return result.plan


def make_clip(out: Path, seconds: float, color: str = "0x3366cc", *, audio: bool = True,
              size: str = "320x180") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c={color}:s={size}:r=24:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "24"]
    if audio:
        args += ["-c:a", "aac", "-ac", "2", "-shortest"]
    subprocess.run(args + [str(out)], check=True, capture_output=True, timeout=60)
    return out


def make_clips(plan, folder: Path) -> dict[str, Path]:
    """A stand-in file per clip at its generated length (a morph is 4 s, played at 1.5 s)."""
    clips = {}
    for i, c in enumerate(plan.clips):
        clips[c.name] = make_clip(folder / f"{c.name.replace('~', '_').replace('+', '_')}.mp4", c.seconds,
                                  COLORS[i % len(COLORS)], audio=c.audio)
    return clips
