"""The fake Replicate server on its own (its command line, answers and error shapes) and the
whole pipeline through it: `check -p replicate`, `render -p replicate --base-url` of a three-clip
story with an extension and a `continue`, a re-run that creates nothing, and a render killed
while its create is on the wire, which the next run reports in doubt."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from render_helpers import cli, fast_cli, kill_after_first_create
from storyboard.testing.fake_replicate import FakeReplicate

pytestmark = pytest.mark.timeout(120)

KEY = "r8_fake_SECRET_0a1b2c"
CREATE = "/v1/models/bytedance/seedance-2.0/predictions"


def story(folder: Path, *, extra: str = "") -> Path:
    from PIL import Image

    (folder / "cast").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 48), (200, 120, 40)).save(folder / "cast" / "fox.png")
    path = folder / "film.story"
    path.write_text("title: Replicate Film\nresolution: 480p\nseed: 3\n" + extra + "\n"
                    "character Fox:\n  image: cast/fox.png\n  description: a small orange fox\n\n"
                    "shot one 4s:\n  @Fox walks into the snow.\n\n"
                    "extend one 4s:\n  The fox keeps walking.\n\n"
                    "continue\n\n"
                    "shot two 4s:\n  The fox reaches a frozen lake.\n", encoding="utf-8")
    return path


# ---- the server on its own ------------------------------------------------------------------

@pytest.mark.slow
def test_command_line_prints_its_base_url_first_and_answers_like_replicate():
    proc = subprocess.Popen([sys.executable, "-m", "storyboard.testing.fake_replicate", "--port", "0",
                             "--api-key", KEY, "--latency", "0.1", "--renderer", "testcard", "--clip-size", "64x36"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        auth = {"Authorization": f"Bearer {KEY}"}
        created = httpx.post(url + CREATE, json={"input": {"prompt": "a fox", "duration": 4}}, headers=auth)
        assert created.status_code == 201 and created.json()["status"] == "starting"
        refused = httpx.post(url + CREATE, json={"input": {"prompt": "a fox", "aspect_ratio": "2:1"}}, headers=auth)
        assert refused.status_code == 422
        problem = refused.json()
        assert (problem["title"], problem["status"]) == ("Input validation failed", 422)
        assert problem["invalid_fields"][0]["field"] == "input.aspect_ratio"
        assert httpx.post(url + CREATE, json={"input": {"prompt": "x"}}).status_code == 401
        assert httpx.get(url + "/_fake/stats").json()["creates"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)


@pytest.mark.slow
def test_prefer_wait_holds_the_create_until_the_prediction_is_done():
    with FakeReplicate(api_key=KEY, latency=0.3, renderer="testcard", clip_size=(64, 36)) as fake:
        answer = httpx.post(fake.base_url + CREATE, json={"input": {"prompt": "a fox", "duration": 4}},
                            headers={"Authorization": f"Bearer {KEY}", "Prefer": "wait=5"}, timeout=10)
        assert answer.status_code == 201 and answer.json()["status"] == "succeeded"
        assert answer.json()["output"].startswith(fake.base_url + "/files/")


def test_fail_on_matches_the_inputs_prompt():
    with FakeReplicate(api_key=KEY, latency=0.05, renderer="testcard", clip_size=(64, 36), fail_on="FAIL") as fake:
        job = httpx.post(fake.base_url + CREATE, json={"input": {"prompt": "please FAIL"}},
                         headers={"Authorization": f"Bearer {KEY}", "Prefer": "wait=5"}, timeout=10).json()
        assert job["status"] == "failed" and "FAIL" in job["error"]


# ---- the pipeline through it ----------------------------------------------------------------

def test_check_reports_what_replicate_refuses_at_its_line(tmp_path):
    path = story(tmp_path)
    path.write_text(path.read_text().replace("resolution: 480p\n", "size: 320x180\n"), encoding="utf-8")
    result = cli(["check", str(path), "-p", "replicate"])
    assert result.exit_code == 1
    assert "film.story:2:" in result.text and "takes no pixel size" in result.text
    lighthouse = Path(__file__).parent.parent / "examples" / "lighthouse" / "lighthouse.story"
    result = cli(["check", str(lighthouse), "-p", "replicate"])  # Replicate's files API carries local media
    assert "SB305" not in result.text and "lighthouse.story:6:7: error[SB103]" in result.text  # size: only


@pytest.mark.slow
def test_render_through_the_cli_creates_each_clip_once(tmp_path, monkeypatch):
    fast_cli(monkeypatch)
    path = story(tmp_path)
    env = {"REPLICATE_API_TOKEN": KEY}
    with FakeReplicate(api_key=KEY, latency=0.1, clip_size=(96, 54)) as fake:
        args = ["render", str(path), "-p", "replicate", "--base-url", fake.base_url, "--yes"]
        first = cli(args, env)
        assert first.exit_code == 0, first.output
        assert fake.stats()["creates"] == 3
        jobs = {j["model"] for j in fake.stats()["jobs"]}
        assert jobs == {"bytedance/seedance-2.0"}
        again = cli(args, env)
        assert again.exit_code == 0, again.output
        assert fake.stats()["creates"] == 3
    assert KEY not in first.output + again.output
    assert any(p.suffix == ".mp4" for p in (tmp_path / "build").iterdir())


@pytest.mark.slow
def test_a_render_killed_mid_create_leaves_the_clip_in_doubt(tmp_path):
    path = story(tmp_path)
    env = {**os.environ, "REPLICATE_API_TOKEN": KEY}
    with FakeReplicate(api_key=KEY, latency=0.1, clip_size=(96, 54), renderer="testcard",
                       create_delay=30) as fake:
        args = [sys.executable, "-m", "storyboard", "render", str(path), "-p", "replicate",
                "--base-url", fake.base_url, "--yes", "-j", "1"]
        kill_after_first_create(args, env, fake)
        assert fake.stats()["creates"] == 1
        fake.set_faults(create_delay=0)
        again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=90)
        assert again.returncode == 3, again.stderr
        assert "in doubt" in again.stderr and "--adopt" in again.stderr
        assert fake.stats()["creates"] == 1  # nothing was submitted twice


# ---- the files API, as it checks what it is sent ---------------------------------------------------

def test_files_api_checks_the_form():
    with FakeReplicate(api_key=KEY, latency=0.05) as fake:
        auth = {"Authorization": f"Bearer {KEY}"}
        url = fake.base_url + "/v1/files"
        assert httpx.post(url, files={"content": ("a.mp4", b"x", "video/mp4")}).status_code == 401
        assert httpx.post(url, json={"content": "x"}, headers=auth).status_code == 400  # not a multipart form
        r = httpx.post(url, files={"other": ("a.mp4", b"x", "video/mp4")}, headers=auth)
        assert r.status_code == 422 and "content is required" in r.json()["detail"]
        r = httpx.post(url, files={"content": ("a.mp4", b"x", "video/mp4")}, data={"metadata": "[1]"}, headers=auth)
        assert r.status_code == 422 and "metadata" in r.json()["detail"]
        r = httpx.post(url, files={"content": ("a.mp4", b"abc", "video/mp4")}, headers=auth)
        assert r.status_code == 201 and r.json()["size"] == 3 and r.json()["checksums"]["sha256"].startswith("ba7816bf")
        got = httpx.get(r.json()["urls"]["get"], headers=auth).json()
        assert got["id"] == r.json()["id"] and got["expires_at"] == r.json()["expires_at"]
        assert httpx.get(r.json()["urls"]["get"]).status_code == 401
