"""No-op re-render: once a film is rendered, running `storyboard render` again with nothing
changed must submit nothing and come back almost at once (clips from the cache, the film reused).

Generates an 18-clip film (480p, 4-6 s clips; a cast of two; extensions, `continue`, morphs,
dissolves and fades) in a temp dir, then times, as a user runs them (`python -m storyboard ...`
in a subprocess, wall clock, interpreter start-up included):

    first render     the preview provider renders every clip and stitches the film
    no-op render     the same command again                          target: >= 20x faster, nothing submitted
    compile          `storyboard compile` alone, for reference (the floor a no-op render stands on)

The no-op is the median of --runs runs. Exit 1 when the target is missed or anything was
rendered or re-stitched the second time.

    .venv/bin/python bench/noop_render.py [--runs 5] [--target 20] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]


def write_story(folder: Path) -> Path:
    (folder / "cast").mkdir(parents=True, exist_ok=True)
    for name, colour in (("fox", (210, 120, 40)), ("owl", (90, 90, 140))):
        im = Image.new("RGB", (256, 256), colour)
        ImageDraw.Draw(im).ellipse([64, 64, 192, 192], fill="white")
        im.save(folder / "cast" / f"{name}.png")
    lines = ["title: No-op Bench", "resolution: 480p", "ratio: 16:9", "seed: 5", "",
             "character Fox:", "  image: cast/fox.png", "  description: a small orange fox", "",
             "character Owl:", "  image: cast/owl.png", "  description: an old grey owl", ""]
    transitions = {2: "dissolve 1s", 4: "continue", 6: "morph 1s: The forest melts into the meadow.",
                   8: "fade 1s", 10: "continue", 12: "morph 1s: Night falls over the hill."}
    for i in range(1, 15):  # 14 shots + 2 extensions + 2 morphs = 18 clips
        who = ("@Fox", "@Owl", "@Fox and @Owl")[i % 3]
        lines += [f"shot s{i:02d} {4 + i % 3}s:", f"  {who} in scene {i}, under the old trees.",
                  f"  camera: slow push in, take {i}", ""]
        if i in (3, 9):
            lines += [f"extend s{i:02d} 4s:", f"  The scene {i} goes on a little longer.", ""]
        if i in transitions:
            lines += [transitions[i], ""]
    story = folder / "bench.story"
    story.write_text("\n".join(lines), encoding="utf-8")
    return story


def storyboard(*args: str, cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    env = {k: v for k, v in os.environ.items() if k != "TOGETHER_API_KEY"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "storyboard", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=1800)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"bench: storyboard {' '.join(args)} exited {proc.returncode}")
    return took, proc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--target", type=float, default=20.0)
    ap.add_argument("--keep", type=Path, help="render here (kept) instead of a temp dir")
    args = ap.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="sb-noop-bench-"))
    try:
        story = write_story(work / "film")
        first, proc = storyboard("render", str(story), "--json", cwd=work)
        report = json.loads(proc.stdout)
        film = Path(report["film"])
        clips = len(report["clips"])
        seconds = sum(json.loads(storyboard("plan", str(story), "--json", cwd=work)[1].stdout)["clips"][i]["seconds"]
                      for i in range(clips))
        stamp = film.stat().st_mtime_ns
        noops, problems = [], []
        for _ in range(args.runs):
            took, proc = storyboard("render", str(story), "--json", cwd=work)
            noops.append(took)
            again = json.loads(proc.stdout)
            statuses = {c["status"] for c in again["clips"]}
            if statuses != {"cached"}:
                problems.append(f"the no-op render did work: {sorted(statuses)}")
            if film.stat().st_mtime_ns != stamp or again["film"] != str(film):
                problems.append("the no-op render wrote the film again")
        compiles = [storyboard("compile", str(story), cwd=work)[0] for _ in range(args.runs)]
        noop, comp = statistics.median(noops), statistics.median(compiles)
        ratio = first / noop
        print(f"film: {clips} clips, {seconds} s of video generated, {film.stat().st_size / 1e6:.1f} MB film (480p)")
        print(f"first render (preview provider, CLI):  {first:8.2f} s")
        runs = ", ".join(f"{x:.3f}" for x in noops)
        print(f"no-op render (CLI, median of {args.runs}):   {noop:8.3f} s   (runs: {runs})")
        print(f"compile alone (CLI, median of {args.runs}):  {comp:8.3f} s   "
              f"(no-op minus compile: {noop - comp:.3f} s)")
        print(f"ratio first / no-op:                   {ratio:8.1f}x  (target >= {args.target:g}x); "
              f"submitted on no-op: {'nothing' if not problems else 'SOMETHING'}")
        for p in dict.fromkeys(problems):
            print(f"bench: {p}", file=sys.stderr)
        if problems or ratio < args.target:
            if ratio < args.target:
                print(f"bench: ratio {ratio:.1f}x is under the target {args.target:g}x", file=sys.stderr)
            return 1
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
