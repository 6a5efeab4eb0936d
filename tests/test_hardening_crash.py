"""Crash recovery: `kill -9` of the real CLI at seeded random points (before a submit, between a
create reaching the server and its job id reaching the journal, during a download, during the
stitch, anywhere), then the user's recovery (in-doubt clips looked up on the dashboard and
adopted or forgotten) and the same command again. Every trial must end with the reference film,
byte for byte, and the server must have created each clip exactly once.

Also: damaged state files (a truncated clip, a garbage cache record, journal records truncated,
garbage, of the wrong shape, or unreadable) are detected and repaired or reported; never
trusted, never a crash.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from render_helpers import (two_shot_film, SOAK_KEY, cli, compile_story, fast_cli, resolve_in_doubt, server_jobs,
                            sha256_file, write_film)
from storyboard.render.cache import Cache
from storyboard.render.journal import Journal
from storyboard.providers.together import TogetherProvider
from storyboard.render import PollPolicy, default_state_dir, inspect_render

pytestmark = pytest.mark.slow  # every test here renders clips (ffmpeg)

POLL = PollPolicy(first=0.03, factor=1.5, cap=0.2, min_interval=0.01, deadline=60)

# The real CLI (`python -m storyboard` runs storyboard.cli.main) with test-speed polling. It
# imports everything first, then waits for a line on stdin, so its start-up cost is paid while
# the previous trial resumes and the kill times are measured from the moment it really starts.
DRIVER = """
import sys
from storyboard import render as engine
from storyboard.cli import render as render_cli
import storyboard.cli, storyboard.api, storyboard.providers.together, storyboard.stitch, storyboard.media.probe
render_cli.DEFAULT_POLL = engine.PollPolicy(first=0.03, factor=1.5, cap=0.2, min_interval=0.01, deadline=60)
sys.argv[0] = "storyboard"
sys.stdin.readline()
storyboard.cli.main()
"""

PHASES = ("before-submit", "in-create", "download", "stitch", "anywhere")
TRIALS = 20


def crash_film(folder: Path) -> Path:
    # s01, its extension s01+1, `continue` into s02, a morph s02~s03, s03: five clips, a chain of four
    return write_film(folder, shots=3, size="160x96", title="Crash Film", extends=(1,), continues=(1,),
                      morphs=(2,), dissolves=())


class Driver:
    def __init__(self, story: Path, base_url: str, log: Path):
        env = {**os.environ, "TOGETHER_API_KEY": SOAK_KEY}
        with open(log, "w") as stderr:  # the child holds its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-c", DRIVER, "render", str(story), "-p", "together", "--base-url", base_url, "--yes"],
                env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr, text=True)

    def go(self) -> float:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return time.monotonic()

    def kill(self) -> bool:
        """SIGKILL; True when the process was still running (a real crash)."""
        alive = self.proc.poll() is None
        if alive:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(20)
        return alive and self.proc.returncode == -signal.SIGKILL


def wait_for(cond, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.005)
    return False


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_gives_the_same_film(tmp_path, fake_together, monkeypatch):
    fast_cli(monkeypatch, poll=POLL)
    fake = fake_together(api_key=SOAK_KEY, latency=0.1, clip_size=None)
    env = {"TOGETHER_API_KEY": SOAK_KEY}
    provider = TogetherProvider(api_key=SOAK_KEY, base_url=fake.base_url)

    def args(story: Path) -> list[str]:
        return ["render", str(story), "-p", "together", "--base-url", fake.base_url, "--yes"]

    # the reference: one uninterrupted render
    ref_story = crash_film(tmp_path / "ref" / "crash")
    t = time.monotonic()
    r = cli(args(ref_story), env)
    full = time.monotonic() - t
    assert r.exit_code == 0, r.output
    ref_plan = compile_story(ref_story, provider)
    ref_film = sha256_file(Path(r.stdout.strip()))
    ref_cache = Cache(default_state_dir(ref_plan), provider.namespace)
    ref_clips = {c.key: sha256_file(ref_cache.clip_path(c.key)) for c in ref_plan.clips}
    assert fake.stats()["creates"] == len(ref_plan.clips) == 5

    rng = random.Random(20260)
    stories = [crash_film(tmp_path / f"t{i:02d}" / "crash") for i in range(TRIALS)]
    nxt = Driver(stories[0], fake.base_url, tmp_path / "t00.log")
    driver = None
    seen = {"killed": 0, "nothing-sent": 0, "adopted": 0, "forgotten": 0, "paid-not-downloaded": 0,
            "stitch-killed": 0}
    try:
        for i, story in enumerate(stories):
            phase = PHASES[i % len(PHASES)]
            fake.reset()
            if phase == "in-create":  # a create the server accepted but has not answered yet
                fake.set_faults(create_delay=0.5)
            elif phase == "download":
                fake.set_faults(download_delay=0.4)
            plan = compile_story(story, provider)
            state = default_state_dir(plan)
            driver = nxt
            started = driver.go()
            if phase == "before-submit":
                time.sleep(rng.uniform(0.0, 0.25))
            elif phase == "in-create":
                assert wait_for(lambda: fake.stats()["creates"] >= 1), "no create reached the server"
                time.sleep(rng.uniform(0.0, 0.35))
            elif phase == "download":
                assert wait_for(lambda: fake.stats()["downloads"] >= 1), "no download started"
                time.sleep(rng.uniform(0.0, 0.3))
            elif phase == "stitch":
                wait_for(lambda state=state, driver=driver:  # this trial's, bound now
                         (state / "stitch").is_dir() or driver.proc.poll() is not None)
                time.sleep(rng.uniform(0.0, 0.15))
            else:
                time.sleep(rng.uniform(0.0, full))
            killed = driver.kill()
            seen["killed"] += killed
            seen["stitch-killed"] += killed and phase == "stitch"
            seen["nothing-sent"] += killed and fake.stats()["creates"] == 0
            at = time.monotonic() - started
            if i + 1 < TRIALS:  # the next trial's process starts up while this one resumes
                nxt = Driver(stories[i + 1], fake.base_url, tmp_path / f"t{i + 1:02d}.log")
            assert SOAK_KEY not in (tmp_path / f"t{i:02d}.log").read_text()

            # the user's recovery, then the same command
            fake.set_faults(create_delay=0.0, download_delay=0.0)
            journal = Journal(state, provider.namespace)
            seen["paid-not-downloaded"] += sum(1 for rec in journal.all() if rec.state in ("submitted", "completed"))
            decided = resolve_in_doubt(story, plan, fake, args(story), env)
            seen["adopted"] += sum(1 for d in decided.values() if d.startswith("adopted"))
            seen["forgotten"] += sum(1 for d in decided.values() if d == "forgotten")
            r = cli(args(story), env)
            context = f"trial {i} ({phase}, killed={killed} after {at:.2f}s, decided {decided})"
            assert r.exit_code == 0, f"{context}: {r.output}"
            assert sha256_file(Path(r.stdout.strip())) == ref_film, context
            cache = Cache(state, provider.namespace)
            assert {c.key: sha256_file(cache.clip_path(c.key)) for c in plan.clips} == ref_clips, context
            jobs = server_jobs(fake, plan)
            assert all(len(js) == 1 for js in jobs.values()), f"{context}: created twice: {jobs}"
            assert fake.stats()["creates"] == len(plan.clips), context
            leftovers = list((cache.root / "tmp").glob("*")) + list(journal.dir.glob(".*"))
            assert not leftovers, f"{context}: temp files left behind: {leftovers}"
    finally:  # a failed trial must not leave the next, pre-started process waiting
        for d in (nxt, driver):
            if d is not None and d.proc.poll() is None:
                d.proc.kill()
                d.proc.wait(10)

    # the trials crashed where they were meant to: before anything was sent, with a create
    # accepted but unanswered (adopted), with jobs paid for but not downloaded, mid-stitch
    assert seen["killed"] >= TRIALS * 3 // 4, seen
    assert seen["nothing-sent"] >= 1 and seen["adopted"] >= 2 and seen["paid-not-downloaded"] >= 2, seen
    assert seen["stitch-killed"] >= 1, seen
    print("crash trials:", seen)


# ---- damaged state files --------------------------------------------------------------------------

@pytest.fixture
def rendered(tmp_path, fake_together, monkeypatch):
    """A two-clip film rendered with the together provider against the fake server."""
    f = two_shot_film(tmp_path, fake_together, monkeypatch, latency=0.1)
    r = cli(f["base"], f["env"])
    assert r.exit_code == 0, r.output
    return dict(f, cache=Cache(f["state"], f["provider"].namespace), film=Path(r.stdout.strip()))


@pytest.mark.parametrize("cut", ["a third", "the last 200 bytes"])
def test_truncated_clip_is_downloaded_again_not_paid_again(cut, rendered):
    # A faststart MP4 keeps its index at the front: cut at the end, it still probes as whole.
    d = rendered
    c = d["plan"].clips[0]
    path = d["cache"].clip_path(c.key)
    good = sha256_file(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3] if cut == "a third" else data[:-200])
    r = cli(d["base"], d["env"])
    assert r.exit_code == 0, r.output
    assert "moved aside" in r.text and "not resubmitting" in r.text, r.output
    assert "truncated" in r.text or "cannot be read" in r.text
    assert sha256_file(path) == good and d["fake"].stats()["creates"] == 2
    assert list((d["cache"].root / "corrupt").glob(f"{c.key}-*.mp4"))  # kept, not deleted
    assert sha256_file(d["film"]) != "" and cli(d["base"], d["env"]).exit_code == 0


def test_garbage_cache_record_is_rewritten_and_not_trusted(rendered):
    d = rendered
    c = d["plan"].clips[1]
    job_id = d["cache"].read_record(c.key).job_id
    for garbage in ("{not json", "[1, 2]", '"text"', json.dumps({"name": 3}),
                    json.dumps({"name": c.name, "key": c.key, "provider": "x", "probe": "nope"})):
        d["cache"].record_path(c.key).write_text(garbage)
        assert d["cache"].read_record(c.key) is None
        r = cli(d["base"], d["env"])
        assert r.exit_code == 0, r.output
        assert "written again" in r.text
        rec = d["cache"].read_record(c.key)
        assert rec is not None and rec.job_id == job_id and rec.probe["duration"] > 3.5  # repaired
    assert d["fake"].stats()["creates"] == 2


JOURNAL_DAMAGE = {
    "truncated": lambda text: text[: len(text) // 2],
    "garbage bytes": lambda text: b"\x00\xff\xfe garbage \x80".decode("latin-1"),
    "empty": lambda text: "",
    "a list": lambda text: "[]",
    "wrong schema": lambda text: json.dumps({"hello": "world"}),
    "unknown state": lambda text: json.dumps({**json.loads(text), "state": "paid-maybe"}),
    "job id not a string": lambda text: json.dumps({**json.loads(text), "job_id": 12345}),
    "another clip's record": lambda text: json.dumps({**json.loads(text), "key": "0" * 64}),
}


@pytest.mark.parametrize("damage", list(JOURNAL_DAMAGE))
def test_damaged_journal_record_is_in_doubt_never_trusted(damage, tmp_path, fake_together, monkeypatch):
    """A clip whose journal record cannot be read may have a paid job: it is reported in doubt
    (the rest of the film renders), and the user's decision resolves it. For a clip that is
    already cached the record does not matter."""
    fast_cli(monkeypatch, poll=POLL)
    fake = fake_together(api_key=SOAK_KEY, latency=0.05, clip_size=None)
    story = write_film(tmp_path / "film", shots=2, size="160x96", title="Damage", extends=(), continues=(),
                       morphs=(), dissolves=())
    env = {"TOGETHER_API_KEY": SOAK_KEY}
    base = ["render", str(story), "-p", "together", "--base-url", fake.base_url, "--yes"]
    provider = TogetherProvider(api_key=SOAK_KEY, base_url=fake.base_url)
    plan = compile_story(story, provider)
    state = default_state_dir(plan)
    journal, cache = Journal(state, provider.namespace), Cache(state, provider.namespace)
    a, b = plan.clips
    # a was submitted and its job id journaled, then the process died; b is rendered and cached
    assert cli(base + ["--shot", b.name], env).exit_code == 0
    r = cli(base + ["--shot", a.name], env)
    assert r.exit_code == 0
    job_a = journal.get(a.key).job_id
    cache.quarantine(a.key)  # as if the download never happened
    (cache.root / "corrupt").rename(cache.root.parent / "aside")
    for p in (journal.path(a.key), journal.path(b.key)):
        p.write_text(JOURNAL_DAMAGE[damage](p.read_text()), encoding="latin-1")
    creates = fake.stats()["creates"]

    summary = inspect_render(plan, provider)
    assert [t.action for t in summary.tasks] == ["in-doubt", "cached"], summary.lines()
    r = cli(base, env)
    assert r.exit_code == 3, r.output
    assert "unreadable journal record" in r.text and f"--adopt {a.name}=JOB_ID" in r.text
    assert "Traceback" not in r.output and fake.stats()["creates"] == creates  # nothing sent
    # the user adopts the job (it is on the dashboard); the bad record is kept aside
    r = cli(base + ["--adopt", f"{a.name}={job_a}"], env)
    assert r.exit_code == 0, r.output
    assert list((journal.dir / "corrupt").glob(f"{a.key}.*.json"))
    r = cli(base, env)
    assert r.exit_code == 0, r.output
    assert fake.stats()["creates"] == creates and journal.get(a.key).job_id == job_a


def test_unreadable_journal_record_with_forget_or_resubmit(tmp_path, fake_together, monkeypatch):
    f = two_shot_film(tmp_path, fake_together, monkeypatch)
    fake, env, base, plan, journal = f["fake"], f["env"], f["base"], f["plan"], f["journal"]
    a, b = plan.clips
    journal.path(a.key).parent.mkdir(parents=True)
    journal.path(a.key).mkdir()  # not even a file: unreadable (EISDIR)
    journal.path(b.key).write_text("{")
    r = cli(base, env)
    assert r.exit_code == 3 and "Traceback" not in r.output and fake.stats()["creates"] == 0, r.output
    journal.path(a.key).rmdir()
    assert cli(base + ["--forget", a.name], env).exit_code == 0
    r = cli(base + ["--resubmit-in-doubt"], env)
    assert r.exit_code == 0, r.output
    assert fake.stats()["creates"] == 2
    assert list((journal.dir / "corrupt").glob(f"{b.key}.*.json"))  # b's bad record kept aside
