"""The `fal` provider: request bodies per mode, prices, and its runtime against the fake fal queue
over real loopback sockets (create classification, polling, results, downloads, the key)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from render_helpers import cli, fast_cli, kill_after_first_create
from provider_helpers import finished, run_scenario
from storyboard.providers.base import AmbiguousSubmit, ClipSpec, FrameImage, ProviderError
from storyboard.providers.fal import FalProvider
from storyboard.testing.fake_fal import FakeFal

KEY = "fal-key-id:fal-secret-8c1d"


def spec(**kw) -> ClipSpec:
    base = dict(prompt="A fox walks.", seconds=5, model="bytedance/seedance-2.0", resolution="720p", ratio="16:9")
    return ClipSpec(**{**base, **kw})


def provider(fake: FakeFal, **kw) -> FalProvider:
    return FalProvider(api_key=kw.pop("api_key", KEY), base_url=fake.base_url, backoff=(0.01, 0.05), **kw)


def run(fake: FakeFal, scenario, **kw):
    return run_scenario(FalProvider, fake, scenario, KEY, **{"backoff": (0.01, 0.05), **kw})


@pytest.fixture
def fake():
    with FakeFal(api_key=KEY, latency=0.2, clip_size=(64, 36), renderer="testcard") as server:
        yield server


def test_one_endpoint_per_mode_with_fals_fields():
    p = FalProvider(api_key=KEY)
    assert p.build_request(spec(seed=3, audio=False)) == {
        "endpoint": "bytedance/seedance-2.0/text-to-video",
        "input": {"prompt": "A fox walks.", "duration": "5", "resolution": "720p", "aspect_ratio": "16:9",
                  "generate_audio": False, "seed": 3}}
    frames = p.build_request(spec(frame_images=(FrameImage("a.png", "first"), FrameImage("b.png", "last"))))
    assert frames["endpoint"].endswith("/image-to-video")
    assert (frames["input"]["image_url"], frames["input"]["end_image_url"]) == ("a.png", "b.png")
    refs = p.build_request(spec(model=p.model_id("seedance-2.0-fast"), reference_images=("i.png",),
                                reference_videos=("https://x/v.mp4",), reference_audios=("https://x/a.mp3",)))
    assert refs["endpoint"] == "bytedance/seedance-2.0/fast/reference-to-video"
    assert refs["input"]["image_urls"] == ["i.png"] and refs["input"]["audio_urls"] == ["https://x/a.mp3"]
    assert p.index_word("image", 2) == "@Image2"
    assert p.build_request(spec(resolution=None, ratio=None, width=640, height=640))["input"]["aspect_ratio"] == "1:1"


def test_prices_follow_fals_published_rates():
    p = FalProvider(api_key=KEY)
    assert p.price(spec(seconds=10)).usd == pytest.approx(3.024)
    assert p.price(spec(seconds=10, model="bytedance/seedance-2.0/fast")).usd == pytest.approx(2.419)
    video = p.price(spec(seconds=10, reference_videos=("https://x/v.mp4",)))  # 15 s of input at most, billed too
    assert video.usd == pytest.approx(0.3024 * 0.6 * (15 + 10)) and "upper bound" in video.warning
    assert p.price(spec(model="someone/else")).usd is None


@pytest.mark.slow
def test_lifecycle_create_poll_download(fake, tmp_path):
    async def scenario(p):
        job = await p.create(p.build_request(spec(seconds=4)))
        done = await finished(p, job.id)
        await p.download(done, tmp_path / "clip.mp4")
        return done
    job = run(fake, scenario)
    assert job.state == "completed" and (tmp_path / "clip.mp4").read_bytes()[4:8] == b"ftyp"
    assert fake.stats()["creates"] == 1


@pytest.mark.slow
def test_an_input_the_model_refuses_is_a_failed_job_with_its_field(fake):
    async def scenario(p):
        job = await p.create({"endpoint": "bytedance/seedance-2.0/text-to-video",
                              "input": {"prompt": "A fox.", "duration": "20"}})
        return await finished(p, job.id)
    job = run(fake, scenario)
    assert job.state == "failed" and "duration" in job.error


@pytest.mark.parametrize("fault, retryable", [("create_429", True), ("create_503", True)])
def test_answers_that_prove_nothing_was_queued_are_retryable(fake, fault, retryable):
    fake.set_faults(**{fault: 1}, retry_after=0)
    with pytest.raises(ProviderError) as err:
        run(fake, lambda p: p.create(p.build_request(spec())))
    assert not isinstance(err.value, AmbiguousSubmit) and err.value.retryable is retryable
    assert fake.stats()["creates"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["create_500", "drop_after_create", "drop_before_create"])
def test_a_create_that_may_have_been_queued_is_in_doubt(fake, fault):
    fake.set_faults(**{fault: 1})
    with pytest.raises(AmbiguousSubmit):
        run(fake, lambda p: p.create(p.build_request(spec())))


def test_a_wrong_key_is_refused_and_never_echoed(fake, caplog):
    with pytest.raises(ProviderError) as err:
        run(fake, lambda p: p.create(p.build_request(spec())), api_key="wrong-key-6d2f")
    assert err.value.status == 401 and not err.value.retryable
    assert "wrong-key-6d2f" not in str(err.value) + caplog.text
    assert "fal-secret" not in repr(provider(fake))


def test_get_of_an_unknown_request_is_not_found(fake):
    with pytest.raises(ProviderError) as err:
        run(fake, lambda p: p.get("no-such-request"))
    assert err.value.code == "not_found"


def test_local_videos_go_to_fal_storage_and_images_inline(tmp_path, fake):
    from PIL import Image

    Image.new("RGB", (32, 32)).save(tmp_path / "a.png")
    p = provider(fake)
    assert p.resolve_media("image", path=tmp_path / "a.png", url=None).startswith("data:image/png;base64,")
    (tmp_path / "v.mp4").write_bytes(b"\0\0\0\x18ftypmp42" + bytes(64))
    url = p.resolve_media("video", path=tmp_path / "v.mp4", url=None)
    assert url.startswith(fake.base_url + "/storage/files/") and fake.files.all()[0].size == 76
    with pytest.raises(ProviderError, match=r"cannot upload .*gone.mp4 to fal storage .*cannot read it"):
        p.resolve_media("video", path=tmp_path / "gone.mp4", url=None)


def film(folder: Path) -> Path:
    """Three generations: a shot with a cast reference, its extension (a video input) and a
    `continue` into a second shot (its first frame)."""
    from PIL import Image

    (folder / "cast").mkdir(parents=True)
    Image.new("RGB", (64, 48), (200, 120, 40)).save(folder / "cast" / "fox.png")
    story = folder / "fal.story"
    story.write_text("title: Fal Film\nresolution: 480p\n\ncharacter Fox:\n  image: cast/fox.png\n"
                     "  description: a small orange fox\n\nshot one 4s:\n  @Fox walks into the wood.\n\n"
                     "extend one 4s:\n  The fox keeps walking.\n\ncontinue\n\nshot two 4s:\n"
                     "  The fox reaches a river.\n", encoding="utf-8")
    return story


def test_check_takes_local_videos_and_audios_for_fal_storage():
    r = cli(["check", "examples/lighthouse/lighthouse.story", "-p", "fal"])
    assert r.exit_code == 0 and "SB305" not in r.text  # fal storage carries them: no bucket needed


@pytest.mark.slow
def test_render_through_the_cli_counts_creates_and_resumes_without_paying(tmp_path, monkeypatch):
    fast_cli(monkeypatch)
    story = film(tmp_path / "f")
    with FakeFal(api_key=KEY, latency=0.2) as fake:
        args, env = ["render", str(story), "-p", "fal", "--base-url", fake.base_url, "--yes"], {"FAL_KEY": KEY}
        r = cli(args, env)
        assert r.exit_code == 0, r.output
        assert Path(r.stdout.strip()).is_file()
        endpoints = sorted(j["model"].rsplit("/", 1)[1] for j in fake.stats()["jobs"])
        assert endpoints == ["image-to-video", "reference-to-video", "reference-to-video"]
        assert fake.stats()["creates"] == 3
        assert cli(args, env).exit_code == 0
        assert fake.stats()["creates"] == 3  # the re-run creates nothing
        assert KEY not in r.output


@pytest.mark.slow
def test_a_render_killed_mid_create_leaves_the_clip_in_doubt(tmp_path):
    story = film(tmp_path / "f")
    with FakeFal(api_key=KEY, latency=0.2, create_delay=3.0) as fake:
        args = ["render", str(story), "-p", "fal", "--base-url", fake.base_url, "--yes"]
        env = {**os.environ, "FAL_KEY": KEY}
        kill_after_first_create([sys.executable, "-m", "storyboard", *args], env, fake)
        assert fake.stats()["creates"] >= 1
        fake.set_faults(create_delay=0.0)
        creates = fake.stats()["creates"]
        r = cli(args, {"FAL_KEY": KEY})
        assert r.exit_code == 3 and "in doubt" in r.text, r.output
        assert fake.stats()["creates"] == creates  # never submitted again blindly


def test_check_reports_the_fast_tiers_missing_1080p_at_the_resolution_line(tmp_path):
    from storyboard.api import check_file
    from storyboard.providers.fal import APP, FAST

    p = FalProvider(api_key=KEY)
    assert p.limits_for(FAST).resolutions == ("480p", "720p") and "1080p" in p.limits_for(APP).resolutions
    story = tmp_path / "film.story"
    story.write_text("model: seedance-2.0-fast\n\nshot a:\n  resolution: 1080p\n  A street.\n\n"
                     "shot b:\n  A square.\n", encoding="utf-8")
    diags = check_file(story, p).diagnostics
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("SB103", 4, 15)]
    assert "fal's model `seedance-2.0-fast` renders no 1080p" in diags[0].message
    story.write_text("model: seedance-2.0\nresolution: 1080p\n\nshot a:\n  A street.\n", encoding="utf-8")
    assert check_file(story, p).diagnostics == []
