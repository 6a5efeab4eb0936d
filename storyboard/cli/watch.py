"""`storyboard watch`: re-check, re-render and refresh the storyboard page on every save.

    watch(path, iterations=None, on_cycle=print)     # the CLI's loop; tests pass iterations

Every cycle compiles the story with the free, offline `preview` provider (never a paid one),
renders what the cache does not have (so exactly the clips whose requests changed, and what
depends on them), and rewrites the page, contact sheet and subtitles. A story with errors
prints its diagnostics and leaves the last good page as it is.

Changes are found by polling the modification time and size of the story, the files it
includes and every local file its clips send (cast images, frames, motion, music): no extra
dependency, and it works on every file system. A burst of saves (editors write, rename, touch)
is debounced into one cycle.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..disk import read_failure
from ..names import output_dir

Log = Callable[[str], None]
Snapshot = dict[Path, "tuple[int, int] | None"]


@dataclass
class Cycle:
    """What one rebuild did."""

    number: int  # 1 for the first build
    ok: bool  # a page was written from this version of the story
    changed: list[Path] = field(default_factory=list)  # the files whose change started it
    rendered: list[str] = field(default_factory=list)  # clips rendered now
    cached: list[str] = field(default_factory=list)  # clips reused from the cache
    failed: list[str] = field(default_factory=list)  # clips that could not be rendered
    diagnostics: list[Any] = field(default_factory=list)
    page: Path | None = None  # the page (the last good one when this cycle failed)
    error: str | None = None
    seconds: float = 0.0


def _stderr(message: str) -> None:
    sys.stderr.write(message if message.endswith("\n") else message + "\n")
    sys.stderr.flush()


def snapshot(files: set[Path]) -> Snapshot:
    out: Snapshot = {}
    for f in files:
        try:
            st = f.stat()
            out[f] = (st.st_mtime_ns, st.st_size)
        except OSError:
            out[f] = None
    return out


class Watcher:
    """One story's build state: what to watch, the last good page."""

    def __init__(self, path: Path | str, *, out_dir: Path | str | None = None,
                 state_dir: Path | str | None = None, log: Log = _stderr, live: bool = True,
                 served: threading.Lock | None = None):
        from ..providers import get

        self.path = Path(path)
        self.out_dir = output_dir(self.path.resolve().parent, out_dir)
        self.state_dir = Path(state_dir) if state_dir else None
        self.log = log
        self.live = live
        self.provider = get("preview")  # watch mode never spends money
        self.files: set[Path] = {self.path.resolve()}
        self.page: Path | None = None
        self.cycles = 0
        # `watch --serve`: every build also stitches the film, and writes the page with pick
        # buttons; the lock is the server's (a pick and a rebuild never run at once)
        self.served = served

    def build(self, changed: list[Path] | None = None) -> Cycle:
        """One rebuild: compile, render what changed (`api.preview`, the render path of
        `storyboard preview`), write the page. A failure keeps the last good page."""
        self.cycles += 1
        t0 = time.monotonic()
        cycle = Cycle(self.cycles, False, changed=list(changed or []), page=self.page)
        if changed:
            self.log(f"changed: {', '.join(_short(p) for p in changed)}")
        plan = self._compile(cycle)
        if plan is not None:
            with self.served or contextlib.nullcontext():
                self._stitch(plan)
                self._render(cycle, plan)
        return self._done(cycle, t0)

    def _stitch(self, plan) -> None:
        """A served page plays the film as picked: render (free) and stitch it first."""
        if self.served is None:
            return
        from .. import api

        try:
            result = api.render(plan, self.provider, state_dir=self.state_dir, out_dir=self.out_dir)
        except Exception as exc:  # the page build below says what is wrong with the clips
            self.log(f"film: not re-stitched: {type(exc).__name__}: {exc}")
            return
        if result.film_problem:
            self.log(f"film: {result.film_problem}")

    def _compile(self, cycle: Cycle):
        """The plan, or None (the cycle says why)."""
        from ..api import compile_file
        from ..diagnostics import SHOWN_PER_FILE, see_all_with_check
        from ..diagnostics import render as render_diagnostics
        from ..present.page import iter_local_inputs

        try:
            result = compile_file(self.path, self.provider)
        except (OSError, UnicodeDecodeError) as exc:  # mid-save, or deleted: wait for the next save
            cycle.error = read_failure(exc, self.path)
            self.log(cycle.error)
            return None
        self.files |= {Path(name).resolve() for name in result.sources}
        cycle.diagnostics = list(result.diagnostics)
        if result.diagnostics:
            self.log(render_diagnostics(result.diagnostics, result.sources, limit=SHOWN_PER_FILE,
                                        see_all=see_all_with_check(str(self.path))).rstrip("\n"))
        if not result.ok:
            errors = sum(1 for d in result.diagnostics if d.is_error)
            cycle.error = f"{errors} error{'s' * (errors != 1)}"
            keep = f"; the page still shows the last good version ({self.page})" if self.page else ""
            self.log(f"{self.path}: {cycle.error}{keep}")
            return None
        self.files |= {p.resolve() for p in iter_local_inputs(result.plan)}
        return result.plan

    def _render(self, cycle: Cycle, plan) -> None:
        from .. import api
        from ..render import RenderError
        from .words import advised, render_error_text

        try:
            result = api.preview(plan, self.provider, state_dir=self.state_dir, out_dir=self.out_dir,
                                 live=self.live, on_event=None, served=self.served is not None)
        except RenderError as exc:
            cycle.error = render_error_text(exc)
            self.log(f"render: {cycle.error}")
            return
        except Exception as exc:  # keep watching: the next save may fix it
            cycle.error = f"render failed: {type(exc).__name__}: {exc}"
            self.log(cycle.error)
            return
        report = advised(result.report)
        if report.interrupted:
            raise KeyboardInterrupt
        cycle.rendered = [o.name for o in report.outcomes if o.status == "rendered"]
        cycle.cached = [o.name for o in report.outcomes if o.status == "cached"]
        cycle.failed = [o.name for o in report.outcomes if not o.ok]
        for o in report.problems:
            self.log(f"{o.source}: error: clip {o.name} {o.status}: {o.error}")
        if result.page_problem:
            cycle.error = result.page_problem
            self.log(cycle.error)
            return
        self.page = cycle.page = result.outputs.page
        cycle.ok = True

    def _done(self, cycle: Cycle, t0: float) -> Cycle:
        cycle.seconds = time.monotonic() - t0
        if cycle.ok:
            parts = [f"rendered {', '.join(cycle.rendered)}" if cycle.rendered else "nothing to render"]
            if cycle.failed:
                parts.append(f"failed {', '.join(cycle.failed)}")
            self.log(f"[{time.strftime('%H:%M:%S')}] {'; '.join(parts)}; page {cycle.page} "
                     f"({cycle.seconds:.1f}s)")
        return cycle


def _short(p: Path) -> str:
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def _sleep(seconds: float, stop: threading.Event | None) -> bool:
    """Sleep; True when asked to stop."""
    if stop is None:
        time.sleep(seconds)
        return False
    return stop.wait(seconds)


def watch(path: Path | str, *, out_dir: Path | str | None = None, state_dir: Path | str | None = None,
          interval: float = 0.3, debounce: float = 0.25, iterations: int | None = None,
          on_cycle: Callable[[Cycle], None] | None = None, stop: threading.Event | None = None,
          log: Log = _stderr, live: bool = True, on_ready: Callable[[Path], None] | None = None,
          served: threading.Lock | None = None) -> int:
    """Build now, then rebuild after every change until `iterations` builds were made (None:
    forever), `stop` is set, or Ctrl-C (KeyboardInterrupt propagates to the caller).

    `interval`: seconds between polls. `debounce`: a change is acted on once the files have been
    quiet this long. `on_cycle(cycle)` after each build; `on_ready(page)` once, after the first
    page is written. `served`: the lock of `watch --serve`'s server (see Watcher). Returns 0."""
    w = Watcher(path, out_dir=out_dir, state_dir=state_dir, log=log, live=live, served=served)
    snap = snapshot(w.files)
    announced = False

    def run(changed: list[Path]) -> None:
        nonlocal snap, announced
        cycle = w.build(changed)
        # files found in this build start being watched as they are now; the others keep the
        # state seen before the build, so a save made during it is not missed
        now = snapshot(w.files - set(snap))
        snap = {**snap, **now}
        if cycle.ok and not announced and on_ready is not None:
            announced = True
            on_ready(cycle.page)
        if on_cycle is not None:
            on_cycle(cycle)

    run([])
    log(f"watching {len(w.files)} file{'s' * (len(w.files) != 1)}; Ctrl-C to stop")
    while iterations is None or w.cycles < iterations:
        current = snapshot(w.files)
        if current == snap:
            if _sleep(interval, stop):
                return 0
            continue
        quiet_since = time.monotonic()
        while time.monotonic() - quiet_since < debounce:  # wait for the burst of writes to end
            if _sleep(min(interval, debounce), stop):
                return 0
            again = snapshot(w.files)
            if again != current:
                current, quiet_since = again, time.monotonic()
        changed = sorted(p for p in w.files if snap.get(p) != current.get(p))
        snap = current
        run(changed)
    return 0
