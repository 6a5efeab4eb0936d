"""fal's own client (`fal-client`) against the fake queue, over real loopback sockets.

fal-client builds submit URLs as `https://{FAL_QUEUE_RUN_HOST}/{endpoint}` (read at import, always
https); the fake serves plain http, so the test replaces that prefix, `client.QUEUE_URL_FORMAT`,
and nothing else. Everything after the submit (status and result URLs, polling, `Key` auth,
error parsing into `FalClientHTTPError`) is the client's own code following the fake's answers.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

fal_client = pytest.importorskip("fal_client")
from fal_client import client as fal_client_module  # noqa: E402

from storyboard.testing.fake_fal import FakeFal  # noqa: E402

KEY = "fal-test-key-123:secret"
T2V = "bytedance/seedance-2.0/text-to-video"


@pytest.fixture
def fake(monkeypatch):
    with FakeFal(api_key=KEY, latency=0.3, clip_size=(64, 36), renderer="testcard") as server:
        monkeypatch.setattr(fal_client_module, "QUEUE_URL_FORMAT", server.base_url + "/")
        yield server


def client(key: str = KEY):
    return fal_client.SyncClient(key=key)


@pytest.mark.slow
def test_submit_poll_and_fetch_a_clip(fake):
    handle = client().submit(T2V, {"prompt": "A kitten naps on a windowsill.", "duration": "4",
                                   "resolution": "480p", "aspect_ratio": "16:9", "seed": 7})
    assert handle.status_url.startswith(fake.base_url + "/bytedance/seedance-2.0/requests/")
    statuses = list(handle.iter_events(interval=0.05))
    assert isinstance(statuses[-1], fal_client.Completed) and statuses[-1].error is None
    result = handle.get()
    assert result["seed"] == 7 and result["video"]["content_type"] == "video/mp4"
    video = httpx.get(result["video"]["url"])
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert fake.stats()["creates"] == 1


@pytest.mark.slow
def test_subscribe_and_the_handle_rebuilt_from_the_request_id(fake):
    c = client()
    result = c.subscribe("bytedance/seedance-2.0/fast/reference-to-video",
                         {"prompt": "@Image1 walks.", "image_urls": ["https://example.com/a.png"],
                          "duration": "5", "resolution": "720p"}, interval=0.05)
    assert result["video"]["url"]
    request_id = fake.stats()["jobs"][0]["id"]
    assert isinstance(c.status(T2V, request_id), fal_client.Completed)  # URLs built by the client itself
    assert c.result(T2V, request_id)["video"]["url"]


@pytest.mark.parametrize("endpoint, arguments, field", [
    (T2V, {"duration": "5"}, "prompt"),                                         # required
    (T2V, {"prompt": "A cat.", "duration": 5}, "duration"),                     # text, not a number
    (T2V, {"prompt": "A cat.", "duration": "16"}, "duration"),                  # 4..15 or auto
    (T2V, {"prompt": "A cat.", "resolution": "4k"}, "resolution"),
    ("bytedance/seedance-2.0/fast/text-to-video", {"prompt": "A cat.", "resolution": "1080p"}, "resolution"),
    (T2V, {"prompt": "A cat.", "aspect_ratio": "2:1"}, "aspect_ratio"),
    ("bytedance/seedance-2.0/image-to-video", {"prompt": "A cat."}, "image_url"),
    ("bytedance/seedance-2.0/reference-to-video",
     {"prompt": "A cat.", "image_urls": [f"https://e.com/{i}.png" for i in range(10)]}, "image_urls"),
    ("bytedance/seedance-2.0/reference-to-video",
     {"prompt": "A cat.", "audio_urls": ["https://e.com/a.mp3"]}, "audio_urls"),
    ("bytedance/seedance-2.0/reference-to-video",
     {"prompt": "A cat.", "video_urls": ["file:///tmp/local.mp4"]}, "video_urls"),
])
@pytest.mark.slow
def test_invalid_inputs_are_refused_as_the_client_expects(fake, endpoint, arguments, field):
    handle = client().submit(endpoint, arguments)  # the queue takes it; the model refuses it
    done = list(handle.iter_events(interval=0.02))[-1]
    assert isinstance(done, fal_client.Completed) and done.error
    with pytest.raises(fal_client.client.FalClientHTTPError) as err:
        handle.get()
    assert err.value.status_code == 422
    assert any(d["loc"][:2] == ["body", field] for d in err.value.message)
    assert fake.stats()["jobs"][0]["cost"] == 0.0


def test_a_wrong_key_is_a_401_the_client_raises(fake):
    with pytest.raises(fal_client.client.FalClientHTTPError) as err:
        client("wrong-key").submit(T2V, {"prompt": "A cat."})
    assert err.value.status_code == 401
    assert fake.stats()["creates"] == 0


def test_an_unknown_request_is_a_404(fake):
    with pytest.raises(fal_client.client.FalClientHTTPError) as err:
        client().status(T2V, "no-such-request")
    assert err.value.status_code == 404 and err.value.error_type == "request_not_found"


def test_a_content_refusal_is_a_typed_422(fake):
    fake.set_faults(fail_on="FORBIDDEN")
    handle = client().submit(T2V, {"prompt": "A FORBIDDEN cat."})
    list(handle.iter_events(interval=0.05))
    with pytest.raises(fal_client.client.FalClientHTTPError) as err:
        handle.get()
    assert err.value.status_code == 422 and err.value.message[0]["type"] == "content_policy_violation"


# ---- fal storage: the client's own upload calls against the fake -------------------------------

WAVES = Path(__file__).resolve().parents[1] / "examples" / "lighthouse" / "refs" / "waves.mp4"


@pytest.fixture
def storage(fake, monkeypatch):
    """fal-client's storage hosts (`REST_URL`, `CDN_URL`: constants, https) pointed at the fake."""
    monkeypatch.setattr(fal_client_module, "REST_URL", fake.base_url)
    monkeypatch.setattr(fal_client_module, "CDN_URL", fake.base_url)
    return fake


@pytest.mark.slow
@pytest.mark.parametrize("repository", ["fal", "fal_v3"])  # initiate + signed PUT; the v3 CDN's token + POST
def test_upload_file_stores_the_bytes_and_a_model_takes_the_url(storage, repository):
    url = client().upload_file(WAVES, repository=repository, fallback_repository=[],
                               lifecycle=fal_client.StorageSettings(expires_in="1d"))
    assert url.startswith(storage.base_url + "/storage/files/")
    assert httpx.get(url).content == WAVES.read_bytes()
    (stored,) = storage.files.all()
    assert stored.content_type == "video/mp4" and stored.expires - stored.created == pytest.approx(86400)
    result = client().subscribe("bytedance/seedance-2.0/reference-to-video",
                                {"prompt": "@Video1 rolls.", "video_urls": [url], "duration": "4",
                                 "resolution": "480p"}, interval=0.05)
    assert result["video"]["url"]
    billed = storage.stats()["jobs"][-1]["cost"]  # the stored video's own length is billed, not 15 s
    assert billed < 0.3024 * 864 * 496 / (1280 * 720) * 0.6 * (15 + 4)


@pytest.mark.slow
def test_storage_refusals_are_the_clients_errors(storage, tmp_path):
    with pytest.raises(fal_client.client.FalClientHTTPError) as err:
        client("wrong-key").upload_file(WAVES, repository="fal", fallback_repository=[])
    assert err.value.status_code == 401 and storage.files.all() == []
    handle = client().submit("bytedance/seedance-2.0/reference-to-video",
                             {"prompt": "@Video1 rolls.", "video_urls": [storage.base_url + "/storage/files/"
                                                                         "0123456789abcdef01234567/gone.mp4"]})
    list(handle.iter_events(interval=0.02))
    with pytest.raises(fal_client.client.FalClientHTTPError) as err:  # a file the storage does not hold
        handle.get()
    assert err.value.status_code == 422 and err.value.message[0]["type"] == "file_download_error"
