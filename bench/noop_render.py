"""No-op re-render: once a film is rendered, running `storyboard render` again with nothing
changed must submit nothing and come back almost at once (clips from the cache, the film reused).

Generates an 18-clip film (480p, 4-6 s clips; a cast of two; extensions, `continue`, morphs,
dissolves and fades) in a temp dir, then times, as a user runs them (`python -m storyboard ...`
in a subprocess, wall clock, interpreter start-up included):

    first render     the preview provider renders every clip and stitches the film
    no-op render     the same command again                          target: >= 20x faster, nothing submitted
    compile          `storyboard compile` alone: the floor a no-op render stands on
                                                                     target: no-op <= 1.2x compile

No-op and compile runs alternate (so a machine busy with something else slows both alike) and
each side is the median of --runs runs, in wall-clock seconds and, beside them, CPU seconds (user
+ system of the child). Exit 1 when a target is missed or anything was rendered or re-stitched
the second time.

    .venv/bin/python bench/noop_render.py [--runs 11] [--target 20] [--over-compile 1.2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def storyboard(*args: str, cwd: Path) -> tuple[float, subprocess.CompletedProcess, float]:
    """(wall seconds, the finished process, its CPU seconds)."""
    env = {k: v for k, v in os.environ.items() if k != "TOGETHER_API_KEY"}
    cpu0, t0 = _children_cpu(), time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "storyboard", *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=1800)
    took, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"bench: storyboard {' '.join(args)} exited {proc.returncode}")
    return took, proc, cpu


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--target", type=float, default=20.0, help="first render / no-op, at least")
    ap.add_argument("--over-compile", type=float, default=1.2, help="no-op / compile, at most")
    ap.add_argument("--keep", type=Path, help="render here (kept) instead of a temp dir")
    args = ap.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="sb-noop-bench-"))
    try:
        return _bench(args, work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _bench(args: argparse.Namespace, work: Path) -> int:
    story = write_story(work / "film")
    first, proc, _ = storyboard("render", str(story), "--json", cwd=work)
    report = json.loads(proc.stdout)
    film = Path(report["film"])
    clips = len(report["clips"])
    plan = json.loads(storyboard("plan", str(story), "--json", cwd=work)[1].stdout)
    seconds = sum(c["seconds"] for c in plan["clips"])
    stamp = film.stat().st_mtime_ns
    noops: list[tuple[float, float]] = []
    compiles: list[tuple[float, float]] = []
    problems: list[str] = []
    for _ in range(args.runs):  # alternated: load from elsewhere slows both sides alike
        took, proc, cpu = storyboard("render", str(story), "--json", cwd=work)
        noops.append((took, cpu))
        problems += _noop_problems(json.loads(proc.stdout), film, stamp)
        took, _, cpu = storyboard("compile", str(story), cwd=work)
        compiles.append((took, cpu))
    noop, comp = _medians(noops), _medians(compiles)
    ratio, over = first / noop[0], noop[0] / comp[0]
    print(f"film: {clips} clips, {seconds} s of video generated, {film.stat().st_size / 1e6:.1f} MB film (480p)")
    print(f"first render (preview provider, CLI):  {first:8.2f} s")
    print(f"no-op render (CLI, median of {args.runs}):   {noop[0]:8.3f} s wall  {noop[1]:6.3f} s CPU   "
          f"(wall runs: {', '.join(f'{w:.3f}' for w, _ in noops)})")
    print(f"compile alone (CLI, median of {args.runs}):  {comp[0]:8.3f} s wall  {comp[1]:6.3f} s CPU   "
          f"(wall runs: {', '.join(f'{w:.3f}' for w, _ in compiles)})")
    print(f"no-op / compile:                       {over:8.2f}x wall {noop[1] / comp[1]:6.2f}x CPU "
          f"(target <= {args.over_compile:g}x wall)")
    print(f"ratio first / no-op:                   {ratio:8.1f}x  (target >= {args.target:g}x); "
          f"submitted on no-op: {'nothing' if not problems else 'SOMETHING'}")
    if ratio < args.target:
        problems.append(f"ratio {ratio:.1f}x is under the target {args.target:g}x")
    if over > args.over_compile:
        problems.append(f"a no-op render costs {over:.2f}x a compile, over the target {args.over_compile:g}x")
    for p in dict.fromkeys(problems):
        print(f"bench: {p}", file=sys.stderr)
    return 1 if problems else 0


def _noop_problems(again: dict, film: Path, stamp: int) -> list[str]:
    problems = []
    statuses = {c["status"] for c in again["clips"]}
    if statuses != {"cached"}:
        problems.append(f"the no-op render did work: {sorted(statuses)}")
    if film.stat().st_mtime_ns != stamp or again["film"] != str(film):
        problems.append("the no-op render wrote the film again")
    return problems


def _medians(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


if __name__ == "__main__":
    sys.exit(main())
