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


@pytest.mark.slow
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


# ---- fal storage, as its endpoints check what they are sent ---------------------------------------

INITIATE = "/storage/upload/initiate?storage_type=gcs"


def test_storage_checks_what_an_upload_sends():
    with FakeFal(api_key=KEY) as fake:
        auth = {"Authorization": f"Key {KEY}"}
        start = {"file_name": "a.mp4", "content_type": "video/mp4"}
        assert httpx.post(fake.base_url + INITIATE, json=start).status_code == 401
        r = httpx.post(fake.base_url + "/storage/upload/initiate?storage_type=s3", json=start, headers=auth)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "storage_type"]
        r = httpx.post(fake.base_url + INITIATE, json={"file_name": "a.mp4"}, headers=auth)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "content_type"]
        r = httpx.post(fake.base_url + INITIATE, json=start,
                       headers={**auth, "X-Fal-Object-Lifecycle-Preference": "{not json"})
        assert r.status_code == 400
        grant = httpx.post(fake.base_url + INITIATE, json=start, headers=auth).json()
        put = httpx.put(grant["upload_url"], content=b"x" * 10, headers={"Content-Type": "video/quicktime"})
        assert put.status_code == 403 and b"SignatureDoesNotMatch" in put.content  # signed for video/mp4
        assert httpx.get(grant["file_url"]).status_code == 404 and fake.files.all() == []
        assert httpx.put(grant["upload_url"], content=b"x" * 10, headers={"Content-Type": "video/mp4"}).is_success
        assert httpx.get(grant["file_url"]).content == b"x" * 10
        again = httpx.put(grant["upload_url"], content=b"y", headers={"Content-Type": "video/mp4"})
        assert again.status_code == 403  # a signed URL carries one file
        r = httpx.post(fake.base_url + "/files/upload", content=b"z", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401


def test_storage_faults_refuse_or_cut_an_upload():
    with FakeFal(api_key=KEY, upload_500=1, upload_cut=1) as fake:
        auth = {"Authorization": f"Key {KEY}"}
        start = {"file_name": "a.wav", "content_type": "audio/wav"}
        assert httpx.post(fake.base_url + INITIATE, json=start, headers=auth).status_code == 500
        grant = httpx.post(fake.base_url + INITIATE, json=start, headers=auth).json()
        with pytest.raises(httpx.TransportError):
            httpx.put(grant["upload_url"], content=b"w" * 200_000, headers={"Content-Type": "audio/wav"})
        assert fake.files.all() == []  # nothing half-stored
