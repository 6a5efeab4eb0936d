"""How often to poll and how to retry (adaptive to each job's predicted latency), and the
concurrency slots that serve the critical path first."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class PollPolicy:
    """When to GET a running job.

    Before any job of this run has finished, the shortest clips in flight are the scouts: polled
    from `first` on a geometric schedule growing by `scout_factor` (at most `cap` apart), so the
    first job to finish is noticed within ~20 % of its time; each scout's schedule is shifted by
    its own phase, so takes of one clip watching together notice sooner than one alone, at no
    extra GET each. Longer clips poll on the `factor` schedule, started later in proportion to
    their length (a job's time grows with its seconds of video): they mostly wait for the first
    finished job to tell how long jobs take. From then on a job's duration is predicted from the
    fastest seconds-of-work per second-of-video seen so far, counted from the create's answer
    (when the job surely existed): it is polled at `lead` x that prediction, then every
    `precision` of its elapsed time up to 1.5x the prediction, then geometrically again.
    """

    first: float = 5.0  # for the shortest clip in flight (the Seedance docs' example polls every 15 s)
    factor: float = 1.5
    cap: float = 30.0
    min_interval: float = 1.0
    lead: float = 1.0
    precision: float = 0.05
    adaptive: bool = True
    deadline: float = 30 * 60.0  # per job, from when this run starts waiting for it
    scout_factor: float = 1.2

    @classmethod
    def fixed(cls, interval: float, deadline: float = 30 * 60.0) -> PollPolicy:
        return cls(first=interval, factor=1.0, cap=interval, min_interval=interval, adaptive=False,
                   deadline=deadline, scout_factor=1.0)

    def scaled(self, k: float) -> PollPolicy:
        """The same shape with every duration multiplied by k (tests, benchmarks)."""
        return replace(self, first=self.first * k, cap=self.cap * k, min_interval=self.min_interval * k,
                       deadline=self.deadline * k)


def next_poll_at(policy: PollPolicy, last: float, predicted: float | None, scale: float = 1.0,
                 phase: float = 0.0) -> float:
    """Seconds since the job's create of its next GET, given the previous GET's time (0: none
    yet), the predicted duration if any, and (without one) the clip's length relative to the
    shortest clip in flight and the job's phase in [0, 1). Pure."""
    if policy.adaptive and predicted is not None:
        if last < policy.lead * predicted:
            return max(last + policy.min_interval, policy.lead * predicted)
        if last < 1.5 * predicted:
            return last + min(policy.cap, max(policy.min_interval, policy.precision * last))
    # No estimate: the shortest clips in flight (the scouts) poll on the tighter geometric
    # schedule; longer ones (scale > 1) on the other, stretched by twice their relative length,
    # as they should finish later and an estimate will usually arrive first. The stretch keeps
    # them polling if it does not.
    scout = not policy.adaptive or scale <= 1.0 + 1e-9
    stretch = 1.0 if scout else 2.0 * scale
    growth = (policy.scout_factor if scout else policy.factor) - 1.0
    t = last / stretch
    if t <= 0:  # the phase shifts the whole schedule by up to one step
        return policy.first * (1.0 + phase * growth) * stretch
    return (t + min(policy.cap, max(policy.min_interval, growth * t))) * stretch


def poll_phase(n: int) -> float:
    """The phase of the n-th job waited for: spread evenly over [0, 1) however many there are
    (the golden-ratio sequence), so that scouts watching together sample the time between
    their GETs evenly."""
    return (n * 0.6180339887498949) % 1.0


_JITTER = random.Random()  # one generator for every retry's jitter


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for create errors that prove nothing was created (429, 5xx answered, refused
    connection): 0.5 s doubling to 8 s, with jitter, `Retry-After` honoured (up to `max_wait`)."""

    attempts: int = 6
    base: float = 0.5
    cap: float = 8.0
    max_wait: float = 60.0

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random | None = None) -> float:
        rng = rng or _JITTER
        backoff = min(self.cap, self.base * (2 ** attempt))
        backoff = backoff * (0.5 + rng.random() / 2)  # jitter: many clients must not retry in step
        if retry_after is not None and retry_after > 0:
            return min(self.max_wait, max(retry_after, backoff))
        return backoff


def rate_limit_wait(retry: RetryPolicy, attempt: int, retry_after: float | None, waited: float,
                    budget: float, rng: random.Random | None = None) -> float | None:
    """Seconds to wait before sending again a create the vendor refused for its rate limit (429:
    nothing was created), or None when the next try would come after `budget` (the job timeout)
    seconds of waiting. `Retry-After` is honoured as the vendor says it, however long (there is
    no `max_wait` here: only the budget bounds it), plus up to 10 % so the clips waiting together
    do not all come back in the same instant; without one, the usual backoff. Pure but for the
    jitter."""
    rng = rng or _JITTER
    if retry_after is not None and retry_after > 0:
        wait = retry_after * (1.0 + rng.random() / 10)
    else:
        wait = min(retry.cap, retry.base * (2 ** min(attempt, 16))) * (0.5 + rng.random() / 2)
    return wait if waited + wait <= budget else None


class Slots:
    """A semaphore whose waiters are served highest priority first (critical path first).

    `reserve` queues a request synchronously, so a clip made ready by its input's completion is
    in the queue before that input's slot is handed on (a task waking up later would lose it)."""

    def __init__(self, n: int):
        self.free = n
        self._waiters: list[tuple[float, int, asyncio.Future]] = []
        self._seq = 0

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
                return
        self.free += 1


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
