"""Writing the job journal during a run: off the event loop (fsync takes milliseconds, and other
clips keep moving meanwhile), each key's writes landing in the order they were asked for."""

from __future__ import annotations

import asyncio

from ..disk import os_reason
from ..plan import PlannedClip
from .context import RunContext
from .journal import JobRecord


class JournalWriter:
    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.journal = ctx.journal
        self._writes: dict[str, asyncio.Future] = {}  # the last journal write of each key

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
        return await asyncio.to_thread(self.journal.start, clip.key, clip.name, clip.source)

    async def drain(self) -> None:
        """Wait for every write still in flight."""
        pending = [w for w in self._writes.values() if not w.done()]
        if pending:
            await asyncio.wait(pending)
