"""Issue 14, the vendors' own storage: with no bucket named, fal and Replicate carry a story's
local videos and audios through their own uploads (fal storage, Replicate's files API), against
their fakes over real loopback sockets. A file is uploaded once ever (its SHA-256 and URL are
remembered in the state folder with the URL's expiry) and again when that URL would expire;
`plan` says what goes where and nothing leaves before `--yes`; an upload refused, cut off or
sent with a wrong key is one line naming the file, exit 2 before any create, nothing journaled,
and the next run resumes. Replicate keeps nothing of Together's."""

from __future__ import annotations

import inspect
import json
import shutil
import time
from pathlib import Path

import httpx
import pytest

from provider_helpers import small_fake
from render_helpers import cli, fast_cli
from storyboard.providers import replicate as replicate_module
from storyboard.providers.base import ProviderError
from storyboard.providers.fal import FalProvider
from storyboard.providers.hosted import REUSE_MARGIN, StorageError
from storyboard.providers.replicate import ReplicateProvider
from storyboard.providers.together import TogetherProvider
from storyboard.testing import fake_replicate
from storyboard.testing.fake_fal import FakeFal
from storyboard.testing.fake_replicate import FakeReplicate

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[1]
FAL_KEY = "fal-key-id:fal-secret-up10ad"
TOKEN = "r8_uploads_token_5566aa"
VENDORS = {
    "fal": (FakeFal, FalProvider, "FAL_KEY", FAL_KEY, "fal storage"),
    "replicate": (FakeReplicate, ReplicateProvider, "REPLICATE_API_TOKEN", TOKEN, "Replicate files"),
}


def film(folder: Path) -> Path:
    """One clip with a local reference video (the lamp's motion) and a local music file."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "examples/lighthouse/props/lamp-turn.mp4", folder / "lamp-turn.mp4")
    shutil.copy(ROOT / "examples/lighthouse/refs/shanty.wav", folder / "shanty.wav")
    Image.new("RGB", (64, 48), (200, 160, 40)).save(folder / "lamp.png")
    story = folder / "lamp.story"
    story.write_text("title: Lamp Film\nresolution: 480p\nseed: 5\n\n"
                     "prop Lamp:\n  image: lamp.png\n  video: lamp-turn.mp4\n  description: a brass lamp\n\n"
                     "shot one 4s:\n  @Lamp turns in the dark.\n  music: shanty.wav\n", encoding="utf-8")
    return story


# ---- content-addressed, remembered, renewed ---------------------------------------------------

@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_a_file_is_uploaded_once_ever_and_again_when_its_url_would_expire(vendor, tmp_path):
    fake_class, provider_class, _, key, _ = VENDORS[vendor]
    film(tmp_path / "f")
    video, image = tmp_path / "f" / "lamp-turn.mp4", tmp_path / "f" / "lamp.png"
    state = tmp_path / "f" / ".storyboard"
    with small_fake(fake_class, key) as fake:
        def prepared() -> str:  # a fresh provider each time: another render, another process
            provider = provider_class(api_key=key, base_url=fake.base_url, backoff=(0.01, 0.02))
            provider.prepare_inputs([("video", video), ("image", image)], state_dir=state)
            return provider.hosted_url(video)

        url = prepared()
        (stored,) = fake.files.all()  # the image goes inline; the video once
        assert stored.path.read_bytes() == video.read_bytes() and url.startswith(fake.base_url)
        if vendor == "fal":  # fal's file URL is public; Replicate's `urls.get` is read with the token
            assert httpx.get(url).content == video.read_bytes()
        path = next((state / "uploads").glob("*.json"))
        data = json.loads(path.read_text())
        (digest,) = data["files"]
        assert digest == stored.sha256 and data["files"][digest]["url"] == url
        assert data["files"][digest]["expires_at"] > time.time() + REUSE_MARGIN
        assert path.stat().st_mode & 0o777 == 0o600
        assert prepared() == url and len(fake.files.all()) == 1  # remembered: not uploaded again

        data["files"][digest]["expires_at"] = time.time() + 60  # would expire before a render ends
        path.write_text(json.dumps(data))
        renewed = prepared()
        assert renewed != url and len(fake.files.all()) == 2


def test_fal_asks_for_a_week_and_never_sends_its_key_to_the_signed_url(tmp_path):
    film(tmp_path / "f")
    with small_fake(FakeFal, FAL_KEY) as fake:
        provider = FalProvider(api_key=FAL_KEY, base_url=fake.base_url, backoff=(0.01, 0.02))
        provider.prepare_inputs([("audio", tmp_path / "f" / "shanty.wav")], state_dir=tmp_path / "state")
        (stored,) = fake.files.all()
        assert stored.expires - stored.created == pytest.approx(7 * 24 * 3600)
        assert stored.content_type == "audio/wav" and stored.name == f"{stored.sha256}.wav"
        assert fake.signed_puts == [False]


def test_an_image_too_big_to_go_inline_goes_up_whole(tmp_path):
    import os

    from PIL import Image

    big = tmp_path / "poster.png"
    Image.frombytes("RGB", (1200, 1200), os.urandom(1200 * 1200 * 3)).save(big, compress_level=0)  # > 4 MiB
    small = tmp_path / "lamp.png"
    Image.new("RGB", (64, 48)).save(small)
    with small_fake(FakeFal, FAL_KEY) as fake:
        provider = FalProvider(api_key=FAL_KEY, base_url=fake.base_url, backoff=(0.01, 0.02))
        provider.prepare_inputs([("image", big), ("image", small)])
        (stored,) = fake.files.all()
        assert stored.size == big.stat().st_size  # the original, not a shrunk copy
        assert provider.resolve_media("image", path=big, url=None).startswith(fake.base_url)
        assert provider.resolve_media("image", path=small, url=None).startswith("data:image/png;base64,")
    assert not TogetherProvider(api_key="sk-test-1234567890").uploads("image", big)  # no bucket: shrunk, inline


def test_replicate_remembers_the_expiry_it_answers_and_a_short_one_is_uploaded_again(tmp_path):
    film(tmp_path / "f")
    audio = tmp_path / "f" / "shanty.wav"
    with small_fake(FakeReplicate, TOKEN, upload_ttl=3600) as fake:  # files that live an hour
        for n in (1, 2):
            provider = ReplicateProvider(api_key=TOKEN, base_url=fake.base_url, backoff=(0.01, 0.02))
            provider.prepare_inputs([("audio", audio)], state_dir=tmp_path / "state")
            assert len(fake.files.all()) == n  # an hour is too short to trust for a render


def test_an_upload_cut_off_once_is_sent_again_and_a_damaged_one_is_refused(tmp_path, monkeypatch):
    film(tmp_path / "f")
    audio = tmp_path / "f" / "shanty.wav"
    with small_fake(FakeReplicate, TOKEN, upload_cut=1) as fake:
        provider = ReplicateProvider(api_key=TOKEN, base_url=fake.base_url, backoff=(0.01, 0.02))
        assert provider.hosted_url(audio).startswith(fake.base_url)
        assert len(fake.files.all()) == 1
        real = fake.file_answer
        monkeypatch.setattr(fake, "file_answer", lambda *a: {**real(*a), "checksums": {"sha256": "0" * 64}})
        other = tmp_path / "f" / "lamp-turn.mp4"
        with pytest.raises(StorageError, match=r"lamp-turn.mp4 to Replicate files .*damaged on the way"):
            provider.hosted_url(other)


# ---- what users see: check, plan, render -------------------------------------------------------

@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_check_and_plan_say_the_vendor_carries_local_files(vendor, tmp_path, monkeypatch):
    monkeypatch.delenv("STORYBOARD_HOST", raising=False)
    story = film(tmp_path / "f")
    fake_class, _, variable, key, label = VENDORS[vendor]
    r = cli(["check", str(story), "-p", vendor])
    assert r.exit_code == 0 and "SB305" not in r.text and "bucket" not in r.text
    with small_fake(fake_class, key) as fake:
        base = {"fal": "FAL_QUEUE_URL", "replicate": "REPLICATE_BASE_URL"}[vendor]
        r = cli(["plan", str(story), "-p", vendor], {variable: key, base: fake.base_url})
        assert r.exit_code == 0, r.output
        assert "2 local file(s) will be uploaded when the render is confirmed (--yes)" in r.text
        assert f"lamp-turn.mp4 -> {label} (127.0.0.1:" in r.text and f"shanty.wav -> {label}" in r.text
        assert fake.files.all() == []  # planning uploads nothing
        r = cli(["render", str(story), "-p", vendor, "--base-url", fake.base_url], {variable: key})
        assert r.exit_code != 0 and "pass --yes to confirm" in r.text  # not confirmed: nothing leaves
        assert fake.files.all() == [] and fake.stats()["creates"] == 0


@pytest.mark.parametrize("vendor", ["fal", "replicate", "modelark"])
def test_a_named_bucket_carries_the_files_for_every_provider(vendor, tmp_path):
    story = film(tmp_path / "f")
    r = cli(["plan", str(story), "-p", vendor, "--host", "s3://films/lamp"],
            {"FAL_KEY": FAL_KEY, "REPLICATE_API_TOKEN": TOKEN, "ARK_API_KEY": "ark-key-1234567890"})
    assert r.exit_code == 0, r.output
    assert "lamp-turn.mp4 -> s3://films/lamp/" in r.text and "shanty.wav -> s3://films/lamp/" in r.text
    assert "host from --host" in r.text


def test_a_signed_upload_url_refused_says_its_code_and_never_its_signature(tmp_path, monkeypatch):
    from storyboard.testing import fake_fal

    film(tmp_path / "f")
    monkeypatch.setattr(fake_fal, "SIGNED_URL_TTL", -1.0)  # signed URLs that have expired when used
    with small_fake(FakeFal, FAL_KEY) as fake:
        provider = FalProvider(api_key=FAL_KEY, base_url=fake.base_url, backoff=(0.01, 0.02))
        with pytest.raises(StorageError) as info:
            provider.prepare_inputs([("audio", tmp_path / "f" / "shanty.wav")])
    message = str(info.value)
    assert "shanty.wav to fal storage" in message and "HTTP 403 (ExpiredToken)" in message
    assert "Signature" not in message and "_fake_gcs" not in message


FAILURES = {  # faults, the key sent, what the line says
    "refused": ({"upload_500": 3}, None, "HTTP 500"),
    "cut off": ({"upload_cut": 3}, None, "cut off"),
    "wrong key": ({}, "wrong-key-123456", "refused (HTTP 401)"),
}


@pytest.mark.slow
@pytest.mark.parametrize("failure", sorted(FAILURES))
@pytest.mark.parametrize("vendor", sorted(VENDORS))
def test_a_failed_upload_is_one_line_and_exit_2_before_any_create_and_the_next_run_resumes(
        vendor, failure, tmp_path, monkeypatch):
    fast_cli(monkeypatch)
    story = film(tmp_path / "f")
    fake_class, _, variable, key, label = VENDORS[vendor]
    faults, sent_key, reason = FAILURES[failure]
    with small_fake(fake_class, key, **faults) as fake:
        args = ["render", str(story), "-p", vendor, "--base-url", fake.base_url, "--yes"]
        r = cli(args, {variable: sent_key or key})
        assert r.exit_code == 2, r.output
        (line,) = [x for x in r.output.splitlines() if "cannot upload" in x]
        assert f"to {label} (127.0.0.1:" in line and reason in line and "nothing was submitted" in line
        assert "lamp-turn.mp4" in line or "shanty.wav" in line
        if failure == "wrong key":
            assert variable in line and sent_key not in r.output
        assert fake.stats()["creates"] == 0 and fake.files.all() == []
        journal = tmp_path / "f" / ".storyboard" / "jobs"
        assert not journal.exists() or not any(journal.rglob("*.json"))  # nothing journaled as sent

        r = cli(args, {variable: key})  # the vendor is back, or the right key: the render resumes
        assert r.exit_code == 0, r.output
        assert fake.stats()["creates"] == 1 and len(fake.files.all()) == 2
        if vendor == "fal" and failure == "refused":  # fal storage has both files now: nothing to upload
            r = cli(["plan", str(story), "-p", vendor], {variable: key, "FAL_QUEUE_URL": fake.base_url})
            assert r.exit_code == 0 and "will be uploaded" not in r.text


# ---- Replicate keeps nothing of Together's ------------------------------------------------------

def test_replicate_is_not_together_and_ignores_its_field_dialect(tmp_path, monkeypatch):
    monkeypatch.setenv("STORYBOARD_TOGETHER_FIELDS", "no-such-dialect")
    provider = ReplicateProvider(api_key=TOKEN)
    assert not isinstance(provider, TogetherProvider)
    assert provider.credential_problem() is None and "together_fields" not in provider.setting_sources()
    assert provider.quote({"model": "bytedance/seedance-2.0", "prompt": "x"}).usd is None  # not Together's prices
    for module in (replicate_module, fake_replicate):
        assert "together" not in inspect.getsource(module).lower()
    texts = [*provider.hints.values(), provider.needs_url_hint, provider.in_doubt]
    assert not any("together" in t.lower() for t in texts)
    story = film(tmp_path / "f")
    r = cli(["plan", str(story), "-p", "replicate"], {"REPLICATE_API_TOKEN": TOKEN,
                                                     "STORYBOARD_TOGETHER_FIELDS": "no-such-dialect"})
    assert r.exit_code == 0, r.output
    assert "together" not in r.output.replace(str(tmp_path), "").lower()


def test_together_still_needs_a_bucket_and_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("STORYBOARD_HOST", raising=False)
    story = film(tmp_path / "f")
    r = cli(["check", str(story), "-p", "together"])
    assert r.exit_code == 1 and "SB305" in r.text and "`host` setting" in r.text
    with pytest.raises(ProviderError, match="--host s3://bucket/prefix"):
        TogetherProvider(api_key="sk-test-1234567890").resolve_media("video", path=tmp_path / "f" / "lamp-turn.mp4",
                                                                     url=None)


def test_a_storage_url_that_is_not_http_is_said_before_anything_is_sent(monkeypatch):
    monkeypatch.setenv("FAL_REST_URL", "ftp://files.example")
    assert FalProvider(api_key=FAL_KEY).credential_problem() == (
        "fal's storage URL (set FAL_REST_URL) must be an http(s) URL, not 'ftp://files.example'")
    monkeypatch.delenv("FAL_REST_URL")
    problem = FalProvider(api_key=FAL_KEY, base_url="http://[::1").credential_problem()
    assert problem.startswith("the fal base URL (--base-url or FAL_QUEUE_URL) must be an http(s) URL")
    assert FalProvider(api_key=FAL_KEY, base_url="http://127.0.0.1:9/q").rest_url == "http://127.0.0.1:9"
    assert FalProvider(api_key=FAL_KEY).rest_url == "https://rest.fal.ai"
