"""The render engine: scheduler, journal, cache, money gates, and the CLI's `render` command.

Most tests use `ScriptedProvider`, an in-memory provider whose "videos" are small JSON files read
by a fake `media` module: fast, no video. The end-to-end tests at the bottom use the preview
provider and the fake Together server over real sockets.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from storyboard.render.journal import Journal
from storyboard.plan import RenderPlan
from storyboard.providers.base import AmbiguousSubmit, ProviderError
from storyboard.cli.words import cost_limit_text, outcome_text
from storyboard.render import Reason, ReasonCode
from storyboard.render import (ApprovalRequired, CostLimitExceeded, NotApproved, RenderEvent,
                               RenderLocked, StoryLock, adopt, forget, inspect_render,
                               render, render_plan)

from render_helpers import (FAST_POLL, FAST_RETRY, KEY, FakeMedia, ScriptedProvider, clip, cli,  # noqa: F401
                            created_names, make_plan, run, stats, together, trun)


# ---- cache and scheduling --------------------------------------------------------------------

def test_renders_everything_then_nothing_twice(tmp_path):
    plan = make_plan(tmp_path, [clip("a"), clip("b"), clip("c", after=("a",))])
    p = ScriptedProvider()
    events: list[RenderEvent] = []
    report = run(plan, p, on_event=events.append)
    assert report.exit_code == 0 and report.complete
    assert sorted(created_names(p)) == ["a", "b", "c"]
    assert {o.status for o in report.outcomes} == {"rendered"}
    for o in report.outcomes:
        assert o.path == tmp_path / ".storyboard" / "cache" / "scripted" / f"{o.key}.mp4"
        assert json.loads(o.path.with_suffix(".json").read_text())["job_id"] == o.job_id
        assert Journal(tmp_path / ".storyboard", "scripted").get(o.key).state == "downloaded"
    states = [e.state for e in events if e.clip == "c"]
    assert states.index("waiting") < states.index("submitting") < states.index("done")

    p2 = ScriptedProvider()
    again = run(plan, p2)
    assert p2.create_calls == 0 and p2.gets == 0
    assert {o.status for o in again.outcomes} == {"cached"} and again.clips == report.clips


def test_editing_one_clip_rerenders_it_and_its_dependants_only(tmp_path):
    spec = [clip("a"), clip("b"), clip("c", after=("b",)), clip("d")]
    run(make_plan(tmp_path, spec), ScriptedProvider())
    spec[1] = clip("b", prompt="b: now at dusk")
    p = ScriptedProvider()
    report = run(make_plan(tmp_path, spec), p)
    assert sorted(created_names(p)) == ["b", "c"]
    assert [o.status for o in report.outcomes] == ["cached", "rendered", "rendered", "cached"]


def test_concurrency_is_respected(tmp_path):
    plan = make_plan(tmp_path, [clip(f"s{i}") for i in range(9)])
    p = ScriptedProvider(latency=0.05)
    report = run(plan, p, concurrency=3)
    assert report.complete and p.max_in_flight == 3


def test_dependant_starts_only_after_its_input_and_gets_it(tmp_path):
    plan = make_plan(tmp_path, [
        clip("a"),
        clip("b", after=("a",), kind="extend", media={"reference_videos": [{"video": "<video:a>"}]}),
        clip("c", after=("a",), media={"frame_images": [{"input_image": "<last-frame:a>", "frame": "first"}]}),
        clip("z"),
    ])
    media = FakeMedia()
    p = ScriptedProvider(latency=lambda body: 0.15 if body["prompt"].startswith("a") else 0.02)
    report = run(plan, p, media=media, concurrency=4)
    assert report.complete
    t = {(ev, name): when for ev, name, when in p.timeline}
    assert t[("create", "b")] >= t[("downloaded", "a")]
    assert t[("create", "c")] >= t[("downloaded", "a")]
    assert t[("create", "z")] < t[("downloaded", "a")]  # independent work did not wait
    bodies = {ScriptedProvider.clip_of(b): b for b in p.creates}
    a_path = report["a"].path
    assert bodies["b"]["media"]["reference_videos"] == [{"video": str(a_path.resolve())}]
    frame = bodies["c"]["media"]["frame_images"][0]["input_image"]
    assert frame.endswith(f"{report['a'].key}-last.png") and Path(frame).is_file()
    assert media.frames == [(a_path.name, "last")]
    assert "<" not in json.dumps(p.creates)  # every placeholder was resolved


def test_file_placeholders_resolve_relative_to_the_story(tmp_path):
    (tmp_path / "cast").mkdir()
    (tmp_path / "cast" / "kitten.png").write_bytes(b"png")
    plan = make_plan(tmp_path, [clip("a", media={"reference_images": ["<file:cast/kitten.png>",
                                                                      "https://example.com/x.png"]})])
    p = ScriptedProvider()
    run(plan, p)
    assert p.creates[0]["media"]["reference_images"] == [str((tmp_path / "cast" / "kitten.png").resolve()),
                                                         "https://example.com/x.png"]
    missing = make_plan(tmp_path, [clip("m", media={"reference_images": ["<file:cast/none.png>"]})])
    report = run(missing, ScriptedProvider())
    assert report["m"].status == "failed" and "cast/none.png does not exist" in report["m"].error


def test_wall_time_approaches_the_critical_path(tmp_path):
    # six 0.2 s shots listed before a chain a1 -> a2 -> a3 of 0.3 s each; 4 slots. Starting the
    # shots first (plan order) would take 0.2 + 0.9 s; critical path first takes 0.9 s.
    spec = [clip(f"s{i}") for i in range(6)] + [clip("a1"), clip("a2", after=("a1",)), clip("a3", after=("a2",))]
    p = ScriptedProvider(latency=lambda b: 0.3 if b["prompt"].startswith("a") else 0.2)
    report = run(make_plan(tmp_path, spec), p, concurrency=4)
    assert report.complete
    assert "a1" in [name for ev, name, _ in p.timeline if ev == "create"][:4]
    assert report.elapsed < 0.9 * 1.5, report.elapsed  # loose: a shared CI machine


def test_slots_go_to_the_critical_path_first(tmp_path):
    spec = [clip("s0"), clip("s1"), clip("a1", 6), clip("a2", 6, after=("a1",)), clip("a3", 6, after=("a2",))]
    p = ScriptedProvider(latency=0.01)
    run(make_plan(tmp_path, spec), p, concurrency=1)
    assert created_names(p) == ["a1", "a2", "a3", "s0", "s1"]


def test_only_renders_requested_clips_and_their_uncached_inputs(tmp_path):
    spec = [clip("a"), clip("b", after=("a",)), clip("c"), clip("d", after=("c",))]
    plan = make_plan(tmp_path, spec)
    p = ScriptedProvider()
    summary = inspect_render(plan, p, only=["b"], media=FakeMedia())
    assert [t.action for t in summary.tasks] == ["submit", "submit", "not-requested", "not-requested"]
    assert "needed by a requested clip" in summary.tasks[0].reason
    report = run(plan, p, only={"b"})
    assert sorted(created_names(p)) == ["a", "b"]
    assert report["c"].status == "not-requested" and not report.complete and report.exit_code == 0
    # now c is requested; a is cached and not touched
    p2 = ScriptedProvider()
    run(plan, p2, only={"d"})
    assert sorted(created_names(p2)) == ["c", "d"]


def test_only_rejects_unknown_names(tmp_path):
    from storyboard.render import RenderError

    with pytest.raises(RenderError, match="no clip named 'nope'"):
        run(make_plan(tmp_path, [clip("a")]), ScriptedProvider(), only={"nope"})


# ---- failures --------------------------------------------------------------------------------

def test_a_failed_job_fails_its_dependants_but_not_the_rest(tmp_path):
    spec = [clip("a", line=3), clip("b", after=("a",)), clip("c", after=("b",)), clip("x")]
    p = ScriptedProvider(fail={"a"})
    report = run(make_plan(tmp_path, spec), p)
    assert report.exit_code == 3
    assert report["a"].status == "failed" and "generation failed for a" in report["a"].error
    assert report["a"].source == "film.story:3:1" and report["a"].job_id
    assert report["b"].status == "skipped" and report["b"].error == "depends on a which failed"
    assert report["c"].error == "depends on b which was skipped"
    assert report["x"].status == "rendered" and report["x"].path.is_file()
    assert Journal(tmp_path / ".storyboard", "scripted").get(report["a"].key).state == "failed"
    # next run: only the failed chain is tried again; x is cached
    p2 = ScriptedProvider()
    again = run(make_plan(tmp_path, spec), p2)
    assert sorted(created_names(p2)) == ["a", "b", "c"] and again.exit_code == 0


def test_retryable_create_errors_are_retried_with_backoff(tmp_path):
    errs = [ProviderError("rate limited", status=429, retryable=True, retry_after=0.05),
            ProviderError("overloaded", status=503, retryable=True)]
    p = ScriptedProvider(create_errors={"a": errs})
    events: list[RenderEvent] = []
    t0 = time.monotonic()
    report = run(make_plan(tmp_path, [clip("a")]), p, on_event=events.append)
    assert report.exit_code == 0 and p.create_calls == 3 and len(p.creates) == 1
    assert time.monotonic() - t0 >= 0.05  # Retry-After honoured
    # the 503 is retried on the budget; the 429 is the vendor's rate limit, waited out and said once
    assert [e.state for e in events].count("retrying") == 1
    assert any(e.state == "waiting" and "rate limit" in e.message for e in events)


def test_retries_are_bounded_and_refusals_are_not_retried(tmp_path):
    p = ScriptedProvider(create_errors={"a": [ProviderError("busy", retryable=True)] * 10,
                                        "b": [ProviderError("Invalid 'seconds'", status=400)]})
    report = run(make_plan(tmp_path, [clip("a"), clip("b")]), p)
    assert p.create_calls == FAST_RETRY.attempts + 1
    assert "after 4 attempts" in report["a"].error and report["b"].status == "failed"
    assert "Invalid 'seconds'" in report["b"].error
    j = Journal(tmp_path / ".storyboard", "scripted")
    assert j.get(report["b"].key).state == "unsent"  # nothing was created: safe to submit again
    p2 = ScriptedProvider()
    assert run(make_plan(tmp_path, [clip("a"), clip("b")]), p2).exit_code == 0
    assert sorted(created_names(p2)) == ["a", "b"]


def test_ambiguous_create_is_in_doubt_never_resubmitted(tmp_path):
    spec = [clip("a"), clip("b", after=("a",)), clip("c")]
    p = ScriptedProvider(paid=True, create_errors={"a": [AmbiguousSubmit("read timeout after sending")]})
    report = run(make_plan(tmp_path, spec), p, approve=lambda s: True)
    assert p.create_calls == 2 and created_names(p) == ["c"]
    assert report["a"].status == "in-doubt" and report.exit_code == 3
    told = outcome_text(report["a"])  # the engine states the case; the CLI adds what to type
    assert "--forget a" in told and "NOT resubmitted" in told
    assert told.count("read timeout after sending") == 1  # the cause, said once
    assert report["a"].why == Reason(ReasonCode.IN_DOUBT, "a")
    assert report["b"].error == "depends on a which is in doubt"
    j = Journal(tmp_path / ".storyboard", "scripted")
    assert j.get(report["a"].key).state == "in_doubt"

    p2 = ScriptedProvider(paid=True)
    again = run(make_plan(tmp_path, spec), p2, approve=lambda s: True)
    assert p2.create_calls == 0 and again["a"].status == "in-doubt"

    # the user checked the dashboard: the job exists -> adopt it, nothing is created
    plan = make_plan(tmp_path, spec)
    p3 = ScriptedProvider(paid=True)
    p3.jobs["job-dash"] = {"body": plan.clip("a").request, "done": 0, "created": time.time(), "delivered": True}
    adopt(plan, p3, "a", "job-dash")
    third = run(plan, p3, approve=lambda s: True)
    assert created_names(p3) == ["b"] and third["a"].status == "rendered" and third["a"].job_id == "job-dash"


def test_in_doubt_can_be_forgotten_or_resubmitted_on_request(tmp_path):
    spec = [clip("a")]
    plan = make_plan(tmp_path, spec)
    p = ScriptedProvider(paid=True)
    Journal(tmp_path / ".storyboard", "scripted").start(plan.clips[0].key, "a")  # crashed mid-create
    assert run(plan, p, approve=lambda s: True)["a"].status == "in-doubt" and p.create_calls == 0
    assert run(plan, p, approve=lambda s: True, resubmit_in_doubt=True).exit_code == 0
    assert created_names(p) == ["a"]
    plan2 = make_plan(tmp_path / "other", spec)
    Journal(tmp_path / "other" / ".storyboard", "scripted").start(plan2.clips[0].key, "a")
    assert forget(plan2, p, ["a"]) == ["a"]
    assert run(plan2, p, approve=lambda s: True).exit_code == 0 and created_names(p) == ["a", "a"]


def test_interrupted_render_resumes_polling_without_creating(tmp_path):
    plan = make_plan(tmp_path, [clip("a"), clip("b")])
    p = ScriptedProvider(paid=True, latency=0.05)
    # as if a previous process was killed after the job ids were journaled
    j = Journal(tmp_path / ".storyboard", "scripted")
    for c in plan.clips:
        job = asyncio.run(p.create(c.request, workdir=tmp_path))
        j.put(j.start(c.key, c.name).advance("submitted", job_id=job.id))
    p.create_calls = 0
    summary = inspect_render(plan, p, media=FakeMedia())
    assert [t.action for t in summary.tasks] == ["resume", "resume"] and summary.estimated_cost_usd == 0
    report = run(plan, p)  # no approval needed: nothing new is paid for
    assert report.exit_code == 0 and p.create_calls == 0


def test_expired_download_url_gets_one_fresh_url_then_fails_clearly(tmp_path):
    expired = lambda: ProviderError("download link expired", status=403, code="expired")  # noqa: E731
    p = ScriptedProvider(download_errors={"a": [expired()], "b": [expired(), expired()]})
    report = run(make_plan(tmp_path, [clip("a"), clip("b")]), p)
    assert report["a"].status == "rendered"
    assert report["b"].status == "failed" and "download link expired" in report["b"].error
    assert "run again to retry the download" in report["b"].error
    rec = Journal(tmp_path / ".storyboard", "scripted").get(report["b"].key)
    assert rec.state == "completed" and rec.job_id  # kept: the next run downloads, never re-creates
    p.create_calls = 0
    again = run(make_plan(tmp_path, [clip("a"), clip("b")]), p)
    assert again.exit_code == 0 and p.create_calls == 0


def test_wrong_duration_is_rejected_but_extension_with_source_is_accepted(tmp_path):
    spec = [clip("a"), clip("e", 5, after=("a",), kind="extend",
                            media={"reference_videos": [{"video": "<video:a>"}]}), clip("w")]
    durations = {"a": 4.04, "e": 9.0, "w": 2.0}
    p = ScriptedProvider(duration=lambda b: durations[ScriptedProvider.clip_of(b)])
    report = run(make_plan(tmp_path, spec), p)
    assert report["e"].status == "rendered"  # 4.04 + 5 ≈ 9.0
    assert report["w"].status == "failed" and "lasts 2.00 s, expected 4 s" in report["w"].error
    assert Journal(tmp_path / ".storyboard", "scripted").get(report["w"].key).state == "rejected"
    assert list((tmp_path / ".storyboard" / "cache" / "scripted" / "corrupt").glob("*-job-*.mp4"))


def test_corrupt_cache_entry_is_moved_aside_and_rerendered(tmp_path):
    plan = make_plan(tmp_path, [clip("a"), clip("b")])
    first = run(plan, ScriptedProvider())
    first["a"].path.write_text("trunc")  # truncated file
    p = ScriptedProvider()
    events: list[RenderEvent] = []
    report = run(plan, p, on_event=events.append)
    assert created_names(p) == ["a"] and report.exit_code == 0
    notes = [e.message for e in events if e.clip == "a" and e.state == "note"]
    assert notes and "cannot be read" in notes[0] and "moved aside" in notes[0]
    assert list((tmp_path / ".storyboard" / "cache" / "scripted" / "corrupt").glob("*.mp4"))


def test_corrupt_cache_of_a_paid_job_is_downloaded_again_not_resubmitted(tmp_path):
    plan = make_plan(tmp_path, [clip("a")])
    p = ScriptedProvider(paid=True)
    first = run(plan, p, approve=lambda s: True)
    first["a"].path.write_text(json.dumps({"duration": 1.0}))  # wrong length
    p.create_calls = 0
    summary = inspect_render(plan, p, media=FakeMedia())
    assert summary.tasks[0].action == "redownload" and "not resubmitting" in summary.tasks[0].reason
    report = run(plan, p)  # nothing to approve: no new job
    assert report["a"].status == "rendered" and p.create_calls == 0


# ---- money -----------------------------------------------------------------------------------

def test_paid_provider_needs_approval_before_anything_is_sent(tmp_path):
    plan = make_plan(tmp_path, [clip("a", cost=0.64), clip("b", cost=0.64)])
    p = ScriptedProvider(paid=True)
    with pytest.raises(ApprovalRequired):
        run(plan, p)
    seen = []
    with pytest.raises(NotApproved):
        run(plan, p, approve=lambda s: seen.append(s) or False)
    assert p.create_calls == 0
    assert seen[0].estimated_cost_usd == 1.28 and seen[0].seconds_to_submit == 8
    assert "2 clip(s) to generate (8 s, estimated $1.28)" in seen[0].lines()[0]
    assert not (tmp_path / ".storyboard" / "jobs").exists()  # not even a journal record


def test_max_cost_refuses_over_budget_and_unknown_costs(tmp_path):
    p = ScriptedProvider(paid=True)
    with pytest.raises(CostLimitExceeded) as over:
        run(make_plan(tmp_path, [clip("a", cost=0.64), clip("b", cost=0.64)]), p,
            approve=lambda s: True, max_cost=1.0)
    assert re.search(r"\$1.28 .* exceeds --max-cost \$1.00", cost_limit_text(over.value))
    assert "--max-cost" not in str(over.value)  # the engine names no flag
    with pytest.raises(CostLimitExceeded, match="cost of b is unknown") as unknown:
        run(make_plan(tmp_path, [clip("a", cost=0.64), clip("b", cost=None)]), p,
            approve=lambda s: True, max_cost=100.0)
    assert unknown.value.unknown == ["b"] and "cost of b is unknown" in cost_limit_text(unknown.value)
    assert p.create_calls == 0
    report = run(make_plan(tmp_path, [clip("a", cost=0.64)]), p, approve=lambda s: True, max_cost=1.0)
    assert report.exit_code == 0 and report.cost_usd == pytest.approx(0.4)


def test_secrets_never_reach_outcomes_or_journal(tmp_path):
    key = "sk-test-SECRET-123456"
    p = ScriptedProvider(api_key=key, create_errors={"a": [ProviderError(f"bad key {key}", status=401)]})
    events: list[RenderEvent] = []
    report = run(make_plan(tmp_path, [clip("a")]), p, on_event=events.append)
    assert key not in report["a"].error and "***" in report["a"].error
    assert all(key not in e.message for e in events)
    for f in (tmp_path / ".storyboard").rglob("*"):
        if f.is_file():
            assert key not in f.read_text(errors="replace")


# ---- process-level -------------------------------------------------------------------------

def test_lock_prevents_two_renders_of_one_story(tmp_path):
    plan = make_plan(tmp_path, [clip("a")])
    with StoryLock(tmp_path / ".storyboard"), pytest.raises(RenderLocked, match=f"pid {os.getpid()}"):
        run(plan, ScriptedProvider())
    assert run(plan, ScriptedProvider()).exit_code == 0  # released


def test_stop_ends_gracefully_and_the_next_run_resumes(tmp_path):
    spec = [clip("a"), clip("b", after=("a",))]
    plan = make_plan(tmp_path, spec)
    p = ScriptedProvider(paid=True, latency=0.3)

    async def go():
        stop = asyncio.Event()

        def on_event(e: RenderEvent):
            if e.clip == "a" and e.state == "running":
                stop.set()

        return await render_plan(plan, p, approve=lambda s: True, stop=stop, on_event=on_event,
                                 poll=FAST_POLL, media=FakeMedia())

    report = asyncio.run(go())
    assert report.interrupted and report.exit_code == 130
    assert report["a"].status == "interrupted" and report["a"].job_id
    assert report["b"].status == "interrupted"
    assert Journal(tmp_path / ".storyboard", "scripted").get(report["a"].key).state == "submitted"
    p.create_calls = 0
    again = run(plan, p, approve=lambda s: True)
    assert again.exit_code == 0 and created_names(p) == ["a", "b"] and p.create_calls == 1  # only b


def test_sync_wrapper(tmp_path):
    report = render(make_plan(tmp_path, [clip("a")]), ScriptedProvider(), media=FakeMedia(), poll=FAST_POLL)
    assert report.exit_code == 0


# ==== end to end: the preview provider (real animatics, real media) ============================

@pytest.mark.slow
def test_preview_end_to_end_with_extend_and_frames(tmp_path):
    from storyboard.media import probe as media
    from storyboard.providers.preview import PreviewProvider

    spec = [clip("a"),
            clip("b", kind="extend", after=("a",), media={"reference_videos": [{"video": "<video:a>"}]}),
            clip("c", after=("a",), media={"frame_images": [{"input_image": "<last-frame:a>", "frame": "first"}]},
                 audio=False)]
    plan = make_plan(tmp_path, spec, provider="preview")
    report = asyncio.run(render_plan(plan, PreviewProvider(), concurrency=2))
    assert report.exit_code == 0, [o.error for o in report.outcomes]
    for o in report.outcomes:
        info = media.probe(o.path)
        assert abs(info.duration - 4) <= 0.5 and info.video.width == 320
    assert media.probe(report["c"].path).audio is None
    assert (tmp_path / ".storyboard" / "cache" / "preview" / "frames" / f"{report['a'].key}-last.png").is_file()
    again = asyncio.run(render_plan(plan, PreviewProvider()))
    assert {o.status for o in again.outcomes} == {"cached"}


# ==== end to end: the fake Together server over real sockets ===================================

def together_plan(base: Path, n_fail: str | None = None) -> RenderPlan:
    (base / "cast").mkdir(parents=True, exist_ok=True)
    from PIL import Image

    Image.new("RGB", (48, 32), (200, 40, 40)).save(base / "cast" / "ball.png")
    spec = [clip("a", cost=0.28, media={"reference_images": ["<file:cast/ball.png>"]}),
            clip("b", kind="extend", after=("a",), cost=0.52,
                 media={"reference_videos": [{"video": "<video:a>"}]}),
            clip("c", after=("a",), cost=0.28,
                 media={"frame_images": [{"input_image": "<last-frame:a>", "frame": "first"}]}),
            clip("d", cost=0.28, prompt=f"d: {n_fail or 'a quiet shot'}")]
    return make_plan(base, spec, provider="together")


@pytest.mark.slow
def test_together_full_lifecycle(tmp_path, fake_together):
    fake = fake_together()
    plan = together_plan(tmp_path)
    report = trun(plan, together(fake))
    assert report.exit_code == 0, [o.error for o in report.outcomes]
    s = stats(fake)
    assert s["creates"] == 4 and len({j["body_sha256"] for j in s["jobs"]}) == 4
    assert report.cost_usd > 0 and report["b"].job_id != report["a"].job_id
    rec = json.loads(report["a"].path.with_suffix(".json").read_text())
    assert rec["video_url"].startswith(fake.base_url) and rec["job_id"] == report["a"].job_id
    for f in (tmp_path / ".storyboard").rglob("*"):  # the key is nowhere on disk
        if f.is_file():
            assert KEY.encode() not in f.read_bytes()
    again = trun(plan, together(fake))
    assert {o.status for o in again.outcomes} == {"cached"} and stats(fake)["creates"] == 4


@pytest.mark.slow
def test_together_wrong_key_fails_every_clip_without_leaking_it(tmp_path, fake_together):
    fake = fake_together()
    events: list[RenderEvent] = []
    report = trun(together_plan(tmp_path), together(fake, api_key="sk-wrong-key-123456"), on_event=events.append)
    assert report.exit_code == 3 and stats(fake)["creates"] == 0
    assert "401" in report["a"].error and "API key" in report["a"].error
    assert report["b"].status == "skipped"
    blob = json.dumps([o.error for o in report.outcomes]) + json.dumps([e.message for e in events])
    assert "sk-wrong-key-123456" not in blob


@pytest.mark.slow
def test_together_429_then_success_and_500_on_get(tmp_path, fake_together):
    fake = fake_together(create_429=2, retry_after=0.1, get_500=2)
    events: list[RenderEvent] = []
    report = trun(together_plan(tmp_path), together(fake), on_event=events.append, concurrency=1)
    assert report.exit_code == 0
    s = stats(fake)
    assert s["creates"] == 4 and s["rejected"] == 2
    # a 429 is the vendor's rate limit: the clip waits for it, and the user is told once
    assert [e.state for e in events].count("retrying") == 0
    assert [e.message for e in events if e.state == "waiting"].count("for Together's rate limit") == 2
    assert sum(e.clip == "*" and "rate limit" in e.message for e in events) == 1


@pytest.mark.slow
def test_together_failed_job_keeps_the_rest(tmp_path, fake_together):
    fake = fake_together(fail_on="FAILME")
    report = trun(together_plan(tmp_path, n_fail="FAILME please"), together(fake))
    assert report.exit_code == 3
    assert report["d"].status == "failed" and "content filter" in report["d"].error
    assert report["d"].source == "film.story:1:1"
    assert all(report[n].status == "rendered" for n in "abc")


@pytest.mark.slow
def test_together_expired_url_is_refreshed(tmp_path, fake_together):
    fake = fake_together(expire_downloads=1)
    report = trun(together_plan(tmp_path), together(fake), concurrency=1)
    assert report.exit_code == 0 and stats(fake)["expired"] == 1 and stats(fake)["creates"] == 4


@pytest.mark.slow
def test_together_dropped_create_is_in_doubt_and_not_resubmitted(tmp_path, fake_together):
    fake = fake_together(drop_after_create=1)
    plan = make_plan(tmp_path, [clip("a", cost=0.28)], provider="together")
    report = trun(plan, together(fake))
    assert report["a"].status == "in-doubt" and report.exit_code == 3
    assert stats(fake)["creates"] == 1  # the server did create it
    again = trun(plan, together(fake))
    assert again["a"].status == "in-doubt" and stats(fake)["creates"] == 1
    assert "storyboard render --forget a" in outcome_text(again["a"])


@pytest.mark.slow
def test_together_edit_one_clip_makes_exactly_one_new_create(tmp_path, fake_together):
    fake = fake_together()
    spec = [clip("a", cost=0.28), clip("b", cost=0.28), clip("c", cost=0.28)]
    trun(make_plan(tmp_path, spec, provider="together"), together(fake))
    assert stats(fake)["creates"] == 3
    spec[2] = clip("c", cost=0.28, prompt="c: the same shot, at night")
    report = trun(make_plan(tmp_path, spec, provider="together"), together(fake))
    assert stats(fake)["creates"] == 4
    assert [o.status for o in report.outcomes] == ["cached", "cached", "rendered"]
    report = trun(make_plan(tmp_path, spec, provider="together"), together(fake), only={"b"})
    assert stats(fake)["creates"] == 4 and report["b"].status == "cached"


DRIVER = """
import sys
from pathlib import Path
from storyboard.plan import RenderPlan
from storyboard.providers.together import TogetherProvider
from storyboard.render import PollPolicy, render

plan = RenderPlan.from_json(Path(sys.argv[1]).read_text(), base_dir=sys.argv[2])
provider = TogetherProvider(base_url=sys.argv[3])  # the key comes from the environment
report = render(plan, provider, approve=lambda s: True, concurrency=2,
                poll=PollPolicy(first=0.05, cap=0.2, min_interval=0.02))
sys.exit(report.exit_code)
"""


@pytest.mark.slow
def test_kill_9_mid_render_then_resume_creates_nothing_twice(tmp_path, fake_together):
    import signal

    fake = fake_together(latency=2.0)
    spec = [clip("a", cost=0.28), clip("b", cost=0.28), clip("c", after=("a",), cost=0.28),
            clip("d", after=("b",), cost=0.28)]
    plan = make_plan(tmp_path, spec, provider="together")
    (tmp_path / "plan.json").write_text(plan.to_json())
    (tmp_path / "driver.py").write_text(DRIVER)
    env = {**os.environ, "TOGETHER_API_KEY": KEY}
    proc = subprocess.Popen([sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "plan.json"),
                             str(tmp_path), fake.base_url], env=env, stderr=subprocess.PIPE)
    jobs = tmp_path / ".storyboard" / "jobs"
    deadline = time.monotonic() + 20
    try:
        while time.monotonic() < deadline:
            states = [json.loads(p.read_text())["state"] for p in jobs.glob("*/*.json")] if jobs.exists() else []
            if states.count("submitted") == 2 and "submitting" not in states:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the driver never journaled two submitted jobs")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL
    assert stats(fake)["creates"] == 2
    summary = inspect_render(plan, together(fake))
    assert sorted(t.action for t in summary.tasks) == ["resume", "resume", "submit", "submit"]
    report = trun(plan, together(fake))  # the lock died with the process
    assert report.exit_code == 0, [o.error for o in report.outcomes]
    s = stats(fake)
    assert s["creates"] == 4 and len({j["body_sha256"] for j in s["jobs"]}) == 4


# ==== the CLI ===================================================================================

STORY = """title: Cli Test
size: 320x180

shot a 4s:
  A red ball rolls across a table.

shot b 4s:
  A blue ball rolls the other way.
"""


@pytest.fixture
def story(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr("storyboard.cli.render.DEFAULT_POLL", FAST_POLL)
    p = tmp_path / "film" / "cli.story"
    p.parent.mkdir()
    p.write_text(STORY)
    return p


@pytest.mark.slow
def test_cli_preview_renders_and_stitches(story):
    r = cli(["render", str(story)])
    assert r.exit_code == 0, r.output
    film = story.parent / "build" / "Cli Test.animatic.mp4"  # the preview provider's film
    assert r.stdout.strip() == str(film) and film.is_file()
    r2 = cli(["render", str(story), "--json"])
    data = json.loads(r2.stdout)
    assert data["film"] == str(film) and {c["status"] for c in data["clips"]} == {"cached"}
    # nothing changed: the film is reused before the stitcher's media stack is even imported
    script = ("import sys\n"
              "sys.argv = ['storyboard', 'render', sys.argv[1]]\n"
              "from storyboard.cli import main\n"
              "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
              "print([m for m in ('storyboard.stitch.stage', 'numpy', 'moviepy') if m in sys.modules])\n")
    r3 = subprocess.run([sys.executable, "-c", script, str(story)], capture_output=True, text=True,
                        timeout=120)
    assert r3.returncode == 0, r3.stderr
    assert r3.stdout.splitlines() == [str(film), "[]"] and "is up to date" in r3.stderr


@pytest.mark.slow
def test_cli_paid_render_refuses_without_yes_and_over_budget(story, fake_together):
    fake = fake_together()
    env = {"TOGETHER_API_KEY": KEY}
    base = ["render", str(story), "--provider", "together", "--base-url", fake.base_url]
    r = cli(base, env)
    assert r.exit_code == 2 and "pass --yes" in r.text and "2 clip(s) to generate" in r.text
    r = cli(base + ["--yes", "--max-cost", "0.5"], env)
    assert r.exit_code == 2 and "exceeds --max-cost $0.50" in r.text
    assert stats(fake)["creates"] == 0
    r = cli(base + ["--yes", "--max-cost", "1", "--shot", "b"], env)
    assert r.exit_code == 0, r.output
    assert stats(fake)["creates"] == 1 and "film not stitched" in r.text
    assert KEY not in r.output


@pytest.mark.slow
def test_cli_failed_clip_exits_3_with_its_story_line(story, fake_together):
    fake = fake_together(fail_on="blue")
    env = {"TOGETHER_API_KEY": KEY}
    r = cli(["render", str(story), "-p", "together", "--base-url", fake.base_url, "--yes"], env)
    assert r.exit_code == 3
    assert f"{story}:7:1: error: clip b failed" in r.text, r.output
    assert r.stdout == ""  # no film


def test_cli_paid_provider_without_a_key_is_a_usage_error(story, monkeypatch):
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    r = cli(["render", str(story), "-p", "together"], {"TOGETHER_API_KEY": ""})
    assert r.exit_code == 2 and "TOGETHER_API_KEY" in r.text


@pytest.mark.slow
def test_cli_ctrl_c_stops_cleanly_and_the_next_render_resumes(story, fake_together):
    import signal
    import subprocess
    import sys

    fake = fake_together(latency=3.0)
    env = {**os.environ, "TOGETHER_API_KEY": KEY}
    cmd = [sys.executable, "-m", "storyboard", "render", str(story), "-p", "together", "--base-url",
           fake.base_url, "--yes", "-j", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    jobs = story.parent / ".storyboard" / "jobs"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        states = [json.loads(p.read_text())["state"] for p in jobs.glob("*/*.json")] if jobs.exists() else []
        if "submitted" in states:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "interrupted" in err and out == "" and KEY not in err
    states = [json.loads(p.read_text())["state"] for p in jobs.glob("*/*.json")]
    assert states == ["submitted"]  # the paid job is journaled, not in doubt
    assert stats(fake)["creates"] == 1
    r = cli(["render", str(story), "-p", "together", "--base-url", fake.base_url, "--yes"], {"TOGETHER_API_KEY": KEY})
    assert r.exit_code == 0, r.output
    assert stats(fake)["creates"] == 2 and "1 resumed" in r.text


def test_hard_cancel_waits_for_the_create_answer_and_journals_the_job(tmp_path):
    plan = make_plan(tmp_path, [clip("a")])

    class SlowCreate(ScriptedProvider):
        async def create(self, body, *, workdir):
            self.started = True
            await asyncio.sleep(0.2)  # the request is out; the answer takes a while
            return await super().create(body, workdir=workdir)

    p = SlowCreate(paid=True, latency=5)
    p.started = False

    async def go():
        task = asyncio.create_task(render_plan(plan, p, approve=lambda s: True, poll=FAST_POLL, media=FakeMedia()))
        while not p.started:
            await asyncio.sleep(0.005)
        task.cancel()  # a second Ctrl-C, or a caller giving up
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())
    rec = Journal(tmp_path / ".storyboard", "scripted").get(plan.clips[0].key)
    assert rec.state == "submitted" and rec.job_id == "job-1-a"  # known, so resumable, not in doubt
    assert inspect_render(plan, p, media=FakeMedia()).tasks[0].action == "resume"


@pytest.mark.slow
def test_cli_in_doubt_then_adopt_or_forget(story, fake_together):
    fake = fake_together(drop_after_create=1)
    env = {"TOGETHER_API_KEY": KEY}
    base = ["render", str(story), "-p", "together", "--base-url", fake.base_url, "--yes", "-j", "1"]
    r = cli(base + ["--shot", "a"], env)
    assert r.exit_code == 3 and "in-doubt" in r.text and "--adopt a=JOB_ID" in r.text
    _said_once_with_its_cause_once(r.output)
    assert stats(fake)["creates"] == 1
    r = cli(base + ["--shot", "a"], env)  # still in doubt: nothing sent
    assert r.exit_code == 3 and stats(fake)["creates"] == 1
    _said_once_with_its_cause_once(r.output)
    job_id = stats(fake)["jobs"][0]["id"]  # "found on the dashboard"
    r = cli(base + ["--adopt", f"a={job_id}"], env)
    assert r.exit_code == 0 and "recorded" in r.text
    r = cli(base, env)
    assert r.exit_code == 0, r.output
    assert stats(fake)["creates"] == 2  # a was adopted, only b was created
    r = cli(base + ["--forget", "a"], env)
    assert r.exit_code == 0 and "journal record dropped" in r.text


def _said_once_with_its_cause_once(output: str) -> None:
    """The in-doubt problem is one line, printed once, naming its cause once."""
    lines = [line for line in output.splitlines() if "error: clip a in-doubt" in line]
    assert len(lines) == 1, output
    assert output.count("may have reached the provider") == 1, output
    cause = lines[0].split("job id is unknown (", 1)[1].split(")", 1)[0]
    assert cause and lines[0].count(cause) == 1, lines[0]


@pytest.mark.slow
def test_cli_shot_says_the_other_clips_are_cached(story):
    assert cli(["render", str(story)]).exit_code == 0
    r = cli(["render", str(story), "--shot", "a"])
    assert r.exit_code == 0, r.output
    assert "film not stitched: b is cached but not requested" in r.text, r.output
    assert "not rendered" not in r.text, r.output


# ==== capabilities are declared; a cached file that is the stored one is not probed again ========

def test_captions_go_only_to_a_provider_that_declares_it_draws_them(tmp_path):
    class Drawing(ScriptedProvider):
        takes_captions = True

        async def create(self, body, *, workdir, captions=None, title=None, edges=None):
            self.hints.append((captions, title))
            assert edges == (0.0, 0.0)  # a lone clip overlaps no neighbour
            return await super().create(body, workdir=workdir)

    plan = make_plan(tmp_path, [clip("a")])
    p = Drawing()
    p.hints = []
    assert run(plan, p).exit_code == 0
    (captions, title), = p.hints
    assert title == "a" and captions is plan.clips[0]  # the clip itself, structured: no lines to parse back
    assert run(make_plan(tmp_path / "other", [clip("a")]), ScriptedProvider()).exit_code == 0  # none sent


def test_a_cached_clip_that_is_the_stored_file_is_not_probed_again(tmp_path):
    plan = make_plan(tmp_path, [clip("a"), clip("b", after=("a",))])
    assert run(plan, ScriptedProvider()).exit_code == 0

    class Counting(FakeMedia):
        probes = 0

        def probe(self, path):
            Counting.probes += 1
            return super().probe(path)

    again = run(plan, ScriptedProvider(), media=Counting())
    assert [o.status for o in again.outcomes] == ["cached", "cached"] and Counting.probes == 0
    path = again["a"].path
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # touched: no longer known to be the stored file
    assert run(plan, ScriptedProvider(), media=Counting())["a"].status == "cached" and Counting.probes == 1


def test_the_engine_speaks_no_cli_words_and_exit_codes_are_defined_once():
    import ast
    import storyboard

    root = Path(storyboard.__file__).parent
    flags = re.compile(r"--(adopt|forget|resubmit-in-doubt|yes|max-cost|base-url|shot|json)\b|storyboard render")
    for path in sorted((root / "render").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not flags.search(node.value), (path.name, node.value)
    for path in sorted(root.rglob("*.py")):
        assert not re.search(r"^\s*EXIT_[A-Z_]+\s*[,=]", path.read_text(encoding="utf-8"), re.M), path


def _sync_render(plan, provider, **kw):
    """The engine's synchronous entry (`storyboard.render.render`), with the tests' fast policies."""
    from storyboard.render import render

    kw.setdefault("poll", FAST_POLL)
    kw.setdefault("retry", FAST_RETRY)
    kw.setdefault("media", FakeMedia())
    return render(plan, provider, **kw)


def test_a_render_with_nothing_to_produce_is_settled_as_the_scheduler_settles_it(tmp_path, monkeypatch):
    """Every clip cached (one left alone by `only`): the synchronous entry answers without the
    scheduler, with the outcomes and events the scheduler gives for the same state."""
    import storyboard.render.run as scheduler

    plan = make_plan(tmp_path, [clip("a"), clip("b", after=("a",)), clip("c")])
    assert _sync_render(plan, ScriptedProvider()).exit_code == 0  # this one needs the scheduler

    def settle(use_scheduler: bool):
        events: list = []
        if not use_scheduler:
            monkeypatch.setattr(scheduler, "run_on_new_loop", lambda *a, **k: pytest.fail("the scheduler ran"))
        report = (run if use_scheduler else _sync_render)(plan, ScriptedProvider(), only=["a", "b"],
                                                          on_event=events.append)
        monkeypatch.undo()
        return report, [(e.clip, e.state, e.message, e.job_id, e.seconds) for e in events]

    (settled, told), (scheduled, told_too) = settle(False), settle(True)
    assert [o.status for o in settled.outcomes] == ["cached", "cached", "not-requested"]
    assert settled.outcomes == scheduled.outcomes
    assert settled.summary == scheduled.summary and told == told_too
    assert [(name, state, job) for name, state, _, job, _ in told] == [("a", "cached", settled["a"].job_id),
                                                                        ("b", "cached", settled["b"].job_id)]
    assert settled.exit_code == 0 and not settled.interrupted


@pytest.mark.slow  # it renders the clips first
def test_a_no_op_render_does_not_load_the_scheduler(tmp_path):
    """The CLI's render with nothing to do settles without the scheduler (nor its event loop): a
    re-render with nothing to do costs little more than a compile."""
    story = tmp_path / "film.story"
    story.write_text("title: Quick\nsize: 160x96\n\nshot a 4s:\n  A cat.\n\nshot b 4s:\n  A dog.\n", encoding="utf-8")
    assert subprocess.run([sys.executable, "-m", "storyboard", "render", str(story)], capture_output=True,
                          timeout=300).returncode == 0
    probe = ("import sys; from storyboard.cli import app\n"
             "try:\n    app(['render', sys.argv[1], '--json'])\nexcept SystemExit as exc:\n    code = exc.code\n"
             "loaded = [m for m in ('storyboard.render.run', 'storyboard.render.slots') if m in sys.modules]\n"
             "print('LOADED', loaded, code, file=sys.stderr)")
    again = subprocess.run([sys.executable, "-c", probe, str(story)], capture_output=True, text=True, timeout=300)
    assert "LOADED [] 0" in again.stderr, again.stderr
    assert {c["status"] for c in json.loads(again.stdout)["clips"]} == {"cached"}


def test_a_cached_clip_without_its_record_goes_to_the_scheduler_which_writes_it_again(tmp_path):
    plan = make_plan(tmp_path, [clip("a")])
    first = _sync_render(plan, ScriptedProvider())
    record = first["a"].path.with_suffix(".json")
    record.unlink()
    again = _sync_render(plan, ScriptedProvider())
    assert again["a"].status == "cached" and again["a"].job_id == first["a"].job_id and record.is_file()
