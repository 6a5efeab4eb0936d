"""Takes benchmark: a 12-clip film (extensions and a `continue` among them), 3 takes of every
clip (36 generations), rendered on the fake Together server over loopback with a job latency
proportional to each clip's seconds; then picks, each followed by a render. The fake runs in a
process of its own, as a vendor's server does (bench/render.py `FakeInItsOwnProcess`).

Targets (exit 1 on a miss):
- the makespan of the takes render is within 1.05x of the critical path at the configured
  concurrency (the issue asks for 1.1x; the engine is held to a margin below it): the makespan
  of an ideal engine (no overhead: a free slot at once takes the ready
  generation with the longest chain after it) given the server's own job times;
- after a pick of a clip nothing else is made from, `render` (compile, plan, cache check,
  re-stitch of the film) takes under 2 s and submits nothing.

Each figure is the median of --runs runs; CPU seconds (this process: the engine, not the fake)
are printed beside wall time, and the GETs per job the polling needed.

    .venv/bin/python bench/takes.py [--runs 5] [--concurrency 12] [--per-second 0.5]
"""

from __future__ import annotations

import argparse
import heapq
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from render import KEY, FakeInItsOwnProcess, copying_renderer  # noqa: E402  (bench/render.py)

from storyboard import api  # noqa: E402
from storyboard.plan import RenderPlan, played_clips  # noqa: E402
from storyboard.providers.together import TogetherProvider  # noqa: E402
from storyboard.render import PollPolicy  # noqa: E402

SCALE = 1 / 30  # 15 s of real polling -> 0.5 s
TARGET = 1.05  # makespan / critical path at this concurrency


def write_story(folder: Path) -> Path:
    """12 clips: 10 shots, two extensions, a `continue`; `takes: 3` for the whole film."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["title: Takes Bench", "size: 320x180", "seed: 3", "takes: 3", ""]
    for i in range(1, 11):
        lines += [f"shot s{i:02d} {4 + i % 3}s:", f"  A bench shot number {i} of a quiet harbour.", ""]
        if i in (2, 6):
            lines += [f"extend s{i:02d} 4s:", f"  Shot {i} goes on along the quay.", ""]
        if i == 8:
            lines += ["continue", ""]
    story = folder / "takes-bench.story"
    story.write_text("\n".join(lines), encoding="utf-8")
    return story


def ideal_makespan(plan: RenderPlan, took: dict[str, float], concurrency: int) -> float:
    """The critical path at this concurrency: the makespan of an engine without overhead that
    starts the ready generation with the longest chain after it whenever one of `concurrency`
    slots is free (a job takes the server's own time for it; nothing else costs anything)."""
    by_name = {c.name: c for c in plan.clips}
    dependants: dict[str, list[str]] = {c.name: [] for c in plan.clips}
    for c in plan.clips:
        for d in c.after:
            dependants[d].append(c.name)
    level: dict[str, float] = {}

    def chain(name: str) -> float:
        if name not in level:
            level[name] = took[name] + max((chain(n) for n in dependants[name]), default=0.0)
        return level[name]

    done: set[str] = set()
    running: list[tuple[float, str]] = []
    now = 0.0
    while len(done) < len(by_name):
        started = {n for _, n in running}
        ready = sorted((n for n, c in by_name.items() if n not in done and n not in started
                        and all(d in done for d in c.after)), key=lambda n: -chain(n))
        for name in ready[: concurrency - len(running)]:
            heapq.heappush(running, (now + took[name], name))
        now, name = heapq.heappop(running)
        done.add(name)
    return now


def compiled(story: Path, provider: TogetherProvider) -> RenderPlan:
    result = api.compile_file(story, provider)
    if result.plan is None:
        raise SystemExit(f"bench: the story does not compile: {[str(d) for d in result.diagnostics]}")
    return result.plan


def render_once(story: Path, provider: TogetherProvider, poll: PollPolicy, concurrency: int):
    plan = compiled(story, provider)
    result = api.render(plan, provider, concurrency=concurrency, poll=poll, approve=lambda s: True)
    if result.report.exit_code or result.film is None:
        raise SystemExit(f"bench: render failed: {[(o.name, o.error) for o in result.report.problems]} "
                         f"{result.film_problem or ''}")
    return plan, result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=12)
    ap.add_argument("--per-second", type=float, default=0.5, help="job latency per second of video (s)")
    args = ap.parse_args(argv)
    poll = PollPolicy(**{**PollPolicy().scaled(SCALE).__dict__, "deadline": 120.0})
    work = Path(tempfile.mkdtemp(prefix="bench-takes-"))
    store = work / "clips"
    store.mkdir()
    ratios, walls, cpus, pick_walls, pick_cpus, gets = [], [], [], [], [], []
    ok = True
    try:
        for seconds in (4, 5, 6):  # the clip store warmed, so the first run does not wait for ffmpeg
            copying_renderer(store)({"seconds": str(seconds), "width": 64, "height": 36}, work / "warm.mp4")
        with FakeInItsOwnProcess(args.per_second, api_key=KEY, clip_size=(64, 36),
                                 renderer=copying_renderer(store), render_workers=8) as fake:
            provider = TogetherProvider(api_key=KEY, base_url=fake.base_url)
            for run in range(args.runs):
                story = write_story(work / f"run{run}")
                fake.reset()
                cpu0, t0 = time.process_time(), time.perf_counter()
                plan, result = render_once(story, provider, poll, args.concurrency)
                wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
                took = {o.name: o.provider_seconds or 0.0 for o in result.report.outcomes}
                bound = ideal_makespan(plan, took, args.concurrency)
                ratios.append(result.report.elapsed / bound)
                walls.append(result.report.elapsed)
                cpus.append(cpu)
                creates = fake.stats()["creates"]
                gets.append(fake.stats()["gets"] / max(1, creates))
                if creates != len(plan.clips):
                    print(f"MISS: run {run} created {creates} jobs for {len(plan.clips)} generations")
                    ok = False
                # picks of clips nothing else is made from: a re-stitch, nothing submitted
                for clip, take in (("s05", 3), ("s07", 2), ("s01", 3)):
                    api.pick_take(story, provider, clip, take)
                    before = fake.stats()["creates"]
                    cpu0, t0 = time.process_time(), time.perf_counter()
                    _, picked = render_once(story, provider, poll, args.concurrency)
                    pick_walls.append(time.perf_counter() - t0)
                    pick_cpus.append(time.process_time() - cpu0)
                    if fake.stats()["creates"] != before or picked.film is None:
                        print(f"MISS: the render after picking {clip} take {take} submitted "
                              f"{fake.stats()['creates'] - before} job(s)")
                        ok = False
            jobs = len(plan.clips)
            played = len(played_clips(plan))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio, wall, cpu = statistics.median(ratios), statistics.median(walls), statistics.median(cpus)
    pick_wall, pick_cpu = statistics.median(pick_walls), statistics.median(pick_cpus)
    spread = f"{min(ratios):.3f}-{max(ratios):.3f}"
    print(f"film: {played} clips x 3 takes = {jobs} generations, concurrency {args.concurrency}, job latency "
          f"{args.per_second:g} s per second of video; medians of {args.runs} runs")
    print(f"takes render    makespan {wall:6.2f} s  ({ratio:5.3f} x critical path at this concurrency; runs "
          f"{spread})   CPU {cpu:5.2f} s   GETs/job {statistics.median(gets):4.2f}")
    print(f"after a pick    render   {pick_wall:6.2f} s  (re-stitch, nothing submitted)   CPU {pick_cpu:5.2f} s")
    if ratio > TARGET:
        print(f"MISS: makespan {ratio:.3f} x the critical path at this concurrency (target {TARGET})")
        ok = False
    if pick_wall >= 2.0:
        print(f"MISS: the render after a pick took {pick_wall:.2f} s (target < 2 s)")
        ok = False
    print("ok" if ok else "targets missed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
