"""Issue 14, the Together provider where money is at stake: the field dialect (page or openapi)
against a fake that is strict per dialect, the fake's own bill against the product's estimate
(upper bound for video input, 720p table sizes at the 720p rate), `--max-cost` against the upper
bound, and a create answered 500/502/504 in doubt, never resubmitted."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import httpx
import pytest

from render_helpers import FAST_POLL, FAST_RETRY, KEY, clip, make_plan, together, trun
from storyboard.providers import AmbiguousSubmit, ProviderError
from storyboard.providers.base import ClipSpec
from storyboard.providers.together import FIELDS_VARIABLE, TogetherProvider, create_refused
from storyboard.render import CostLimitExceeded, check_cost, inspect_render, render_plan
from storyboard.testing import FakeTogether
from storyboard.testing import fake_together

pytestmark = pytest.mark.timeout(60)

SEEDANCE = "ByteDance/Seedance-2.0"
IMAGE = "https://example.com/cat.png"


def spec(**kw: Any) -> ClipSpec:
    base: dict[str, Any] = dict(prompt="A lighthouse keeper climbs the stairs.", seconds=5, model=SEEDANCE,
                                resolution="720p", ratio="16:9")
    base.update(kw)
    return ClipSpec(**base)


VOICED = dict(reference_images=(IMAGE,), reference_audios=("https://e.com/voice.mp3",), audio=False)


# ---- the field dialect -----------------------------------------------------------------------

def test_the_dialect_picks_the_spelling_of_the_audio_fields(monkeypatch):
    monkeypatch.delenv(FIELDS_VARIABLE, raising=False)
    page = TogetherProvider(api_key=KEY).build_request(spec(**VOICED))
    assert page["media"]["reference_audios"] == ["https://e.com/voice.mp3"] and page["settings"] == {"audio": False}
    assert "generate_audio" not in page and "audio_inputs" not in page["media"]
    openapi = TogetherProvider(api_key=KEY, field_names="openapi").build_request(spec(**VOICED))
    assert openapi["media"]["audio_inputs"] == [{"audio": "https://e.com/voice.mp3"}]
    assert openapi["generate_audio"] is False and "settings" not in openapi
    monkeypatch.setenv(FIELDS_VARIABLE, "openapi")
    assert TogetherProvider(api_key=KEY).build_request(spec(**VOICED)) == openapi
    assert TogetherProvider(api_key=KEY, field_names="page").build_request(spec(**VOICED)) == page


def test_an_unknown_dialect_is_refused_before_anything_is_sent(monkeypatch):
    monkeypatch.setenv(FIELDS_VARIABLE, "sdk")
    problem = TogetherProvider(api_key=KEY).credential_problem()
    assert problem and "'sdk'" in problem and "page or openapi" in problem and FIELDS_VARIABLE in problem


@pytest.mark.parametrize("server,client,accepted", [
    ("page", "page", True), ("openapi", "openapi", True),
    ("page", "openapi", False), ("openapi", "page", False),
])
@pytest.mark.slow
def test_a_strict_server_refuses_the_other_dialect(tmp_path, server, client, accepted):
    with FakeTogether(api_key=KEY, latency=5, renderer="testcard", clip_size=(64, 36), fields=server) as f:
        provider = TogetherProvider(api_key=KEY, base_url=f.base_url, field_names=client)
        body = provider.build_request(spec(**VOICED))

        async def create() -> Any:
            try:
                return await provider.create(body, workdir=tmp_path)
            finally:
                await provider.aclose()

        if accepted:
            assert asyncio.run(create()).state == "running"
            return
        with pytest.raises(ProviderError) as info:
            asyncio.run(create())
        err = info.value
        assert err.status == 400 and not err.retryable and not isinstance(err, AmbiguousSubmit)
        assert err.code == "unknown_parameter" and "Unrecognized request argument" in str(err)
        assert f.stats()["creates"] == 0


# ---- the bill and the estimate ---------------------------------------------------------------

def test_the_fake_bills_from_its_own_table_not_the_products_estimate():
    source = inspect.getsource(fake_together)
    assert "providers.together" not in source and "price_body" not in source
    bill = fake_together.bill
    body = {"model": SEEDANCE, "prompt": "x", "seconds": "5"}
    assert bill({**body, "resolution": "720p", "ratio": "16:9"}) == pytest.approx(0.80)
    assert bill({**body, "resolution": "480p", "ratio": "9:16"}) == pytest.approx(0.35)
    assert bill({**body, "width": 1470, "height": 630}) == pytest.approx(0.80)
    video = {**body, "resolution": "720p", "ratio": "16:9",
             "media": {"reference_videos": [{"video": "https://e.com/v.mp4"}]}}
    assert bill(video) == pytest.approx(0.28 * (15 + 5))


SPECS = [
    spec(), spec(seconds=15), spec(resolution="480p", ratio="21:9"), spec(resolution="720p", ratio="3:4"),
    spec(resolution=None, ratio=None, width=1470, height=630),
    spec(resolution=None, ratio=None, width=1112, height=834),
    spec(resolution=None, ratio=None, width=834, height=1112),
    spec(resolution=None, ratio=None, width=992, height=432),
    spec(resolution=None, ratio=None, width=320, height=180),
    spec(reference_videos=("https://e.com/v.mp4",)),
    spec(resolution="480p", seconds=4, reference_videos=("https://e.com/v.mp4", "https://e.com/w.mp4")),
]


@pytest.mark.parametrize("s", SPECS, ids=lambda s: f"{s.resolution or f'{s.width}x{s.height}'}-"
                                                   f"{s.seconds}s-{len(s.reference_videos)}v")
def test_the_estimate_is_never_below_the_bill_and_exact_without_video_input(s):
    provider = TogetherProvider(api_key=KEY)
    estimate = provider.price(s).usd
    billed = fake_together.bill(provider.build_request(s))
    assert estimate is not None, "a size in the 480p/720p tables has a price"
    assert estimate >= billed - 1e-9
    if not s.reference_videos:
        assert estimate == pytest.approx(billed)


@pytest.mark.parametrize("size,rate", [((1470, 630), 0.16), ((1112, 834), 0.16), ((834, 1112), 0.16),
                                       ((960, 960), 0.16), ((992, 432), 0.07), ((640, 640), 0.07)])
def test_sizes_of_the_720p_and_480p_tables_are_priced_at_their_tier(size, rate):
    w, h = size
    price = TogetherProvider(api_key=KEY).price(spec(resolution=None, ratio=None, width=w, height=h, seconds=5))
    assert price.usd == pytest.approx(rate * 5) and price.warning is None


def test_a_video_input_clip_is_estimated_at_its_upper_bound():
    price = TogetherProvider(api_key=KEY).price(spec(seconds=5, reference_videos=("https://e.com/v.mp4",)))
    assert price.usd == pytest.approx(0.28 * (15 + 5))
    assert "upper bound" in price.warning and "15 s of input" in price.warning


def test_max_cost_compares_against_the_upper_bound(tmp_path):
    """$2 covers the output seconds at the video-input rate ($1.40, the old lower bound) but not
    the input seconds the vendor may bill too ($5.60 in all): refused, nothing sent."""
    provider = TogetherProvider(api_key=KEY)
    s = spec(seconds=5, reference_videos=("https://e.com/v.mp4",))
    c = clip("a", seconds=5, cost=provider.price(s).usd)
    c["request"] = provider.build_request(s)
    plan = make_plan(tmp_path, [c], provider="together")
    summary = inspect_render(plan, provider, state_dir=tmp_path / "state")
    with pytest.raises(CostLimitExceeded, match=r"\$5.60 .* exceeds the cost limit \$2.00"):
        check_cost(summary, 2.0)
    check_cost(summary, 5.60)


# ---- creates answered 5xx ----------------------------------------------------------------------

def answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"error": {"message": "x"}})


@pytest.mark.parametrize("status,headers,refused", [
    (429, {}, True), (429, {"Retry-After": "2"}, True), (408, {}, True),
    (503, {"Retry-After": "2"}, True), (503, {"retry-after-ms": "500"}, True),
    (503, {}, False), (500, {}, False), (502, {}, False), (504, {}, False),
    (500, {"Retry-After": "2"}, False), (504, {"Retry-After": "2"}, False),
])
def test_which_answers_prove_nothing_was_created(status, headers, refused):
    assert create_refused(answer(status, **headers)) is refused


@pytest.mark.parametrize("status", [500, 502, 504, 503])
def test_a_create_answered_5xx_without_retry_after_is_in_doubt(tmp_path, status):
    provider = TogetherProvider(api_key=KEY)
    transport = httpx.MockTransport(lambda request: answer(status))

    async def create() -> Any:
        provider._client = httpx.AsyncClient(transport=transport)
        provider._client_loop = asyncio.get_running_loop()
        try:
            return await provider.create({"model": SEEDANCE, "prompt": "x"}, workdir=tmp_path)
        finally:
            await provider.aclose()

    with pytest.raises(AmbiguousSubmit) as info:
        asyncio.run(create())
    assert info.value.status == status and not info.value.retryable
    assert "may exist and be billed" in str(info.value)


@pytest.mark.slow
def test_a_create_answered_500_is_sent_once_and_left_in_doubt(tmp_path, fake_together):
    fake = fake_together(create_500=1)
    c = clip("a", seconds=4, cost=0.28)
    plan = make_plan(tmp_path, [c], provider="together")
    report = trun(plan, together(fake), state_dir=tmp_path / "state")
    assert report["a"].status == "in-doubt" and report.exit_code == 3
    assert fake.stats()["creates"] == 0 and fake.stats()["rejected"] == 1  # one request, never sent again


@pytest.mark.slow
def test_a_create_answered_503_with_retry_after_is_retried(tmp_path, fake_together):
    fake = fake_together(create_503=1, retry_after=0.1)
    c = clip("a", seconds=4, cost=0.28)
    plan = make_plan(tmp_path, [c], provider="together")
    report = asyncio.run(render_plan(plan, together(fake), state_dir=tmp_path / "state", poll=FAST_POLL,
                                     retry=FAST_RETRY, approve=lambda s: True))
    assert report["a"].status == "rendered" and fake.stats()["creates"] == 1


def test_video_input_bodies_are_priced_by_the_product_like_the_fake(tmp_path):
    """The estimate and the fake's bill read the same body: a plan's clip with a reference video."""
    provider = TogetherProvider(api_key=KEY)
    s = spec(reference_videos=("https://e.com/v.mp4",), seconds=6)
    assert provider.price(s).usd == pytest.approx(fake_together.bill(provider.build_request(s)))
