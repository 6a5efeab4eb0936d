"""The cache and the job journal on their own: atomic records, checks, quarantine."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import pytest

from storyboard.render.cache import Cache, CacheRecord, Expectation, check_media, probe_summary
from storyboard.render.journal import Journal, JournalError, JobRecord, atomic_write
from storyboard.plan import PlannedClip
from storyboard.render import expectation, next_poll_at, PollPolicy, RetryPolicy


def info(duration=4.0, video=True, audio=True):
    return SimpleNamespace(duration=duration,
                           video=SimpleNamespace(width=320, height=180) if video else None,
                           audio=SimpleNamespace(rate=48000) if audio else None)


# ---- journal ---------------------------------------------------------------------------------

def test_journal_round_trip_and_history(tmp_path: Path):
    j = Journal(tmp_path, "prov")
    rec = j.start("k1", "opening", "film.story:3:1")
    assert rec.state == "submitting" and rec.job_id is None and rec.submitted_at
    rec = j.put(rec.advance("submitted", job_id="job-1"))
    rec = j.put(rec.advance("completed", video_url="https://x/v.mp4", cost=0.64))
    back = j.get("k1")
    assert back == rec
    assert [s for s, _ in back.history] == ["submitting", "submitted", "completed"]
    assert j.path("k1").parent == tmp_path / "jobs" / "prov"


def test_journal_restart_keeps_history_and_forget(tmp_path: Path):
    j = Journal(tmp_path, "prov")
    j.put(j.start("k", "a").advance("unsent", error="429"))
    again = j.start("k", "a")
    assert [s for s, _ in again.history] == ["submitting", "unsent", "submitting"]
    assert j.forget("k") and j.get("k") is None and not j.forget("k")


def test_journal_write_is_atomic_and_leaves_no_temp(tmp_path: Path):
    target = tmp_path / "a" / "rec.json"
    atomic_write(target, "one")
    atomic_write(target, "two")
    assert target.read_text() == "two"
    assert sorted(p.name for p in target.parent.iterdir()) == ["rec.json"]


def test_unreadable_record_is_an_error_not_a_fresh_start(tmp_path: Path):
    # A record we cannot read may hide a paid job: the engine must not treat it as "no job".
    j = Journal(tmp_path, "prov")
    j.path("k").parent.mkdir(parents=True)
    j.path("k").write_text("{not json")
    with pytest.raises(JournalError):
        j.get("k")


def test_record_holds_no_body_or_secret_fields():
    fields = set(JobRecord.__dataclass_fields__)
    assert not fields & {"body", "request", "api_key", "headers"}


# ---- cache -----------------------------------------------------------------------------------

def test_check_media_rules():
    ok = probe_summary(info(4.2))
    assert check_media(ok, Expectation((4.0,), audio=True)) is None
    assert "lasts 4.80 s" in check_media(probe_summary(info(4.8)), Expectation((4.0,), audio=True))
    assert check_media(probe_summary(info(4.0, audio=False)), Expectation((4.0,), audio=True)) == "has no audio stream"
    assert check_media(probe_summary(info(4.0, audio=False)), Expectation((4.0,), audio=False)) is None
    assert check_media(probe_summary(info(4.0, video=False)), Expectation((4.0,), audio=False)) == "has no video stream"
    # an extension may come back as source + continuation
    assert check_media(probe_summary(info(9.0)), Expectation((4.0, 9.0), audio=True)) is None


def _clip(name, kind="shot", seconds=4, after=()):
    return PlannedClip(name=name, kind=kind, seconds=seconds, after=list(after), request={"prompt": name},
                       estimated_cost_usd=0.0, key=name * 4, mode="text", source="f.story:1:1",
                       width=320, height=180)


def test_expectation_for_extend_uses_target_actual_length():
    ext = _clip("ext", kind="extend", seconds=5, after=["a"])
    assert expectation(ext, {"a": 4.04}).durations == (5.0, 9.04)
    assert expectation(ext, {}).durations == (5.0,)
    assert expectation(_clip("a"), {"x": 1.0}).durations == (4.0,)


def test_cache_store_verify_quarantine(tmp_path: Path):
    cache = Cache(tmp_path, "prov")
    tmp = cache.temp_path("abc")
    tmp.write_bytes(b"video")
    rec = CacheRecord(name="a", key="abc", provider="prov", job_id="j1", cost=0.5,
                      video_url="https://x", probe={"duration": 4.0, "video": True, "audio": True})
    path = cache.store(tmp, rec)
    assert path == tmp_path / "cache" / "prov" / "abc.mp4" and path.read_bytes() == b"video"
    assert not tmp.exists()
    st = path.stat()  # the stored size, and the file's identity, are recorded
    assert cache.read_record("abc") == replace(rec, size=5, mtime_ns=st.st_mtime_ns, inode=st.st_ino)

    def broken(p):
        raise ValueError("moov atom not found")

    # the very file that was stored and checked: its record says what it is, nothing is probed
    summary, problem = cache.verify("abc", Expectation((4.0,), True), broken)
    assert problem is None and summary["duration"] == 4.0
    _, problem = cache.verify("abc", Expectation((6.0,), True), broken)
    assert "lasts 4.00 s, expected 6 s" in problem
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # touched since: probed again
    summary, problem = cache.verify("abc", Expectation((4.0,), True), lambda p: info(4.0))
    assert problem is None and summary["duration"] == 4.0
    _, problem = cache.verify("abc", Expectation((4.0,), True), broken)
    assert "cannot be read" in problem
    aside = cache.quarantine("abc")
    assert aside.parent.name == "corrupt" and aside.read_bytes() == b"video"
    assert json.loads(aside.with_suffix(".json").read_text())["job_id"] == "j1"
    assert not cache.has_file("abc") and cache.read_record("abc") is None
    assert cache.quarantine("abc") is None


# ---- policies (pure) -------------------------------------------------------------------------

def test_poll_schedule_without_estimate_grows_geometrically_to_cap():
    p = PollPolicy()
    times, t = [], 0.0
    for _ in range(40):  # the scouts' schedule grows by 1.2: it reaches the cap later
        t = next_poll_at(p, t, None)
        times.append(t)
    assert times[0] == p.first
    gaps = [b - a for a, b in pairwise(times)]
    assert all(g2 >= g1 - 1e-9 for g1, g2 in pairwise(gaps))
    assert max(gaps) == p.cap


def test_poll_schedule_with_estimate_jumps_then_polls_tightly():
    p = PollPolicy(min_interval=0.1)
    assert next_poll_at(p, 0.0, 100.0) == pytest.approx(100.0)
    assert next_poll_at(p, 100.0, 100.0) == pytest.approx(105.0)
    # long past the estimate: back to geometric growth
    assert next_poll_at(p, 200.0, 100.0) == pytest.approx(200 + p.cap)
    fixed = PollPolicy.fixed(0.5)
    assert [next_poll_at(fixed, t, 3.0) for t in (0.0, 0.5, 1.0)] == [0.5, 1.0, 1.5]


def test_poll_schedule_without_estimate_starts_longer_clips_later():
    p = PollPolicy()
    # a clip twice as long as the shortest in flight mostly waits for an estimate: 2 x 2 x later
    assert next_poll_at(p, 0.0, None, scale=2.0) == 4 * p.first
    assert next_poll_at(p, 4 * p.first, None, scale=2.0) == 4 * p.first * p.factor
    assert next_poll_at(p, 0.0, None, scale=0.5) == p.first
    assert next_poll_at(PollPolicy.fixed(0.5), 0.0, None, scale=3.0) == 0.5


def test_retry_delay_doubles_caps_and_honours_retry_after():
    r = RetryPolicy()
    import random

    rng = random.Random(1)
    delays = [r.delay(a, None, rng) for a in range(8)]
    assert all(0.25 <= d <= 8.0 for d in delays)
    assert delays[6] > delays[0]
    assert r.delay(0, 3.0, rng) >= 3.0
    assert r.delay(0, 600.0, rng) == r.max_wait
