"""The `together` provider's HTTP runtime against the fake server over real loopback sockets:
error classification (retryable / not / ambiguous), GET and download retries, expiry, secrets,
and the inline-image helper."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from provider_helpers import finished, run_scenario, small_fake
from storyboard.providers import AmbiguousSubmit, Job, ProviderError
from storyboard.providers.http import error_detail as _error_detail
from storyboard.providers.http import retry_after as _retry_after
from storyboard.providers.inline import image_data_uri
from storyboard.providers.together import TogetherProvider, job_from_answer
from storyboard.testing import FakeTogether

pytestmark = pytest.mark.timeout(60)

KEY = "sk-test-SECRET-4f9a1c"
BODY = {"model": "ByteDance/Seedance-2.0", "prompt": "A kitten general on a cliff.",
        "resolution": "480p", "ratio": "16:9", "seconds": "4"}


def fake(**kw: Any) -> FakeTogether:
    return small_fake(FakeTogether, KEY, **kw)


def run(f: FakeTogether, scenario: Callable[[TogetherProvider], Awaitable[Any]], **options: Any) -> Any:
    return run_scenario(TogetherProvider, f, scenario, KEY, **options)


def error_of(f: FakeTogether, scenario: Callable[[TogetherProvider], Awaitable[Any]], **options: Any) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        run(f, scenario, **options)
    assert KEY not in str(info.value) and KEY not in repr(info.value)
    return info.value


# ---- create ----------------------------------------------------------------------------------

def test_missing_key_fails_before_anything_is_sent(monkeypatch, tmp_path):
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    with fake() as f:
        for call in (lambda p: p.create(BODY, workdir=tmp_path), lambda p: p.get("some-id")):
            err = error_of(f, call, api_key=None)
            assert "set TOGETHER_API_KEY" in str(err) and not err.retryable
        stats = f.stats()
        assert (stats["creates"], stats["rejected"], stats["gets"]) == (0, 0, 0)


@pytest.mark.slow
def test_lifecycle_create_poll_download(tmp_path):
    av = pytest.importorskip("av")
    dest = tmp_path / "clip.mp4.part"

    async def scenario(p: TogetherProvider) -> Job:
        job = await p.create(BODY, workdir=tmp_path)
        assert job.state == "running" and job.id
        done = await finished(p, job.id)
        assert done.state == "completed" and done.video_url and done.cost == pytest.approx(0.28)
        await p.download(done, dest)
        return done

    with fake() as f:
        run(f, scenario)
        stats = f.stats()
        assert (stats["creates"], stats["downloads"]) == (1, 1)
    with av.open(str(dest)) as clip:
        assert clip.duration / 1e6 == pytest.approx(4, abs=0.1)


def test_validation_error_is_not_retryable_and_carries_the_message(tmp_path):
    with fake() as f:
        err = error_of(f, lambda p: p.create({**BODY, "seconds": "30"}, workdir=tmp_path))
        assert not err.retryable and not isinstance(err, AmbiguousSubmit)
        assert err.status == 400 and err.code == "invalid_value" and "'seconds'" in str(err)


def test_a_body_that_is_not_json_is_refused_before_sending(tmp_path):
    with fake() as f:
        err = error_of(f, lambda p: p.create({**BODY, "seed": float("nan")}, workdir=tmp_path))
        assert err.code == "bad_body" and not err.retryable and not isinstance(err, AmbiguousSubmit)
        assert f.stats()["rejected"] == 0


def test_wrong_key_is_401_not_retryable_and_not_echoed(tmp_path):
    with fake() as f:
        err = error_of(f, lambda p: p.create(BODY, workdir=tmp_path), api_key="sk-wrong-0000")
        assert err.status == 401 and not err.retryable and "TOGETHER_API_KEY" in str(err)
        assert "sk-wrong-0000" not in str(err)


def test_payment_required_is_not_retryable(tmp_path):
    with fake(create_402=1) as f:
        err = error_of(f, lambda p: p.create(BODY, workdir=tmp_path))
        assert err.status == 402 and not err.retryable


@pytest.mark.slow
@pytest.mark.parametrize("fault,status", [("create_503", 503), ("create_429", 429)])  # 500: test_together_money
def test_answers_that_prove_nothing_was_created_are_retryable(tmp_path, fault, status):
    with fake(**{fault: 1}, retry_after=2) as f:
        err = error_of(f, lambda p: p.create(BODY, workdir=tmp_path))
        assert err.status == status and err.retryable and not isinstance(err, AmbiguousSubmit)
        if status == 429:
            assert err.retry_after == pytest.approx(2.0)
        assert f.stats()["creates"] == 0
        # The provider itself does not loop: a second call is the engine's decision.
        job = run(f, lambda p: p.create(BODY, workdir=tmp_path))
        assert job.state == "running" and f.stats()["creates"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("fault,created", [("drop_after_create", 1), ("drop_before_create", 0)])
def test_dropped_connection_is_ambiguous_and_not_retried(tmp_path, fault, created):
    with fake(**{fault: 1}) as f:
        err = error_of(f, lambda p: p.create(BODY, workdir=tmp_path))
        assert isinstance(err, AmbiguousSubmit) and not err.retryable
        stats = f.stats()
        assert stats["creates"] == created and stats["rejected"] == 0
        assert len(stats["jobs"]) == created  # exactly one request reached the server


@pytest.mark.slow
def test_read_timeout_after_sending_is_ambiguous(tmp_path):
    with fake(create_delay=1.5) as f:
        err = error_of(f, lambda p: p.create(BODY, workdir=tmp_path), timeout=0.4)
        assert isinstance(err, AmbiguousSubmit) and "ReadTimeout" in str(err)
        assert f.stats()["creates"] == 1


def test_connection_refused_is_retryable(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again below: nothing listens there

    async def scenario(p: TogetherProvider) -> None:
        await p.create(BODY, workdir=tmp_path)

    async def main() -> ProviderError:
        p = TogetherProvider(api_key=KEY, base_url=f"http://127.0.0.1:{port}")
        try:
            await scenario(p)
        except ProviderError as exc:
            return exc
        finally:
            await p.aclose()
        raise AssertionError("no error")

    err = asyncio.run(main())
    assert err.retryable and not isinstance(err, AmbiguousSubmit) and err.code == "connect"


# ---- get -------------------------------------------------------------------------------------

def _created(f: FakeTogether, tmp_path: Path) -> str:
    return run(f, lambda p: p.create(BODY, workdir=tmp_path)).id


@pytest.mark.slow
def test_get_honours_retry_after_on_429(tmp_path):
    with fake() as f:
        job_id = _created(f, tmp_path)
        f.set_faults(get_429=1, retry_after=1)
        start = time.monotonic()
        job = run(f, lambda p: p.get(job_id))
        elapsed = time.monotonic() - start
        assert job.id == job_id and 1.0 <= elapsed < 2.0
        assert f.stats()["gets"] == 2


@pytest.mark.slow
def test_get_retries_server_errors_and_dropped_connections(tmp_path):
    with fake() as f:
        job_id = _created(f, tmp_path)
        f.set_faults(get_500=1, get_503=1, drop_get=1)
        assert run(f, lambda p: p.get(job_id)).id == job_id
        assert f.stats()["gets"] == 4


@pytest.mark.slow
def test_get_gives_up_with_a_retryable_error(tmp_path):
    with fake() as f:
        job_id = _created(f, tmp_path)
        f.set_faults(get_503=100)
        err = error_of(f, lambda p: p.get(job_id), get_attempts=3)
        assert err.retryable and err.status == 503
        assert f.stats()["gets"] == 3


def test_unknown_job_is_a_clear_not_found(tmp_path):
    with fake() as f:
        err = error_of(f, lambda p: p.get("019a0068-794a-7213-90f6-cc4eb62e3da7"))
        assert err.status == 404 and err.code == "not_found" and not err.retryable


def test_failed_job_carries_the_message(tmp_path):
    async def scenario(p: TogetherProvider) -> Job:
        job = await p.create({**BODY, "prompt": "please FAIL this shot"}, workdir=tmp_path)
        return await finished(p, job.id)

    with fake(fail_on="FAIL") as f:
        job = run(f, scenario)
    assert job.state == "failed" and "FAIL" in (job.error or "") and job.error_code
    assert job.video_url is None


# ---- download --------------------------------------------------------------------------------

@pytest.mark.slow
def test_expired_url_raises_expired_and_a_new_get_refreshes_it(tmp_path):
    dest = tmp_path / "clip.part"

    async def scenario(p: TogetherProvider) -> None:
        job = await finished(p, (await p.create(BODY, workdir=tmp_path)).id)
        with pytest.raises(ProviderError) as info:
            await p.download(job, dest)
        assert info.value.code == "expired" and not info.value.retryable and info.value.status == 403
        assert not dest.exists()
        fresh = await p.get(job.id)
        assert fresh.video_url != job.video_url
        await p.download(fresh, dest)

    with fake(expire_downloads=1) as f:
        run(f, scenario)
    assert dest.read_bytes()[4:8] == b"ftyp"


@pytest.mark.slow
def test_time_based_expiry(tmp_path):
    async def scenario(p: TogetherProvider) -> str | None:
        job = await finished(p, (await p.create(BODY, workdir=tmp_path)).id)
        await asyncio.sleep(0.35)
        with pytest.raises(ProviderError) as info:
            await p.download(job, tmp_path / "x")
        return info.value.code

    with fake(url_ttl=0.3) as f:
        assert run(f, scenario) == "expired"


@pytest.mark.slow
def test_download_retries_a_truncated_transfer(tmp_path):
    dest = tmp_path / "clip.part"

    async def scenario(p: TogetherProvider) -> None:
        job = await finished(p, (await p.create(BODY, workdir=tmp_path)).id)
        await p.download(job, dest)

    with fake(drop_download=1) as f:
        run(f, scenario)
        assert f.stats()["downloads"] == 2
    assert dest.read_bytes()[4:8] == b"ftyp"


@pytest.mark.slow
def test_download_checks_content_and_size(tmp_path):
    async def not_a_video(p: TogetherProvider) -> None:
        await p.download(Job("j1", "completed", video_url=f"{p.base_url}/_fake/stats"), tmp_path / "a")

    async def too_big(p: TogetherProvider) -> None:
        job = await finished(p, (await p.create(BODY, workdir=tmp_path)).id)
        await p.download(job, tmp_path / "b")

    with fake() as f:
        err = error_of(f, not_a_video)
        assert err.code == "bad_content" and not (tmp_path / "a").exists()
        err = error_of(f, too_big, max_download_bytes=100)
        assert err.code == "too_large" and not (tmp_path / "b").exists()


# ---- secrets ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_key_never_appears_in_errors_reprs_or_logs(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    with fake(create_503=1, drop_after_create=1) as f:
        for _ in range(2):
            error_of(f, lambda p: p.create(BODY, workdir=tmp_path))
        job_id = _created(f, tmp_path)
        f.set_faults(get_500=1)
        run(f, lambda p: p.get(job_id))
        provider = TogetherProvider(api_key=KEY, base_url=f.base_url)
        assert KEY not in repr(provider) and KEY not in str(provider)
    assert caplog.records and KEY not in caplog.text


# ---- answer parsing --------------------------------------------------------------------------

def test_job_answers_in_every_shape():
    assert job_from_answer({"id": "a", "status": "queued"}).state == "running"
    assert job_from_answer({"id": "a", "status": "in_progress"}).state == "running"
    done = job_from_answer({"id": "a", "status": "completed", "outputs": {"cost": 1, "video_url": "u"}})
    assert (done.state, done.video_url, done.cost) == ("completed", "u", 1.0)
    cheap = job_from_answer({"id": "a", "status": "completed", "outputs": {"cost": 0.28, "video_url": "u"}})
    assert cheap.cost == 0.28
    no_url = job_from_answer({"id": "a", "status": "completed", "outputs": {"cost": 1}})
    assert no_url.state == "failed" and "video_url" in (no_url.error or "")
    failed = job_from_answer({"id": "a", "status": "failed",
                              "error": {"code": "invalidDuration", "message": "too long"}})
    assert (failed.state, failed.error, failed.error_code) == ("failed", "too long", "invalidDuration")
    old = job_from_answer({"id": "a", "status": "failed", "info": {"errors": ["boom", {"message": "bang"}]}})
    assert old.state == "failed" and old.error == "boom; bang"
    cancelled = job_from_answer({"id": "a", "status": "cancelled"})
    assert cancelled.state == "failed" and "cancelled" in (cancelled.error or "")


def test_error_bodies_in_every_shape():
    def detail(**kw: Any) -> tuple[str, str | None]:
        return _error_detail(httpx.Response(400, **kw))

    assert detail(json={"error": {"message": "bad seconds", "code": "invalid_value"}}) == \
        ("bad seconds", "invalid_value")
    assert detail(json={"error": "plain string"}) == ("plain string", None)
    assert detail(json={"message": "top-level", "code": 7}) == ("top-level", "7")
    assert detail(text="<html>gateway</html>")[0] == "<html>gateway</html>"
    assert detail()[0] == "Bad Request"


def test_retry_after_headers():
    assert _retry_after(httpx.Headers({"retry-after-ms": "1500", "retry-after": "9"})) == 1.5
    assert _retry_after(httpx.Headers({"retry-after": "3"})) == 3.0
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= (_retry_after(httpx.Headers({"retry-after": date})) or 0) <= 31
    assert _retry_after(httpx.Headers({})) is None


# ---- inline images ---------------------------------------------------------------------------

def _image(path: Path, fmt: str, size: tuple[int, int], noise: bool = False) -> Path:
    import numpy as np
    from PIL import Image

    if noise:
        pixels = np.random.default_rng(1).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        img = Image.fromarray(pixels)
    else:
        img = Image.new("RGB", size, (20, 120, 200))
    img.save(path, fmt)
    return path


def _decode(uri: str):
    from PIL import Image

    head, data = uri.split(",", 1)
    return head, Image.open(io.BytesIO(base64.b64decode(data)))


def test_small_images_are_sent_byte_for_byte(tmp_path):
    for fmt, mime in (("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")):
        path = _image(tmp_path / f"a.{fmt.lower()}", fmt, (40, 30))
        uri = image_data_uri(path)
        assert uri == f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode()


def test_large_images_are_downscaled_under_the_limit_keeping_their_format(tmp_path):
    for fmt in ("PNG", "JPEG"):
        path = _image(tmp_path / f"big.{fmt.lower()}", fmt, (1600, 1200), noise=True)
        assert path.stat().st_size > 300_000
        uri = image_data_uri(path, max_bytes=300_000)
        head, img = _decode(uri)
        assert head == f"data:image/{fmt.lower()};base64" and img.format == fmt
        assert len(base64.b64decode(uri.split(",", 1)[1])) <= 300_000
        assert img.width < 1600 and abs(img.width / img.height - 4 / 3) < 0.01


def test_other_formats_become_png_and_non_images_are_refused(tmp_path):
    head, img = _decode(image_data_uri(_image(tmp_path / "a.bmp", "BMP", (50, 40))))
    assert head == "data:image/png;base64" and img.size == (50, 40)
    (tmp_path / "notes.png").write_text("not an image")
    for path in (tmp_path / "notes.png", tmp_path / "missing.png"):
        with pytest.raises(ProviderError, match="not an image") as info:
            image_data_uri(path)
        assert not info.value.retryable


@pytest.mark.slow
def test_inline_images_are_accepted_by_the_fake(tmp_path):
    uri = image_data_uri(_image(tmp_path / "big.png", "PNG", (900, 700), noise=True), max_bytes=200_000)
    body = {**BODY, "media": {"frame_images": [{"input_image": uri, "frame": "first"}]}}
    with fake(max_image_bytes=200_000) as f:
        job = run(f, lambda p: p.create(body, workdir=tmp_path))
        assert job.state == "running" and f.stats()["creates"] == 1


def test_resolve_media_inlines_images_and_needs_urls_for_the_rest(tmp_path):
    p = TogetherProvider(api_key=KEY, base_url="http://127.0.0.1:9")
    image = _image(tmp_path / "cat.png", "PNG", (40, 30))
    assert p.resolve_media("image", path=image, url=None).startswith("data:image/png;base64,")
    assert p.resolve_media("image", path=None, url="https://e.com/cat.png") == "https://e.com/cat.png"
    assert p.resolve_media("video", path=tmp_path / "v.mp4", url="https://e.com/v.mp4") == "https://e.com/v.mp4"
    for kind in ("video", "audio"):
        with pytest.raises(ProviderError, match="URL") as info:
            p.resolve_media(kind, path=tmp_path / "local.bin", url=None)
        assert not info.value.retryable


@pytest.mark.slow
def test_one_provider_works_across_event_loops(tmp_path):
    with fake() as f:
        provider = TogetherProvider(api_key=KEY, base_url=f.base_url)
        job = asyncio.run(provider.create(BODY, workdir=tmp_path))
        assert asyncio.run(provider.get(job.id)).id == job.id  # a new loop: a new client
        asyncio.run(provider.aclose())
