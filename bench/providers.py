"""Provider benchmark: one 16-clip film rendered on every vendor's fake server, in process, with
job latency proportional to each clip's seconds and the vendor's rate limits switched on.

The film is a real .story (chains of extends and continues, a morph between two shots, six
independent shots; the shape of bench/render.py's FILM), compiled for each provider so each
sends its own bodies, and rendered by the real engine (`render_plan`) with the adaptive poll
policy scaled to the bench's time scale. Per provider it prints the medians over `--repeat`
runs of: makespan, critical path, their ratio, creates vs clips, GETs per job, 429s answered,
and CPU seconds (the process's, so the fake server's threads are in it) beside wall time.

Targets (exit 1 on a miss): median makespan <= 1.1 x critical path for every provider, and no
duplicate create in any run (creates == clips, every clip made).

Time scale: everything the vendor measures in seconds is multiplied by `--scale` (1/30: a 90 s
job at 0.3 s per second of video lasts 2.7 s, Together's 15 s poll is 0.5 s): poll intervals,
create retries, Retry-After (sent with fractions here; real servers round up to whole seconds)
and rate-limit windows. Counts (jobs in flight) are not scaled. See VENDOR_LIMITS for where each
limit comes from.

    python bench/providers.py [--per-second 0.25] [--scale 0.0333] [--repeat 3] [--only fal]
                              [--max-running 6]   # a stress run: the limit binds, 429s are answered
"""

from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from storyboard.api import compile_file  # noqa: E402
from storyboard.plan import RenderPlan  # noqa: E402
from storyboard.providers import get as provider_named  # noqa: E402
from storyboard.render import PollPolicy, RenderReport, render_plan  # noqa: E402
from storyboard.render.policy import RetryPolicy  # noqa: E402
from storyboard.testing.fake_fal import FakeFal  # noqa: E402
from storyboard.testing.fake_modelark import FakeModelArk  # noqa: E402
from storyboard.testing.fake_replicate import FakeReplicate  # noqa: E402
from storyboard.testing.fake_together import FakeTogether  # noqa: E402
from storyboard.testing.fakes.handler import ApiError  # noqa: E402
from storyboard.testing.fakes.jobs import render_testcard  # noqa: E402
from storyboard.testing.fakes.server import FakeServer  # noqa: E402

KEY = "bench-key"
CLIP_SIZE = (64, 36)

# 16 clips: a1 -> a1+1 -> a1+2 (extends) -> a4 (continue), b1 -> b2 -> b3 (continues), the morph
# c1~c2 between c1 and c2, and six independent shots. The critical path is the a chain.
STORY = """title: Bench
resolution: 480p
seed: 7

shot a1 6s:
  A lighthouse at dawn, waves below.

extend a1 5s:
  The beam sweeps across the water.

extend a1 5s:
  Gulls cross the beam.

continue

shot a4 6s:
  The keeper climbs the stairs.

shot b1 8s:
  A fishing boat leaves the harbour.

continue

shot b2 4s:
  The boat rounds the breakwater.

continue

shot b3 6s:
  Open sea, the boat small on the horizon.

shot c1 5s:
  A candle in a window.

morph 2s: The candle flame becomes the sun.

shot c2 4s:
  The sun over the hills.

shot s1 4s:
  A cat on a wall.

shot s2 5s:
  Rain on a tin roof.

shot s3 6s:
  A market at noon.

shot s4 7s:
  A train crossing a bridge.

shot s5 8s:
  Night traffic from above.

shot s6 10s:
  A slow pan over a sleeping city.
"""


@dataclass(frozen=True)
class VendorLimits:
    """A vendor's rate limits in its own time: jobs in flight, creates per minute (0: none
    known), and where the numbers come from (shared/reference/seedance-providers.md)."""

    max_running: int = 0
    creates_per_minute: int = 0
    source: str = ""

    def faults(self, scale: float) -> dict[str, Any]:
        """The fake's fault settings at the bench's time scale: a vendor minute is `60 * scale`
        bench seconds, and the fake counts creates over 60 of its own seconds, so the count
        grows by 1/scale. Jobs in flight are a count: unscaled."""
        return {"max_running": self.max_running,
                "creates_per_minute": math.ceil(self.creates_per_minute / scale) if self.creates_per_minute else 0,
                "retry_after": 1.0 * scale}


VENDOR_LIMITS = {
    "together": VendorLimits(creates_per_minute=60, source=(
        "60 creates/min [confirmed: Together's rate-limits page, the default base rate per model; "
        "the real limit is dynamic]; no limit on jobs in flight is published")),
    "modelark": VendorLimits(max_running=120, source=(
        "120 queued tasks per account [confirmed: BytePlus API page]; an RPM limit exists "
        "(RateLimitExceeded.EndpointRPMExceeded) but its number is [unconfirmed], so it is off")),
    "fal": VendorLimits(max_running=10, source=(
        "10 requests in flight [unconfirmed: the reference gives no number for fal; assumed]")),
    "replicate": VendorLimits(creates_per_minute=600, source=(
        "600 prediction creates/min [unconfirmed: Replicate's HTTP API docs, not in the reference]")),
}


# ---- fakes with a latency per second of video -------------------------------------------------

def clip_seconds(name: str, body: dict[str, Any]) -> int:
    """The clip's length in each vendor's create body (the field the fake sees)."""
    if name == "together":
        return int(body.get("seconds", 5))
    if name == "modelark":
        return int(body.get("duration", 5))
    return int((body.get("input") or {}).get("duration", 5))  # fal's envelope, Replicate's input


def scaled_fake(base: type[FakeServer], name: str) -> type[FakeServer]:
    """`base` whose jobs take `per_second` per second of video, whose Retry-After is sent with
    fractions (at the bench's scale a whole second would be 30 vendor seconds), and which counts
    the 429s it answers."""

    class Scaled(base):  # type: ignore[misc, valid-type]
        def __init__(self, per_second: float, **kw: Any):
            super().__init__(**kw)
            self.per_second = per_second
            self.throttled = 0

        def latency_for(self, body: dict[str, Any]) -> float:
            return self.per_second * clip_seconds(name, body)

        def fault_error(self, kind: str) -> ApiError:
            err = super().fault_error(kind)
            if kind == "429":
                self.throttled += 1  # called with the server's lock held
                err.headers = {**err.headers, "Retry-After": f"{self.faults.retry_after:.3f}"}
                err.headers.pop("retry-after-ms", None)
            return err

        def job_answer(self, job: Any, base_url: str | None = None) -> dict[str, Any]:
            answer = super().job_answer(job, base_url)
            if name == "modelark" and base_url is not None and answer.get("status") in ("succeeded", "failed"):
                # ModelArk's clock is whole Unix seconds: at the bench's scale, fractions
                answer.update(created_at=job.created_at, updated_at=job.completed_at())
            return answer

        def reset(self) -> None:
            super().reset()
            self.throttled = 0

    Scaled.__name__ = f"Scaled{base.__name__}"
    return Scaled


FAKES: dict[str, type[FakeServer]] = {
    "together": scaled_fake(FakeTogether, "together"),
    "modelark": scaled_fake(FakeModelArk, "modelark"),
    "fal": scaled_fake(FakeFal, "fal"),
    "replicate": scaled_fake(FakeReplicate, "replicate"),
}


def copying_renderer(store: Path) -> Callable[[dict[str, Any], Path], None]:
    """Clips made once per length and copied: the bench measures the engine, not ffmpeg."""
    lock = threading.Lock()

    def render(body: dict[str, Any], out: Path) -> None:
        seconds = body.get("seconds", "5")
        name = store / f"{seconds}.mp4"
        with lock:
            if not name.exists():
                render_testcard({"prompt": "bench", "seconds": str(seconds), "width": CLIP_SIZE[0],
                                 "height": CLIP_SIZE[1]}, name)
        shutil.copyfile(name, out)

    return render


# ---- one run ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Run:
    makespan: float
    critical_path: float
    cp_source: str
    clips: int
    creates: int
    gets: int
    throttled: int
    cpu: float

    @property
    def ratio(self) -> float:
        return self.makespan / self.critical_path


def critical_path(plan: RenderPlan, took: dict[str, float]) -> float:
    """The longest chain of job times through the clips' dependencies (a morph comes before the
    shot it leads into, so this follows `after`, not the plan's order)."""
    finish: dict[str, float] = {}

    def done(name: str) -> float:
        if name not in finish:
            clip = next(c for c in plan.clips if c.name == name)
            finish[name] = took[name] + max((done(d) for d in clip.after), default=0.0)
        return finish[name]

    return max(done(c.name) for c in plan.clips)


def job_times(name: str, plan: RenderPlan, report: RenderReport, per_second: float) -> tuple[dict[str, float], str]:
    """Each clip's job time as the provider reported it (`provider_seconds`), or, for a
    provider whose answers carry no usable times, the fake's own latency for the clip."""
    took = {o.name: o.provider_seconds for o in report.outcomes}
    if all(t is not None and t > 0 for t in took.values()):
        return {k: float(v) for k, v in took.items()}, "provider_seconds"
    return {c.name: per_second * c.seconds for c in plan.clips}, "server latency"


async def render_once(plan: RenderPlan, name: str, fake: FakeServer, state: Path, poll: PollPolicy,
                      retry: RetryPolicy, concurrency: int) -> RenderReport:
    provider = provider_named(name, api_key=KEY, base_url=fake.base_url)
    try:
        return await render_plan(plan, provider, concurrency=concurrency, poll=poll, retry=retry,
                                 approve=lambda s: True, state_dir=state)
    finally:
        await provider.aclose()


def one_run(name: str, fake: Any, folder: Path, args: argparse.Namespace) -> Run:
    folder.mkdir(parents=True)
    story = folder / "bench.story"
    story.write_text(STORY, encoding="utf-8")
    result = compile_file(story, provider_named(name, api_key=KEY))
    if not result.ok:
        raise SystemExit(f"{name}: the bench film does not compile: {[d.message for d in result.diagnostics]}")
    plan = result.plan
    fake.reset()
    poll = PollPolicy(**{**PollPolicy().scaled(args.scale).__dict__, "deadline": 120.0})
    retry = RetryPolicy(attempts=8, base=0.5 * args.scale, cap=8.0 * args.scale, max_wait=60.0 * args.scale)
    cpu = time.process_time()
    report = asyncio.run(render_once(plan, name, fake, folder / ".storyboard", poll, retry, args.concurrency))
    cpu = time.process_time() - cpu
    if report.exit_code:
        raise SystemExit(f"{name}: the bench render failed: {[(o.name, o.error) for o in report.problems]}")
    took, source = job_times(name, plan, report, args.per_second)
    stats = fake.stats()
    return Run(makespan=report.elapsed, critical_path=critical_path(plan, took), cp_source=source,
               clips=len(plan.clips), creates=stats["creates"], gets=stats["gets"], throttled=fake.throttled, cpu=cpu)


def bench_provider(name: str, work: Path, args: argparse.Namespace) -> list[Run]:
    store = work / "clips"
    store.mkdir(exist_ok=True)
    warm = copying_renderer(store)
    for seconds in range(4, 11):  # every length in the film, before any run is timed
        warm({"seconds": str(seconds)}, work / "warm.mp4")
    limits = VENDOR_LIMITS[name].faults(args.scale)
    if args.max_running is not None:
        limits["max_running"] = args.max_running
    with FAKES[name](args.per_second, api_key=KEY, clip_size=CLIP_SIZE, renderer=copying_renderer(store),
                     render_workers=4, **limits) as fake:
        return [one_run(name, fake, work / f"{name}-{n}", args) for n in range(args.repeat)]


# ---- report ----------------------------------------------------------------------------------

def median(runs: list[Run], value: Callable[[Run], float]) -> float:
    return statistics.median(value(r) for r in runs)


def print_provider(name: str, runs: list[Run], wall: float) -> list[str]:
    """Print one provider's line; return its misses."""
    clips = runs[0].clips
    mk, cp, ratio = median(runs, lambda r: r.makespan), median(runs, lambda r: r.critical_path), \
        median(runs, lambda r: r.ratio)
    creates = max(r.creates for r in runs)
    print(f"{name:<10} makespan {mk:5.2f} s  critical path {cp:5.2f} s ({runs[0].cp_source})  ratio {ratio:4.2f}  "
          f"creates {creates}/{clips}  GETs/job {median(runs, lambda r: r.gets / r.clips):4.2f}  "
          f"429s {median(runs, lambda r: r.throttled):3.0f}  CPU {median(runs, lambda r: r.cpu):4.2f} s "
          f"(wall {wall:5.1f} s for {len(runs)} runs)")
    misses = []
    if ratio > 1.1:
        misses.append(f"{name}: makespan {mk:.2f} s is {ratio:.2f} x the critical path {cp:.2f} s (> 1.1)")
    dupes = [r.creates - r.clips for r in runs if r.creates != r.clips]
    if dupes:
        misses.append(f"{name}: creates != clips in {len(dupes)} of {len(runs)} runs ({dupes})")
    return misses


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--per-second", type=float, default=0.25, help="job latency per second of video (s)")
    ap.add_argument("--scale", type=float, default=1 / 30, help="time scale: 15 s real polling -> 0.5 s")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=3, help="runs per provider; medians are reported")
    ap.add_argument("--max-running", type=int, default=None,
                    help="stress: every fake refuses creates (429) past this many jobs in flight")
    ap.add_argument("--only", action="append", choices=sorted(FAKES), help="bench only this provider (repeatable)")
    args = ap.parse_args(argv)

    names = args.only or list(FAKES)
    print(f"film: 16 clips, 101 s of video; job latency {args.per_second:g} s per second of video; "
          f"time scale {args.scale:.4g}; {args.repeat} runs per provider, medians")
    for name in names:
        lim = VENDOR_LIMITS[name]
        print(f"  {name} limits: {lim.source} -> fake: {lim.faults(args.scale)}")
    misses: list[str] = []
    work = Path(tempfile.mkdtemp(prefix="bench-providers-"))
    try:
        for name in names:
            started = time.monotonic()
            runs = bench_provider(name, work, args)
            misses += print_provider(name, runs, time.monotonic() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for miss in misses:
        print(f"MISS: {miss}")
    print("ok" if not misses else "targets missed")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
