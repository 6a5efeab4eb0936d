"""The preview provider's animatic renderer: streams, sizes and durations for every kind of
input, and the failure modes (small frames and 4 s clips keep this file fast)."""

from __future__ import annotations

import asyncio
import base64
import io
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from storyboard.animatic.render import AnimaticError, Captions, _motion, render_animatic
from storyboard.media.frames import extract_frame
from storyboard.media.probe import ffmpeg_exe, probe
from storyboard.providers import ProviderError, get as get_provider

FRAME = 1 / 24


def body(**extra) -> dict:
    b = {"model": "ByteDance/Seedance-2.0", "prompt": "A black cat gazes up at the night sky.",
         "width": 320, "height": 180, "seconds": "4"}
    b.update(extra)
    return b


def png(path: Path, colour: tuple[int, int, int], size=(64, 36)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def data_uri(colour: tuple[int, int, int]) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (48, 48), colour).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def first_and_last(folder: Path) -> dict:
    """red.png and blue.png in `folder`, and the request media that makes them the first and the
    last frame."""
    red, blue = png(folder / "red.png", (220, 30, 30)), png(folder / "blue.png", (30, 30, 220))
    return {"frame_images": [{"input_image": str(red), "frame": "first"},
                             {"input_image": str(blue), "frame": "last"}]}


def top_pixel(video: Path, which: str, tmp_path: Path) -> tuple[int, int, int]:
    """A pixel near the top centre (above the caption band)."""
    frame = extract_frame(video, which, tmp_path / f"{video.stem}-{which}.png")
    with Image.open(frame) as im:
        return im.convert("RGB").getpixel((im.width // 2, 12))


def close(a, b, tol=24) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def assert_clip(path: Path, *, seconds: int, size: tuple[int, int], audio: bool):
    info = probe(path, keyframes=True)
    v = info.video
    assert v is not None and (v.width, v.height) == size
    assert v.fps == 24 and v.frames == seconds * 24 and v.codec == "h264" and v.pix_fmt == "yuv420p"
    assert abs(v.duration - seconds) <= FRAME
    assert info.keyframes == tuple(float(s) for s in range(seconds))  # closed GOP, 1 s apart
    if audio:
        a = info.audio
        assert a is not None and a.codec == "aac" and a.sample_rate == 48000 and a.channels == 2
        assert abs(a.duration - v.duration) <= FRAME
    else:
        assert info.audio is None
    assert not [p for p in path.parent.iterdir() if ".tmp" in p.name]  # written atomically


@pytest.mark.slow
def test_text_only_card(tmp_path):
    out = tmp_path / "card.mp4"
    render_animatic(body(), out, title="Opening")
    assert_clip(out, seconds=4, size=(320, 180), audio=True)


@pytest.mark.slow
def test_size_from_the_pixel_table(tmp_path):
    out = tmp_path / "t.mp4"
    b = body(resolution="480p", ratio="16:9")
    del b["width"], b["height"]
    render_animatic(b, out)
    assert_clip(out, seconds=4, size=(864, 496), audio=True)


@pytest.mark.slow
def test_first_frame_image_starts_exactly_on_it(tmp_path):
    red = png(tmp_path / "red.png", (220, 30, 30))
    out = tmp_path / "i2v.mp4"
    render_animatic(body(media={"frame_images": [{"input_image": str(red), "frame": "first"}]}), out,
                    captions=Captions(name="opening", action="A cat.", camera="slow push in",
                                      dialogue=[("Cat", "Meow.")]))
    assert_clip(out, seconds=4, size=(320, 180), audio=True)
    assert close(top_pixel(out, "first", tmp_path), (220, 30, 30))


@pytest.mark.slow
def test_first_and_last_frames_cross_fade(tmp_path):
    media = first_and_last(tmp_path)
    out = tmp_path / "fl.mp4"
    render_animatic(body(media=media, seconds="5"), out)
    assert_clip(out, seconds=5, size=(320, 180), audio=True)
    assert close(top_pixel(out, "first", tmp_path), (220, 30, 30))
    assert close(top_pixel(out, "last", tmp_path), (30, 30, 220))


@pytest.mark.slow
def test_untagged_frames_are_first_then_last(tmp_path):
    first_and_last(tmp_path)  # red.png and blue.png in tmp_path
    out = tmp_path / "fl.mp4"
    render_animatic(body(media={"frame_images": [{"input_image": "red.png"}, {"input_image": "blue.png"}]}),
                    out, base_dir=tmp_path)  # relative paths resolve in base_dir
    assert close(top_pixel(out, "first", tmp_path), (220, 30, 30))
    assert close(top_pixel(out, "last", tmp_path), (30, 30, 220))


@pytest.mark.slow
def test_reference_image_as_data_uri(tmp_path):
    out = tmp_path / "ref.mp4"
    render_animatic(body(media={"reference_images": [data_uri((30, 200, 40)), data_uri((0, 0, 0))]}), out)
    assert_clip(out, seconds=4, size=(320, 180), audio=True)
    assert close(top_pixel(out, "first", tmp_path), (30, 200, 40))


@pytest.mark.slow
def test_extension_starts_from_its_reference_videos_last_frame(tmp_path):
    media = first_and_last(tmp_path)
    source = tmp_path / "source.mp4"
    render_animatic(body(media=media, settings={"audio": False}), source)
    out = tmp_path / "extend.mp4"
    render_animatic(body(media={"reference_videos": [{"video": str(source)}]}), out)
    assert_clip(out, seconds=4, size=(320, 180), audio=True)
    assert close(top_pixel(out, "first", tmp_path), (30, 30, 220))


@pytest.mark.slow
def test_tone_is_quiet(tmp_path):
    import av
    import numpy as np

    out = tmp_path / "tone.mp4"
    render_animatic(body(), out)
    with av.open(str(out)) as c:
        samples = np.concatenate([f.to_ndarray().ravel() for f in c.decode(audio=0)])
    peak_db = 20 * np.log10(np.abs(samples).max())
    assert -32 < peak_db < -28


@pytest.mark.slow
def test_url_image_is_not_fetched_and_becomes_a_card(tmp_path):
    out = tmp_path / "url.mp4"
    render_animatic(body(media={"reference_images": ["https://example.invalid/cat.png"]}), out)
    assert_clip(out, seconds=4, size=(320, 180), audio=True)


@pytest.mark.slow
@pytest.mark.parametrize("flag", [{"settings": {"audio": False}}, {"generate_audio": False}])
def test_audio_off_has_no_audio_stream(tmp_path, flag):
    out = tmp_path / "silent.mp4"
    render_animatic(body(**flag), out)
    assert_clip(out, seconds=4, size=(320, 180), audio=False)


@pytest.mark.slow
def test_cjk_prompt_and_captions_do_not_crash(tmp_path):
    prompt = "小猫将军站在悬崖上，指挥着下面冲锋的老鼠大军。史诗般的古代战争氛围，雪山上空乌云密布。" * 4
    out = tmp_path / "cjk.mp4"
    render_animatic(body(prompt=prompt), out)  # captions derived from the prompt
    assert_clip(out, seconds=4, size=(320, 180), audio=True)
    render_animatic(body(prompt=prompt), out, title="开场",
                    captions=Captions(name="开场", action=prompt, camera="缓慢升起", dialogue=[("小猫", "冲啊！")]))
    assert_clip(out, seconds=4, size=(320, 180), audio=True)


@pytest.mark.slow
def test_reference_audio_is_the_soundtrack_padded_to_length(tmp_path):
    wav = tmp_path / "music.wav"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    "-ar", "44100", str(wav)], check=True)
    out = tmp_path / "music.mp4"
    render_animatic(body(media={"reference_images": [data_uri((90, 90, 90))], "reference_audios": [str(wav)]}), out)
    assert_clip(out, seconds=4, size=(320, 180), audio=True)


def test_corrupt_image_raises_a_clear_error_and_leaves_nothing(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    out = tmp_path / "clips" / "bad.mp4"
    with pytest.raises(AnimaticError, match="broken.png"):
        render_animatic(body(media={"frame_images": [{"input_image": str(bad), "frame": "first"}]}), out)
    with pytest.raises(AnimaticError, match="cannot read input image"):
        render_animatic(body(media={"reference_images": [str(tmp_path / "missing.png")]}), out)
    with pytest.raises(AnimaticError, match="data:image/png"):
        render_animatic(body(media={"reference_images": ["data:image/png;base64,AAAA"]}), out)
    assert not out.exists()
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


@pytest.mark.slow
def test_odd_explicit_sizes_round_down_to_even(tmp_path):
    out = tmp_path / "odd.mp4"
    render_animatic(body(width=321, height=181, settings={"audio": False}), out)
    assert_clip(out, seconds=4, size=(320, 180), audio=False)


def test_bad_body_is_an_animatic_error(tmp_path):
    with pytest.raises(AnimaticError, match="seconds"):
        render_animatic(body(seconds="five"), tmp_path / "x.mp4")
    b = body(resolution="4k", ratio="16:9")
    del b["width"], b["height"]
    with pytest.raises(AnimaticError, match="frame size"):
        render_animatic(b, tmp_path / "x.mp4")


# ---- pure helpers ----------------------------------------------------------------------------

def test_motion_is_deterministic_and_lands_on_given_frames():
    assert _motion("seed-1", has_first=False, has_last=False) == _motion("seed-1", has_first=False, has_last=False)
    assert _motion("seed-1", has_first=True, has_last=False).z0 == 1.0
    assert _motion("seed-1", has_first=False, has_last=True).z1 == 1.0
    both = _motion("seed-1", has_first=True, has_last=True)
    assert both.z0 == both.z1 == 1.0 and both.bulge > 0


def test_captions_from_engine_lines():
    c = Captions.coerce(["charge", "Mice charge.", "camera: low angle", 'Kitten (shouting): "Charge!"', "odd line"])
    assert c == Captions(name="charge", action="Mice charge.", camera="low angle",
                         dialogue=(("Kitten (shouting)", "Charge!"), ("", "odd line")))
    assert Captions.coerce(None) is None
    assert Captions.coerce(c) is c


# ---- the provider's run time -----------------------------------------------------------------

@pytest.mark.slow
def test_preview_provider_create_get_download(tmp_path):
    provider = get_provider("preview")
    work = tmp_path / "work"
    work.mkdir()
    red = png(tmp_path / "red.png", (220, 30, 30))

    async def run():
        a, b = await asyncio.gather(  # rendered concurrently, in threads
            provider.create(body(), workdir=work, captions=["opening", "A cat."], title="opening"),
            provider.create(body(media={"frame_images": [{"input_image": str(red), "frame": "first"}]},
                                 settings={"audio": False}), workdir=work),
        )
        assert a.state == b.state == "completed" and a.cost == b.cost == 0.0 and a.id != b.id
        assert a.video_url.startswith("file://")
        assert (await provider.get(a.id)) is a
        dest = tmp_path / "a.mp4"
        await provider.download(a, dest)
        assert_clip(dest, seconds=4, size=(320, 180), audio=True)
        await provider.download(b, tmp_path / "b.mp4")
        assert probe(tmp_path / "b.mp4").audio is None
        with pytest.raises(ProviderError) as missing:
            await provider.get("preview-nope")
        assert missing.value.status == 404
        bad = tmp_path / "bad.png"
        bad.write_bytes(b"junk")
        with pytest.raises(ProviderError, match="bad.png") as refused:
            await provider.create(body(media={"reference_images": [str(bad)]}), workdir=work)
        assert not refused.value.retryable
        await provider.aclose()

    asyncio.run(run())
    assert sorted(p.suffix for p in work.iterdir()) == [".mp4", ".mp4"]
