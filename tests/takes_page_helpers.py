"""A small film with takes, rendered with the free preview provider, for the takes page, takes
sheet, export and serve tests: `opening` (3 takes), `second` (2 takes, the film's setting) and
`second+1`, an extension of `second` (made from its played take, 2 takes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from render_helpers import cli

STORY = """title: Takes Page
size: 320x180
seed: 7
takes: 2

shot opening 4s:
  A kitten naps on a sunny windowsill.
  takes: 3

shot second 4s:
  The kitten wakes up and yawns.

extend second 4s:
  The kitten stretches its paws.
"""


def render_takes_film(folder: Path) -> Path:
    """The story rendered (every take) and stitched in `folder`; returns the story's path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "takes.story"
    path.write_text(STORY, encoding="utf-8")
    r = cli(["render", str(path), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["film"].endswith("Takes Page.animatic.mp4")
    return path


def copy_film(rendered: Path, folder: Path) -> Path:
    """A copy of a rendered film's folder (story, cache, build), to change without touching it."""
    shutil.copytree(rendered.parent, folder)
    return folder / rendered.name


def centre(file: Path | str, at: float) -> tuple[int, ...]:
    """The RGB of the middle pixel of the frame at `at` seconds."""
    import av

    with av.open(str(file)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= at * 24:
                a = f.to_ndarray(format="rgb24")
                return tuple(int(v) for v in a[a.shape[0] // 2, a.shape[1] // 2])
    raise AssertionError(f"no frame at {at}s in {file}")


def near(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 12) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))


def take_file(path: Path, clip: str, take: int) -> Path:
    rows = json.loads(cli(["takes", str(path), clip, "--json"]).stdout)["takes"]
    return Path(next(r["file"] for r in rows if r["take"] == take))
