"""The render engine's schedule: when jobs are polled, when a slot is handed on, how a vendor's
rate limit is waited out. Decisions are pure functions, tested as such; the behaviour around
them on the scripted provider and the fake Together server (counts and states, not timings)."""

from __future__ import annotations

import asyncio
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from types import SimpleNamespace

import pytest

from render_helpers import ScriptedProvider, clip, created_names, make_plan, run, together, trun
from storyboard.providers.base import ProviderError
from storyboard.render import PollPolicy, RenderEvent, RetryPolicy, next_poll_at
from storyboard.render.policy import poll_phase, rate_limit_wait
from storyboard.render.journal import Journal
from storyboard.render.journaling import JournalWriter
from storyboard.render.slots import CreatesFirst, Slots, keep_slot_for


def schedule(policy: PollPolicy, n: int, **kw) -> list[float]:
    times, t = [], 0.0
    for _ in range(n):
        t = next_poll_at(policy, t, None, **kw)
        times.append(t)
    return times


# ---- polling (pure) ------------------------------------------------------------------------------

def test_scout_notices_the_first_finished_job_within_a_bounded_share_of_its_time():
    p = PollPolicy()
    times = schedule(p, 40)
    assert times[0] == p.first
    for a, b in pairwise(times):
        # a job finishing just after a GET at `a` is seen at `b`: at most 20 % late, at most `cap`
        assert b - a <= max(p.min_interval, (p.scout_factor - 1) * a) + 1e-9
        assert b - a <= p.cap + 1e-9
    # ... and no harder than that: a 90 s job (the vendors' typical) costs a scout ~17 GETs
    assert 12 <= sum(t <= 90 for t in times) <= 18


def test_longer_clips_poll_later_and_sparser_than_the_scouts():
    p = PollPolicy()
    scout, longer = schedule(p, 30), schedule(p, 30, scale=2.0)
    assert longer[0] == 4 * p.first  # twice as long: 2 x 2 x later
    assert sum(t <= 120 for t in longer) < sum(t <= 120 for t in scout) / 2


def test_phases_spread_scouts_over_one_step_at_no_extra_get():
    p = PollPolicy()
    phases = [poll_phase(n) for n in range(1, 9)]
    assert all(0 <= f < 1 for f in phases) and len({round(f, 6) for f in phases}) == 8
    # any 3 consecutive jobs split [0, 1) into gaps of at most ~half
    assert max(b - a for a, b in pairwise(sorted([0.0, *phases[:3], 1.0]))) < 0.5
    firsts = [next_poll_at(p, 0.0, None, phase=f) for f in phases]
    assert all(p.first <= t < p.first * p.scout_factor for t in firsts)
    # the same number of GETs over a job's life, whatever its phase
    counts = {sum(t <= 300 for t in _phased(p, f)) for f in phases}
    assert max(counts) - min(counts) <= 1


def _phased(p: PollPolicy, phase: float) -> list[float]:
    times, t = [], 0.0
    for _ in range(60):
        t = next_poll_at(p, t, None, phase=phase)
        times.append(t)
    return times


def test_with_a_prediction_the_first_get_lands_on_it_then_tight_then_geometric():
    p = PollPolicy(min_interval=0.1)
    assert next_poll_at(p, 0.0, 100.0) == pytest.approx(100.0)
    assert next_poll_at(p, 5.0, 100.0) == pytest.approx(100.0)  # the scout's GETs do not pull it early
    assert next_poll_at(p, 100.0, 100.0) == pytest.approx(105.0)
    assert next_poll_at(p, 200.0, 100.0) == pytest.approx(200 + p.cap)


def test_fixed_policy_ignores_predictions_scale_and_phase():
    fixed = PollPolicy.fixed(0.5)
    assert [next_poll_at(fixed, t, 3.0) for t in (0.0, 0.5, 1.0)] == [0.5, 1.0, 1.5]
    assert next_poll_at(fixed, 0.0, None, scale=3.0, phase=0.9) == 0.5


# ---- slots (pure decision, then the queue) --------------------------------------------------------

def test_a_finished_job_keeps_its_slot_only_for_a_dependant_that_outranks_every_waiter():
    assert not keep_slot_for([], 3.0)  # nothing depends on it
    assert not keep_slot_for([5.0], None)  # nobody waits: the slot is free for the dependant later
    assert not keep_slot_for([2.0], 3.0)  # the waiter would get it anyway: hand it on now
    assert not keep_slot_for([3.0], 3.0)
    assert keep_slot_for([1.0, 4.0], 3.0)


def test_an_early_release_hands_the_slot_to_the_best_waiter_once():
    async def go():
        slots = Slots(1)
        order: list[str] = []
        gate = asyncio.Event()

        async def user(name: str, priority: float):
            async with slots.slot(priority):
                order.append(name)
                await gate.wait()

        async with slots.slot(9.0) as held:
            low, high = asyncio.create_task(user("low", 1.0)), asyncio.create_task(user("high", 5.0))
            await asyncio.sleep(0)
            assert slots.best_waiting() == 5.0
            held.release()
            held.release()  # once only: the end of the block does not release again
            for _ in range(10):  # a few turns of the loop for the woken task to run
                await asyncio.sleep(0)
            assert order == ["high"]
        gate.set()
        await asyncio.gather(low, high)
        assert order == ["high", "low"] and slots.free == 1 and slots.best_waiting() is None

    asyncio.run(go())


def test_a_slow_download_does_not_hold_the_providers_slot(tmp_path):
    """Concurrency counts jobs at the provider: with one slot, b is created as soon as a's job is
    over there, while a's video is still downloading."""
    class SlowDownload(ScriptedProvider):
        async def download(self, job, dest):
            self.timeline.append(("download-start", self.clip_of(self.jobs[job.id]["body"]), 0.0))
            await asyncio.sleep(0.2)
            await super().download(job, dest)

    p = SlowDownload(latency=0.03)
    report = run(make_plan(tmp_path, [clip("a", 5), clip("b", 4)]), p, concurrency=1)
    assert report.complete and created_names(p) == ["a", "b"]
    events = [(e, c) for e, c, _ in p.timeline]
    assert events.index(("create", "b")) < events.index(("downloaded", "a"))


def test_a_dependant_that_outranks_the_waiters_gets_the_slot_of_its_input(tmp_path):
    # a -> b -> c is the critical path; x and y wait for the one slot meanwhile
    spec = [clip("a"), clip("b", after=("a",)), clip("c", after=("b",)), clip("x", 3), clip("y", 3)]
    p = ScriptedProvider(latency=0.02)
    assert run(make_plan(tmp_path, spec), p, concurrency=1).complete
    assert created_names(p) == ["a", "b", "c", "x", "y"]


# ---- rate limits ---------------------------------------------------------------------------------

def test_rate_limit_wait_honours_retry_after_within_the_job_timeout_only():
    retry, rng = RetryPolicy(max_wait=60.0), random.Random(1)
    wait = rate_limit_wait(retry, 0, 90.0, waited=0.0, budget=1800.0, rng=rng)
    assert 90.0 <= wait <= 99.0  # the vendor's word, past max_wait, with a little jitter
    assert rate_limit_wait(retry, 40, 90.0, waited=1750.0, budget=1800.0, rng=rng) is None
    assert rate_limit_wait(retry, 40, 3600.0, waited=0.0, budget=1800.0, rng=rng) is None
    # no Retry-After: the usual backoff, capped, for as long as the budget lasts
    waits = [rate_limit_wait(retry, n, None, waited=0.0, budget=1800.0, rng=rng) for n in range(60)]
    assert all(0 < w <= retry.cap for w in waits)


def test_a_429_create_is_waited_out_far_past_the_retry_budget_and_said_once(tmp_path):
    limited = [ProviderError("rate limited", status=429, retryable=True, retry_after=0.01)] * 12
    p = ScriptedProvider(create_errors={"a": list(limited), "b": list(limited)})
    events: list[RenderEvent] = []
    retry = RetryPolicy(attempts=2, base=0.01, cap=0.02)
    report = run(make_plan(tmp_path, [clip("a"), clip("b")]), p, on_event=events.append, retry=retry)
    assert report.complete and sorted(created_names(p)) == ["a", "b"] and p.create_calls == 26
    notes = [e for e in events if e.clip == "*" and "rate limit" in e.message]
    assert len(notes) == 1 and "nothing was created" in notes[0].message
    assert not [e for e in events if e.state == "retrying"]
    assert [e.state for e in events if e.clip == "a"].count("submitting") == 1  # one state, not 13 lines


def test_a_rate_limit_longer_than_the_job_timeout_fails_clearly_and_creates_nothing(tmp_path):
    p = ScriptedProvider(create_errors={"a": [ProviderError("rate limited", status=429, retryable=True,
                                                            retry_after=3600.0)]})
    report = run(make_plan(tmp_path, [clip("a")]), p, poll=PollPolicy(deadline=60.0))
    assert report["a"].status == "failed" and not p.creates
    assert "asks to come back in 3600 s" in report["a"].error and "1 min job timeout" in report["a"].error


@pytest.mark.slow
def test_fake_togethers_running_limit_is_waited_for_not_given_up_on(tmp_path, fake_together):
    """The fake answers creates 429 while 1 job runs: 3 clips at concurrency 3 all render, one
    create each, though the create retry budget alone would give up after 2 attempts."""
    fake = fake_together(latency=0.3, max_running=1, retry_after=0.05)
    plan = make_plan(tmp_path, [clip(n, prompt=f"{n}: a harbour at dawn") for n in ("a", "b", "c")],
                     provider="together")
    events: list[RenderEvent] = []
    report = trun(plan, together(fake), concurrency=3, on_event=events.append, media=None,
                  retry=RetryPolicy(attempts=2, base=0.01, cap=0.02))
    assert report.complete, [(o.name, o.error) for o in report.problems]
    st = fake.stats()
    assert st["creates"] == 3 and st["rejected"] >= 2
    assert sum(e.clip == "*" and "rate limit" in e.message for e in events) == 1



# ---- creates before downloads --------------------------------------------------------------------

def test_a_finished_jobs_download_gives_way_to_the_create_its_slot_went_to(tmp_path):
    """Jobs that finish together free slots for the next creates (the critical path) while their
    videos only fill the cache: with one slot, a's download starts once b's create is answered."""
    class SlowCreateWatchedDownload(ScriptedProvider):
        async def create(self, body, *, workdir):
            if self.clip_of(body) == "b":
                await asyncio.sleep(0.05)  # well inside the download's patience (0.25 s)
            job = await super().create(body, workdir=workdir)
            self.timeline.append(("answered", self.clip_of(body), 0.0))
            return job

        async def download(self, job, dest):
            self.timeline.append(("download-start", self.clip_of(self.jobs[job.id]["body"]), 0.0))
            await super().download(job, dest)

    p = SlowCreateWatchedDownload(latency=0.03)
    assert run(make_plan(tmp_path, [clip("a", 5), clip("b", 4)]), p, concurrency=1).complete
    events = [(e, c) for e, c, _ in p.timeline]
    assert events.index(("answered", "b")) < events.index(("download-start", "a"))


def test_a_download_waits_for_a_slow_create_no_longer_than_its_patience():
    async def go():
        creates = CreatesFirst(Slots(1), patience=0.01)
        await creates.give_way()  # nothing being prepared: at once
        with creates.preparing():
            await asyncio.wait_for(creates.give_way(), 5)  # past its patience it goes anyway
        released = asyncio.Event()

        async def create():
            with creates.preparing():
                await released.wait()

        creates.patience = 5
        task = asyncio.create_task(create())
        await asyncio.sleep(0)
        download = asyncio.create_task(creates.give_way())
        await asyncio.sleep(0.02)
        assert not download.done()  # waiting for the create
        released.set()
        await asyncio.wait_for(download, 1)
        await task

    asyncio.run(go())


def test_the_submitting_record_never_queues_behind_the_default_executor(tmp_path):
    """A create waits for its `submitting` record: that write has threads of its own, so finished
    jobs' records and cache stores filling the shared threads cannot hold it back."""
    async def go():
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
        blocker = threading.Event()
        busy = loop.run_in_executor(None, blocker.wait)  # the one shared thread, taken
        ctx = SimpleNamespace(journal=Journal(tmp_path, "prov"), emit=lambda *a: None)
        writer = JournalWriter(ctx)
        shot = SimpleNamespace(key="k" * 64, name="a", source="film.story:4:1")
        record = await asyncio.wait_for(writer.start(shot), 10)
        assert record.state == "submitting" and Journal(tmp_path, "prov").get("k" * 64).state == "submitting"
        blocker.set()
        await busy
        await writer.drain()

    asyncio.run(go())
