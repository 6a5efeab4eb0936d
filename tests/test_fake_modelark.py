"""The fake ModelArk server on its own: command line, ModelArk's validation and error body,
the task lifecycle and its answers, over real loopback sockets."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from storyboard.testing.fake_modelark import FakeModelArk

pytestmark = pytest.mark.timeout(60)

KEY = "ark-fake-test-91b2"
TEXT = {"type": "text", "text": "A fox runs."}
GOOD = {"model": "dreamina-seedance-2-0-260128", "content": [TEXT], "duration": 4, "resolution": "480p",
        "ratio": "16:9"}


def call(base: str, method: str, path: str, body: Any = None, key: str = KEY) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture()
def fake():
    with FakeModelArk(api_key=KEY, latency=0.2, clip_size=(64, 36), renderer="testcard") as f:
        yield f


def img(role: str) -> dict:
    return {"type": "image_url", "image_url": {"url": "https://x/a.png"}, "role": role}


BAD = {
    "no model": ({"content": [TEXT]}, "MissingParameter", "model"),
    "no content": ({"model": GOOD["model"]}, "MissingParameter", "content"),
    "duration 3": ({**GOOD, "duration": 3}, "InvalidParameter", "duration"),
    "duration text": ({**GOOD, "duration": "5"}, "InvalidParameter", "duration"),
    "resolution": ({**GOOD, "resolution": "2k"}, "InvalidParameter", "resolution"),
    "fast 1080p": ({**GOOD, "model": "dreamina-seedance-2-0-fast-260128", "resolution": "1080p"},
                   "InvalidParameter", "resolution"),
    "ratio": ({**GOOD, "ratio": "2:1"}, "InvalidParameter", "ratio"),
    "seed": ({**GOOD, "seed": 2**31}, "InvalidParameter", "seed"),
    "role": ({**GOOD, "content": [TEXT, img("reference_video")]}, "InvalidParameter", "content[1].role"),
    "frame + reference": ({**GOOD, "content": [TEXT, img("first_frame"), img("reference_image")]},
                          "InvalidParameter", "content"),
    "audio alone": ({**GOOD, "content": [TEXT, {"type": "audio_url", "audio_url": {"url": "https://x/a.mp3"},
                                                "role": "reference_audio"}]}, "InvalidParameter", "content"),
    "video data uri": ({**GOOD, "content": [TEXT, {"type": "video_url", "role": "reference_video",
                                                   "video_url": {"url": "data:video/mp4;base64,AA"}}]},
                       "InvalidParameter", "content[1].video_url.url"),
    "ten images": ({**GOOD, "content": [TEXT] + [img("reference_image")] * 10}, "InvalidParameter", "content"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_requests_get_modelarks_400(fake, case):
    body, code, param = BAD[case]
    status, answer = call(fake.base_url, "POST", "/contents/generations/tasks", body)
    assert status == 400
    err = answer["error"]
    assert (err["code"], err["param"], err["type"]) == (code, param, "BadRequest")
    assert "Request id:" in err["message"]
    assert fake.stats()["creates"] == 0


@pytest.mark.slow
def test_lifecycle_answers_and_errors(fake):
    status, answer = call(fake.base_url, "POST", "/contents/generations/tasks", {**GOOD, "return_last_frame": True})
    assert status == 200 and list(answer) == ["id"] and answer["id"].startswith("cgt-")
    task_id = answer["id"]
    seen = set()
    for _ in range(100):
        status, task = call(fake.base_url, "GET", f"/contents/generations/tasks/{task_id}")
        seen.add(task["status"])
        if task["status"] == "succeeded":
            break
        time.sleep(0.05)
    assert seen <= {"queued", "running", "succeeded"} and "succeeded" in seen
    assert task["content"]["video_url"].endswith(".mp4") and task["content"]["last_frame_url"].endswith(".png")
    assert task["usage"]["completion_tokens"] == 864 * 496 * (24 * 4 + 1) // 1024
    assert (task["duration"], task["framespersecond"], task["resolution"]) == (4, 24, "480p")
    assert call(fake.base_url, "GET", "/contents/generations/tasks/cgt-none")[0] == 404
    status, answer = call(fake.base_url, "POST", "/contents/generations/tasks", GOOD, key="nope-nope")
    assert status == 401 and answer["error"]["code"] == "AuthenticationError"
    fake.set_faults(create_429=1)
    status, answer = call(fake.base_url, "POST", "/contents/generations/tasks", GOOD)
    assert status == 429 and answer["error"]["code"] == "RateLimitExceeded.EndpointRPMExceeded"
    assert call(fake.base_url, "GET", "/_fake/stats")[1]["creates"] == 1


def test_failed_task_carries_modelarks_error(fake):
    fake.set_faults(fail_on="FAIL")
    body = {**GOOD, "content": [{"type": "text", "text": "FAIL this one"}]}
    task_id = call(fake.base_url, "POST", "/contents/generations/tasks", body)[1]["id"]
    time.sleep(0.4)
    task = call(fake.base_url, "GET", f"/contents/generations/tasks/{task_id}")[1]
    assert task["status"] == "failed" and task["error"]["code"]


@pytest.mark.slow
def test_command_line_prints_its_base_url_first():
    proc = subprocess.Popen([sys.executable, "-m", "storyboard.testing.fake_modelark", "--port", "0",
                             "--api-key", KEY, "--latency", "0.1", "--renderer", "testcard"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:") and base.endswith("/api/v3")
        status, answer = call(base, "POST", "/contents/generations/tasks", GOOD)
        assert status == 200
        assert call(base, "GET", "/_fake/stats")[1]["creates"] == 1
    finally:
        proc.terminate()
        proc.wait(10)
    assert KEY not in proc.stderr.read()
