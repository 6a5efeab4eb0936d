"""Animatic benchmark: the beat panels and cast composition against the renderer they replaced.

Renders 5 s clips at 480p, 720p and 1080p: a shot (one character on a place, slow push in), a
three-beat scene (a close-up among them) and a shot with four cast members, each with the
current renderer (with the plan's clip: panels, composition, captions per beat) and with the
baseline renderer (the single Ken Burns still of storyboard before beats; its source is read
from git at BASELINE_REV and run in this process, in the same run, on the same bodies).

Prints seconds per second of video (wall, median of --repeats) and CPU seconds (this process
and ffmpeg, median) for both, run in turns. Target (exit 1 on a miss): current <= 1.5 x
baseline in CPU seconds in every case. The ratio is taken in CPU seconds because wall time on
a shared 2-core machine moves by 15-25 % from run to run; both are printed.

    python bench/animatic.py [--repeats 3] [--baseline-rev 1cbc2b8]
"""

from __future__ import annotations

import argparse
from functools import partial
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storyboard.animatic.render import render_animatic  # noqa: E402
from storyboard.api import compile_file  # noqa: E402
from storyboard.plan import placeholders_in, substitute  # noqa: E402
from storyboard.providers import get  # noqa: E402

BASELINE_REV = "1cbc2b8"  # the last commit whose animatic drew one still per clip
TARGET = 1.5
SECONDS = 5

STORY = """\
title: Bench
resolution: {resolution}
seed: 11

character Ann:
  image: ann.png
character Bo:
  image: bo.png
character Cy:
  image: cy.png
prop Lamp:
  image: lamp.png
place Field:
  image: field.png

shot shot 5s:
  @Ann stands in @Field, looking at the sky.
  camera: slow push in
  @Ann: "It is going to rain."

scene scene 5s:
  shot 2s: Wide shot of @Field as @Bo runs in.
  shot 1s: Close-up of @Ann.
  shot: @Ann and @Bo look up.

shot crowd 5s:
  @Ann, @Bo and @Cy gather round the @Lamp in @Field.
  camera: pan left
"""


def _assets(folder: Path) -> None:
    for name, colour in (("ann", (200, 60, 60)), ("bo", (60, 80, 200)), ("cy", (220, 180, 40)),
                         ("lamp", (240, 240, 200))):
        im = Image.new("RGBA", (512, 768), (0, 0, 0, 0))
        ImageDraw.Draw(im).ellipse([60, 40, 452, 740], fill=colour + (255,))
        im.save(folder / f"{name}.png")
    field = Image.linear_gradient("L").resize((1280, 720)).convert("RGB")
    field.save(folder / "field.png")


def _baseline(rev: str):
    """The renderer as it was at `rev`, loaded as a module of this package (its relative imports
    resolve against today's package: they name helpers that still exist)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:storyboard/animatic/render.py"],
                            capture_output=True, text=True, check=True).stdout
    spec = importlib.util.spec_from_loader("storyboard.animatic._baseline", loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "storyboard.animatic"
    sys.modules[spec.name] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:storyboard/animatic/render.py", "exec"), module.__dict__)  # noqa: S102
    return module.render_animatic


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _measure(renders, repeats: int) -> list[tuple[float, float]]:
    """(median wall s, median CPU s) of each render, run in turns so both see the same load."""
    walls: list[list[float]] = [[] for _ in renders]
    cpus: list[list[float]] = [[] for _ in renders]
    for _ in range(repeats):
        for i, render in enumerate(renders):
            w0, c0 = time.perf_counter(), _cpu()
            render()
            walls[i].append(time.perf_counter() - w0)
            cpus[i].append(_cpu() - c0)
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(walls, cpus, strict=True)]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline-rev", default=BASELINE_REV)
    args = ap.parse_args()
    old = _baseline(args.baseline_rev)
    misses = []
    print(f"{'case':<8} {'res':<6} {'current s/s':>11} {'cpu s':>6} {'baseline s/s':>12} {'cpu s':>6} {'cpu ratio':>9}")
    with tempfile.TemporaryDirectory(prefix="bench-animatic-") as tmp:
        folder = Path(tmp)
        _assets(folder)
        for resolution in ("480p", "720p", "1080p"):
            story = folder / f"bench-{resolution}.story"
            story.write_text(STORY.format(resolution=resolution), encoding="utf-8")
            plan = compile_file(story, get("preview")).plan
            for clip in plan.clips:
                found = {raw: str(folder / v) for _, raw, (k, v) in placeholders_in(clip.request) if k == "file"}
                body = substitute(clip.request, found)
                out = folder / f"{clip.name}-{resolution}.mp4"
                (now, now_cpu), (was, was_cpu) = _measure(
                    [partial(render_animatic, body, out, clip=clip, title=clip.name),
                     partial(old, body, out, title=clip.name, captions=clip)], args.repeats)
                ratio = now_cpu / was_cpu
                print(f"{clip.name:<8} {resolution:<6} {now / SECONDS:>11.3f} {now_cpu:>6.2f} "
                      f"{was / SECONDS:>12.3f} {was_cpu:>6.2f} {ratio:>9.2f}")
                if ratio > TARGET:
                    misses.append(f"{clip.name} at {resolution}: {ratio:.2f}x the baseline (target {TARGET}x)")
    for m in misses:
        print("MISS:", m)
    print("ok" if not misses else f"{len(misses)} misses")
    return 1 if misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
