"""The fake Together server over real loopback sockets: protocol, validation, faults, stats, CLI,
and conformance with the official `together` SDK's types."""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from storyboard.providers.together import price_body
from storyboard.testing import FakeTogether

pytestmark = pytest.mark.timeout(60)

KEY = "test-key-8c1f0e"
SEEDANCE = "ByteDance/Seedance-2.0"
ROOT = Path(__file__).resolve().parents[1]


def fake(**kw: Any) -> FakeTogether:
    kw.setdefault("latency", 0.2)
    kw.setdefault("clip_size", (64, 36))
    kw.setdefault("renderer", "testcard")
    return FakeTogether(api_key=KEY, **kw)


def fake_clip(body: dict[str, Any], out: Path) -> None:
    """A stand-in renderer for tests that never look at the pictures (saves CPU)."""
    out.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(64))


def client(f: FakeTogether, key: str | None = KEY) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=f.base_url, headers=headers, timeout=10)


def body(**kw: Any) -> dict[str, Any]:
    """A valid body; keywords set fields, None removes one."""
    b = {"model": SEEDANCE, "prompt": "A kitten general on a cliff.", "resolution": "480p",
         "ratio": "16:9", "seconds": "4", **kw}
    return {k: v for k, v in b.items() if v is not None}


def png_data_uri(size: tuple[int, int] = (32, 32)) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def wait_finished(c: httpx.Client, job_id: str, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        data = c.get(f"/v2/videos/{job_id}").json()
        if data["status"] in ("completed", "failed"):
            return data
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


# ---- auth and validation ---------------------------------------------------------------------

@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_create_without_the_right_key_is_401(key):
    with fake() as f, client(f, key) as c:
        r = c.post("/v2/videos", json=body())
        assert r.status_code == 401
        assert r.json()["error"]["message"]
        assert c.get("/v2/videos/whatever").status_code == 401
        assert f.stats()["creates"] == 0 and f.stats()["rejected"] == 1


IMAGE = "https://example.com/cat.png"
INVALID = [
    ({"model": None}, "model"),
    ({"prompt": "x"}, "prompt"),
    ({"prompt": "x" * 3001}, "prompt"),
    ({"seconds": 5}, "seconds"),
    ({"seconds": "3"}, "seconds"),
    ({"seconds": "16"}, "seconds"),
    ({"resolution": "4k"}, "resolution"),
    ({"ratio": "2:1"}, "ratio"),
    ({"resolution": None, "width": 640}, "width"),
    ({"width": 640, "height": 480}, "resolution"),
    ({"media": {"reference_images": [IMAGE] * 10}}, "media.reference_images"),
    ({"media": {"reference_images": [IMAGE], "reference_videos": [{"video": "https://e.com/v.mp4"}] * 4}},
     "media.reference_videos"),
    ({"media": {"reference_images": [IMAGE], "reference_audios": ["https://e.com/a.mp3"] * 2,
                "audio_inputs": [{"audio": "https://e.com/b.mp3"}] * 2}}, "media.audio_inputs"),
    ({"media": {"frame_images": [{"input_image": IMAGE}] * 3}}, "media.frame_images"),
    ({"media": {"frame_images": [{"input_image": IMAGE, "frame": "middle"}]}}, "media.frame_images[0].frame"),
    ({"media": {"frame_images": [{"input_image": IMAGE}], "reference_images": [IMAGE]}}, "media.frame_images"),
    ({"media": {"reference_audios": ["https://e.com/a.mp3"]}}, "media.reference_audios"),
    ({"media": {"reference_images": [IMAGE] * 9, "reference_videos": [{"video": "https://e.com/v.mp4"}] * 3,
                "reference_audios": ["https://e.com/a.mp3"]}}, "media"),
    ({"media": {"reference_images": ["data:image/png;base64,!!notbase64!!"]}}, "media.reference_images[0]"),
    ({"media": {"reference_images": ["data:image/png;base64," + base64.b64encode(b"not an image").decode()]}},
     "media.reference_images[0]"),
    ({"media": {"reference_images": ["/home/me/cat.png"]}}, "media.reference_images[0]"),
    ({"media": {"reference_images": [IMAGE], "reference_videos": [{"video": "data:video/mp4;base64,AAAA"}]}},
     "media.reference_videos[0].video"),
    ({"settings": {"audio": "no"}}, "settings.audio"),
]


def test_validation_errors_are_400_in_togethers_shape():
    with fake(fields="any") as f, client(f) as c:
        for changes, param in INVALID:
            r = c.post("/v2/videos", json=body(**changes))
            assert r.status_code == 400, (changes, r.text)
            err = r.json()["error"]
            assert err["type"] == "invalid_request_error" and err["message"] and err["code"]
            assert err["param"] == param, (changes, err)
        assert f.stats()["creates"] == 0
        assert f.stats()["rejected"] == len(INVALID)
        assert c.post("/v2/videos", content=b"{nope").status_code == 400


def test_inline_images_are_capped():
    with fake(max_image_bytes=2000) as f, client(f) as c:
        big = "data:image/png;base64," + base64.b64encode(os.urandom(5000)).decode()
        r = c.post("/v2/videos", json=body(media={"reference_images": [big]}))
        assert r.status_code == 400 and r.json()["error"]["code"] == "image_too_large"


VALID = [
    body(),
    body(resolution=None, ratio=None, seconds=None),  # defaults
    body(resolution=None, width=640, height=480),
    body(seconds="15", resolution="1080p", ratio="21:9"),
    body(settings={"audio": False}),
    body(generate_audio=False),
    body(media={"frame_images": [{"input_image": png_data_uri()}, {"input_image": IMAGE}]}),
    body(media={"frame_images": [{"input_image": IMAGE, "frame": "last"}]}),
    body(media={"reference_images": [png_data_uri(), IMAGE], "reference_audios": ["https://e.com/a.mp3"]}),
    body(media={"reference_videos": [{"video": "https://e.com/v.mp4"}],
                "audio_inputs": ["https://e.com/a.mp3", {"audio": "https://e.com/b.mp3"}]}),
    {"model": "some/other-model", "prompt": "anything goes", "seconds": "2"},
]


def test_valid_bodies_are_accepted_as_in_progress_video_jobs():
    with fake(latency=5, renderer=fake_clip, fields="any") as f, client(f) as c:
        for b in VALID:
            r = c.post("/v2/videos", json=b)
            assert r.status_code == 200, (b, r.text)
            job = r.json()
            assert job["object"] == "video" and job["status"] == "in_progress"
            assert job["model"] == b["model"] and isinstance(job["created_at"], float)
            assert len(job["id"]) == 36 and job["seconds"] == b.get("seconds", "5")
        assert len(f.stats()["jobs"]) == len(VALID)
        r = c.post("/v2/videos", json=body(resolution=None, width=640, height=480))
        assert r.json()["size"] == "640x480"
        assert c.post("/v2/videos", json=body(ratio="9:16")).json()["size"] == "496x864"


# ---- lifecycle -------------------------------------------------------------------------------

@pytest.mark.slow
def test_job_lifecycle_create_poll_download_and_stats():
    with fake(latency=0.3) as f, client(f) as c:
        b = body(seconds="5", resolution="720p")
        job = c.post("/v2/videos", json=b).json()
        assert c.get(f"/v2/videos/{job['id']}").json()["status"] == "in_progress"
        done = wait_finished(c, job["id"])
        assert done["status"] == "completed" and done["completed_at"] >= done["created_at"]
        assert done["outputs"]["cost"] == pytest.approx(price_body(b).usd) == pytest.approx(0.8)
        url = done["outputs"]["video_url"]
        assert url.startswith(f.base_url + "/files/") and url.endswith(".mp4")
        assert c.get(f"/v2/videos/{job['id']}").json()["outputs"]["video_url"] == url  # stable while valid
        with httpx.Client() as anon, anon.stream("GET", url) as r:  # signed URLs need no key
            assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
            data = b"".join(r.iter_bytes())
        assert data[4:8] == b"ftyp" and len(data) == int(r.headers["content-length"])
        stats = f.stats()
        assert (stats["creates"], stats["rejected"], stats["downloads"]) == (1, 0, 1)
        assert stats["gets"] >= 3
        (j,) = stats["jobs"]
        assert j["id"] == job["id"] and j["status"] == "completed" and j["seconds"] == "5"
        assert len(j["prompt_sha256"]) == len(j["body_sha256"]) == 64


@pytest.mark.slow
def test_clip_has_the_requested_duration_even_when_rendered_small(tmp_path):
    av = pytest.importorskip("av")
    with fake(latency=0.1) as f, client(f) as c:
        job = c.post("/v2/videos", json=body(seconds="6")).json()
        url = wait_finished(c, job["id"])["outputs"]["video_url"]
        (tmp_path / "clip.mp4").write_bytes(c.get(url).content)
    with av.open(str(tmp_path / "clip.mp4")) as container:
        assert container.duration / 1e6 == pytest.approx(6, abs=0.1)
        assert container.streams.video[0].codec_context.width == 64
        assert container.streams.audio  # audio on by default


@pytest.mark.slow
def test_animatic_renderer_is_the_default(tmp_path):
    pytest.importorskip("storyboard.animatic.render")
    with FakeTogether(api_key=KEY, latency=0.1, clip_size=(96, 54)) as f, client(f) as c:
        job = c.post("/v2/videos", json=body(seconds="4", media={"reference_images": [png_data_uri()]})).json()
        done = wait_finished(c, job["id"], timeout=60)
        assert done["status"] == "completed", done
        assert c.get(done["outputs"]["video_url"]).content[4:8] == b"ftyp"


def test_unknown_job_is_404():
    with fake() as f, client(f) as c:
        r = c.get("/v2/videos/019a0068-794a-7213-90f6-cc4eb62e3da7")
        assert r.status_code == 404 and r.json()["error"]["message"]


@pytest.mark.slow
def test_failing_jobs_by_prompt_and_every_nth():
    with fake(fail_on="FAIL", fail_every=3) as f, client(f) as c:
        ids = [c.post("/v2/videos", json=body(prompt=p)).json()["id"]
               for p in ("please FAIL now", "fine one", "fine two", "fine three")]
        states = [wait_finished(c, i) for i in ids]
        assert [s["status"] for s in states] == ["failed", "completed", "failed", "completed"]
        assert states[0]["error"]["code"] and "FAIL" in states[0]["error"]["message"]
        assert "outputs" not in states[0]


@pytest.mark.slow
def test_slow_jobs():
    with fake(slow_every=2, slow_latency=30) as f, client(f) as c:
        fast, slow = (c.post("/v2/videos", json=body(prompt=f"job {i}")).json()["id"] for i in range(2))
        assert wait_finished(c, fast)["status"] == "completed"
        assert c.get(f"/v2/videos/{slow}").json()["status"] == "in_progress"


@pytest.mark.slow
def test_queued_first_when_asked():
    with fake(queued=0.3, latency=0.6) as f, client(f) as c:
        job = c.post("/v2/videos", json=body()).json()
        assert job["status"] == "in_progress"  # a create answers in_progress
        assert c.get(f"/v2/videos/{job['id']}").json()["status"] == "queued"
        assert wait_finished(c, job["id"])["status"] == "completed"


@pytest.mark.slow
def test_expired_urls_answer_403_and_a_new_get_gives_a_fresh_url():
    with fake(url_ttl=0.3) as f, client(f) as c:
        job = c.post("/v2/videos", json=body()).json()
        url = wait_finished(c, job["id"])["outputs"]["video_url"]
        time.sleep(0.35)
        r = c.get(url)
        assert r.status_code == 403 and b"expired" in r.content
        fresh = c.get(f"/v2/videos/{job['id']}").json()["outputs"]["video_url"]
        assert fresh != url and c.get(fresh).status_code == 200
        assert c.get(url).status_code == 403  # the old one stays dead
        assert f.stats()["expired"] == 2


# ---- faults ----------------------------------------------------------------------------------

@pytest.mark.slow
def test_429_on_create_carries_retry_after():
    with fake(create_429=1, retry_after=3) as f, client(f) as c:
        r = c.post("/v2/videos", json=body())
        assert r.status_code == 429
        assert r.headers["retry-after"] == "3" and r.headers["retry-after-ms"] == "3000"
        assert r.json()["error"]["type"] == "rate_limit_error"
        assert c.post("/v2/videos", json=body()).status_code == 200
        assert (f.stats()["creates"], f.stats()["rejected"]) == (1, 1)


@pytest.mark.slow
def test_server_errors_on_create_and_get():
    with fake(create_503=1, create_500=1, get_500=1, get_503=1, get_429=1) as f, client(f) as c:
        assert c.post("/v2/videos", json=body()).status_code == 503
        assert c.post("/v2/videos", json=body()).status_code == 500
        job = c.post("/v2/videos", json=body()).json()
        codes = [c.get(f"/v2/videos/{job['id']}").status_code for _ in range(4)]
        assert codes == [429, 503, 500, 200]
        assert f.stats()["creates"] == 1


@pytest.mark.slow
def test_dropped_connections_before_and_after_accepting():
    with fake(drop_before_create=1, drop_after_create=1) as f, client(f) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/v2/videos", json=body())
        assert f.stats()["creates"] == 0
        with pytest.raises(httpx.RemoteProtocolError):
            c.post("/v2/videos", json=body(prompt="the ambiguous one"))
        stats = f.stats()
        assert stats["creates"] == 1 and stats["dropped"] == 2  # it exists, though nobody heard
        assert c.post("/v2/videos", json=body()).status_code == 200


@pytest.mark.slow
def test_faults_change_at_run_time_and_reset_restores_them():
    with fake(get_500=0) as f, client(f) as c:
        r = c.post("/_fake/faults", json={"create_429": 2, "chaos_kinds": "429,fail"})
        assert r.status_code == 200 and r.json()["create_429"] == 2 and r.json()["chaos_kinds"] == ["429", "fail"]
        assert c.post("/_fake/faults", json={"nonsense": 1}).status_code == 400
        assert c.post("/_fake/faults", json={"create_500": "many"}).status_code == 400
        assert c.post("/v2/videos", json=body()).status_code == 429
        assert c.post("/_fake/reset").status_code == 200
        assert c.post("/v2/videos", json=body()).status_code == 200
        stats = c.get("/_fake/stats").json()
        assert (stats["creates"], stats["rejected"], len(stats["jobs"])) == (1, 0, 1)


def _chaos_run(seed: int) -> list[str]:
    outcomes = []
    with fake(chaos=seed, chaos_rate=0.5, latency=0.05, renderer=fake_clip) as f, client(f) as c:
        for i in range(24):
            try:
                outcomes.append(str(c.post("/v2/videos", json=body(prompt=f"shot {i}")).status_code))
            except httpx.TransportError:
                outcomes.append("drop")
    return outcomes


def test_chaos_is_deterministic_for_a_seed():
    a, b, other = _chaos_run(7), _chaos_run(7), _chaos_run(8)
    assert a == b
    assert a != other
    assert set(a) - {"200"}, "chaos at rate 0.5 injected nothing"


def test_concurrent_creates_are_all_counted():
    with fake(latency=5, renderer=fake_clip) as f, client(f) as c:  # httpx.Client is thread-safe
        ids: list[str] = []

        def worker(i: int) -> None:
            ids.append(c.post("/v2/videos", json=body(prompt=f"parallel {i}")).json()["id"])

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(ids)) == 16 and f.stats()["creates"] == 16


@pytest.mark.slow
def test_the_key_is_never_logged(caplog):
    caplog.set_level(logging.DEBUG)
    with fake(create_429=1) as f, client(f) as c:
        c.post("/v2/videos", json=body())
        job = c.post("/v2/videos", json=body()).json()
        wait_finished(c, job["id"])
        client(f, "wrong").post("/v2/videos", json=body())
        assert KEY not in repr(f) and KEY not in json.dumps(f.stats())
    assert caplog.records and KEY not in caplog.text


# ---- command line ----------------------------------------------------------------------------

@pytest.mark.slow
def test_cli_prints_the_url_first_serves_and_stops_cleanly():
    secret = "cli-secret-5d2a"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "storyboard.testing.fake_together", "--port", "0", "--api-key", secret,
         "--latency", "0.1", "--renderer", "testcard", "--clip-size", "64x36", "--verbose"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {secret}"}, timeout=10) as c:
            job = c.post("/v2/videos", json=body()).json()
            assert wait_finished(c, job["id"])["status"] == "completed"
            assert httpx.post(f"{url}/v2/videos", json=body()).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "POST /v2/videos" in err  # --verbose logs requests ...
    assert secret not in out + err  # ... but never the key


# ---- conformance with the official SDK -------------------------------------------------------

def _strict_video_job():
    """The SDK's VideoJob, validated strictly, except for one documented discrepancy: the spec
    types `outputs.cost` as an integer while the docs (and the fake) bill float dollars."""
    from together.types.video_job import Outputs, VideoJob

    class FloatCostOutputs(Outputs):
        cost: float  # type: ignore[assignment]

    class Job(VideoJob):
        outputs: FloatCostOutputs | None = None  # type: ignore[assignment]

    return VideoJob, Job


@pytest.mark.slow
def test_the_official_sdk_creates_and_retrieves_jobs():
    together = pytest.importorskip("together")
    import pydantic

    sdk_type, job_type = _strict_video_job()
    with fake(latency=0.2) as f:
        sdk = together.Together(api_key=KEY, base_url=f.base_url, max_retries=0)
        raw = sdk.videos.with_raw_response.create(
            model=SEEDANCE, prompt="A graffiti character comes to life.", resolution="720p", ratio="16:9",
            seconds="5", extra_body={"settings": {"audio": False}})
        created = raw.http_response.json()
        sdk_type.model_validate(created)  # create answers match the SDK's type, unmodified
        job = raw.parse()
        assert job.status == "in_progress" and job.size == "1280x720" and job.seconds == "5"
        deadline = time.monotonic() + 15
        while True:
            got = sdk.videos.with_raw_response.retrieve(job.id).http_response.json()
            if got["status"] != "in_progress" or time.monotonic() > deadline:
                break
            sdk_type.model_validate(got)
            time.sleep(0.05)
        done = job_type.model_validate(got)
        assert done.status == "completed" and done.outputs and done.outputs.video_url
        assert sdk.videos.retrieve(job.id).outputs.video_url == done.outputs.video_url
        # The strict check has teeth: a wrong shape fails.
        with pytest.raises(pydantic.ValidationError):
            job_type.model_validate({**got, "status": "done"})
        with pytest.raises(pydantic.ValidationError):
            job_type.model_validate({k: v for k, v in got.items() if k != "size"})
        # The SDK's error classes map from the fake's answers.
        with pytest.raises(together.BadRequestError):
            sdk.videos.create(model=SEEDANCE, prompt="x", seconds="5")
        with pytest.raises(together.AuthenticationError):
            together.Together(api_key="nope", base_url=f.base_url, max_retries=0).videos.retrieve(job.id)
        with pytest.raises(together.NotFoundError):
            sdk.videos.retrieve("no-such-job")
        f.set_faults(get_429=1, retry_after=0.2)
        with pytest.raises(together.RateLimitError):
            sdk.videos.retrieve(job.id)
        # With its default retries the SDK honours the fake's retry-after and gets through.
        f.set_faults(get_429=1)
        retrying = together.Together(api_key=KEY, base_url=f.base_url, max_retries=2)
        assert retrying.videos.retrieve(job.id).status == "completed"
        sdk.close()
        retrying.close()
