"""Subtitles burned into the GOPs that show a cue (moviepy), drawn with the text layout the
animatic's captions share (`media.text.frame_layout`), and the cue clip the moviepy composition
shares with it."""

from __future__ import annotations

from pathlib import Path
from collections.abc import Callable

import numpy as np

from .base import Encoder, FPS, Join, StitchError
from .clips import AudioSource, Slot
from .probe import scan_video, VideoScan
from .video import (
    concat_line, copy_entry, first_key_at_or_after, last_key_at_or_before, Strand, Video,
)
from .workspace import Workspace


def parse_srt(path: Path) -> list[tuple[float, float, str]]:
    """Cues of an .srt file as (start s, end s, text)."""
    def seconds(stamp: str) -> float:
        hms, _, ms = stamp.strip().replace(".", ",").partition(",")
        h, m, s = (int(x) for x in hms.split(":"))
        return h * 3600 + m * 60 + s + int(ms or 0) / 1000

    cues = []
    text = path.read_text(encoding="utf-8-sig", errors="replace").replace("\r\n", "\n")
    for block in text.split("\n\n"):
        lines = [ln for ln in block.strip().split("\n") if ln.strip()]
        timing = next((k for k, ln in enumerate(lines) if "-->" in ln), None)
        if timing is None:
            continue
        start, _, end = lines[timing].partition("-->")
        body = "\n".join(lines[timing + 1:]).strip()
        if body:
            cues.append((seconds(start), seconds(end.split()[0]), body))
    return cues


def subtitle_windows(cues: list[tuple[float, float, str]],
                     scan: VideoScan) -> list[tuple[int, int]]:
    """Frame ranges to re-render: each cue widened to the keyframes around it, merged."""
    spans: list[tuple[int, int]] = []
    for start, end, _ in sorted(cues):
        a = max(0, int(start * FPS))
        b = min(scan.frames, int(np.ceil(end * FPS)))
        if b <= a:
            continue
        a = last_key_at_or_before(scan.keyframes, a) or 0
        b = first_key_at_or_after(scan.keyframes, b, scan.frames)
        if spans and a <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], b))
        else:
            spans.append((a, b))
    return spans


def subtitle_clip(text: str, size: tuple[int, int], start: float, end: float):
    """One cue as a moviepy clip shown from `start` to `end` (s) on a picture of `size`: the
    picture `media.text` lays out for every subtitle (inside the subtitle zone the animatic's
    captions stay out of), where it goes. The stitcher's burn-in and the moviepy composition
    draw cues with it."""
    from moviepy import ImageClip

    from ..media.text import DRAW_LOCK, frame_layout, subtitle_image

    w, h = size
    with DRAW_LOCK:
        image, at = subtitle_image(text, frame_layout(w, h))
    return ImageClip(np.asarray(image), transparent=True).with_start(start).with_end(end).with_position(at)


def burn_in_subtitles(joined: Video, srt: Path, ws: Workspace, enc: Encoder,
                      note: Callable[[str], None]) -> Video:
    """Burn the cues into the GOPs that show them (moviepy) and copy the rest of the joined video;
    returns the pieces of the new video."""
    from moviepy import CompositeVideoClip, VideoFileClip

    cues = parse_srt(srt)
    video = joined.path
    scan = scan_video(video)
    spans = subtitle_windows(cues, scan)
    slot = Slot("film", Join("cut"), video, scan, AudioSource(None), 0, scan.frames)
    lines, at, delays = ["ffconcat version 1.0"], 0, [joined.delay]
    film = VideoFileClip(str(video), audio=False)
    try:
        w, h = film.size
        for n, (a, b) in enumerate(spans):
            if a > at:
                lines += copy_entry(ws, slot, Strand(0, at, a - at))
            out = ws.run / f"subs{n:04d}.mp4"
            seg = film.subclipped(a / FPS, b / FPS).with_duration((b - a + 0.5) / FPS)
            texts = []
            for start, end, body in cues:
                s, e = max(start, a / FPS), min(end, b / FPS)
                if e > s:
                    texts.append(subtitle_clip(body, (w, h), s - a / FPS, e - a / FPS))
            comp = CompositeVideoClip([seg, *texts], size=(w, h), bg_color=(0, 0, 0))
            comp = comp.with_duration((b - a + 0.5) / FPS)
            comp.write_videofile(str(out), fps=FPS, codec="libx264", audio=False, preset="veryfast",
                                 ffmpeg_params=enc.moviepy_params(), logger=None,
                                 temp_audiofile_path=str(ws.run))
            comp.close()
            made = scan_video(out)
            if made.frames != b - a:
                raise StitchError(
                    f"subtitle window {a}-{b} came out with {made.frames} frames, not {b - a}")
            delays.append(made.delay)
            lines += [concat_line(ws, out), f"duration {(b - a) / FPS:.6f}"]
            at = b
        if at < scan.frames:
            lines += copy_entry(ws, slot, Strand(0, at, scan.frames - at))
    finally:
        film.close()
    note(f"burned {len(cues)} subtitles from {srt.name} into {len(spans)} windows "
         f"({sum(b - a for a, b in spans)} frames re-encoded with moviepy)")
    return Video(ws.write_list("subtitled.ffconcat", lines), max(delays))
