"""Writing the job journal during a run: off the event loop (fsync takes milliseconds, and other
clips keep moving meanwhile), each key's writes landing in the order they were asked for.

The `submitting` record is on the critical path: a create is sent only once it is durable. It has
threads of its own, so it never queues behind the records and cache stores of the jobs that just
finished (when many finish together, those fill the default executor's threads)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from ..disk import os_reason
from ..plan import PlannedClip
from .context import RunContext
from .journal import JobRecord


class JournalWriter:
    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.journal = ctx.journal
        self._writes: dict[str, asyncio.Future] = {}  # the last journal write of each key
        self._starts: ThreadPoolExecutor | None = None  # made at the first create: a no-op run has none

    async def put(self, record: JobRecord) -> JobRecord:
        """Write a journal record and wait until it is durable."""
        return await self.put_soon(record)

    def put_soon(self, record: JobRecord) -> asyncio.Future[JobRecord]:
        """Start writing a record; writes of one key land in the order they were asked for."""
        prev = self._writes.get(record.key)

        async def write() -> JobRecord:
            if prev is not None:
                await asyncio.wait([prev])
            return await asyncio.to_thread(self.journal.put, record)

        task = asyncio.ensure_future(write())
        self._writes[record.key] = task
        task.add_done_callback(lambda t, clip=record.clip: self._write_done(t, clip))
        return task

    def _write_done(self, task: asyncio.Future, clip: str) -> None:
        if task.cancelled() or task.exception() is None:  # (retrieving it keeps asyncio quiet)
            return
        exc = task.exception()
        self.ctx.emit(clip, "note", f"cannot update the job journal in {self.journal.dir}: "
                                    f"{os_reason(exc) if isinstance(exc, OSError) else exc}")

    async def start(self, clip: PlannedClip) -> JobRecord:
        """The `submitting` record, durable before the create request is sent."""
        prev = self._writes.get(clip.key)
        if prev is not None:
            await asyncio.wait([prev])
        if self._starts is None:
            self._starts = ThreadPoolExecutor(max_workers=4, thread_name_prefix="journal-start")
        return await asyncio.get_running_loop().run_in_executor(
            self._starts, self.journal.start, clip.key, clip.name, clip.source)

    async def drain(self) -> None:
        """Wait for every write still in flight, then let the start threads go."""
        pending = [w for w in self._writes.values() if not w.done()]
        if pending:
            await asyncio.wait(pending)
        if self._starts is not None:
            self._starts.shutdown(wait=False)  # a start still running is awaited by its clip
            self._starts = None
