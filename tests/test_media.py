"""storyboard.media: probe (PyAV) and extract_frame (ffmpeg)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from PIL import Image

from storyboard.animatic.render import render_animatic
from storyboard.media.frames import extract_frame
from storyboard.media.probe import MediaError, ffmpeg_exe, probe
from storyboard.media.text import font as _font, wrap as _wrap


@pytest.fixture(scope="module")
def red_to_blue(tmp_path_factory) -> Path:
    """A 4 s animatic from a red first frame to a blue last frame, without captions in the way."""
    d = tmp_path_factory.mktemp("media")
    Image.new("RGB", (32, 32), (220, 30, 30)).save(d / "red.png")
    Image.new("RGB", (32, 32), (30, 30, 220)).save(d / "blue.png")
    body = {"prompt": "red to blue", "width": 320, "height": 180, "seconds": "4",
            "media": {"frame_images": [{"input_image": str(d / "red.png"), "frame": "first"},
                                       {"input_image": str(d / "blue.png"), "frame": "last"}]}}
    out = d / "clip.mp4"
    render_animatic(body, out)
    return out


def colour_at(png: Path, xy=(160, 10)) -> tuple[int, int, int]:
    with Image.open(png) as im:
        return im.convert("RGB").getpixel(xy)


def close(a, b, tol=24) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


@pytest.mark.slow
def test_probe_reports_streams(red_to_blue):
    info = probe(red_to_blue, keyframes=True)
    assert abs(info.duration - 4) < 0.05
    assert (info.video.width, info.video.height, info.video.fps, info.video.frames) == (320, 180, 24.0, 96)
    assert info.video.codec == "h264" and info.video.pix_fmt == "yuv420p"
    assert info.audio.sample_rate == 48000 and info.audio.channels == 2 and info.audio.codec == "aac"
    assert info.keyframes == (0.0, 1.0, 2.0, 3.0)
    assert probe(red_to_blue).keyframes is None


@pytest.mark.slow
def test_extract_first_and_exact_last_frame(red_to_blue, tmp_path):
    first = extract_frame(red_to_blue, "first", tmp_path / "first.png")
    last = extract_frame(red_to_blue, "last", tmp_path / "last.png")
    assert close(colour_at(first), (220, 30, 30))
    assert close(colour_at(last), (30, 30, 220))
    with Image.open(last) as im:
        assert im.size == (320, 180) and im.format == "PNG"


@pytest.mark.slow
def test_last_frame_of_a_clip_shorter_than_the_seek_window(tmp_path):
    # 1 s of red whose final frame (n = 23) is green: -sseof must clamp and still end on it.
    video = tmp_path / "short.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=red:s=64x48:r=24:d=1",
                    "-vf", "drawbox=c=green:t=fill:enable='eq(n,23)'", "-pix_fmt", "yuv420p", str(video)], check=True)
    assert close(colour_at(extract_frame(video, "last", tmp_path / "l.png"), (32, 24)), (0, 128, 0), tol=30)
    assert close(colour_at(extract_frame(video, "first", tmp_path / "f.png"), (32, 24)), (255, 0, 0), tol=30)


def test_probe_rejects_non_media(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video at all\n" * 50)
    with pytest.raises(MediaError, match="notes.mp4"):
        probe(text)
    with pytest.raises(MediaError):
        probe(tmp_path / "missing.mp4")
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(MediaError):
        probe(empty)


@pytest.mark.slow
def test_extract_frame_errors(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    with pytest.raises(MediaError, match="ffmpeg"):
        extract_frame(text, "last", tmp_path / "x.png")
    with pytest.raises(MediaError, match="no such file"):
        extract_frame(tmp_path / "missing.mp4", "first", tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


# ---- fitting text (media.text) ----------------------------------------------------------------

def test_wrap_fits_the_width_and_ellipsizes():
    font = _font("x", 12)
    text = "The two armies collide in a cloud of snow as the camera pulls back to reveal the valley. " * 5
    lines = _wrap(text, font, 200, 3)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(font.getlength(line) <= 200 for line in lines)
    assert _wrap("short", font, 200, 3) == ["short"]
    assert _wrap("", font, 200, 3) == []


def test_wrap_breaks_cjk_and_overlong_words():
    font = _font("x", 12)
    assert all(font.getlength(line) <= 100 for line in _wrap("小猫将军站在悬崖上指挥老鼠大军" * 3, font, 100, 10))
    lines = _wrap("a" * 200, font, 100, 50)
    assert "".join(lines) == "a" * 200 and all(font.getlength(line) <= 100 for line in lines)
