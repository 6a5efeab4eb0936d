"""How often to poll and how to retry (adaptive to each job's predicted latency). Pure: no event
loop here, so the command line and a render with nothing to do import it without asyncio (the
slots and the latency estimate of a running render are in `slots`)."""

from __future__ import annotations

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
