"""Animatics: the offline stand-in for a generated clip (the only place that draws them).

One clip = one Seedance-shaped request body rendered at its real duration and size: a slow Ken
Burns move over its first frame (cross-fading to its last frame when it has one), its first
reference image, or a coloured title card; captions burned in at the bottom; a quiet tone, a
reference soundtrack, or no audio stream at all when the body turns audio off.

Speed is the point (a fast edit -> preview loop), so Python only draws stills (Pillow, once) and
ffmpeg does all per-frame work in a single invocation. The motion uses the `perspective` filter
evaluated per frame: it samples with sub-pixel precision, whereas `zoompan` and `scale`+`crop`
snap to whole pixels and visibly judder at Ken Burns speeds (< 1 px per frame).
"""

from __future__ import annotations

import base64
import binascii
import colorsys
import hashlib
import io
import os
import random
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Sequence

from PIL import Image, ImageDraw, ImageOps

from ..atomic import temp_sibling
from ..media.frames import frame_image
from ..media.probe import MediaError, probe, run_ffmpeg
from ..media.text import DRAW_LOCK, font, has_wide, line_height, shorten, wrap
from ..providers.seedance import audio_enabled, body_seconds, body_size, media_lists

FPS = 24
SAMPLE_RATE = 48000
TONE_AMPLITUDE = 10 ** (-30 / 20)  # -30 dBFS peak: audible in a preview, never annoying
FADE_S = 0.02  # audio fades at both ends, so cuts between clips do not click
CAPTION_MAX_SHARE = 0.45  # captions never cover more than this share of the picture height
_SPOKEN_RE = re.compile(r'^(.+?):\s*["“](.*)["”]$')  # a caption line 'Speaker: "line"'


class AnimaticError(Exception):
    """The animatic could not be rendered (unreadable input image, ffmpeg failure, bad body)."""


@dataclass(frozen=True)
class Captions:
    """What is burned in at the bottom of a clip."""

    name: str | None = None
    action: str = ""
    camera: str | None = None
    dialogue: Sequence[tuple[str, str]] = field(default_factory=tuple)  # (speaker, line)

    @classmethod
    def from_clip(cls, clip: Any) -> Captions:
        """From a `plan.PlannedClip` (duck-typed: name, action, camera, dialogue; the request's
        prompt when it has no action text), the manner of a line beside its speaker."""
        prompt = (getattr(clip, "request", None) or {}).get("prompt") or ""
        return cls(name=clip.name, action=clip.action or str(prompt), camera=clip.camera,
                   dialogue=tuple((f"{d.speaker} ({d.how})" if getattr(d, "how", None) else d.speaker, d.line)
                                  for d in clip.dialogue))

    @classmethod
    def coerce(cls, value: Any) -> Captions | None:
        """Captions from what a caller has: Captions, None, a PlannedClip, a dict of the fields,
        or caption lines [name, action, "camera: ...", 'Speaker: "line"', ...]."""
        if value is None or isinstance(value, Captions):
            return value
        if isinstance(value, dict):
            return cls(name=value.get("name"), action=value.get("action") or "", camera=value.get("camera"),
                       dialogue=tuple(tuple(d) for d in value.get("dialogue") or ()))
        if hasattr(value, "action") and hasattr(value, "dialogue"):
            return cls.from_clip(value)
        if isinstance(value, str):
            value = [value]
        lines = [str(v) for v in value]
        name, action = (lines + [None, ""])[:2]
        camera, dialogue = None, []
        for line in lines[2:]:
            if line.startswith("camera:") and camera is None:
                camera = line.removeprefix("camera:").strip()
            elif m := _SPOKEN_RE.match(line):
                dialogue.append((m.group(1), m.group(2)))
            else:
                dialogue.append(("", line))
        return cls(name=name or None, action=action or "", camera=camera, dialogue=tuple(dialogue))

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "action": self.action, "camera": self.camera,
                "dialogue": [list(d) for d in self.dialogue]}


# ---- public entry point ----------------------------------------------------------------------

def render_animatic(body: dict[str, Any], out: Path, *, title: str | None = None,
                    captions: Captions | None = None, base_dir: Path | None = None) -> None:
    """Render the clip a request body describes to `out` (mp4, written atomically).

    `captions` defaults to the body's prompt (anything `Captions.coerce` takes is accepted);
    `title` names the clip on its card and in the captions.

    Image inputs may be local paths (absolute or relative to `base_dir`), `data:image/...;base64`
    URIs, or http(s) URLs (never fetched: the clip shows a card instead). A local input that
    cannot be read raises AnimaticError, as the real API would refuse it.
    """
    out = Path(out)
    seconds = _seconds(body)
    width, height = _size(body)
    prompt = str(body.get("prompt") or "")
    seed = body.get("seed")
    key = str(seed) if seed is not None else prompt
    captions = Captions.coerce(captions) or Captions(name=title, action=prompt)
    heading = title or captions.name or _first_words(prompt)
    frames = seconds * FPS

    sources = _picture_sources(body, base_dir)
    first_img = _load(sources.first, base_dir, (width, height)) if sources.first else None
    last_img = _load(sources.last, base_dir, (width, height)) if sources.last else None
    # A card holds still (nothing to look around in, and no motion is ~3x faster to render).
    motion = None
    if first_img is not None or last_img is not None:
        motion = _motion(key, has_first=sources.first_is_frame, has_last=last_img is not None)
    with DRAW_LOCK:  # FreeType faces are shared between threads
        band = _caption_band(captions, seconds, width, height)
        if first_img is None:
            note = _unfetched_note(sources.first) or _unfetched_note(sources.last)
            first_img = _card(heading, note, (width, height), band.height, key)
    soundtrack = _soundtrack(body, base_dir) if audio_enabled(body) else None

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = temp_sibling(out, ".mp4")
    with tempfile.TemporaryDirectory(prefix="animatic-") as tmp:
        tmpdir = Path(tmp)
        inputs = [_raw_input(_cover(first_img, (width, height)), tmpdir / "first.rgb")]
        if last_img is not None:
            inputs.append(_raw_input(_cover(last_img, (width, height)), tmpdir / "last.rgb"))
        inputs.append(_raw_input(band, tmpdir / "captions.rgba"))
        if soundtrack is not None:
            inputs.append(["-i", str(soundtrack)])
        graph, maps = _filter_graph(
            frames=frames, seconds=seconds, size=(width, height), band_height=band.height,
            has_last=last_img is not None, audio=audio_enabled(body), soundtrack=soundtrack is not None,
            motion=motion, pitch=_pitch(prompt),
        )
        args = ([a for i in inputs for a in i] + ["-filter_complex", graph] + maps
                + _encode_args(seconds, audio_enabled(body)))
        try:
            run_ffmpeg(args + [str(tmp_out)], what=f"rendering animatic {out.name}", error=AnimaticError)
            os.replace(tmp_out, out)
        finally:
            tmp_out.unlink(missing_ok=True)


# ---- the body --------------------------------------------------------------------------------

def _seconds(body: dict[str, Any]) -> int:
    try:
        seconds = int(body_seconds(body))
    except (TypeError, ValueError) as e:
        raise AnimaticError(f"seconds must be an integer, not {body.get('seconds')!r}") from e
    if not 1 <= seconds <= 600:
        raise AnimaticError(f"seconds out of range: {seconds}")
    return seconds


def _size(body: dict[str, Any]) -> tuple[int, int]:
    try:
        w, h = body_size(body)
    except (KeyError, TypeError, ValueError) as e:
        raise AnimaticError(f"no frame size for resolution={body.get('resolution')!r} ratio={body.get('ratio')!r} "
                            f"width={body.get('width')!r} height={body.get('height')!r}") from e
    # H.264 in 4:2:0 needs even dimensions; every size in the Seedance table already is.
    if w < 16 or h < 16:
        raise AnimaticError(f"frame size too small: {w}x{h}")
    return w - w % 2, h - h % 2


@dataclass(frozen=True)
class _Sources:
    first: str | None
    last: str | None
    first_is_frame: bool  # the picture must start exactly on `first` (an image-to-video clip)


def _picture_sources(body: dict[str, Any], base_dir: Path | None) -> _Sources:
    media = media_lists(body)
    frames = [f for f in media["frame_images"] if isinstance(f, dict) and f.get("input_image")]
    # Seedance: frames without a `frame` key are first, then last, in order.
    first = next((f["input_image"] for f in frames if f.get("frame") == "first"), None)
    last = next((f["input_image"] for f in frames if f.get("frame") == "last"), None)
    untagged = [f["input_image"] for f in frames if f.get("frame") not in ("first", "last")]
    if untagged and first is None:
        first = untagged.pop(0)
    if untagged and last is None:
        last = untagged.pop(0)
    if first is not None or last is not None:
        return _Sources(first, last, first is not None)
    if media["reference_images"]:
        return _Sources(str(media["reference_images"][0]), None, False)
    # An extension continues its reference video: start from that video's last frame.
    video = _local_path(media["reference_videos"][0], base_dir) if media["reference_videos"] else None
    if video is not None and video.is_file():
        return _Sources(f"video-last-frame:{video}", None, True)
    return _Sources(None, None, False)


def _soundtrack(body: dict[str, Any], base_dir: Path | None) -> Path | None:
    """The first local reference audio that really has an audio stream, else None (a tone)."""
    for value in media_lists(body)["reference_audios"]:
        path = _local_path(value, base_dir)
        if path is None or not path.is_file():
            continue
        try:
            if probe(path).audio is not None:
                return path
        except MediaError:
            continue
    return None


def _local_path(value: Any, base_dir: Path | None) -> Path | None:
    if not isinstance(value, str) or not value or _is_url(value) or value.startswith("data:") or value.startswith("<"):
        return None
    if value.startswith("file://"):
        from urllib.parse import unquote, urlparse

        value = unquote(urlparse(value).path)
    path = Path(value).expanduser()
    return path if path.is_absolute() or base_dir is None else Path(base_dir) / path


def _is_url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


def _unfetched_note(value: str | None) -> str | None:
    if value and _is_url(value):
        return f"image not fetched offline: {value}"
    if value and value.startswith("<"):
        return f"unresolved input {value}"
    return None


# ---- images ----------------------------------------------------------------------------------

def _load(value: str, base_dir: Path | None, size: tuple[int, int]) -> Image.Image | None:
    """An input image as RGB, or None when it is a URL (shown as a card). Unreadable local
    files and data URIs raise AnimaticError."""
    if value.startswith("video-last-frame:"):
        video = Path(value.removeprefix("video-last-frame:"))
        try:
            return frame_image(video, "last")
        except MediaError as e:
            raise AnimaticError(f"cannot read the reference video: {e}") from e
    if value.startswith("data:"):
        return _decode(_data_uri_bytes(value), _describe_data_uri(value), size)
    path = _local_path(value, base_dir)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as e:
        raise AnimaticError(f"cannot read input image {path}: {e.strerror or e}") from e
    return _decode(data, str(path), size)


def _data_uri_bytes(uri: str) -> bytes:
    header, sep, payload = uri.partition(",")
    if not sep:
        raise AnimaticError(f"malformed data URI: {_describe_data_uri(uri)}")
    try:
        if header.endswith(";base64"):
            return base64.b64decode(payload, validate=False)
        from urllib.parse import unquote_to_bytes

        return unquote_to_bytes(payload)
    except (binascii.Error, ValueError) as e:
        raise AnimaticError(f"malformed base64 in data URI {_describe_data_uri(uri)}: {e}") from e


def _describe_data_uri(uri: str) -> str:
    return f"{uri.partition(',')[0]},... ({len(uri)} chars)"


def _decode(data: bytes, what: str, size: tuple[int, int]) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", size)  # JPEG: decode big photos at a reduced scale, much faster
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                flat = Image.new("RGB", rgba.size, (0, 0, 0))
                flat.paste(rgba, mask=rgba.getchannel("A"))
                return flat
            return im.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise AnimaticError(f"cannot decode input image {what}: {e}") from e


def _cover(im: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale and centre-crop to fill `size` exactly (what a generated clip of that size shows)."""
    if im.size == size:
        return im
    return ImageOps.fit(im, size, method=Image.Resampling.BICUBIC)


def _raw_input(im: Image.Image, path: Path) -> list[str]:
    # Raw pixels: no PNG encode/decode cost, and ffmpeg reads them as a one-frame video.
    path.write_bytes(im.tobytes())
    pix_fmt = {"RGB": "rgb24", "RGBA": "rgba"}[im.mode]
    return ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-video_size", f"{im.width}x{im.height}",
            "-framerate", str(FPS), "-i", str(path)]


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def _card_colour(key: str) -> tuple[int, int, int]:
    h = _hash("card:" + key)
    r, g, b = colorsys.hsv_to_rgb((h % 360) / 360, 0.45, 0.38)  # dark enough for white text
    return round(r * 255), round(g * 255), round(b * 255)


def _card(heading: str, note: str | None, size: tuple[int, int], band_height: int, key: str) -> Image.Image:
    """A solid card with the clip's title, centred in the area above the captions."""
    w, h = size
    im = Image.new("RGB", size, _card_colour(key))
    draw = ImageDraw.Draw(im)
    area = max(h - band_height, h // 2)
    title_size, note_size = max(12, min(w, h) // 11), max(9, min(w, h) // 34)
    lines = wrap(heading, font(heading, title_size, bold=True), int(w * 0.86), 3)
    notes = wrap(note, font(note, note_size), int(w * 0.86), 2) if note else []
    title_h, note_h = line_height(title_size), line_height(note_size)
    y = (area - title_h * len(lines) - (note_h * (len(notes) + 0.5) if notes else 0)) / 2
    for line in lines:
        draw.text((w / 2, y), line, font=font(line, title_size, bold=True), fill=(255, 255, 255), anchor="ma")
        y += title_h
    y += note_h * 0.5
    for line in notes:
        draw.text((w / 2, y), line, font=font(line, note_size), fill=(220, 220, 220), anchor="ma")
        y += note_h
    return im


def _first_words(prompt: str, n: int = 6) -> str:
    words = prompt.split()
    if not words:
        return "untitled"
    if len(words) == 1 or has_wide(prompt):
        return shorten(prompt.strip(), 24)
    return " ".join(words[:n]) + (" …" if len(words) > n else "")


def _caption_band(c: Captions, seconds: int, width: int, height: int) -> Image.Image:
    """The caption block: a translucent band as tall as its text, at most CAPTION_MAX_SHARE of
    the frame. Name, then action (<= 3 lines), camera, dialogue; what does not fit is cut."""
    size = max(9, round(min(width, height) / 28))  # the short side, so portrait text fits too
    pad = max(3, size // 2)
    text_w = width - 2 * max(4, width // 40)
    line_h = line_height(size)
    budget = max(1, int((height * CAPTION_MAX_SHARE - 2 * pad) // line_h))

    name = f"{c.name}  ·  {seconds}s" if c.name else f"{seconds}s"
    rows: list[tuple[str, bool, tuple[int, int, int]]] = [(name, True, (255, 214, 102))]
    tail: list[tuple[str, bool, tuple[int, int, int]]] = []
    if c.camera:
        tail.append((f"camera: {c.camera}", False, (170, 210, 255)))
    for speaker, line in list(c.dialogue)[:4]:
        tail.append((f"{speaker}: “{line}”" if speaker else line, False, (255, 255, 255)))
    action_lines = max(1, min(3, budget - 1 - len(tail)))
    body_rows: list[tuple[str, bool, tuple[int, int, int]]] = []
    if c.action.strip():
        face = font(c.action, size)
        body_rows = [(t, False, (235, 235, 235)) for t in wrap(c.action, face, text_w, action_lines)]
    out_rows: list[tuple[str, bool, tuple[int, int, int]]] = []
    for text, bold, colour in rows + body_rows + tail:
        wrapped = wrap(text, font(text, size, bold=bold), text_w, 1)
        if wrapped:
            out_rows.append((wrapped[0], bold, colour))
    out_rows = out_rows[:budget]

    band_h = min(height, 2 * pad + line_h * len(out_rows))
    band_h += band_h % 2  # keeps the overlay on the 4:2:0 chroma grid
    im = Image.new("RGBA", (width, band_h), (0, 0, 0, 150))
    draw = ImageDraw.Draw(im)
    y = pad
    for text, bold, colour in out_rows:
        draw.text(((width - text_w) / 2, y), text, font=font(text, size, bold=bold), fill=colour + (255,))
        y += line_h
    return im


# ---- motion, sound, ffmpeg -------------------------------------------------------------------

@dataclass(frozen=True)
class _Motion:
    """Ken Burns: zoom factor and focus point (as a share of the free margin) over the clip."""

    z0: float
    z1: float
    bulge: float  # > 0: zoom 1 -> 1+bulge -> 1, so the clip starts and ends on its frames exactly
    fx0: float
    fy0: float
    fx1: float
    fy1: float


def _motion(key: str, *, has_first: bool, has_last: bool) -> _Motion:
    rng = random.Random(_hash("motion:" + key))
    depth = rng.uniform(0.08, 0.14)
    fx0, fy0, fx1, fy1 = (rng.uniform(0.2, 0.8) for _ in range(4))
    if has_first and has_last:
        return _Motion(1.0, 1.0, depth, fx0, fy0, fx1, fy1)
    if has_last:  # end exactly on the last frame
        return _Motion(1.0 + depth, 1.0, 0.0, fx0, fy0, fx1, fy1)
    if has_first or rng.random() < 0.6:  # start exactly on the first frame, or a push-in
        return _Motion(1.0, 1.0 + depth, 0.0, fx0, fy0, fx1, fy1)
    return _Motion(1.0 + depth, 1.0, 0.0, fx0, fy0, fx1, fy1)


def _num(x: float) -> str:
    return f"{x:.6f}".rstrip("0").rstrip(".") or "0"


def _perspective(m: _Motion, frames: int) -> str:
    """The `perspective` filter that shows the moving sub-rectangle of the frame."""
    p = f"(in/{max(frames - 1, 1)})"
    z = f"(1+{_num(m.bulge)}*sin(PI*{p}))" if m.bulge else f"({_num(m.z0)}+{_num(m.z1 - m.z0)}*{p})"
    fx = f"({_num(m.fx0)}+{_num(m.fx1 - m.fx0)}*{p})"
    fy = f"({_num(m.fy0)}+{_num(m.fy1 - m.fy0)}*{p})"
    x, y = f"((W-W/{z})*{fx})", f"((H-H/{z})*{fy})"
    x2, y2 = f"({x}+W/{z})", f"({y}+H/{z})"
    corners = dict(x0=x, y0=y, x1=x2, y1=y, x2=x, y2=y2, x3=x2, y3=y2)
    return "perspective=" + ":".join(f"{k}='{v}'" for k, v in corners.items()) + ":interpolation=linear:eval=frame"


def _pitch(prompt: str) -> float:
    # A pentatonic note between A3 and A4: different clips sound different, never shrill.
    semitones = (0, 2, 4, 7, 9, 12)[_hash("tone:" + prompt) % 6]
    return 220.0 * 2 ** (semitones / 12)


def _filter_graph(*, frames: int, seconds: int, size: tuple[int, int], band_height: int, has_last: bool,
                  audio: bool, soundtrack: bool, motion: _Motion | None, pitch: float) -> tuple[str, list[str]]:
    w, h = size
    # Convert each still to BT.709 4:2:0 once, then repeat it `frames` times with exact timestamps.
    still = (f"scale=out_color_matrix=bt709:out_range=tv,format={{fmt}},loop=loop={frames - 1}:size=1:start=0,"
             f"setpts=N/{FPS}/TB")
    parts = [f"[0:v]{still.format(fmt='yuv420p')}[first]"]
    picture = "[first]"
    caption_input = 1
    if has_last:
        caption_input = 2
        fade = f"fade=t=in:st=0:d={_num((frames - 1) / FPS)}:alpha=1"  # fully opaque on the final frame
        parts.append(f"[1:v]{still.format(fmt='yuva420p')},{fade}[last]")
        parts.append("[first][last]overlay=format=yuv420:eof_action=pass[both]")
        picture = "[both]"
    parts.append(f"{picture}{_perspective(motion, frames) if motion else 'null'}[moving]")
    parts.append(f"[{caption_input}:v]scale=out_color_matrix=bt709:out_range=tv,format=yuva420p[cap]")
    # Captions and the bar stay off the very first and last frames: `continue` and `morph` hand
    # those frames to the next animatic, which must not inherit a burned-in caption.
    inner = f"enable='between(n,1,{max(frames - 2, 1)})'"
    parts.append(f"[moving][cap]overlay=x=0:y={h - band_height}:format=yuv420:eof_action=repeat:{inner}[captioned]")
    # A progress bar along the bottom edge that fills up exactly on the last frame: shows where
    # in the clip a frame is (overlay evaluates x per frame; drawbox only once).
    bar_h = max(2, round(h / 120 / 2) * 2)
    parts.append(f"color=c=white@0.7:s={w}x{bar_h}:r={FPS}:d={_num(1 / FPS)},format=yuva420p[bar]")
    parts.append(f"[captioned][bar]overlay=x='-w+w*n/{max(frames - 1, 1)}':y={h - bar_h}:format=yuv420:"
                 f"eof_action=repeat:{inner},"
                 "setsar=1,format=yuv420p[v]")
    maps = ["-map", "[v]"]
    if audio:
        fades = f"afade=t=in:d={FADE_S},afade=t=out:st={_num(seconds - FADE_S)}:d={FADE_S}"
        if soundtrack:
            parts.append(f"[{caption_input + 1}:a]aresample={SAMPLE_RATE},"
                         "aformat=sample_fmts=fltp:channel_layouts=stereo,"
                         f"apad,atrim=0:{seconds},asetpts=N/SR/TB,{fades}[a]")
        else:
            parts.append(f"aevalsrc='{_num(TONE_AMPLITUDE)}*sin(2*PI*{_num(pitch)}*t)':s={SAMPLE_RATE}:c=stereo:d={seconds},{fades}[a]")
        maps += ["-map", "[a]"]
    return ";".join(parts), maps


def _encode_args(seconds: int, audio: bool) -> list[str]:
    args = [
        "-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-pix_fmt", "yuv420p",
        # Closed GOPs with a keyframe every second: cheap exact cuts and seeks for the stitcher.
        "-g", str(FPS), "-keyint_min", str(FPS), "-sc_threshold", "0", "-flags", "+cgop",
        "-r", str(FPS), "-fps_mode", "cfr",
        "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv",
        "-video_track_timescale", str(FPS * 512),
    ]
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k", "-ar", str(SAMPLE_RATE), "-ac", "2"]
    else:
        args += ["-an"]
    return args + ["-t", str(seconds), "-movflags", "+faststart", "-f", "mp4"]
