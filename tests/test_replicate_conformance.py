"""The fake Replicate server against Replicate's own client (`replicate`, a test dependency):
it creates, polls and fetches a clip over real loopback sockets, and every invalid request the
model page documents is refused the way the client expects (`ReplicateError` with the status,
or a failed prediction that `replicate.run` turns into `ModelError`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

replicate = pytest.importorskip("replicate")

from replicate.exceptions import ModelError, ReplicateError  # noqa: E402

from storyboard.testing.fake_replicate import FakeReplicate  # noqa: E402

TOKEN = "r8_conformance_token_1234"
MODEL = "bytedance/seedance-2.0"


@pytest.fixture(scope="module")
def fake():
    with FakeReplicate(api_key=TOKEN, latency=0.2, clip_size=(64, 36), renderer="testcard") as server:
        yield server


@pytest.fixture
def client(fake, monkeypatch):
    monkeypatch.setenv("REPLICATE_POLL_INTERVAL", "0.05")
    return replicate.Client(api_token=TOKEN, base_url=fake.base_url)


@pytest.mark.slow
def test_create_wait_reload_and_fetch_the_clip(client, fake):
    before = fake.stats()["creates"]
    prediction = client.predictions.create(model=MODEL, input={"prompt": "a fox in the snow", "duration": 4,
                                                               "resolution": "480p", "aspect_ratio": "16:9"})
    assert prediction.status == "starting" and prediction.model == MODEL
    assert prediction.urls["get"].endswith(f"/v1/predictions/{prediction.id}")
    prediction.wait()
    assert prediction.status == "succeeded", prediction.error
    prediction.reload()
    assert prediction.status == "succeeded" and prediction.metrics["predict_time"] > 0
    video = client._client.get(prediction.output)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert client.predictions.get(prediction.id).output == prediction.output
    assert fake.stats()["creates"] == before + 1


@pytest.mark.slow
def test_run_with_prefer_wait_returns_the_file(client):
    output = client.run(MODEL, input={"prompt": "a boat at dawn", "duration": 4, "resolution": "480p"})
    # the client wraps only https:// outputs in FileOutput; the fake serves plain http on loopback
    assert isinstance(output, str) and client._client.get(output).content[4:8] == b"ftyp"


@pytest.mark.slow
def test_a_failed_prediction_is_a_model_error(client):
    with pytest.raises(ModelError, match="reference image or reference video"):
        client.run(MODEL, input={"prompt": "sing along", "reference_audios": ["https://example.com/a.mp3"]})


@pytest.mark.parametrize("bad, field", [
    ({"duration": 16}, "input.duration"),
    ({"duration": -2}, "input.duration"),
    ({"duration": "5"}, "input.duration"),
    ({"resolution": "4k"}, "input.resolution"),
    ({"aspect_ratio": "2:1"}, "input.aspect_ratio"),
    ({"generate_audio": "yes"}, "input.generate_audio"),
    ({"reference_images": [f"https://example.com/{i}.png" for i in range(10)]}, "input.reference_images"),
    ({"reference_videos": [f"https://example.com/{i}.mp4" for i in range(4)]}, "input.reference_videos"),
    ({"reference_audios": [f"https://example.com/{i}.mp3" for i in range(4)]}, "input.reference_audios"),
    ({"prompt": None}, "input.prompt"),
])
def test_invalid_inputs_are_a_422_replicate_error(client, fake, bad, field):
    body = {"prompt": "a cat", **bad}
    if bad.get("prompt", "") is None:
        body.pop("prompt")
    before = fake.stats()["creates"]
    with pytest.raises(ReplicateError) as info:
        client.predictions.create(model=MODEL, input=body)
    assert info.value.status == 422 and info.value.title == "Input validation failed"
    assert field in info.value.detail
    assert fake.stats()["creates"] == before


def test_a_bad_token_is_a_401_replicate_error(fake):
    client = replicate.Client(api_token="r8_wrong", base_url=fake.base_url)
    with pytest.raises(ReplicateError) as info:
        client.predictions.create(model=MODEL, input={"prompt": "a cat"})
    assert info.value.status == 401 and "authentication token" in info.value.detail


def test_unknown_model_and_prediction_are_404(client):
    with pytest.raises(ReplicateError) as info:
        client.predictions.create(model="someone/else", input={"prompt": "a cat"})
    assert info.value.status == 404
    with pytest.raises(ReplicateError) as info:
        client.predictions.get("no-such-prediction")
    assert info.value.status == 404


@pytest.mark.slow
def test_cancel_a_running_prediction(client):
    prediction = client.predictions.create(model=MODEL, input={"prompt": "a slow one", "duration": 4})
    prediction.cancel()
    assert prediction.status == "canceled"
    prediction.wait()
    assert prediction.status == "canceled"


@pytest.mark.slow
def test_throttled_gets_are_retried_by_the_client_and_creates_are_not(client, fake):
    prediction = client.predictions.create(model=MODEL, input={"prompt": "a throttled poll", "duration": 4})
    fake.set_faults(get_429=1, retry_after=0)
    assert client.predictions.get(prediction.id).id == prediction.id  # the client's transport retried
    fake.set_faults(create_429=1)
    with pytest.raises(ReplicateError) as info:
        client.predictions.create(model=MODEL, input={"prompt": "a throttled create"})
    assert info.value.status == 429


# ---- files: the client's own upload calls against the fake ---------------------------------------

WAVES = Path(__file__).resolve().parents[1] / "examples" / "lighthouse" / "refs" / "waves.mp4"


@pytest.mark.slow
def test_files_create_and_a_prediction_that_takes_urls_get(client, fake):
    uploaded = client.files.create(WAVES, metadata={"film": "lighthouse"})
    assert uploaded.checksums["sha256"] == hashlib.sha256(WAVES.read_bytes()).hexdigest()
    assert uploaded.size == WAVES.stat().st_size and uploaded.content_type == "video/mp4"
    assert uploaded.urls["get"] == f"{fake.base_url}/v1/files/{uploaded.id}" and uploaded.expires_at
    assert client.files.get(uploaded.id).metadata == {"film": "lighthouse"}
    prediction = client.predictions.create(model=MODEL, input={"prompt": "[Video1] rolls", "duration": 4,
                                                               "reference_videos": [uploaded.urls["get"]]})
    prediction.wait()
    assert prediction.status == "succeeded", prediction.error


@pytest.mark.slow
def test_run_uploads_a_file_handle_with_files_create(client, fake):
    before = len(fake.files.all())
    with WAVES.open("rb") as handle:  # `replicate.run` turns it into files.create's urls.get
        output = client.run(MODEL, input={"prompt": "[Video1] rolls", "duration": 4, "reference_videos": [handle]})
    assert isinstance(output, str) and len(fake.files.all()) == before + 1


@pytest.mark.slow
def test_files_refusals_are_the_clients_errors(fake, client):
    with pytest.raises(ReplicateError) as info:
        replicate.Client(api_token="r8_wrong", base_url=fake.base_url).files.create(WAVES)
    assert info.value.status == 401
    with pytest.raises(ModelError, match="does not exist or has expired"):  # a file the API does not hold
        client.run(MODEL, input={"prompt": "[Video1] rolls", "duration": 4,
                                 "reference_videos": [f"{fake.base_url}/v1/files/0123456789abcdef01234567"]})
