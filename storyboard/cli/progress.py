"""How a render shows its progress on stderr: a live table on a terminal, plain lines otherwise.
A clip's problem is shown once, at the end (`render.report_problems`), not also here."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from ..render import RenderEvent

STYLE = {"queued": "dim", "waiting": "dim", "submitting": "yellow", "retrying": "yellow",
         "running": "cyan", "downloading": "cyan", "done": "green", "cached": "green",
         "failed": "bold red", "skipped": "red", "in-doubt": "bold magenta", "interrupted": "magenta"}
FINAL = ("done", "cached", "failed", "skipped", "in-doubt", "interrupted")
PROBLEMS = ("failed", "skipped", "in-doubt")  # their message is the final report's to print


class PlainProgress:
    """One line per meaningful change, for logs and pipes."""

    QUIET = ("queued", "waiting", "downloading")

    def __init__(self, console: Console):
        self.console = console
        self.t0 = time.monotonic()

    def __call__(self, e: RenderEvent) -> None:
        if e.state in self.QUIET:
            return
        job = f" [{e.job_id}]" if e.job_id and e.state in ("running", "done") else ""
        msg = f": {e.message}" if e.message and e.state not in ("running", *PROBLEMS) else ""
        self.console.print(f"[{time.monotonic() - self.t0:6.1f}s] {e.clip}: {e.state}{job}{msg}",
                           markup=False, highlight=False, soft_wrap=True)

    def close(self) -> None:
        pass


class LiveProgress:
    """A table with one row per clip, redrawn in place on a terminal."""

    def __init__(self, console: Console, clips: list[tuple[str, int]]):
        from rich.live import Live  # only on a terminal: a pipe or a log never pays for it

        self.console = console
        self.rows: dict[str, dict[str, Any]] = {
            name: {"seconds": seconds, "state": "", "job": "", "note": "", "since": None} for name, seconds in clips}
        self.notes: list[str] = []
        self.t0 = time.monotonic()
        self.live = Live(console=console, refresh_per_second=4, transient=False, get_renderable=self._table)
        self.live.start()

    def __call__(self, e: RenderEvent) -> None:
        row = self.rows.get(e.clip)
        if row is None:  # engine-wide notes
            self.notes.append(e.message)
        else:
            self._update(row, e)
        self.live.refresh()

    @staticmethod
    def _update(row: dict[str, Any], e: RenderEvent) -> None:
        if e.state == "note":
            row["note"] = e.message
        else:
            if e.state != row["state"]:
                row["since"] = time.monotonic()
            row["state"] = e.state
            if e.state in ("failed", "skipped", "in-doubt", "retrying", "queued"):
                row["note"] = e.message
            elif e.state in ("done", "cached", "submitting"):
                row["note"] = ""
        if e.job_id:
            row["job"] = e.job_id

    def _table(self):
        from rich.table import Table
        from rich.text import Text

        t = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
        for col in ("clip", "s", "state", "job", "for", ""):
            t.add_column(col, overflow="ellipsis", no_wrap=True, justify="right" if col in ("s", "for") else "left")
        now = time.monotonic()
        for name, r in self.rows.items():
            if not r["state"]:
                continue
            took = f"{now - r['since']:.0f}s" if r["since"] and r["state"] not in FINAL else ""
            job = r["job"][-12:] if r["job"] else ""
            t.add_row(name, str(r["seconds"]), Text(r["state"], style=STYLE.get(r["state"], "")), job, took,
                      Text(r["note"][:100], style="dim"))
        for n in self.notes[-2:]:
            t.add_row("", "", "", "", "", Text(n, style="yellow"))
        return t

    def close(self) -> None:
        self.live.stop()


def progress_for(err: Console, plan):
    if err.is_terminal:
        return LiveProgress(err, [(c.name, c.seconds) for c in plan.clips])
    return PlainProgress(err)
