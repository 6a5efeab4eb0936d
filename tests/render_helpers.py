"""Shared helpers for the render-engine tests (test_render.py, test_hardening_*.py).

- `clip` / `make_plan`: a hand-built RenderPlan with keys made the way the compiler makes them.
- `ScriptedProvider` + `FakeMedia`: an in-memory provider whose "videos" are small JSON files
  read by a fake `media` module (fast, no video); `run` drives `render_plan` with fast policies.
- `KEY`, `together`, `trun`, `stats`: the together provider against the fake server (the
  `fake_together` fixture lives in conftest.py).
- `cli`: the typer app in-process (CliRunner).
"""

from __future__ import annotations

import asyncio
import json
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from storyboard.digest import file_sha256 as sha256_file  # noqa: F401 - the tests' name for it
from storyboard.plan import PlannedClip, RenderPlan, TimelineEntry, canonical_json
from storyboard.providers.base import Job, Provider, ProviderError
from storyboard.render import PollPolicy, RetryPolicy, render_plan

FAST_POLL = PollPolicy(first=0.01, factor=1.5, cap=0.05, min_interval=0.005, deadline=20)
FAST_RETRY = RetryPolicy(attempts=4, base=0.01, cap=0.04)


# ---- a hand-built plan -----------------------------------------------------------------------

def clip(name: str, seconds: int = 4, after: tuple[str, ...] = (), *, kind: str = "shot",
         media: dict[str, Any] | None = None, cost: float | None = 0.0, audio: bool = True,
         prompt: str | None = None, line: int = 1) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "ByteDance/Seedance-2.0", "prompt": prompt or f"{name}: a test shot",
                            "width": 320, "height": 180, "seconds": str(seconds)}
    if media:
        body["media"] = media
    if not audio:
        body["settings"] = {"audio": False}
    return dict(name=name, kind=kind, seconds=seconds, after=list(after), request=body,
                estimated_cost_usd=cost, mode="text", source=f"film.story:{line}:1", audio=audio,
                width=320, height=180)


def make_plan(base: Path, clips: list[dict[str, Any]], provider: str = "scripted") -> RenderPlan:
    """Keys as the compiler makes them: the canonical body plus the dependencies' keys."""
    keys: dict[str, str] = {}
    planned = []
    for c in clips:
        dep_keys = [keys[d] for d in c["after"] if d in keys]
        key = hashlib.sha256((canonical_json(c["request"]) + "|" + ",".join(dep_keys)).encode()).hexdigest()
        keys[c["name"]] = key
        planned.append(PlannedClip(key=key, **c))
    total = [c.estimated_cost_usd for c in planned]
    return RenderPlan(title="Test Film", provider=provider, model="ByteDance/Seedance-2.0",
                      story=str(base / "film.story"), base_dir=str(base), clips=planned,
                      timeline=[TimelineEntry(clip=c.name) for c in planned],
                      estimated_cost_usd=None if None in total else sum(total))


# ---- a scripted provider and a fake media module -----------------------------------------------

class FakeMedia:
    """`probe` reads the JSON "video" the scripted provider writes; corrupt files raise."""

    class MediaError(Exception):
        pass

    def __init__(self):
        self.frames: list[tuple[str, str]] = []

    def probe(self, path: Path):
        try:
            data = json.loads(Path(path).read_text())
        except (ValueError, OSError) as exc:
            raise self.MediaError(f"invalid data found when processing input: {exc}") from None
        return SimpleNamespace(duration=data["duration"],
                               video=SimpleNamespace(width=320, height=180) if data.get("video", True) else None,
                               audio=SimpleNamespace() if data.get("audio", True) else None)

    def extract_frame(self, video: Path, which: str, out: Path) -> Path:
        self.frames.append((Path(video).name, which))
        Path(out).write_bytes(b"PNG " + which.encode())
        return Path(out)


class ScriptedProvider(Provider):
    """Jobs finish `latency(body)` seconds after their create. Hooks decide failures."""

    name = "scripted"
    paid = False

    def __init__(self, *, latency: float | Callable[[dict], float] = 0.02, paid: bool = False,
                 create_errors: dict[str, list[Exception]] | None = None,
                 fail: set[str] = frozenset(), duration: Callable[[dict], float] | None = None,
                 download_errors: dict[str, list[Exception]] | None = None, api_key: str | None = None):
        self.paid = paid
        self.api_key = api_key
        self.latency = latency if callable(latency) else (lambda body, v=latency: v)
        self.create_errors = {k: list(v) for k, v in (create_errors or {}).items()}
        self.download_errors = {k: list(v) for k, v in (download_errors or {}).items()}
        self.fail = set(fail)
        self.duration = duration or (lambda body: float(body["seconds"]))
        self.creates: list[dict] = []  # bodies the "server" accepted
        self.create_calls = 0
        self.gets = 0
        self.jobs: dict[str, dict] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.timeline: list[tuple[str, str, float]] = []  # (event, clip, monotonic)

    @staticmethod
    def clip_of(body: dict) -> str:
        return body["prompt"].split(":")[0]

    async def create(self, body, *, workdir):
        self.create_calls += 1
        name = self.clip_of(body)
        errs = self.create_errors.get(name)
        if errs:
            raise errs.pop(0)
        job_id = f"job-{len(self.creates) + 1}-{name}"
        self.creates.append(body)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        now = time.monotonic()
        self.timeline.append(("create", name, now))
        self.jobs[job_id] = {"body": body, "done": now + self.latency(body), "created": time.time(),
                             "delivered": False, "over": False}
        return Job(id=job_id, state="running")

    async def get(self, job_id):
        self.gets += 1
        j = self.jobs.get(job_id)
        if j is None:
            raise ProviderError(f"Video ID not found: {job_id}", status=404)
        if time.monotonic() < j["done"]:
            return Job(id=job_id, state="running")
        # A vendor's concurrency counts running jobs, not videos left to download. (A job a test
        # planted has no "over": it was never counted.)
        if not j.get("over", True):
            j["over"] = True
            self.in_flight -= 1
        name = self.clip_of(j["body"])
        raw = {"created_at": j["created"], "completed_at": j["created"] + self.latency(j["body"])}
        if name in self.fail:
            return Job(id=job_id, state="failed", error=f"generation failed for {name}", error_code="boom", raw=raw)
        return Job(id=job_id, state="completed", video_url=f"https://cdn.example/{job_id}.mp4",
                   cost=float(j["body"]["seconds"]) * 0.1, raw=raw)

    async def download(self, job, dest):
        j = self.jobs[job.id]
        name = self.clip_of(j["body"])
        errs = self.download_errors.get(name)
        if errs:
            raise errs.pop(0)
        body = j["body"]
        Path(dest).write_text(json.dumps({"duration": self.duration(body),
                                          "audio": (body.get("settings") or {}).get("audio", True)}))
        if not j["delivered"]:
            j["delivered"] = True
            self.timeline.append(("downloaded", name, time.monotonic()))


def run(plan, provider, **kw):
    kw.setdefault("poll", FAST_POLL)
    kw.setdefault("retry", FAST_RETRY)
    kw.setdefault("media", FakeMedia())
    return asyncio.run(render_plan(plan, provider, **kw))


def created_names(provider: ScriptedProvider) -> list[str]:
    return [ScriptedProvider.clip_of(b) for b in provider.creates]


# ---- the fake Together server ----------------------------------------------------------------

KEY = "sk-render-test-7f3a9c2d"


def together(fake, **kw):
    from storyboard.providers.together import TogetherProvider

    kw.setdefault("backoff", (0.05, 0.2))
    return TogetherProvider(api_key=kw.pop("api_key", KEY), base_url=fake.base_url, **kw)


def trun(plan, provider, **kw):
    kw.setdefault("poll", FAST_POLL)
    kw.setdefault("retry", FAST_RETRY)
    kw.setdefault("approve", lambda s: True)
    return asyncio.run(render_plan(plan, provider, **kw))


def stats(fake) -> dict:
    return fake.stats()


# ---- the CLI in-process --------------------------------------------------------------------

def cli(args: list[str], env: dict[str, str] | None = None):
    from typer.testing import CliRunner

    from storyboard.cli import app

    result = CliRunner().invoke(app, args, env=env)
    result.text = " ".join(result.output.split())  # messages may be wrapped at 80 columns
    return result



# ---- real stories for the hardening tests ----------------------------------------------------

SOAK_KEY = "sk-test-SECRET-9f8e7d6c5b4a"


def write_film(folder: Path, shots: int = 15, *, size: str = "320x180", title: str = "Soak Film",
               extends: tuple[int, ...] = (2, 7, 11), continues: tuple[int, ...] = (4, 9),
               morphs: tuple[int, ...] = (5, 12), dissolves: tuple[int, ...] = (3,)) -> Path:
    """A .story with one cast member and `shots` 4 s shots, extensions after the shots numbered in
    `extends`, `continue` after those in `continues`, a morph after those in `morphs` and a dissolve
    after those in `dissolves`. The default is a 20-clip film. Every prompt is distinct, so a
    server job can be traced back to its clip by its prompt."""
    from PIL import Image

    (folder / "cast").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (200, 120, 40)).save(folder / "cast" / "fox.png")
    lines = [f"title: {title}", f"size: {size}", "seed: 11", "",
             "character Fox:", "  image: cast/fox.png", "  description: a small orange fox", ""]
    for i in range(1, shots + 1):
        who = "@Fox" if i % 3 else "The fox"
        lines += [f"shot s{i:02d} 4s:", f"  {who} walks through scene {i}.", ""]
        if i in extends:
            lines += [f"extend s{i:02d} 4s:", f"  The fox keeps going in scene {i}.", ""]
        if i == shots:
            break
        if i in continues:
            lines += ["continue", ""]
        elif i in morphs:
            lines += [f"morph 1s: Scene {i} melts into scene {i + 1}.", ""]
        elif i in dissolves:
            lines += ["dissolve 1s", ""]
    path = folder / f"{folder.name}.story"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def fast_cli(monkeypatch, poll: PollPolicy | None = None, retry: RetryPolicy | None = None) -> None:
    """The CLI's render command with test-speed polling and create retries."""
    monkeypatch.setattr("storyboard.cli.render.DEFAULT_POLL",
                        poll or PollPolicy(first=0.05, factor=1.5, cap=0.3, min_interval=0.02, deadline=60))
    monkeypatch.setattr("storyboard.cli.render.DEFAULT_RETRY", retry or RetryPolicy(attempts=6, base=0.05, cap=0.4))


def compile_story(story: Path, provider) -> RenderPlan:
    from storyboard.api import compile_file

    result = compile_file(story, provider)
    assert result.ok, [str(d) for d in result.diagnostics]
    return result.plan


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def server_jobs(fake, plan: RenderPlan) -> dict[str, list[dict]]:
    """The fake server's own records, per clip of `plan` (traced by prompt), oldest first: the
    test's view of the provider's dashboard. A job that belongs to no clip is an error."""
    by_prompt = {sha256_text(c.request["prompt"]): c.name for c in plan.clips}
    assert len(by_prompt) == len(plan.clips), "prompts must be distinct to trace jobs"
    out: dict[str, list[dict]] = {c.name: [] for c in plan.clips}
    for job in sorted(fake.stats()["jobs"], key=lambda j: j["created_at"]):
        assert job["prompt_sha256"] in by_prompt, f"a job no clip asked for: {job}"
        out[by_prompt[job["prompt_sha256"]]].append(job)
    return out


def resolve_in_doubt(story: Path, plan: RenderPlan, fake, base_args: list[str], env: dict[str, str]) -> dict[str, str]:
    """What a user does with in-doubt clips: look each one up on the dashboard (the fake's stats);
    if its job exists and did not fail, `--adopt CLIP=JOB_ID`; otherwise `--forget CLIP` (nothing
    to pay twice for). Returns {clip: "adopted <id>" | "forgotten"}."""
    from storyboard.render.journal import IN_DOUBT, Journal
    from storyboard.render import default_state_dir

    journal = Journal(default_state_dir(plan), _namespace(plan, fake))
    jobs = server_jobs(fake, plan)
    done: dict[str, str] = {}
    for c in plan.clips:
        rec = journal.get(c.key)
        if rec is None or rec.state not in IN_DOUBT:
            continue
        alive = [j for j in jobs[c.name] if j["status"] != "failed"]
        assert len(alive) <= 1, f"{c.name} was created twice: {alive}"
        if alive:
            r = cli(base_args + ["--adopt", f"{c.name}={alive[0]['id']}"], env)
            done[c.name] = f"adopted {alive[0]['id']}"
        else:
            r = cli(base_args + ["--forget", c.name], env)
            done[c.name] = "forgotten"
        assert r.exit_code == 0, r.output
    return done


def _namespace(plan: RenderPlan, fake) -> str:
    from storyboard.providers.together import TogetherProvider

    return TogetherProvider(api_key="x", base_url=fake.base_url).namespace


TEST_POLL = PollPolicy(first=0.03, factor=1.5, cap=0.2, min_interval=0.01, deadline=60)


def two_shot_film(tmp_path: Path, fake_together, monkeypatch, *, size: str = "160x96", title: str = "Damage",
                  latency: float = 0.05) -> dict:
    """A two-shot story wired to a fresh fake Together server: the fixture of the damage and
    disk tests (`fake`, `story`, `env`, `base` CLI args, `provider`, `plan`, `state`, `journal`)."""
    from storyboard.render.journal import Journal
    from storyboard.providers.together import TogetherProvider
    from storyboard.render import default_state_dir

    fast_cli(monkeypatch, poll=TEST_POLL)
    fake = fake_together(api_key=SOAK_KEY, latency=latency, clip_size=None)
    story = write_film(tmp_path / "film", shots=2, size=size, title=title, extends=(), continues=(),
                       morphs=(), dissolves=())
    provider = TogetherProvider(api_key=SOAK_KEY, base_url=fake.base_url)
    plan = compile_story(story, provider)
    state = default_state_dir(plan)
    return dict(fake=fake, story=story, env={"TOGETHER_API_KEY": SOAK_KEY}, provider=provider, plan=plan,
                state=state, journal=Journal(state, provider.namespace),
                base=["render", str(story), "-p", "together", "--base-url", fake.base_url, "--yes"])


def kill_after_first_create(args: list[str], env: dict[str, str], fake, wait: float = 120.0) -> None:
    """Start `args` (a storyboard render) and kill -9 it once the fake has received its first
    create; the fake should delay its answer (`create_delay`) so the kill lands mid-create. A
    loaded machine may take long to start the process: `wait` bounds it."""
    import signal
    import subprocess

    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + wait
    while fake.stats()["creates"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
