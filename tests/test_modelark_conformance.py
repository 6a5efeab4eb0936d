"""Conformance: BytePlus's own client (`byteplus-python-sdk-v2`, module `byteplussdkarkruntime`)
creates, polls and fetches a clip from the fake ModelArk server over real loopback sockets, and
each invalid request the vendor documents is refused the way that client expects: its own
exception types with ModelArk's `code`, `param` and `type`. This is how we know the fake (and so
the provider tested against it) speaks the real protocol, not our idea of it."""

from __future__ import annotations

import time
import urllib.request

import pytest

ark = pytest.importorskip("byteplussdkarkruntime")
from byteplussdkarkruntime._exceptions import (  # noqa: E402
    ArkAuthenticationError, ArkBadRequestError, ArkNotFoundError, ArkRateLimitError)

from storyboard.testing.fake_modelark import FakeModelArk  # noqa: E402

pytestmark = pytest.mark.timeout(60)

KEY = "ark-conformance-3c4d"
MODEL = "dreamina-seedance-2-0-260128"
TEXT = [{"type": "text", "text": "A fox runs through the snow."}]


@pytest.fixture()
def fake():
    with FakeModelArk(api_key=KEY, latency=0.2, clip_size=(64, 36), renderer="testcard") as f:
        yield f


def client(fake, key: str = KEY):
    # `base_url` is the client's documented override; max_retries=0 so a refusal is seen once.
    return ark.Ark(base_url=fake.base_url, api_key=key, max_retries=0)


@pytest.mark.slow
def test_create_poll_and_fetch_with_the_official_client(fake):
    c = client(fake)
    created = c.content_generation.tasks.create(
        model=MODEL, content=TEXT + [{"type": "image_url", "role": "first_frame",
                                      "image_url": {"url": "https://example.com/first.png"}}],
        duration=4, resolution="480p", ratio="16:9", seed=42, generate_audio=True, watermark=False,
        return_last_frame=True)
    assert created.id.startswith("cgt-")
    for _ in range(200):
        task = c.content_generation.tasks.get(task_id=created.id)
        if task.status not in ("queued", "running"):
            break
        time.sleep(0.05)
    assert task.status == "succeeded" and task.model == MODEL
    assert task.usage.completion_tokens > 0 and task.duration == 4 and task.seed == 42
    with urllib.request.urlopen(task.content.video_url, timeout=10) as resp:
        assert resp.read(12)[4:8] == b"ftyp"
    with urllib.request.urlopen(task.content.last_frame_url, timeout=10) as resp:
        assert resp.read(8) == b"\x89PNG\r\n\x1a\n"
    assert fake.stats()["creates"] == 1


@pytest.mark.parametrize("kwargs, code, param", [
    (dict(model=MODEL, content=[]), "MissingParameter", "content"),
    (dict(model=MODEL, content=TEXT, duration=30), "InvalidParameter", "duration"),
    (dict(model=MODEL, content=TEXT, ratio="5:4"), "InvalidParameter", "ratio"),
    (dict(model="dreamina-seedance-2-0-fast-260128", content=TEXT, resolution="1080p"), "InvalidParameter",
     "resolution"),
    (dict(model=MODEL, content=TEXT + [
        {"type": "image_url", "role": "first_frame", "image_url": {"url": "https://x/a.png"}},
        {"type": "video_url", "role": "reference_video", "video_url": {"url": "https://x/v.mp4"}}]),
     "InvalidParameter", "content"),
])
def test_documented_refusals_raise_the_clients_bad_request(fake, kwargs, code, param):
    with pytest.raises(ArkBadRequestError) as exc:
        client(fake).content_generation.tasks.create(**kwargs)
    assert (exc.value.code, exc.value.param, exc.value.type) == (code, param, "BadRequest")
    assert exc.value.status_code == 400
    assert fake.stats()["creates"] == 0


def test_auth_unknown_task_and_rate_limit_raise_the_clients_types(fake):
    with pytest.raises(ArkAuthenticationError) as exc:
        client(fake, key="not-the-key").content_generation.tasks.create(model=MODEL, content=TEXT)
    assert exc.value.code == "AuthenticationError"
    with pytest.raises(ArkNotFoundError):
        client(fake).content_generation.tasks.get(task_id="cgt-20260101000000-none0")
    with pytest.raises(ArkNotFoundError) as exc:
        client(fake).content_generation.tasks.create(model="no-such-model", content=TEXT)
    assert exc.value.code.startswith("InvalidEndpointOrModel")
    fake.set_faults(create_429=1, retry_after=0)
    with pytest.raises(ArkRateLimitError) as exc:
        client(fake).content_generation.tasks.create(model=MODEL, content=TEXT)
    assert exc.value.code == "RateLimitExceeded.EndpointRPMExceeded"
    assert fake.stats()["creates"] == 0
