"""The `modelark` provider: request bodies from ClipSpecs, task answers, its HTTP runtime against
the fake ModelArk server over loopback (retryable / not / ambiguous creates, the returned last
frame), and a full `render -p modelark` through the CLI with an extension and a `continue`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from provider_helpers import finished, run_scenario, small_fake
from storyboard.providers import AmbiguousSubmit, ProviderError, get
from storyboard.providers.base import ClipSpec, FrameImage
from storyboard.providers.modelark import (FAST_MODEL, STANDARD_MODEL, ModelArkProvider, build_body,
                                           job_from_task, spec_from_body)
from storyboard.testing.fake_modelark import FakeModelArk

from render_helpers import cli, compile_story, fast_cli, write_film

pytestmark = pytest.mark.timeout(120)

KEY = "ark-test-SECRET-5d1e2f"
SPEC = ClipSpec(prompt="A fox runs.", seconds=5, model=STANDARD_MODEL, resolution="480p", ratio="16:9")


def fake(**kw: Any) -> FakeModelArk:
    return small_fake(FakeModelArk, KEY, **kw)


def run(f: FakeModelArk, scenario, **options: Any) -> Any:
    return run_scenario(ModelArkProvider, f, scenario, KEY, **options)


# ---- compile time ----------------------------------------------------------------------------

def test_text_body_has_the_documented_fields():
    assert build_body(SPEC) == {
        "model": STANDARD_MODEL, "content": [{"type": "text", "text": "A fox runs."}],
        "resolution": "480p", "ratio": "16:9", "duration": 5, "generate_audio": True, "watermark": False}


def test_media_go_into_content_with_roles_and_last_frame_is_asked_for_when_wanted():
    spec = ClipSpec(prompt="p", seconds=4, model=STANDARD_MODEL, resolution="720p", ratio="9:16", seed=7,
                    audio=False, reference_images=("https://x/a.png",), reference_videos=("https://x/v.mp4",),
                    reference_audios=("https://x/m.mp3",), last_frame_wanted=True)
    body = build_body(spec)
    assert body["content"][1:] == [
        {"type": "image_url", "image_url": {"url": "https://x/a.png"}, "role": "reference_image"},
        {"type": "video_url", "video_url": {"url": "https://x/v.mp4"}, "role": "reference_video"},
        {"type": "audio_url", "audio_url": {"url": "https://x/m.mp3"}, "role": "reference_audio"}]
    assert body["return_last_frame"] is True and body["seed"] == 7 and body["generate_audio"] is False
    frames = build_body(ClipSpec(prompt="p", seconds=4, model=STANDARD_MODEL, resolution="720p", ratio="16:9",
                                 frame_images=(FrameImage("data:image/png;base64,AA", "first"),
                                               FrameImage("https://x/b.png", "last"))))
    assert [i["role"] for i in frames["content"][1:]] == ["first_frame", "last_frame"]
    assert "return_last_frame" not in frames
    assert spec_from_body(body) == spec.__class__(**{**spec.__dict__, "last_frame_wanted": False})


def test_size_in_pixels_becomes_the_nearest_table_entry_and_negative_goes_into_the_text():
    body = build_body(ClipSpec(prompt="p", seconds=4, model=STANDARD_MODEL, width=320, height=180, negative="blur"))
    assert (body["resolution"], body["ratio"]) == ("480p", "16:9")
    assert body["content"][0]["text"] == "p\nAvoid: blur"


def test_models_price_and_registry():
    p = get("modelark", api_key=KEY)
    assert isinstance(p, ModelArkProvider) and p.paid
    assert p.model_id(None) == p.model_id("seedance-2.0") == STANDARD_MODEL
    assert p.model_id("seedance-2.0-fast") == FAST_MODEL
    assert p.model_id("ep-20260101-abc") == "ep-20260101-abc"
    price = p.price(SPEC)
    assert price.usd is None and "unknown" in price.warning


def test_task_answers_map_to_job_states():
    assert job_from_task({"id": "cgt-1"}).state == "running"
    assert job_from_task({"id": "cgt-1", "status": "queued"}).state == "running"
    done = job_from_task({"id": "cgt-1", "status": "succeeded",
                          "content": {"video_url": "https://v", "last_frame_url": "https://f"}})
    assert (done.state, done.video_url, done.last_frame_url) == ("completed", "https://v", "https://f")
    for status in ("failed", "cancelled", "expired"):
        job = job_from_task({"id": "cgt-1", "status": status, "error": {"code": "X", "message": "m"}})
        assert job.state == "failed"
    assert job_from_task({"id": "c", "status": "succeeded", "content": {}}).error_code == "no_video_url"


def test_base_url_from_the_environment_and_local_videos_refused(monkeypatch):
    monkeypatch.setenv("ARK_BASE_URL", "http://127.0.0.1:9/api/v3/")
    p = ModelArkProvider(api_key=KEY)
    assert p.base_url == "http://127.0.0.1:9/api/v3"
    with pytest.raises(ProviderError) as exc:
        p.resolve_media("video", path=Path("/tmp/x.mp4"), url=None)
    assert exc.value.code == "needs_url"
    assert p.resolve_media("video", path=Path("/tmp/x.mp4"), url="https://x/v.mp4") == "https://x/v.mp4"
    monkeypatch.delenv("ARK_API_KEY", raising=False)
    assert "ARK_API_KEY" in ModelArkProvider().credential_problem()


# ---- run time against the fake ---------------------------------------------------------------

@pytest.mark.slow
def test_create_poll_download_and_the_returned_last_frame(tmp_path):
    body = build_body(ClipSpec(**{**SPEC.__dict__, "last_frame_wanted": True}))

    async def go(p):
        job = await finished(p, (await p.create(body)).id)
        await p.download(job, tmp_path / "a.mp4")
        got = await p.download_last_frame(job, tmp_path / "a.png")
        return job, got

    with fake() as f:
        job, got = run(f, go)
        assert job.state == "completed" and job.id.startswith("cgt-")
        assert got and (tmp_path / "a.png").read_bytes().startswith(b"\x89PNG")
        assert (tmp_path / "a.mp4").read_bytes()[4:8] == b"ftyp"
        assert f.stats()["creates"] == 1


@pytest.mark.slow
def test_refusals_are_classified(tmp_path):
    with fake() as f:
        async def bad(p):
            return await p.create({**build_body(SPEC), "duration": 3})
        with pytest.raises(ProviderError) as exc:
            run(f, bad)
        assert not exc.value.retryable and exc.value.status == 400 and exc.value.code == "InvalidParameter"
        assert not isinstance(exc.value, AmbiguousSubmit)

        f.set_faults(create_429=1, retry_after=2)
        with pytest.raises(ProviderError) as exc:
            run(f, lambda p: p.create(build_body(SPEC)))
        assert exc.value.retryable and exc.value.retry_after == 2

        f.set_faults(drop_after_create=1)
        with pytest.raises(AmbiguousSubmit):
            run(f, lambda p: p.create(build_body(SPEC)))
        assert f.stats()["creates"] == 1  # it was created: never retried blindly

        with pytest.raises(ProviderError) as exc:
            run(f, lambda p: p.create(build_body(SPEC)), api_key="wrong-key-1234")
        assert exc.value.status == 401 and "wrong-key-1234" not in str(exc.value)


def test_fast_model_refuses_1080p():
    with fake() as f:
        body = build_body(ClipSpec(**{**SPEC.__dict__, "model": FAST_MODEL, "resolution": "1080p"}))
        with pytest.raises(ProviderError) as exc:
            run(f, lambda p: p.create(body))
        assert exc.value.status == 400 and "resolution" in str(exc.value)


# ---- the whole pipeline through the CLI -------------------------------------------------------

@pytest.mark.slow
def test_render_through_the_cli_with_extend_and_continue(tmp_path, monkeypatch):
    fast_cli(monkeypatch)
    decoded: list[str] = []
    import storyboard.media.engine as probe  # the media the render engine uses

    real = probe.extract_frame
    monkeypatch.setattr(probe, "extract_frame", lambda v, which, out: decoded.append(which) or real(v, which, out))
    story = write_film(tmp_path / "ark", shots=2, extends=(1,), continues=(1,), morphs=(), dissolves=(),
                       title="Ark Film")
    with fake(latency=0.1) as f:
        p = ModelArkProvider(api_key=KEY, base_url=f.base_url)
        plan = compile_story(story, p)
        assert [c.kind for c in plan.clips] == ["shot", "extend", "continue"]
        ext = plan.clips[1]
        assert ext.request["return_last_frame"] is True  # s02 continues from it
        assert "return_last_frame" not in plan.clips[0].request
        args = ["render", str(story), "-p", "modelark", "--base-url", f.base_url, "--yes"]
        env = {"ARK_API_KEY": KEY}
        r = cli(args, env)
        assert r.exit_code == 0, r.output
        assert Path(r.stdout.strip().splitlines()[-1]).is_file()
        assert f.stats()["creates"] == 3
        assert KEY not in r.output
        # the continue used ModelArk's own last frame: it was fetched, never decoded here
        from storyboard.render import default_state_dir
        frames = list((default_state_dir(plan)).rglob(f"frames/{ext.key}-last.png"))
        assert frames and frames[0].read_bytes().startswith(b"\x89PNG")
        assert "last" not in decoded, decoded

        again = cli(args, env)
        assert again.exit_code == 0, again.output
        assert f.stats()["creates"] == 3  # cached: nothing created again


@pytest.mark.slow
def test_a_create_killed_mid_flight_is_in_doubt_and_not_resent(tmp_path, monkeypatch):
    fast_cli(monkeypatch)
    story = write_film(tmp_path / "doubt", shots=1, extends=(), continues=(), morphs=(), dissolves=())
    with fake(latency=0.1) as f:
        f.set_faults(drop_after_create=1)
        args = ["render", str(story), "-p", "modelark", "--base-url", f.base_url, "--yes"]
        r = cli(args, {"ARK_API_KEY": KEY})
        assert r.exit_code != 0 and "in doubt" in r.text
        assert f.stats()["creates"] == 1
        r2 = cli(args, {"ARK_API_KEY": KEY})
        assert r2.exit_code != 0 and f.stats()["creates"] == 1  # never re-sent without a decision


def test_check_reports_what_modelark_refuses_at_the_storys_line():
    from storyboard.api import check_file

    diags = check_file(Path("examples/lighthouse/lighthouse.story"), get("modelark", api_key=KEY)).diagnostics
    refused = [d for d in diags if d.code == "SB305"]
    assert refused and all("modelark cannot take a local" in d.message and d.span.line for d in refused)


FAST_1080P_STORY = """model: seedance-2.0-fast
resolution: 1080p

shot a:
  A quiet street.

shot b:
  resolution: 1080p
  A loud street.

shot c:
  resolution: 720p
  A calm street.
"""


def check_story(tmp_path: Path, text: str, provider: str) -> list:
    from storyboard.api import check_file

    story = tmp_path / "film.story"
    story.write_text(text, encoding="utf-8")
    return check_file(story, get(provider, api_key=KEY)).diagnostics


def test_check_reports_the_fast_models_missing_1080p_at_the_resolution_lines(tmp_path):
    p = ModelArkProvider(api_key=KEY)
    assert p.limits_for(FAST_MODEL).resolutions == ("480p", "720p")
    assert "1080p" in p.limits_for(STANDARD_MODEL).resolutions
    diags = check_story(tmp_path, FAST_1080P_STORY, "modelark")
    # the film's line once (not once per clip under it), and shot b's own line
    assert [(d.code, d.span.line) for d in diags] == [("SB103", 2), ("SB103", 8)]
    assert "`seedance-2.0-fast` renders no 1080p" in diags[0].message and "480p, 720p" in diags[0].hint
    standard = FAST_1080P_STORY.replace("model: seedance-2.0-fast\n", "model: seedance-2.0\n")
    assert check_story(tmp_path, standard, "modelark") == []
