"""Secrets and trust boundaries.

1. The API key never reaches a file, a log record or the terminal: the example films go through
   every command with `-p together` against the fake server with a known key, including a wrong
   key (401), 429s, failed jobs and an in-doubt create; then every file under the copied examples
   (story folders, build/, .storyboard/), the temporary HOME, every captured stdout/stderr and
   every log record is searched for the key and for its `Bearer` header form.
2. A plan edited by hand cannot make the engine read outside the story's folder (`../`, absolute
   paths, symlinks) or send a non-http(s) URL: the render is refused before anything is sent.
3. The download size cap and content check hold at the engine level.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from render_helpers import (FakeMedia, ScriptedProvider, clip, cli, compile_story, fast_cli,
                            make_plan, run, server_jobs, together, trun, write_film)
from storyboard.providers.together import TogetherProvider
from storyboard.render import RenderError, inspect_render

ROOT = Path(__file__).resolve().parent.parent
SECRET = "sk-test-SECRET-9f8e7d6c5b4a"
WRONG = "sk-test-WRONG-0a1b2c3d4e5f"


def encodings(secret: str) -> set[str]:
    """Every shape a key takes when something turns it into text: raw, repr- and bytes-escaped
    (`Illegal header value b'Bearer sk-...\\n'`), JSON-escaped, URL-encoded, and base64 of the
    key and of its `Bearer` header value. (Written out here, not taken from the scrubber.)"""
    forms = {secret, f"Bearer {secret}", repr(secret)[1:-1], repr(secret.encode())[2:-1],
             json.dumps(secret)[1:-1], quote(secret), quote(secret, safe=""), quote_plus(secret)}
    for plain in (secret, f"Bearer {secret}"):
        for b64 in (base64.b64encode, base64.urlsafe_b64encode):
            forms.add(b64(plain.encode()).decode().rstrip("="))
    return forms


NEEDLES = sorted(encodings(SECRET) | encodings(WRONG) | {SECRET[8:]})  # and a fragment


def hits(blob: bytes | str, needles: list[str] | set[str] = NEEDLES) -> list[str]:
    data = blob.encode() if isinstance(blob, str) else blob
    return [n for n in needles if n.encode() in data]


@pytest.mark.slow
def test_the_key_is_nowhere(tmp_path, fake_together, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, every level (httpx, httpcore, ours)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TOGETHER_API_KEY", SECRET)
    fast_cli(monkeypatch)
    examples = tmp_path / "examples"
    shutil.copytree(ROOT / "examples", examples, ignore=shutil.ignore_patterns("build", ".storyboard"))
    stories = sorted(examples.glob("*/*.story"))
    stories = [s for s in stories if s.stem == s.parent.name]
    kitten = examples / "kitten-general" / "kitten-general.story"
    assert kitten in stories and len(stories) >= 3
    fake = fake_together(api_key=SECRET, latency=0.1)
    url = fake.base_url
    outputs: list[str] = []
    good, bad = {"TOGETHER_API_KEY": SECRET}, {"TOGETHER_API_KEY": WRONG}

    def go(args: list[str], env: dict[str, str] = good, codes=(0,)):
        r = cli(args, env)
        outputs.append(r.output)
        outputs.append(r.stdout)
        assert r.exit_code in codes, (args, r.exit_code, r.output)
        assert "Traceback" not in r.output
        return r

    for story in stories:  # the compile-time commands; lighthouse/tea-house need URLs for together (exit 1)
        for args in (["check", "-p", "together"], ["compile", "-p", "together"], ["plan", "--json", "-p", "together"],
                     ["plan", "-p", "together"]):
            go(args[:1] + [str(story)] + args[1:], codes=(0, 1))
        if story != kitten:  # rendered below, step by step
            go(["render", str(story), "-p", "together", "--base-url", url, "--yes"], codes=(1,))
    base = ["render", str(kitten), "-p", "together", "--base-url", url, "--yes"]
    # a wrong key: 401 on every create, nothing created
    r = go(base, bad, codes=(3,))
    assert "401" in r.output and fake.stats()["creates"] == 0
    # 429s, a failed job, an in-doubt create (the connection dropped after the server created the job)
    fake.set_faults(create_429=2, retry_after=0.05, fail_every=2, drop_after_create=1)
    go(base + ["--json"], codes=(3,))
    plan = compile_story(kitten, TogetherProvider(api_key=SECRET, base_url=url))
    fake.set_faults(fail_every=0)
    for name, jobs in server_jobs(fake, plan).items():  # the user adopts what the dashboard shows
        alive = [j for j in jobs if j["status"] != "failed"]
        if alive:
            go(base + ["--adopt", f"{name}={alive[-1]['id']}"])
    r = go(base + ["--resubmit-in-doubt"], codes=(0,))
    assert Path(r.stdout.strip()).is_file()
    go(["preview", str(kitten), "-p", "together", "--base-url", url, "--yes"])
    go(["export", str(kitten), "-p", "together", "--base-url", url, "--otio", str(tmp_path / "out" / "k.otio"),
        "--srt", str(tmp_path / "out" / "k.srt")])
    small = write_film(tmp_path / "free", shots=1, extends=(), continues=(), morphs=(), dissolves=())
    go(["render", str(small), "-p", "preview"])  # the free provider, with the key in the environment

    # the real process, its own stdout and stderr (a wrong key, then the right one)
    env = {**os.environ, "HOME": str(home), "TOGETHER_API_KEY": WRONG}
    fresh = write_film(tmp_path / "sub", shots=1, extends=(), continues=(), morphs=(), dissolves=())
    cmd = [sys.executable, "-m", "storyboard", "render", str(fresh), "-p", "together", "--base-url", url, "--yes"]
    for key, code in ((WRONG, 3), (SECRET, 0)):
        proc = subprocess.run(cmd, env={**env, "TOGETHER_API_KEY": key}, capture_output=True, timeout=120)
        assert proc.returncode == code, proc.stderr.decode()
        outputs += [proc.stdout.decode(), proc.stderr.decode()]

    leaks = {str(p): hits(p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file() and not p.is_symlink()}
    leaks = {p: h for p, h in leaks.items() if h}
    assert not leaks, leaks
    assert not hits("\n".join(outputs)), [o for o in outputs if hits(o)]
    assert not hits(caplog.text), [r.getMessage() for r in caplog.records if hits(r.getMessage())]
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(".storyboard" in p.parts for p in written) and any("build" in p.parts for p in written)


# ---- references cannot leave the story's folder at render time ---------------------------------

def _paid() -> ScriptedProvider:
    return ScriptedProvider(paid=True)


@pytest.mark.parametrize("ref", ["<file:../../etc/passwd>", "<file:/etc/passwd>", "<file:../outside.png>",
                                 "<file:cast/../../outside.png>", "<file:cast/link.png>"])
def test_hand_edited_plan_cannot_read_outside_the_story(ref, tmp_path):
    base = tmp_path / "story"
    (base / "cast").mkdir(parents=True)
    (tmp_path / "outside.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    os.symlink(tmp_path / "outside.png", base / "cast" / "link.png")
    spec = [clip("a", media={"reference_images": [ref]}), clip("b")]
    plan = make_plan(base, spec)
    p = _paid()
    with pytest.raises(RenderError) as exc:
        run(plan, p, approve=lambda s: True)
    assert p.create_calls == 0  # refused before anything was sent, for any clip
    assert "clip a:" in str(exc.value) and "outside the story's folder" in str(exc.value)
    # the plan as it comes from a file: the same
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    from storyboard.plan import RenderPlan

    again = RenderPlan.from_json(path.read_text(), base_dir=str(base))
    with pytest.raises(RenderError):
        inspect_render(again, p, media=FakeMedia())


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.png", "javascript:alert(1)",
                                 "//example.com/a.png", "/etc/passwd", "data:text/html,<b>x</b>"])
def test_hand_edited_plan_with_other_urls_is_refused(url, tmp_path):
    plan = make_plan(tmp_path, [clip("a", media={"reference_images": [url]})])
    p = _paid()
    with pytest.raises(RenderError, match="http"):
        run(plan, p, approve=lambda s: True)
    assert p.create_calls == 0


def test_http_urls_and_story_files_still_pass(tmp_path):
    (tmp_path / "cast").mkdir()
    (tmp_path / "cast" / "a.png").write_bytes(b"png")
    plan = make_plan(tmp_path, [clip("a", media={"reference_images": ["<file:cast/a.png>", "https://example.com/x.png",
                                                                      "HTTP://EXAMPLE.COM/y.png"]})])
    p = _paid()
    assert run(plan, p, approve=lambda s: True).exit_code == 0


# ---- downloads: size cap and content check, through the engine ----------------------------------

@pytest.mark.slow
def test_engine_refuses_oversized_and_non_video_downloads(tmp_path, fake_together):
    fake = fake_together(latency=0.05)
    plan = make_plan(tmp_path, [clip("a", cost=0.28)], provider="together")
    report = trun(plan, together(fake, max_download_bytes=1000))
    assert report["a"].status == "failed" and "cap" in report["a"].error, report["a"].error
    assert "run again" in report["a"].error and fake.stats()["creates"] == 1
    assert not list((tmp_path / ".storyboard" / "cache").rglob("*.mp4"))  # nothing half-kept

    def html(body, out: Path) -> None:  # a "video" that is a web page
        out.write_bytes(b"<html><body>gotcha</body></html>" * 10)

    fake2 = fake_together(latency=0.05, renderer=html)
    plan2 = make_plan(tmp_path / "two", [clip("a", cost=0.28)], provider="together")
    report = trun(plan2, together(fake2))
    assert report["a"].status == "failed" and "not an MP4" in report["a"].error, report["a"].error
    assert not list((tmp_path / "two" / ".storyboard" / "cache").rglob("*.mp4"))
