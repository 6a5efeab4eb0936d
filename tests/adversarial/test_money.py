"""Issue 10, items 3 and 4: money paid twice.

3. Clips whose requests are identical (same key) are ONE generation: one create, one journal
   record, every clip uses the video; `check` warns (SB430); the journal never overwrites the
   record of a create that was sent.
4. The journal is keyed by the provider and a normalized endpoint: `localhost` and `127.0.0.1`
   are the same server; jobs in flight under another endpoint stop the render before any create.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from render_helpers import SOAK_KEY, cli, compile_story, fast_cli
from storyboard.render.journal import Journal, JournalError
from storyboard.providers.together import TogetherProvider
from storyboard.render import PollPolicy, default_state_dir
from test_hardening_crash import Driver, wait_for

POLL = PollPolicy(first=0.03, factor=1.5, cap=0.2, min_interval=0.01, deadline=60)
ENV = {"TOGETHER_API_KEY": SOAK_KEY}


def twins_story(folder: Path, *, twins: int = 3, other: bool = True) -> Path:
    """`twins` shots with the same text and no seed (one request), plus one different shot."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["title: Twins", "size: 160x96", ""]
    for i in range(1, twins + 1):
        lines += [f"shot wave{i} 4s:", "  A wave breaks on the rocks.", ""]
    if other:
        lines += ["shot gull 4s:", "  A gull lands on the lighthouse rail.", ""]
    path = folder / "twins.story"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def args(story: Path, base_url: str, *more: str) -> list[str]:
    return ["render", str(story), "-p", "together", "--base-url", base_url, "--yes", *more]


def journal_of(plan, base_url: str) -> Journal:
    return Journal(default_state_dir(plan), TogetherProvider(api_key="x", base_url=base_url).namespace)


# ---- 3. identical requests are one generation ---------------------------------------------------

@pytest.mark.slow
def test_identical_shots_are_one_create_and_every_clip_uses_it(tmp_path, fake_together, monkeypatch):
    fast_cli(monkeypatch, poll=POLL)
    fake = fake_together(api_key=SOAK_KEY, latency=0.1, clip_size=None)
    story = twins_story(tmp_path / "film")
    plan = compile_story(story, TogetherProvider(api_key=SOAK_KEY, base_url=fake.base_url))
    assert len({c.key for c in plan.clips}) == 2 and len(plan.clips) == 4

    r = cli(args(story, fake.base_url, "--json"), ENV)
    assert r.exit_code == 0, r.output
    assert "2 clip(s) to generate" in r.text, r.output  # the summary counts generations
    assert fake.stats()["creates"] == 2
    report = json.loads(r.stdout)
    waves = [c for c in report["clips"] if c["name"].startswith("wave")]
    assert [c["status"] for c in waves] == ["rendered"] * 3
    assert len({c["path"] for c in waves}) == 1 and len({c["job_id"] for c in waves}) == 1
    assert Path(report["film"]).is_file()
    # the journal holds the job, once
    records = journal_of(plan, fake.base_url).all()
    assert sorted(r.state for r in records) == ["downloaded", "downloaded"]
    assert waves[0]["job_id"] in {r.job_id for r in records}
    # and nothing is paid again
    assert cli(args(story, fake.base_url), ENV).exit_code == 0
    assert fake.stats()["creates"] == 2


def test_check_warns_about_clips_that_share_one_generation(tmp_path):
    story = twins_story(tmp_path / "film", twins=2)
    r = cli(["check", str(story), "-p", "together"])
    assert r.exit_code == 0, r.output
    assert "warning[SB430]" in r.output and "wave1" in r.output and "wave2" in r.output
    assert "own `seed:`" in r.text
    assert f"{story}:7:6" in r.output  # at the name of the clip that repeats the request
    r = cli(["plan", str(story), "-p", "together", "--json"])
    data = json.loads(r.stdout)
    each = data["clips"][0]["estimated_cost_usd"]
    assert data["estimated_cost_usd"] == pytest.approx(2 * each)  # wave1 = wave2, plus gull
    assert [c["same_as"] for c in data["clips"]] == [None, "wave1", None]


def test_a_seed_of_its_own_makes_another_generation(tmp_path):
    story = twins_story(tmp_path / "film", twins=2, other=False)
    story.write_text(story.read_text() + "\n".join(["shot wave3 4s:", "  A wave breaks on the rocks.",
                                                      "  seed: 7", ""]))
    r = cli(["check", str(story), "-p", "together"])
    assert r.exit_code == 0 and r.output.count("SB430") == 1, r.output
    assert "wave3" not in r.output


def test_journal_never_overwrites_the_record_of_a_sent_create(tmp_path):
    journal = Journal(tmp_path / "state", "together-test")
    first = journal.start("k" * 64, "wave1")
    journal.put(first.advance("submitted", job_id="job-1"))
    with pytest.raises(JournalError, match="job-1"):  # a job exists: no second create
        journal.start("k" * 64, "wave2")
    assert journal.get("k" * 64).job_id == "job-1"
    # a create in flight in this process (no id yet) is not replaced either
    journal.start("m" * 64, "gull")
    with pytest.raises(JournalError):
        journal.start("m" * 64, "gull")
    # a job that failed may be tried again, but its id stays in the journal
    journal.put(journal.get("k" * 64).advance("failed", error="boom"))
    journal.start("k" * 64, "wave1")
    kept = [json.loads(p.read_text()) for p in journal.dir.rglob("*.json")]
    assert any(r.get("job_id") == "job-1" and r["state"] == "failed" for r in kept), kept


@pytest.mark.slow
def test_kill_9_with_identical_clips_then_resume_creates_nothing_twice(tmp_path, fake_together, monkeypatch):
    fast_cli(monkeypatch, poll=POLL)
    fake = fake_together(api_key=SOAK_KEY, latency=1.5, clip_size=None)
    story = twins_story(tmp_path / "film")
    plan = compile_story(story, TogetherProvider(api_key=SOAK_KEY, base_url=fake.base_url))
    journal = journal_of(plan, fake.base_url)
    driver = Driver(story, fake.base_url, tmp_path / "run.log")
    try:
        driver.go()
        assert wait_for(lambda: fake.stats()["creates"] >= 2, 20), "the creates never arrived"
        time.sleep(0.3)  # any further (duplicate) create would arrive now
        assert wait_for(lambda: sum(r.state == "submitted" for r in journal.all()) >= 2, 10)
        assert driver.kill(), "the render ended before it was killed"
    finally:
        if driver.proc.poll() is None:
            driver.proc.kill()
    assert fake.stats()["creates"] == 2
    assert {r.job_id for r in journal.all()} == {j["id"] for j in fake.stats()["jobs"]}  # every job journaled
    r = cli(args(story, fake.base_url), ENV)
    assert r.exit_code == 0, r.output
    assert fake.stats()["creates"] == 2


# ---- 4. the journal is keyed by the normalized endpoint -----------------------------------------

SAME_SERVER = [
    ("http://127.0.0.1:8123", "http://localhost:8123"),
    ("http://127.0.0.1:8123", "http://[::1]:8123/"),
    ("http://localhost:8123/", "HTTP://LocalHost:8123"),
    ("https://api.together.ai", "https://API.together.ai:443/"),
    ("http://proxy.example/together/", "http://proxy.example:80/together"),
]
OTHER_SERVER = [
    ("http://127.0.0.1:8123", "http://127.0.0.1:8124"),
    ("http://127.0.0.1:8123", "https://127.0.0.1:8123"),
    ("https://api.together.ai", "https://api.together.xyz"),
    ("http://proxy.example/a", "http://proxy.example/b"),
]


def test_the_namespace_is_one_per_server_however_its_url_is_written():
    import hashlib

    def ns(url: str) -> str:
        return TogetherProvider(api_key="x", base_url=url).namespace

    assert [ns(a) == ns(b) for a, b in SAME_SERVER] == [True] * len(SAME_SERVER)
    assert [ns(a) != ns(b) for a, b in OTHER_SERVER] == [True] * len(OTHER_SERVER)
    # the default endpoint keeps the namespace of earlier versions: its jobs and clips stay found
    assert ns("https://api.together.ai/") == "together-" + hashlib.sha256(b"https://api.together.ai").hexdigest()[:10]


def _kill_with_jobs_in_flight(tmp_path: Path, story: Path, fake, plan) -> Journal:
    """Start a render against `fake`, kill -9 it once every job is created and journaled."""
    journal = journal_of(plan, fake.base_url)
    driver = Driver(story, fake.base_url, tmp_path / "run.log")
    try:
        driver.go()
        unique = len({c.key for c in plan.clips})
        assert wait_for(lambda: sum(r.state == "submitted" for r in journal.all()) >= unique, 20)
        assert driver.kill(), "the render ended before it was killed"
    finally:
        if driver.proc.poll() is None:
            driver.proc.kill()
    return journal


@pytest.mark.slow
def test_resume_under_localhost_instead_of_127_0_0_1_pays_nothing_again(tmp_path, fake_together, monkeypatch):
    fast_cli(monkeypatch, poll=POLL)
    fake = fake_together(api_key=SOAK_KEY, latency=2.0, clip_size=None)
    story = twins_story(tmp_path / "film", twins=1)
    plan = compile_story(story, TogetherProvider(api_key=SOAK_KEY, base_url=fake.base_url))
    _kill_with_jobs_in_flight(tmp_path, story, fake, plan)
    assert fake.stats()["creates"] == 2
    other = fake.base_url.replace("127.0.0.1", "localhost")
    r = cli(args(story, other), ENV)
    assert r.exit_code == 0, r.output
    assert fake.stats()["creates"] == 2, r.output
    r = cli(args(story, fake.base_url), ENV)  # and back: nothing new either
    assert r.exit_code == 0 and fake.stats()["creates"] == 2, r.output


@pytest.mark.slow
def test_jobs_in_flight_at_another_endpoint_stop_the_render(tmp_path, fake_together, monkeypatch):
    fast_cli(monkeypatch, poll=POLL)
    fake = fake_together(api_key=SOAK_KEY, latency=2.0, clip_size=None)
    elsewhere = fake_together(api_key=SOAK_KEY, latency=0.05, clip_size=None)
    story = twins_story(tmp_path / "film", twins=1)
    plan = compile_story(story, TogetherProvider(api_key=SOAK_KEY, base_url=fake.base_url))
    _kill_with_jobs_in_flight(tmp_path, story, fake, plan)

    r = cli(args(story, elsewhere.base_url), ENV)
    assert r.exit_code == 2, r.output
    assert elsewhere.stats()["creates"] == 0
    assert "Traceback" not in r.output
    assert f"--base-url {fake.base_url} --forget CLIP" in r.text and "-p together" in r.text, r.output
    assert len([line for line in r.stderr.splitlines() if "in flight" in line]) == 1, r.output
    # the way out it names works: resume them where they are
    r = cli(args(story, fake.base_url), ENV)
    assert r.exit_code == 0, r.output
    assert fake.stats()["creates"] == 2
    # once they are finished, the other endpoint is free to render its own
    r = cli(args(story, elsewhere.base_url), ENV)
    assert r.exit_code == 0, r.output
    assert elsewhere.stats()["creates"] == 2
