"""The `replicate` provider: its request body, limits, price and model names, and its runtime
against the fake Replicate server over real loopback sockets (create, poll, download, and which
failures are retryable, refused or in doubt)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from provider_helpers import finished, run_scenario, small_fake
from storyboard.providers import AmbiguousSubmit, Job, ProviderError, get
from storyboard.providers.base import ClipSpec, FrameImage
from storyboard.providers.replicate import MODEL, ReplicateProvider, job_from_prediction
from storyboard.testing.fake_replicate import FakeReplicate

pytestmark = pytest.mark.timeout(60)

KEY = "r8_test_SECRET_5b7c9d"
SPEC = ClipSpec(prompt="A kitten general on a cliff.", seconds=4, model=MODEL, resolution="480p", ratio="16:9")


def body(**changes: Any) -> dict[str, Any]:
    return {**ReplicateProvider(api_key=KEY).build_request(SPEC), **changes}


def fake(**kw: Any) -> FakeReplicate:
    return small_fake(FakeReplicate, KEY, **kw)


def run(f: FakeReplicate, scenario: Callable[[ReplicateProvider], Awaitable[Any]], **options: Any) -> Any:
    return run_scenario(ReplicateProvider, f, scenario, KEY, **options)


def error_of(f: FakeReplicate, scenario: Callable[[ReplicateProvider], Awaitable[Any]],
             **options: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        run(f, scenario, **options)
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    return info.value


# ---- compile time ----------------------------------------------------------------------------

def test_the_body_is_the_models_input_with_the_model_beside_it():
    spec = ClipSpec(prompt="p", seconds=6, model=MODEL, resolution="720p", ratio="9:16", seed=7, audio=False,
                    frame_images=(FrameImage("first.png", "first"), FrameImage("last.png", "last")))
    assert ReplicateProvider(api_key=KEY).build_request(spec) == {
        "model": MODEL, "prompt": "p", "duration": 6, "resolution": "720p", "aspect_ratio": "9:16",
        "generate_audio": False, "seed": 7, "image": "first.png", "last_frame_image": "last.png"}
    refs = ClipSpec(prompt="p", seconds=4, model=MODEL, resolution="480p", ratio="16:9",
                    reference_images=("a.png",), reference_videos=("https://x/v.mp4",),
                    reference_audios=("https://x/a.mp3",))
    out = ReplicateProvider(api_key=KEY).build_request(refs)
    assert (out["reference_images"], out["reference_videos"], out["reference_audios"]) == (
        ["a.png"], ["https://x/v.mp4"], ["https://x/a.mp3"])


def test_a_pixel_size_is_refused():
    with pytest.raises(ProviderError, match="not a pixel size"):
        ReplicateProvider(api_key=KEY).build_request(ClipSpec(prompt="p", seconds=4, model=MODEL,
                                                              width=320, height=180))


def test_models_words_price_and_limits():
    p = get("replicate", api_key=KEY)
    assert (p.model_id(None), p.model_id("seedance-2.0"), p.model_id("seedance-2.0-fast")) == (
        MODEL, MODEL, "bytedance/seedance-2.0-fast")
    assert p.index_word("image", 2) == "[Image2]" and p.index_word("video", 1) == "[Video1]"
    price = p.price(SPEC)
    assert price.usd is None and "unknown" in price.warning
    # images inline; videos and audios through Replicate's files API (no bucket named)
    assert p.limits.local_media == {"image", "video", "audio"} and not p.limits.custom_size
    assert (p.limits.max_reference_images, p.limits.max_reference_videos, p.limits.max_seconds) == (9, 3, 15)


def test_token_and_base_url_come_from_replicates_variables(monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", f"  {KEY}\n")
    monkeypatch.setenv("REPLICATE_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("TOGETHER_API_KEY", "sk-not-this-one")
    p = ReplicateProvider()
    assert p.api_key == KEY and p.base_url == "http://127.0.0.1:9" and KEY not in repr(p)
    monkeypatch.delenv("REPLICATE_API_TOKEN")
    assert "set REPLICATE_API_TOKEN" in ReplicateProvider().credential_problem()


# ---- run time --------------------------------------------------------------------------------

@pytest.mark.slow
def test_lifecycle_create_poll_download(tmp_path):
    dest = tmp_path / "clip.mp4.part"

    async def scenario(p: ReplicateProvider) -> Job:
        job = await p.create(body(), workdir=tmp_path)
        assert job.state == "running" and job.raw["status"] == "starting"
        done = await finished(p, job.id)
        assert done.state == "completed" and done.video_url and done.cost is None
        await p.download(done, dest)
        return done

    with fake() as f:
        run(f, scenario)
        stats = f.stats()
        assert (stats["creates"], stats["downloads"]) == (1, 1)
        assert stats["jobs"][0]["model"] == MODEL and stats["jobs"][0]["seconds"] == 4
    assert dest.read_bytes()[4:8] == b"ftyp"


def test_invalid_input_is_refused_not_retryable_with_the_field(tmp_path):
    with fake() as f:
        err = error_of(f, lambda p: p.create(body(duration=30), workdir=tmp_path))
        assert err.status == 422 and not err.retryable and not isinstance(err, AmbiguousSubmit)
        assert "input.duration" in str(err) and f.stats()["creates"] == 0


def test_wrong_token_is_401_and_not_echoed(tmp_path):
    with fake() as f:
        err = error_of(f, lambda p: p.create(body(), workdir=tmp_path), api_key="r8_wrong_token_42")
        assert err.status == 401 and not err.retryable and "REPLICATE_API_TOKEN" in str(err)


@pytest.mark.parametrize("fault", ["create_429", "create_503"])
def test_throttled_or_unavailable_with_retry_after_is_retryable(tmp_path, fault):
    with fake(**{fault: 1}) as f:
        err = error_of(f, lambda p: p.create(body(), workdir=tmp_path))
        assert err.retryable and err.retry_after is not None and not isinstance(err, AmbiguousSubmit)


def test_a_500_is_in_doubt(tmp_path):
    with fake(create_500=1) as f:
        err = error_of(f, lambda p: p.create(body(), workdir=tmp_path))
        assert isinstance(err, AmbiguousSubmit) and not err.retryable and f.stats()["creates"] == 0


@pytest.mark.parametrize("status, headers, outcome", [
    (429, {}, (True, False)), (503, {"Retry-After": "2"}, (True, False)), (503, {}, (False, True)),
    (500, {}, (False, True)), (502, {}, (False, True)), (504, {}, (False, True)), (422, {}, (False, False)),
    (402, {}, (False, False)),
])
def test_which_create_answers_prove_nothing_was_created(status, headers, outcome):
    import httpx

    from storyboard.providers.replicate import _create_outcome

    assert _create_outcome(httpx.Response(status, headers=headers)) == outcome


@pytest.mark.slow
@pytest.mark.parametrize("fault, created", [("drop_after_create", 1), ("drop_before_create", 0)])
def test_a_dropped_create_is_in_doubt(tmp_path, fault, created):
    with fake(**{fault: 1}) as f:
        err = error_of(f, lambda p: p.create(body(), workdir=tmp_path))
        assert isinstance(err, AmbiguousSubmit) and not err.retryable
        assert f.stats()["creates"] == created


@pytest.mark.slow
def test_the_models_refusal_is_a_failed_job_with_its_message(tmp_path):
    async def scenario(p: ReplicateProvider) -> Job:
        job = await p.create(body(reference_audios=["https://x/a.mp3"]), workdir=tmp_path)
        return await finished(p, job.id)

    with fake() as f:
        job = run(f, scenario)
    assert job.state == "failed" and "reference image or reference video" in job.error


def test_unknown_prediction_is_not_found(tmp_path):
    with fake() as f:
        err = error_of(f, lambda p: p.get("nope"))
    assert err.status == 404 and err.code == "not_found"


@pytest.mark.slow
def test_gets_retry_throttling_and_drops(tmp_path):
    async def scenario(p: ReplicateProvider) -> Job:
        job = await p.create(body(), workdir=tmp_path)
        return await finished(p, job.id)

    with fake(get_429=1, drop_get=1, get_503=1, retry_after=0) as f:
        assert run(f, scenario).state == "completed"


def test_the_token_never_reaches_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with fake(create_500=1) as f:
        error_of(f, lambda p: p.create(body(), workdir=tmp_path))
    assert KEY not in caplog.text


def test_predictions_in_every_state():
    assert job_from_prediction({"id": "a", "status": "starting"}).state == "running"
    assert job_from_prediction({"id": "a", "status": "processing"}).state == "running"
    done = job_from_prediction({"id": "a", "status": "succeeded", "output": "https://r/x.mp4"})
    assert (done.state, done.video_url) == ("completed", "https://r/x.mp4")
    assert job_from_prediction({"id": "a", "status": "succeeded", "output": ["https://r/y.mp4"]}).video_url == \
        "https://r/y.mp4"
    assert job_from_prediction({"id": "a", "status": "succeeded", "output": None}).state == "failed"
    failed = job_from_prediction({"id": "a", "status": "failed", "error": "NSFW"})
    assert (failed.state, failed.error) == ("failed", "NSFW")
    assert job_from_prediction({"id": "a", "status": "canceled"}).error_code == "canceled"


def test_local_video_goes_to_replicate_files_and_images_inline(tmp_path):
    from PIL import Image

    Image.new("RGB", (32, 32), (1, 2, 3)).save(tmp_path / "a.png")
    (tmp_path / "v.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + bytes(64))
    with fake() as f:
        p = ReplicateProvider(api_key=KEY, base_url=f.base_url, backoff=(0.01, 0.02))
        assert p.resolve_media("image", path=tmp_path / "a.png", url=None).startswith("data:image/png;base64,")
        url = p.resolve_media("video", path=tmp_path / "v.mp4", url=None)
        (stored,) = f.files.all()
        assert url == f"{f.base_url}/v1/files/{stored.id}" and stored.size == 76
        with pytest.raises(ProviderError, match=r"cannot upload .*gone.mp4 to Replicate files"):
            p.resolve_media("video", path=tmp_path / "gone.mp4", url=None)
