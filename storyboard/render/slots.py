"""What a running render shares between its clips on the event loop: the concurrency slots that
serve the critical path first, and the latency estimate the pollers learn from finished jobs."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import Callable


class Slots:
    """A semaphore whose waiters are served highest priority first (critical path first).

    `reserve` queues a request synchronously, so a clip made ready by its input's completion is
    in the queue before that input's slot is handed on (a task waking up later would lose it).
    A slot handed to a waiter counts in `handed` until its clip wakes up and takes it
    (`on_change` is called then, on the loop's next turn)."""

    def __init__(self, n: int):
        self.free = n
        self._waiters: list[tuple[float, int, asyncio.Future]] = []
        self._seq = 0
        self._handed: set[asyncio.Future] = set()
        self.on_change: Callable[[], None] = lambda: None

    @property
    def handed(self) -> int:
        return len(self._handed)

    def reserve(self, priority: float) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        if self.free > 0 and not self._waiters:
            self.free -= 1
            fut.set_result(None)
        else:
            self._seq += 1
            heapq.heappush(self._waiters, (-priority, self._seq, fut))
        return fut

    def cancel(self, ticket: asyncio.Future) -> None:
        """Give up a reservation (granted or not)."""
        if ticket.done():
            self._taken(ticket)
            if not ticket.cancelled():
                self._release()
        else:
            ticket.cancel()

    @contextlib.asynccontextmanager
    async def slot(self, priority: float, ticket: asyncio.Future | None = None):
        """Hold a slot; the `Held` yielded may hand it on before the block ends."""
        ticket = ticket or self.reserve(priority)
        try:
            await asyncio.shield(ticket)
        except asyncio.CancelledError:
            self.cancel(ticket)  # granted just as we were cancelled: pass it on
            raise
        self._taken(ticket)
        held = Held(self)
        try:
            yield held
        finally:
            held.release()

    def best_waiting(self) -> float | None:
        """The priority of the first clip in the queue for a slot, if any."""
        while self._waiters and self._waiters[0][2].done():  # given up
            heapq.heappop(self._waiters)
        return -self._waiters[0][0] if self._waiters else None

    def _release(self) -> None:
        while self._waiters:
            _, _, fut = heapq.heappop(self._waiters)
            if not fut.done():
                fut.set_result(None)
                self._handed.add(fut)
                self.on_change()
                return
        self.free += 1

    def _taken(self, ticket: asyncio.Future) -> None:
        if ticket in self._handed:
            self._handed.discard(ticket)
            # On the next turn: by then a clip that creates has begun preparing its create.
            asyncio.get_running_loop().call_soon(self.on_change)


class Held:
    """A slot being used; released once, early or at the end of the `slot` block."""

    def __init__(self, slots: Slots):
        self._slots, self.released = slots, False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self._slots._release()


def keep_slot_for(dependants: list[float], best_waiting: float | None) -> bool:
    """Whether a clip whose job just finished at the provider keeps its slot while its video is
    downloaded, to hand it to a dependant that the download makes ready. Only when one of those
    outranks every clip already waiting: otherwise the slot goes now to whom it would go then,
    and the provider starts the next job while we download. Pure: priorities in, yes or no."""
    return bool(dependants) and best_waiting is not None and max(dependants) > best_waiting


class LatencyEstimator:
    """Seconds of provider work per second of video, learnt from this run's finished jobs.
    The fastest rate seen is used so a prediction errs early (a wasted GET) rather than late
    (a finished clip left waiting). Pollers are woken when it changes. It also knows the clips
    being waited for, so that without an estimate longer clips poll later than the shortest."""

    def __init__(self) -> None:
        self.rates: list[float] = []
        self.changed = asyncio.Event()
        self._waiting: dict[int, int] = {}
        self._next = 0

    def observe(self, seconds: int, took: float) -> None:
        if took <= 0 or seconds <= 0:
            return
        self.rates.append(took / seconds)
        self.changed.set()
        self.changed = asyncio.Event()

    def predict(self, seconds: int) -> float | None:
        return min(self.rates) * seconds if self.rates else None

    def enter(self, seconds: int) -> int:
        self._next += 1
        self._waiting[self._next] = max(1, seconds)
        return self._next

    def leave(self, token: int) -> None:
        self._waiting.pop(token, None)

    def scale(self, seconds: int) -> float:
        shortest = min(self._waiting.values(), default=seconds)
        return max(1.0, seconds / max(1, shortest))


class CreatesFirst:
    """Downloads give way to creates. When jobs finish together, the slots they free go to
    clips whose creates start the provider's next jobs (the critical path), while the finished
    videos' downloads only fill the cache; both run in this process, whose Python runs on one
    core at a time. So a download waits while a slot handed on is not taken yet or a create is
    being prepared or sent, and never longer than `patience` seconds (a create can be slow, or
    wait out a rate limit)."""

    def __init__(self, slots: Slots, patience: float = 0.25):
        self.slots, self.patience = slots, patience
        self._preparing = 0
        self._none = asyncio.Event()
        self._none.set()
        slots.on_change = self._update

    def _update(self) -> None:
        if self._preparing or self.slots.handed:
            self._none.clear()
        else:
            self._none.set()

    @contextlib.contextmanager
    def preparing(self):
        """Around a clip's work from its slot to the create's answer."""
        self._preparing += 1
        self._update()
        try:
            yield
        finally:
            self._preparing -= 1
            self._update()

    async def give_way(self) -> None:
        if not self._none.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._none.wait(), self.patience)
