"""The fake fal queue itself: its command line, Key auth, statuses and HTTP codes, faults, bills."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from storyboard.testing.fake_fal import FakeFal, model_errors

KEY = "fake-fal-key"
T2V = "bytedance/seedance-2.0/text-to-video"


def test_command_line_prints_its_base_url_first_and_serves_stats():
    proc = subprocess.Popen([sys.executable, "-m", "storyboard.testing.fake_fal", "--port", "0", "--api-key", KEY,
                             "--latency", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        assert httpx.get(f"{base}/_fake/stats").json()["creates"] == 0
    finally:
        proc.terminate()
        proc.wait(10)


def test_statuses_codes_and_bill():
    # the job lives long enough that a loaded machine still meets it queued
    with FakeFal(api_key=KEY, latency=2.0, queued=1.0, renderer="testcard", clip_size=(64, 36)) as fake:
        auth = {"Authorization": f"Key {KEY}"}
        assert httpx.post(f"{fake.base_url}/{T2V}", json={"prompt": "x"},
                          headers={"Authorization": f"Bearer {KEY}"}).status_code == 401
        sub = httpx.post(f"{fake.base_url}/{T2V}", json={"prompt": "A cat.", "duration": "10"}, headers=auth).json()
        assert sub["status"] == "IN_QUEUE" and sub["status_url"].endswith(f"/requests/{sub['request_id']}/status")
        first = httpx.get(sub["status_url"], headers=auth)
        assert first.status_code == 202 and first.json()["status"] == "IN_QUEUE"
        assert httpx.get(sub["response_url"], headers=auth).status_code == 400
        deadline = time.monotonic() + 10
        while (st := httpx.get(sub["status_url"], headers=auth)).status_code == 202 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert st.json()["status"] == "COMPLETED"
        assert httpx.get(sub["response_url"], headers=auth).json()["video"]["url"]
        assert fake.stats()["jobs"][0]["cost"] == pytest.approx(3.024)  # fal's $0.3024/s at 720p


def test_faults_answer_in_fals_shape():
    with FakeFal(api_key=KEY, create_429=1, create_503=1, retry_after=2) as fake:
        auth = {"Authorization": f"Key {KEY}"}
        r = httpx.post(f"{fake.base_url}/{T2V}", json={"prompt": "x"}, headers=auth)
        assert r.status_code == 429 and r.headers["Retry-After"] == "2" and r.json()["error_type"] == "rate_limited"
        r = httpx.post(f"{fake.base_url}/{T2V}", json={"prompt": "x"}, headers=auth)
        assert r.status_code == 503 and r.headers["x-fal-error-type"] == "runner_scheduling_failure"
        assert fake.stats()["creates"] == 0


def test_model_rules():
    ok = {"endpoint": "bytedance/seedance-2.0/reference-to-video",
          "input": {"prompt": "x", "image_urls": ["https://e/a.png"], "video_urls": ["https://e/v.mp4"]}}
    assert model_errors(ok) == []
    fast = {"endpoint": "bytedance/seedance-2.0/fast/text-to-video", "input": {"prompt": "x", "resolution": "1080p"}}
    assert model_errors(fast)[0]["loc"] == ["body", "resolution"]
