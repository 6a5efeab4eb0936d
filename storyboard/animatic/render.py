"""Animatics: the offline stand-in for a generated clip (the only place that draws them).

One clip = one Seedance-shaped request body rendered at its real duration and size. With the
plan's clip, each beat is a panel of its own (`board`), cut to at the beat's time: its place (or
the clip's first frame) behind, the cast it mentions in front (`compose`), moved as its camera
words say or held still. Without it, one panel over the body's first frame or reference image,
or a coloured title card. A first frame with a last frame cross-fades between the two. Captions
sit in a band at the top of the title-safe area (`captions`; burned-in subtitles use its bottom),
one at a time, with each line of dialogue while it is spoken (`speech`), which a scratch voice
reads where espeak-ng is installed (`voice`); under it a quiet tone or the reference soundtrack,
or no audio stream at all when the body turns audio off.

Speed is the point (a fast edit -> preview loop), so Python only draws stills (Pillow, once) and
ffmpeg does all per-frame work in a single invocation. The motion uses the `perspective` filter
evaluated per frame: it samples with sub-pixel precision, whereas `zoompan` and `scale`+`crop`
snap to whole pixels and visibly judder at Ken Burns speeds (< 1 px per frame).
"""

from __future__ import annotations

import base64
import binascii
import colorsys
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
from ..media.text import DRAW_LOCK, Box, FrameLayout, font, frame_layout, has_wide, line_height, shorten, wrap
from ..providers.seedance import audio_enabled, body_seconds, body_size, media_lists
from ..speech import Spoken, schedule
from . import voice
from .board import Board, Move, Panel, board_from_captions, board_from_clip, stable_hash
from .captions import CaptionTrack, band_height, caption_track, draw_band
from .compose import Placed, compose

FPS = 24
SAMPLE_RATE = 48000
TONE_AMPLITUDE = 10 ** (-30 / 20)  # -30 dBFS peak: audible in a preview, never annoying
FADE_S = 0.02  # audio fades at both ends, so cuts between clips do not click
VOICE_GAIN = 0.9  # the scratch voice, well above the tone
_SPOKEN_RE = re.compile(r'^(.+?):\s*["“](.*)["”]$')  # a caption line 'Speaker: "line"'


class AnimaticError(Exception):
    """The animatic could not be rendered (unreadable input image, ffmpeg failure, bad body)."""


def _caption_name(clip: Any) -> str:
    """The clip's timeline name, with its take when it has several: the same whichever is picked."""
    name = getattr(clip, "take_of", None) or clip.name
    return f"{name} · take {clip.take}" if getattr(clip, "takes", 1) > 1 else name


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
        return cls(name=_caption_name(clip), action=clip.action or str(prompt), camera=clip.camera,
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

PICTURE_VERSION = 3  # goes into the preview's cache keys: a new drawing re-renders old animatics


@dataclass(frozen=True)
class AnimaticLayout:
    """What `render_animatic` drew where and when (for tests, and for anyone placing text over
    it): the text layout, the caption track, each panel's frames and figures, the spoken lines."""

    size: tuple[int, int]
    frames: int
    text: FrameLayout
    captions: CaptionTrack
    panels: tuple[tuple[int, int], ...]  # each panel's frames [first, end)
    figures: tuple[tuple[Placed, ...], ...]  # where each panel's figures stand
    spoken: tuple[Spoken, ...]
    voiced: int  # how many lines the scratch voice reads


def render_animatic(body: dict[str, Any], out: Path, *, title: str | None = None,
                    captions: Captions | None = None, base_dir: Path | None = None, clip: Any = None,
                    edges: tuple[float, float] = (0.0, 0.0)) -> AnimaticLayout:
    """Render the clip a request body describes to `out` (mp4, written atomically) and say what
    was drawn where.

    `clip` is the plan's `PlannedClip` for this body (the engine passes it): its beats become
    panels with their cast composed in (see `board` and `compose`). Without it, `captions`
    (anything `Captions.coerce` takes; default: the body's prompt) make one panel over the
    body's first picture. `title` names the clip on its card and caption. `edges` are the
    seconds this clip overlaps the clips before and after it in the film (dissolves, wipes):
    its caption stays out of them.

    Image inputs may be local paths (absolute or relative to `base_dir`), `data:image/...;base64`
    URIs, or http(s) URLs (never fetched: a card stands in). A local input that cannot be read
    raises AnimaticError, as the real API would refuse it.
    """
    out = Path(out)
    seconds = _seconds(body)
    size = _size(body)
    prompt = str(body.get("prompt") or "")
    key = str(body["seed"]) if body.get("seed") is not None else prompt
    frames = seconds * FPS
    if clip is not None:
        board = board_from_clip(clip, body, seconds)
    else:
        board = board_from_captions(Captions.coerce(captions) or Captions(name=title, action=prompt), seconds)
    sources = _picture_sources(body, base_dir, references=clip is None)
    first = board.opening or sources.first
    load = _Loader(base_dir, size)
    base_img = load.picture(first) if first else None
    last_img = load.picture(sources.last) if sources.last else None
    note = _unfetched_note(first) or _unfetched_note(sources.last)
    text = frame_layout(*size)
    spoken = schedule(board.dialogue, seconds) if board.dialogue else []
    with DRAW_LOCK:  # FreeType faces are shared between threads
        band_h = band_height(board, text, title)
        track = caption_track(board, spoken, frames, FPS, edges, text, band_h)
        bands = {(sg.panel, sg.spoken): draw_band(board, _panel(board, sg.panel),
                                                  spoken[sg.spoken] if sg.spoken is not None else None,
                                                  text, band_h, title)
                 for sg in track.segments}
        stage = Box(0, track.band.bottom, size[0], size[1] - track.band.bottom)
        stills = [_still(board, p, size, stage, load, key, base_img, note, title) for p in board.panels]
    spans = _panel_frames(board, frames)
    exact = sources.first_is_frame  # an image-to-video clip starts exactly on its first frame
    moves = [_panel_motion(p, key, exact=exact and i == 0, card=base_img is None and not p.figures
                           and p.background is None)
             for i, p in enumerate(board.panels)]
    if last_img is not None:  # first and last frames: one picture cross-fading, moving only if told
        moves = [_motion(key, has_first=sources.first_is_frame, has_last=True) if board.panels[0].move else None]
        spans = [(0, frames)]
    soundtrack = _soundtrack(body, base_dir) if audio_enabled(body) else None

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = temp_sibling(out, ".mp4")
    with tempfile.TemporaryDirectory(prefix="animatic-") as tmp:
        tmpdir = Path(tmp)
        voices = _voices(spoken, tmpdir) if audio_enabled(body) else []
        job = _Job(tmpdir)
        graph, maps = _filter_graph(
            job, frames=frames, seconds=seconds, size=size, stills=[s for s, _ in stills], spans=spans,
            moves=moves, last=last_img, track=track, bands=bands, audio=audio_enabled(body),
            soundtrack=soundtrack, voices=voices, pitch=_pitch(prompt))
        args = job.args + ["-filter_complex", graph] + maps + _encode_args(seconds, audio_enabled(body))
        try:
            run_ffmpeg(args + [str(tmp_out)], what=f"rendering animatic {out.name}", error=AnimaticError)
            os.replace(tmp_out, out)
        finally:
            tmp_out.unlink(missing_ok=True)
    return AnimaticLayout(size, frames, text, track, tuple(spans), tuple(tuple(p) for _, p in stills),
                          tuple(spoken), len(voices))


def _panel(board: Board, index: int) -> Panel | None:
    return board.panels[index - 1] if index else None


def _panel_frames(board: Board, frames: int) -> list[tuple[int, int]]:
    """Each panel's frames: from its start (rounded to a frame) to the next panel's."""
    starts = [min(frames - 1, max(0, round(p.start * FPS))) for p in board.panels]
    starts[0] = 0
    ends = starts[1:] + [frames]
    return [(a, max(a + 1, b)) for a, b in zip(starts, ends, strict=True)]


def _still(board: Board, panel: Panel, size: tuple[int, int], stage: Box, load: _Loader, key: str,
           base: Image.Image | None, note: str | None, title: str | None) -> tuple[Image.Image, list[Placed]]:
    """A panel's picture: composed, or a title card when there is nothing to show."""
    if panel.background is None and base is None and not panel.figures:
        heading = title or board.name or _first_words(panel.text)
        if len(board.panels) > 1:
            heading = f"{heading} · shot {panel.index}"
        return _card(heading, note, size, stage, f"{key}:{panel.index}"), []
    return compose(panel, size, stage, load.figure, key, base)


_MOVE_PATHS = {  # (z0, z1, fx0, fx1, fy0, fy1) for depth d; None: the focus the take picks
    "push_in": (0, 1, None, None, None, None),
    "pull_back": (1, 0, None, None, None, None),
    "pan_left": (1, 1, 1.0, 0.0, 0.5, 0.5),
    "pan_right": (1, 1, 0.0, 1.0, 0.5, 0.5),
    "tilt_up": (1, 1, 0.5, 0.5, 1.0, 0.0),
    "tilt_down": (1, 1, 0.5, 0.5, 0.0, 1.0),
    "crane_up": (1, 0.5, 0.5, 0.5, 1.0, 0.0),
    "crane_down": (0.5, 1, 0.5, 0.5, 0.0, 1.0),
}


def _panel_motion(panel: Panel, key: str, *, exact: bool, card: bool) -> _Motion | None:
    """The move a panel's camera words name, its depth and focus varying by take; None holds
    still. A panel that must start exactly on the clip's first frame starts unzoomed."""
    if card or panel.move is None or panel.move.kind not in _MOVE_PATHS:
        return None
    rng = random.Random(_hash(f"move:{key}:{panel.index}"))
    depth = min(0.3, rng.uniform(0.08, 0.14) * panel.move.speed)
    z0, z1, fx0, fx1, fy0, fy1 = _MOVE_PATHS[panel.move.kind]
    if exact and z0:
        return _move_from_the_frame(panel.move, depth, rng)
    fx, fy = rng.uniform(0.3, 0.7), rng.uniform(0.25, 0.6)
    return _Motion(1 + depth * z0, 1 + depth * z1, 0.0, fx if fx0 is None else fx0, fy if fy0 is None else fy0,
                   fx if fx1 is None else fx1, fy if fy1 is None else fy1)


REVEAL = (0.18, 0.24)  # a reveal from the exact frame shows this much more of the scene (share of a side)
_REVEAL_FOCUS = {"pull_back": 0.5, "crane_up": 0.85}  # where the frame ends up in the wider view (height)


def _move_from_the_frame(move: Move, depth: float, rng: random.Random) -> _Motion:
    """A move that starts exactly on the clip's first frame (an extension opens on the last
    frame of the clip it extends). Moving out (`pull back`, `crane up`) is a reveal: the frame
    shrinks into a wider view whose border is the frame itself, enlarged and blurred
    (`_with_border`); the others push in a little while they drift their way."""
    _, _, _, fx1, _, fy1 = _MOVE_PATHS[move.kind]
    if move.kind in _REVEAL_FOCUS:
        wider = min(0.45, rng.uniform(*REVEAL) * max(1.0, move.speed))
        fx, fy = rng.uniform(0.42, 0.58), _REVEAL_FOCUS[move.kind]
        return _Motion(1.0, 1 / (1 + wider), 0.0, fx, fy, fx, fy)
    fx, fy = rng.uniform(0.3, 0.7), rng.uniform(0.25, 0.6)
    return _Motion(1.0, 1 + depth, 0.0, 0.5, 0.5, fx if fx1 is None else fx1, fy if fy1 is None else fy1)


BORDER_BLUR = 0.04  # of the frame's width: the blur of the border a reveal opens onto
BORDER_DIM = 0.78  # the border is a little darker than the frame, which stays the subject


def _border(m: _Motion, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The margin (left, top, right, bottom) a move that zooms below 1 (a reveal) sees around the
    frame, each side only as wide as the view goes there, rounded up to even pixels with two to
    spare for the linear sampling at its edge; (0, 0, 0, 0) for any other move. (Every pixel of
    the margin costs time in each frame: the `perspective` filter maps the whole input.)"""
    zmin = min(m.z0, m.z1)
    if zmin >= 1:
        return 0, 0, 0, 0
    wider = 1 / zmin - 1

    def side(length: int, share: float) -> int:
        need = int(length * wider * share + 2) + 1
        return need + need % 2

    (w, h), fx, fy = size, max(m.fx0, m.fx1), max(m.fy0, m.fy1)
    return side(w, fx), side(h, fy), side(w, 1 - min(m.fx0, m.fx1)), side(h, 1 - min(m.fy0, m.fy1))


def _with_border(im: Image.Image, border: tuple[int, int, int, int]) -> Image.Image:
    """The frame in the middle of a wider picture: itself enlarged to cover it, blurred and
    dimmed, so a reveal opens onto the same colours and light rather than onto black."""
    from PIL import ImageEnhance, ImageFilter

    left, top, right, bottom = border
    wide = (im.width + left + right, im.height + top + bottom)
    small = ImageOps.fit(im, (max(16, wide[0] // 8), max(16, wide[1] // 8)), method=Image.Resampling.BILINEAR)
    radius = max(1.0, BORDER_BLUR * small.width)  # blurred small, then enlarged: cheap and smooth
    back = small.filter(ImageFilter.GaussianBlur(radius)).resize(wide, Image.Resampling.BICUBIC)
    back = ImageEnhance.Brightness(back).enhance(BORDER_DIM)
    back.paste(im, (left, top))
    return back


def _voices(spoken: list[Spoken], tmpdir: Path) -> list[tuple[Spoken, Path]]:
    out = []
    for line in spoken:
        wav = voice.say(line.line, tmpdir / f"line{line.index}.wav")
        if wav is not None:
            out.append((line, wav))
    return out


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


def _picture_sources(body: dict[str, Any], base_dir: Path | None, *, references: bool = True) -> _Sources:
    """The clip's own pictures: its first and last frames, else (`references`) its first
    reference image, else the last frame of the video it extends."""
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
    if references and media["reference_images"]:
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

def _load(value: str, base_dir: Path | None, size: tuple[int, int], *, keep_alpha: bool = False
          ) -> Image.Image | None:
    """An input image as RGB, or None when it is a URL (shown as a card). Unreadable local
    files and data URIs raise AnimaticError."""
    if value.startswith("video-last-frame:"):
        video = Path(value.removeprefix("video-last-frame:"))
        try:
            return frame_image(video, "last")
        except MediaError as e:
            raise AnimaticError(f"cannot read the reference video: {e}") from e
    if value.startswith("data:"):
        return _decode(_data_uri_bytes(value), _describe_data_uri(value), size, keep_alpha)
    path = _local_path(value, base_dir)
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as e:
        raise AnimaticError(f"cannot read input image {path}: {e.strerror or e}") from e
    return _decode(data, str(path), size, keep_alpha)


class _Loader:
    """Images of one render, each decoded once: pictures (RGB) and figures (alpha kept). A URL
    is never fetched: a figure shows as a card with its name, a picture as None."""

    def __init__(self, base_dir: Path | None, size: tuple[int, int]):
        self.base_dir, self.size = base_dir, size
        self._seen: dict[tuple[str, bool], Image.Image | None] = {}

    def picture(self, value: str) -> Image.Image | None:
        if (value, False) not in self._seen:
            self._seen[value, False] = _load(value, self.base_dir, self.size)
        return self._seen[value, False]

    def figure(self, value: str) -> Image.Image:
        if (value, True) not in self._seen:
            im = _load(value, self.base_dir, self.size, keep_alpha=True)
            self._seen[value, True] = im if im is not None else _name_card(value)
        return self._seen[value, True]


def _name_card(value: str) -> Image.Image:
    """Stands in for a reference that is only a URL (not fetched offline)."""
    im = Image.new("RGB", (300, 400), _card_colour(value))
    draw = ImageDraw.Draw(im)
    name = value.rsplit("/", 1)[-1] or value
    with_font = font(name, 22)
    for i, line in enumerate(wrap(name, with_font, 270, 4)):
        draw.text((150, 150 + i * line_height(22)), line, font=with_font, fill=(255, 255, 255), anchor="ma")
    return im


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


def _decode(data: bytes, what: str, size: tuple[int, int], keep_alpha: bool = False) -> Image.Image:
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", size)  # JPEG: decode big photos at a reduced scale, much faster
            im.load()
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
                rgba = im.convert("RGBA")
                if keep_alpha:
                    return rgba
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


_hash = stable_hash


def _raw_input(im: Image.Image, path: Path) -> list[str]:
    # Raw pixels: no PNG encode/decode cost, and ffmpeg reads them as a one-frame video.
    path.write_bytes(im.tobytes())
    pix_fmt = {"RGB": "rgb24", "RGBA": "rgba"}[im.mode]
    return ["-f", "rawvideo", "-pix_fmt", pix_fmt, "-video_size", f"{im.width}x{im.height}",
            "-framerate", str(FPS), "-i", str(path)]


def _card_colour(key: str) -> tuple[int, int, int]:
    h = _hash("card:" + key)
    r, g, b = colorsys.hsv_to_rgb((h % 360) / 360, 0.45, 0.38)  # dark enough for white text
    return round(r * 255), round(g * 255), round(b * 255)


def _card(heading: str, note: str | None, size: tuple[int, int], area: Box, key: str) -> Image.Image:
    """A solid card with the clip's title, centred in `area` (below the caption band)."""
    w, h = size
    im = Image.new("RGB", size, _card_colour(key))
    draw = ImageDraw.Draw(im)
    title_size, note_size = max(12, min(w, h) // 11), max(9, min(w, h) // 34)
    lines = wrap(heading, font(heading, title_size, bold=True), int(w * 0.86), 3)
    notes = wrap(note, font(note, note_size), int(w * 0.86), 2) if note else []
    title_h, note_h = line_height(title_size), line_height(note_size)
    y = area.y + (area.h - title_h * len(lines) - (note_h * (len(notes) + 0.5) if notes else 0)) / 2
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


def _perspective(m: _Motion, frames: int, size: tuple[int, int] | None = None,
                 border: tuple[int, int, int, int] = (0, 0, 0, 0)) -> str:
    """The `perspective` filter that shows the moving sub-rectangle of the frame. With a
    `border` (a reveal: the input is the frame of `size` inside that margin, `_with_border`),
    it maps the whole input and a crop keeps the frame's part: at zoom 1 that is the frame
    itself, pixel for pixel."""
    p = f"(in/{max(frames - 1, 1)})"
    z = f"(1+{_num(m.bulge)}*sin(PI*{p}))" if m.bulge else f"({_num(m.z0)}+{_num(m.z1 - m.z0)}*{p})"
    fx = f"({_num(m.fx0)}+{_num(m.fx1 - m.fx0)}*{p})"
    fy = f"({_num(m.fy0)}+{_num(m.fy1 - m.fy0)}*{p})"
    if not any(border):
        x, y = f"((W-W/{z})*{fx})", f"((H-H/{z})*{fy})"
        x2, y2 = f"({x}+W/{z})", f"({y}+H/{z})"
    else:  # the input's corners sample the margin around the view of the frame
        (w, h), (bx, by) = size, border[:2]
        x, y = f"({bx}+({w}-{w}/{z})*{fx}-{bx}/{z})", f"({by}+({h}-{h}/{z})*{fy}-{by}/{z})"
        x2, y2 = f"({x}+W/{z})", f"({y}+H/{z})"
    corners = dict(x0=x, y0=y, x1=x2, y1=y, x2=x, y2=y2, x3=x2, y3=y2)
    out = "perspective=" + ":".join(f"{k}='{v}'" for k, v in corners.items()) + ":interpolation=linear:eval=frame"
    return f"{out},crop={size[0]}:{size[1]}:{border[0]}:{border[1]}" if any(border) else out


def _pitch(prompt: str) -> float:
    # A pentatonic note between A3 and A4: different clips sound different, never shrill.
    semitones = (0, 2, 4, 7, 9, 12)[_hash("tone:" + prompt) % 6]
    return 220.0 * 2 ** (semitones / 12)


class _Job:
    """The ffmpeg inputs of one render, numbered in the order they are added."""

    def __init__(self, tmpdir: Path):
        self.tmpdir, self.args, self.count = tmpdir, [], 0
        self._files: dict[int, list[str]] = {}

    def still(self, im: Image.Image) -> int:
        """A picture as a one-frame raw video input (no PNG encode/decode cost); a picture given
        twice is written once."""
        known = self._files.get(id(im))
        if known is None:
            known = _raw_input(im, self.tmpdir / f"still{len(self._files)}.raw")
            self._files[id(im)] = known
        return self._add(known)

    def file(self, path: Path) -> int:
        return self._add(["-i", str(path)])

    def _add(self, args: list[str]) -> int:
        self.args += args
        self.count += 1
        return self.count - 1


# Convert a still to BT.709 4:2:0 once, then repeat it with exact timestamps.
_STILL = ("scale=out_color_matrix=bt709:out_range=tv,format={fmt},loop=loop={n}:size=1:start=0,"
          f"setpts=N/{FPS}/TB")


def _picture_chain(job: _Job, stills: list[Image.Image], spans: list[tuple[int, int]],
                   moves: list[_Motion | None], last: Image.Image | None, size: tuple[int, int]) -> list[str]:
    """The moving picture as [moving]: each panel held for its frames and moved by its camera,
    cut to the next; or a first frame cross-fading into the last."""
    parts = []
    if last is not None:
        frames = spans[0][1]
        first, end = job.still(_cover(stills[0], size)), job.still(_cover(last, size))
        fade = f"fade=t=in:st=0:d={_num((frames - 1) / FPS)}:alpha=1"  # fully opaque on the final frame
        parts.append(f"[{first}:v]{_STILL.format(fmt='yuv420p', n=frames - 1)}[first]")
        parts.append(f"[{end}:v]{_STILL.format(fmt='yuva420p', n=frames - 1)},{fade}[last]")
        move = _perspective(moves[0], frames) if moves[0] else "null"
        parts.append(f"[first][last]overlay=format=yuv420:eof_action=pass,{move}[moving]")
        return parts
    labels = []
    for i, (im, (a, b), move) in enumerate(zip(stills, spans, moves, strict=True)):
        border = _border(move, size) if move else (0, 0, 0, 0)
        k = job.still(_with_border(im, border) if any(border) else im)
        motion = _perspective(move, b - a, size, border) if move else "null"
        parts.append(f"[{k}:v]{_STILL.format(fmt='yuv420p', n=b - a - 1)},{motion}[p{i}]")
        labels.append(f"[p{i}]")
    if len(labels) == 1:
        parts[-1] = parts[-1].removesuffix("[p0]") + "[moving]"
    else:  # a cut between beats is a cut
        parts.append(f"{''.join(labels)}concat=n={len(labels)}:v=1:a=0[moving]")
    return parts


def _caption_chain(job: _Job, track: CaptionTrack, bands: dict) -> list[str]:
    """The caption track as [cap]: each segment's band for its frames, faded at transitions."""
    parts, labels = [], []
    for i, sg in enumerate(track.segments):
        k = job.still(bands[sg.panel, sg.spoken])
        parts.append(f"[{k}:v]{_STILL.format(fmt='yuva420p', n=sg.end - sg.first - 1)}[c{i}]")
        labels.append(f"[c{i}]")
    fades = []
    if track.fade_in[1]:
        fades.append(f"fade=t=in:s={track.fade_in[0]}:n={track.fade_in[1]}:alpha=1")
    if track.fade_out[1]:
        fades.append(f"fade=t=out:s={track.fade_out[0]}:n={track.fade_out[1]}:alpha=1")
    joined = f"concat=n={len(labels)}:v=1:a=0" if len(labels) > 1 else "null"
    parts.append(f"{''.join(labels)}{joined}{''.join(',' + f for f in fades)}[cap]")
    return parts


def _audio_chain(job: _Job, *, seconds: int, soundtrack: Path | None, voices: list[tuple[Spoken, Path]],
                 pitch: float) -> list[str]:
    """[a]: the quiet tone (or the reference soundtrack) with the scratch voice on top."""
    fades = f"afade=t=in:d={FADE_S},afade=t=out:st={_num(seconds - FADE_S)}:d={FADE_S}"
    stereo = f"aresample={SAMPLE_RATE},aformat=sample_fmts=fltp:channel_layouts=stereo"
    if soundtrack is not None:
        k = job.file(soundtrack)
        parts = [f"[{k}:a]{stereo},apad,atrim=0:{seconds},asetpts=N/SR/TB[bed]"]
    else:
        tone = f"'{_num(TONE_AMPLITUDE)}*sin(2*PI*{_num(pitch)}*t)'"
        parts = [f"aevalsrc={tone}:s={SAMPLE_RATE}:c=stereo:d={seconds}[bed]"]
    if not voices:
        return [parts[0].removesuffix("[bed]") + f",{fades}[a]"]
    labels = []
    for i, (line, wav) in enumerate(voices):
        k = job.file(wav)
        ms = round(line.start * 1000)
        parts.append(f"[{k}:a]{stereo},volume={VOICE_GAIN},adelay=delays={ms}:all=1[v{i}]")
        labels.append(f"[v{i}]")
    parts.append(f"[bed]{''.join(labels)}amix=inputs={len(labels) + 1}:duration=first:normalize=0,"
                 f"atrim=0:{seconds},{fades}[a]")
    return parts


def _filter_graph(job: _Job, *, frames: int, seconds: int, size: tuple[int, int], stills: list[Image.Image],
                  spans: list[tuple[int, int]], moves: list[_Motion | None], last: Image.Image | None,
                  track: CaptionTrack, bands: dict, audio: bool, soundtrack: Path | None,
                  voices: list[tuple[Spoken, Path]], pitch: float) -> tuple[str, list[str]]:
    w, h = size
    parts = _picture_chain(job, stills, spans, moves, last, size) + _caption_chain(job, track, bands)
    parts.append(f"[moving][cap]overlay=x={track.band.x}:y={track.band.y}:format=yuv420:eof_action=repeat[captioned]")
    # A progress bar along the bottom edge that fills up exactly on the last frame: shows where
    # in the clip a frame is (overlay evaluates x per frame; drawbox only once). Like the
    # caption, it stays off the first and last frames, which other clips may start or end on.
    inner = f"enable='between(n,1,{max(frames - 2, 1)})'"
    bar_h = max(2, round(h / 120 / 2) * 2)
    parts.append(f"color=c=white@0.7:s={w}x{bar_h}:r={FPS}:d={_num(1 / FPS)},format=yuva420p[bar]")
    parts.append(f"[captioned][bar]overlay=x='-w+w*n/{max(frames - 1, 1)}':y={h - bar_h}:format=yuv420:"
                 f"eof_action=repeat:{inner},"
                 "setsar=1,format=yuv420p[v]")
    maps = ["-map", "[v]"]
    if audio:
        parts += _audio_chain(job, seconds=seconds, soundtrack=soundtrack, voices=voices, pitch=pitch)
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
