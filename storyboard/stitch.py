"""Stitch rendered clips into one film: plan + clip files -> film.mp4.

The only module importing moviepy.

Which tool does what, and why (measurements in /work/shared/reference/stitching.md, "§" below):

- ffmpeg (imageio-ffmpeg's binary) moves the pictures. Hard cuts between clips in the film format
  are never decoded: the concat demuxer stream-copies whole GOPs straight from the clip files
  (explicit inpoints plus -copyts keep the AAC priming from shifting the video, §5.5.3; a file
  whose video is not stream 0 in the common time base is remuxed first). A transition re-encodes
  only its window, from the last keyframe before it to the first keyframe after it (the hybrid of
  §5.5), in its own filter graph of at most two inputs (xfade has every wipe and is frame-exact),
  two windows at a time. Memory therefore does not grow with the number of clips (§5.6). Pieces
  may reorder frames by different depths (B-frames or not), so the final mux lays out the decode
  order afresh: DTS rise steadily and the track lasts exactly as long as its frames.
- The sound is decoded per clip (PyAV) and mixed sample-exactly in numpy (crossfades, fades,
  10 ms fades at cuts, 30 ms crossfades at extension seams, silence for clips without audio), one
  clip at a time, in background threads that encode it in process (PyAV's AAC encoder releases
  the GIL) while the video is assembled. It is encoded once for the whole film (stream-copying
  AAC drifts ~35 ms per join, §5.7); long films use two encoders in parallel, spliced at an AAC
  frame boundary, and the mux takes the first part while the second finishes. The final file is
  muxed by PyAV (packet copy, faststart) and checked against what was muxed into it.
- moviepy renders the subtitle burn-in, only on the GOPs that show a cue: per-frame text
  compositing with Pillow's bundled font, no libass/fontconfig dependency, settings of §2.6. It is
  not used for transitions: it has no wipe, its compose path is 3-4x slower than xfade, and a
  whole-film moviepy render keeps 2 ffmpeg readers per clip open (§2.4).

The core is pure (timeline -> slots -> pieces -> film positions); ffmpeg, PyAV and moviepy sit at
the edges. The film is written to a temp file beside `out`, verified, and renamed; a sidecar
`<out>.key` holds the film key so an unchanged re-run returns at once.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import queue
import shutil
import tempfile
import threading
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal

import av
import numpy as np

from . import media
from .filmkey import STITCH_VERSION, film_key, remember, up_to_date
from .plan import RenderPlan

FPS = 24
RATE = 48000
SPF = RATE // FPS  # audio samples per video frame: every frame boundary is a sample boundary
TIMESCALE = 12288  # mp4 video timescale of every piece (ffmpeg's default for 24 fps)
HARD_JOIN_FADE = RATE // 100  # 10 ms fades at hard cuts: no click, inaudible as a dip
EXTEND_XFADE = RATE * 30 // 1000  # 30 ms audio crossfade at extension seams
AAC_FRAME = 1024  # samples per AAC-LC frame
SPLIT_MIN = 20  # s: shorter films' sound is encoded by one AAC encoder
SPLIT_PREROLL = 47 * AAC_FRAME  # ~1 s the second encoder encodes before the split, then drops
SPLIT_TAIL = 4 * AAC_FRAME  # the first encoder runs this far past the split
DECODE_WEIGHT = 0.15  # decoding a clip's second of AAC costs ~0.15 of encoding a film second
EXTEND_TOLERANCE = 0.5  # s: "extension file = target + continuation" is decided by duration
DUP_MAD_FLOOR = 1.0  # mean abs diff (0..255) below which two frames are the same picture
# Transition windows are ~1-2 s and decide the speed of a film with transitions: superfast keeps
# CABAC and deblocking (ultrafast drops both and nearly doubles their size) at ~3/4 of veryfast's
# cost. Whole clips being conformed keep veryfast: their size matters more than their speed.
WINDOW_PRESET = "superfast"
CONFORM_PRESET = "veryfast"
PROBE_WORKERS = 2
WINDOW_WORKERS = 2  # windows are short: two small encodes use 2 cores better than one x264
X264_PROFILES = {"Baseline": "baseline", "Constrained Baseline": "baseline", "Main": "main"}


@dataclass(frozen=True)
class Encoder:
    """x264 settings for everything the stitcher encodes. The profile follows the film's first
    clip: the MP4 sample entry carries only the first piece's parameter sets (§5.5.4), so the
    encoded windows should differ from the copied runs as little as possible."""

    profile: str = "high"

    @classmethod
    def like(cls, profile: str | None) -> "Encoder":
        return cls(X264_PROFILES.get(profile or "", "high"))

    def common(self) -> list[str]:
        return ["-crf", "18", "-profile:v", self.profile, "-g", str(FPS), "-sc_threshold", "0",
                "-video_track_timescale", str(TIMESCALE)]

    def ffmpeg_args(self, preset: str) -> list[str]:
        return ["-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p", *self.common()]

    def moviepy_params(self) -> list[str]:
        return self.common()  # moviepy sets codec, preset and (wrongly, §2.3) pix_fmt itself


# 256 kbit/s coded left/right: 128 kbit/s per channel is transparent AAC-LC, and skipping the
# encoder's per-band mid/side search makes it ~40% cheaper than 192 kbit/s with the search, with
# a better SNR on mixed and wide stereo and at most 2.3 dB less (at 43+ dB) on dual mono
# (bench/aac.py). The AAC encode is the slowest step of a hard-cut film.
AAC_BIT_RATE = 256_000
AAC_OPTIONS = {"aac_ms": "0"}

JoinKind = Literal["cut", "extend", "dissolve", "wipe", "fade"]


class StitchError(Exception):
    """The film cannot be made, or came out wrong; the message names the clip when there is one."""


@dataclass(frozen=True)
class StitchResult:
    path: Path
    duration: float  # seconds
    actions: list[str]  # what was done, in order ("copied ...", "re-encoded window ...", ...)
    reused: bool  # True: the output was already up to date and nothing was rebuilt


# ---- timeline (pure) -------------------------------------------------------------------------

@dataclass(frozen=True)
class Join:
    """How a clip joins the one before it. `seconds` is the transition's length as written."""

    kind: JoinKind
    seconds: float = 0.0
    direction: str | None = None

    @property
    def frames(self) -> int:
        """Overlap of a dissolve/wipe, or the length of each half of a fade, in frames."""
        if self.kind in ("dissolve", "wipe"):
            return max(1, round(self.seconds * FPS))
        if self.kind == "fade":
            return max(1, round(self.seconds * FPS / 2))
        return 0

    @property
    def overlap(self) -> int:
        return self.frames if self.kind in ("dissolve", "wipe") else 0

    @property
    def xfade(self) -> str | None:
        if self.kind == "dissolve":
            return "fade"
        if self.kind == "wipe":
            return f"wipe{self.direction or 'left'}"
        return None


@dataclass(frozen=True)
class Entry:
    """One clip as the timeline plays it."""

    name: str
    kind: str
    join: Join  # join with the previous entry (the first entry's is a cut)
    seconds: float | None  # forced play length (morph retime), else None


def read_timeline(plan: RenderPlan) -> list[Entry]:
    """Clip entries in order, each with the join before it. Raises on a malformed timeline."""
    kinds = {c.name: c.kind for c in plan.clips}
    entries: list[Entry] = []
    pending: Join | None = None
    for e in plan.timeline:
        if e.clip is not None:
            if e.clip not in kinds:
                raise StitchError(f"the timeline names clip {e.clip!r}, which is not in the plan")
            join = pending or Join("cut")
            if kinds[e.clip] == "extend" and join.kind == "cut" and entries:
                join = Join("extend")
            entries.append(Entry(e.clip, kinds[e.clip], join, e.seconds))
            pending = None
        elif e.transition is not None:
            if not entries or pending is not None:
                raise StitchError(f"a {e.transition} transition must stand between two clips")
            if e.transition != "cut" and not (e.seconds and e.seconds > 0):
                raise StitchError(f"a {e.transition} transition needs a length in seconds")
            pending = Join(e.transition, float(e.seconds or 0.0), e.direction)
    if pending is not None:
        raise StitchError(f"the timeline ends with a {pending.kind} transition")
    if not entries:
        raise StitchError("the timeline has no clips")
    return entries


# ---- probing ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class VideoScan:
    """Timing facts of a video stream from its packets (no decoding)."""

    frames: int
    start: float  # presentation time of the first frame, s
    end: float  # end of the last frame, s
    cfr: bool  # constant frame rate: every frame lasts as long as the first
    step: float  # seconds per frame (the first frame's, when not constant)
    keyframes: tuple[int, ...]  # frame indices (presentation order)
    key_pts: tuple[float, ...]  # s, same order
    key_dts: tuple[float, ...]  # s; the concat demuxer's outpoint compares DTS (§5.5.1)
    sar: Fraction | None
    profile: str | None  # H.264 profile name, e.g. "High", "Constrained Baseline"
    index: int  # the video stream's index in its file
    time_base: Fraction
    file_start: float  # s: the file's start (earliest stream, e.g. AAC priming); -ss counts from it
    codec: str
    width: int
    height: int
    pix_fmt: str | None

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def delay(self) -> int:
        """Frames a decoder holds back to reorder B-frames: how far DTS trail PTS at keyframes."""
        return max((round((p - d) * FPS) for p, d in zip(self.key_pts, self.key_dts)), default=0)


@dataclass(frozen=True)
class Video:
    """The film's video: a concat list of its pieces (copied runs and encoded windows) or the file
    joining them, and the deepest frame reordering (decoding delay, frames) of any piece."""

    path: Path
    delay: int


@dataclass(frozen=True)
class AudioFacts:
    codec: str
    rate: int
    channels: int


@dataclass(frozen=True)
class Source:
    """A clip file as probed."""

    name: str
    path: Path
    scan: VideoScan
    audio: AudioFacts | None

    @property
    def size(self) -> tuple[int, int]:
        return self.scan.width, self.scan.height


def scan_video(path: Path) -> VideoScan:
    return scan_file(path)[0]


def scan_file(path: Path) -> tuple[VideoScan, AudioFacts | None]:
    """Stream facts and video packet timing in one open. media.probe's MediaInfo does not carry
    DTS, SAR, profile or per-frame timing, which deciding what can be stream-copied needs."""
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise StitchError("no video stream")
        vs = container.streams.video[0]
        cc = vs.codec_context
        audio = None
        if container.streams.audio:
            ac = container.streams.audio[0].codec_context
            audio = AudioFacts(ac.name, ac.sample_rate, ac.channels)
        tb = vs.time_base
        pts: list[int] = []
        keys: list[tuple[int, int]] = []
        for pkt in container.demux(vs):
            if pkt.size == 0 or pkt.pts is None:
                continue
            pts.append(pkt.pts)
            if pkt.is_keyframe:
                keys.append((pkt.pts, pkt.dts if pkt.dts is not None else pkt.pts))
            last_dur = pkt.duration or 0
        sar = vs.sample_aspect_ratio or vs.codec_context.sample_aspect_ratio
        profile = vs.codec_context.profile
        file_start = None if container.start_time is None else container.start_time / av.time_base
        stream_index = vs.index  # read while open: a closed container's streams return garbage
    if not pts:
        raise StitchError(f"{path} has no video frames")
    pts.sort()
    steps = [b - a for a, b in zip(pts, pts[1:])] or [last_dur or round(Fraction(1, FPS) / tb)]
    cfr = max(steps) - min(steps) <= 1  # 1 tick: ms time bases round 1/24 s
    index = {p: i for i, p in enumerate(pts)}
    keys.sort()
    end = pts[-1] + (last_dur or steps[-1])
    return VideoScan(
        frames=len(pts), start=float(pts[0] * tb), end=float(end * tb), cfr=cfr,
        step=float(sum(steps) / len(steps) * tb),
        keyframes=tuple(index[p] for p, _ in keys),
        key_pts=tuple(float(p * tb) for p, _ in keys),
        key_dts=tuple(float(d * tb) for _, d in keys),
        sar=Fraction(sar) if sar else None, profile=profile, index=stream_index,
        time_base=Fraction(tb),
        file_start=float(pts[0] * tb) if file_start is None else file_start,
        codec=cc.name, width=cc.width, height=cc.height,
        pix_fmt=cc.format.name if cc.format else None,
    ), audio


def probe_clip(name: str, path: Path) -> Source:
    if not path.is_file():
        raise StitchError(f"clip {name!r}: file not found: {path}")
    try:
        scan, audio = scan_file(path)
    except (av.FFmpegError, OSError, ValueError, StitchError) as e:
        raise StitchError(f"clip {name!r}: {path} is not a readable video ({e})") from e
    return Source(name, path, scan, audio)


# ---- film format -----------------------------------------------------------------------------

def film_size(sources: list[Source]) -> tuple[int, int]:
    """The most common clip size; ties go to the size seen first."""
    counts = Counter(s.size for s in sources)
    best = max(counts.values())
    return next(s.size for s in sources if counts[s.size] == best)


def video_deviations(src: Source, size: tuple[int, int]) -> list[str]:
    """Why this clip's video cannot be stream-copied into the film (empty: it can)."""
    scan = src.scan
    out = []
    if scan.codec != "h264":
        out.append(f"codec {scan.codec}")
    if src.size != size:
        out.append(f"{scan.width}x{scan.height}")
    if not scan.cfr:
        out.append(f"VFR (avg {scan.frames / scan.duration:.3g}fps)")
    elif abs(scan.step * FPS - 1) > 1e-3:
        out.append(f"{1 / scan.step:g}fps")
    if scan.pix_fmt != "yuv420p":
        out.append(f"pix_fmt {scan.pix_fmt}")
    if scan.sar not in (None, Fraction(0), Fraction(1)):
        out.append(f"SAR {scan.sar}")
    if not scan.keyframes or scan.keyframes[0] != 0:
        out.append("no keyframe at the start")
    return out


# ---- prepared clips --------------------------------------------------------------------------

@dataclass(frozen=True)
class AudioSource:
    path: Path | None  # None: silence
    zero: float = 0.0  # time on the audio file's clock at which the slot's video frame 0 shows


@dataclass(frozen=True)
class Slot:
    """A clip ready to be placed: a file whose video the concat demuxer can copy (the clip itself,
    a remux or a conformed re-encode), where its sound comes from, and the frames that play."""

    name: str
    join: Join
    video: Path
    scan: VideoScan
    audio: AudioSource
    start: int  # first frame that plays
    end: int  # one past the last frame that plays

    @property
    def frames(self) -> int:
        return self.end - self.start


class Workspace:
    """Cache of per-clip intermediates (remuxes, conformed clips) plus a per-run temp folder."""

    def __init__(self, workdir: Path):
        self.cache = workdir / "stitch-cache"
        self.cache.mkdir(parents=True, exist_ok=True)
        sweep(self.cache)
        sweep(workdir)
        self.run = Path(tempfile.mkdtemp(prefix=f"stitch-run-{os.getpid()}-", dir=workdir))
        self.started = time.time()
        self.used: set[Path] = set()

    def cached(self, src: Path, op: dict, suffix: str) -> Path:
        st = src.stat()
        ident = {"src": str(src.resolve()), "size": st.st_size, "mtime": st.st_mtime_ns,
                 "op": op, "v": STITCH_VERSION}
        digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:24]
        path = self.cache / f"{digest}{suffix}"
        self.used.add(path)
        try:
            os.utime(path)  # in use: another stitch's prune (see prune) leaves it alone
        except OSError:
            pass  # not made yet
        return path

    def prune(self) -> list[Path]:
        """After a film is written: drop the intermediates it did not use (clips edited, re-rendered
        or taken out of the timeline), so the cache holds one film's worth, not every version's.
        Entries touched since this stitch started belong to another one running: kept."""
        gone = []
        for path in self.cache.iterdir():
            try:
                if path in self.used or not path.is_file() or ".tmp" in path.name \
                        or path.stat().st_mtime >= self.started:
                    continue
                path.unlink()
                gone.append(path)
            except OSError:
                pass  # gone already, or not ours to delete: the next prune tries again
        return gone

    def cleanup(self) -> None:
        shutil.rmtree(self.run, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except (OverflowError, ValueError):
        return False
    return True


def temp_owner(path: Path) -> int | None:
    """The pid in a name this module gives temp files and run folders, else None:
    `.<stem>.<pid>.<hex>.tmp<suffix>` (media.temp_sibling) or `stitch-run-<pid>-<random>`."""
    name = path.name
    if name.startswith("stitch-run-"):
        pid = name[len("stitch-run-"):].split("-")[0]
    else:
        parts = name.split(".")
        if not (name.startswith(".") and len(parts) >= 5 and parts[-2] == "tmp"):
            return None
        pid = parts[-4]
    return int(pid) if pid.isdigit() else None


def sweep(folder: Path, only: str = "*") -> None:
    """Remove temp files and run folders left by stitches that were killed (their pid is gone):
    a stitch leaves no partial film behind, even across a crash."""
    for path in folder.glob(only):
        pid = temp_owner(path)
        if pid is None or pid_alive(pid):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def ffmpeg(args: list[str], what: str) -> None:
    media.run_ffmpeg(args, what=what, error=StitchError, timeout=3600)


def make_atomic(target: Path, build: Callable[[Path], None]) -> Path:
    """Build `target` through a temp sibling unless it already exists (cache hit)."""
    if target.exists():
        return target
    tmp = media.temp_sibling(target)
    try:
        build(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def concat_ready(scan: VideoScan) -> bool:
    """Can the concat demuxer read this file's video directly? It matches streams by index and
    does not rescale time bases, so the video must be stream 0 with the pieces' time base."""
    return scan.index == 0 and scan.time_base == Fraction(1, TIMESCALE)


def remux_video(ws: Workspace, src: Source) -> Path:
    """Video-only copy with the common timescale: concat-copyable, no AAC priming offset."""
    target = ws.cached(src.path, {"op": "remux", "ts": TIMESCALE}, ".v.mp4")
    return make_atomic(target, lambda tmp: ffmpeg(
        ["-i", str(src.path), "-map", "0:v:0", "-c", "copy", "-an", "-sn", "-dn",
         "-video_track_timescale", str(TIMESCALE), "-f", "mp4", str(tmp)],
        f"remuxing clip {src.name!r}"))


def retime_select(n_src: int, n_out: int) -> str:
    """Video filter that plays n_src frames as n_out, keeping the first and last frame."""
    if n_out == 1 or n_src == 1:
        return f"select='eq(n\\,0)',setpts=N/({FPS}*TB)"
    if n_out <= n_src:  # pick frames: first and last are exact picks
        picks = sorted({round(j * (n_src - 1) / (n_out - 1)) for j in range(n_out)})
        expr = "+".join(f"eq(n\\,{i})" for i in picks)
        return f"select='{expr}',setpts=N/({FPS}*TB)"
    # slower: spread the frames over the new length and let fps repeat them; tpad gives the
    # last frame a successor so fps emits its final slot
    r = (n_out - 1) / (n_src - 1)
    return f"setpts=N*{r:.9f}/({FPS}*TB),tpad=stop_mode=clone:stop=1,fps={FPS}"


def conform_video(ws: Workspace, src: Source, size: tuple[int, int], out_frames: int | None,
                  enc: Encoder) -> Path:
    """Re-encode a clip's video in the film format (size, 24 fps CFR, yuv420p, SAR 1, 1-s GOPs),
    optionally retimed to `out_frames` frames (speed change)."""
    w, h = size
    chain = ["setpts=PTS-STARTPTS"]
    if out_frames is not None:
        chain.append(retime_select(src.scan.frames, out_frames))
    chain += [f"scale={w}:{h}:force_original_aspect_ratio=decrease",
              f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2", "setsar=1"]
    if out_frames is None:
        chain.append(f"fps={FPS}")
    chain.append("format=yuv420p")
    limit = ["-frames:v", str(out_frames)] if out_frames is not None else []
    op = {"op": "conform", "size": size, "frames": out_frames,
          "x264": enc.ffmpeg_args(CONFORM_PRESET)}
    target = ws.cached(src.path, op, ".v.mp4")
    return make_atomic(target, lambda tmp: ffmpeg(
        ["-i", str(src.path), "-map", "0:v:0", "-an", "-sn", "-dn", "-vf", ",".join(chain),
         *enc.ffmpeg_args(CONFORM_PRESET), "-r", str(FPS), *limit, "-f", "mp4", str(tmp)],
        f"conforming clip {src.name!r}"))


def atempo_chain(factor: float) -> str:
    parts = []
    while factor > 100.0:
        parts.append("atempo=100")
        factor /= 100.0
    while factor < 0.5:
        parts.append("atempo=0.5")
        factor /= 0.5
    parts.append(f"atempo={factor:.9f}")
    return ",".join(parts)


def retime_audio(ws: Workspace, src: Source, out_frames: int) -> Path:
    factor = src.scan.duration * FPS / out_frames
    op = {"op": "retime-audio", "frames": out_frames}
    target = ws.cached(src.path, op, ".a.wav")
    return make_atomic(target, lambda tmp: ffmpeg(
        ["-i", str(src.path), "-map", "0:a:0", "-vn", "-af", atempo_chain(factor),
         "-ar", str(RATE), "-ac", "2", "-c:a", "pcm_f32le", "-f", "wav", str(tmp)],
        f"retiming the audio of clip {src.name!r}"))


# ---- extensions ------------------------------------------------------------------------------

def extension_overlap(target: Source, ext: Source, ext_seconds: float) -> float | None:
    """Seconds at the head of `ext` that repeat its target, when the provider returned
    source + continuation (decided by duration), else None."""
    d_target, d_ext = target.scan.duration, ext.scan.duration
    if abs(d_ext - (d_target + ext_seconds)) <= EXTEND_TOLERANCE:
        return d_target
    return None


def gray_frames(path: Path, scan: VideoScan, wanted: Iterable[int]) -> dict[int, np.ndarray]:
    """Decode the given frame indices (presentation order) as float32 grey images."""
    wanted = sorted(set(wanted))
    k = max(0, bisect_right(scan.keyframes, wanted[0]) - 1)
    out: dict[int, np.ndarray] = {}
    with av.open(str(path)) as container:
        vs = container.streams.video[0]
        if scan.keyframes and scan.keyframes[k] > 0:
            # seek by the keyframe's DTS: never past it, whichever clock the index uses
            container.seek(int(scan.key_dts[k] / vs.time_base), stream=vs, backward=True)
        for frame in container.decode(vs):
            if frame.pts is None:
                continue
            i = round((float(frame.pts * vs.time_base) - scan.start) * FPS)
            if i in wanted:
                out[i] = frame.to_ndarray(format="gray").astype(np.float32)
            if i >= wanted[-1]:
                break
    return out


def is_duplicate_boundary(prev: Slot, nxt: Slot) -> bool:
    """True when `nxt`'s first frame repeats `prev`'s last (stitching.md 6.1). A repeat differs
    from it by compression noise only; a real next frame by about as much as neighbouring frames
    do, so the seam is compared with half the clips' own frame-to-frame change."""
    if prev.frames < 2 or nxt.frames < 2:
        return False
    a = gray_frames(prev.video, prev.scan, [prev.end - 2, prev.end - 1])
    b = gray_frames(nxt.video, nxt.scan, [nxt.start, nxt.start + 1])
    if len(a) < 2 or len(b) < 2 or a[prev.end - 1].shape != b[nxt.start].shape:
        return False

    def mad(x: np.ndarray, y: np.ndarray) -> float:
        return float(np.abs(x - y).mean())

    motion = (mad(a[prev.end - 2], a[prev.end - 1]) + mad(b[nxt.start], b[nxt.start + 1])) / 2
    return mad(a[prev.end - 1], b[nxt.start]) < max(DUP_MAD_FLOOR, 0.5 * motion)


# ---- pieces (pure) ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Strand:
    """Frames [start, start + frames) of a slot's video, optionally faded in/out (frames)."""

    slot: int
    start: int
    frames: int
    fade_in: int = 0
    fade_out: int = 0


@dataclass(frozen=True)
class Piece:
    """A run of the film's video: copied (one strand, whole GOPs) or encoded (one strand, or
    two joined by an xfade of `overlap` frames)."""

    kind: Literal["copy", "encode"]
    strands: tuple[Strand, ...]
    xfade: str | None = None
    overlap: int = 0

    @property
    def frames(self) -> int:
        return sum(s.frames for s in self.strands) - self.overlap


def first_key_at_or_after(keys: tuple[int, ...], frame: int, limit: int) -> int:
    i = bisect_left(keys, frame)
    return keys[i] if i < len(keys) and keys[i] < limit else limit


def last_key_at_or_before(keys: tuple[int, ...], frame: int) -> int | None:
    i = bisect_right(keys, frame) - 1
    return keys[i] if i >= 0 else None


def plan_pieces(slots: list[Slot]) -> list[Piece]:
    """Split the film into copied GOP runs and small encoded windows. Only the frames a transition
    touches, widened to the nearest keyframes, are re-encoded; everything else is copied."""
    n = len(slots)
    joins_out = [slots[i + 1].join for i in range(n - 1)] + [Join("cut")]
    pieces: list[Piece] = []
    carry: Strand | None = None  # tail of the previous slot, waiting for its xfade partner
    for i, slot in enumerate(slots):
        jin, jout = slot.join, joins_out[i]
        tin = jin.frames if i > 0 else 0
        tout = jout.frames
        if tin + tout > slot.frames:
            raise StitchError(
                f"clip {slot.name!r} plays {slot.frames} frames, too short for its transitions "
                f"({tin} + {tout} frames)")
        s, e, keys = slot.start, slot.end, slot.scan.keyframes
        h = first_key_at_or_after(keys, s + tin, e)
        t = e if tout == 0 else last_key_at_or_before(keys, e - tout)
        fin = jin.frames if jin.kind == "fade" and i > 0 else 0
        fout = jout.frames if jout.kind == "fade" else 0
        items: list[tuple[str, Strand]] = []
        if t is not None and h < t:
            if h > s:
                items.append(("encode", Strand(i, s, h - s, fade_in=fin)))
            items.append(("copy", Strand(i, h, t - h)))
            if t < e:
                items.append(("encode", Strand(i, t, e - t, fade_out=fout)))
        elif jin.xfade and i > 0 and jout.xfade:
            # one GOP spans both transitions: split so each graph has only two inputs
            items.append(("encode", Strand(i, s, tin)))
            items.append(("encode", Strand(i, s + tin, e - s - tin)))
        else:
            items.append(("encode", Strand(i, s, e - s, fade_in=fin, fade_out=fout)))
        for k, (kind, strand) in enumerate(items):
            if kind == "copy":
                pieces.append(Piece("copy", (strand,)))
            elif k == 0 and carry is not None:
                pieces.append(Piece("encode", (carry, strand), jin.xfade, jin.overlap))
                carry = None
            elif k == len(items) - 1 and jout.xfade:
                carry = strand
            else:
                pieces.append(Piece("encode", (strand,)))
    assert carry is None
    return pieces


def total_frames(slots: list[Slot]) -> int:
    return sum(s.frames for s in slots) - sum(s.join.overlap for s in slots[1:])


# ---- video rendering -------------------------------------------------------------------------

def strand_input(slot: Slot, strand: Strand) -> list[str]:
    """Input options that start decoding at the keyframe at or before the strand (no wasted GOP):
    the demuxer lands on a keyframe at or before -ss; the strand is then cut out by timestamps."""
    k = bisect_right(slot.scan.keyframes, strand.start) - 1
    if k <= 0:
        return ["-i", str(slot.video)]
    ss = slot.scan.key_pts[k] - slot.scan.file_start + 0.001  # -ss counts from the file's start
    return ["-noaccurate_seek", "-ss", f"{ss:.6f}", "-i", str(slot.video)]


def strand_filter(k: int, slot: Slot, strand: Strand) -> str:
    # -copyts keeps the file's own timestamps, so the half-frame margins select exact frames
    t0 = slot.scan.start + (strand.start - 0.5) / FPS
    t1 = t0 + strand.frames / FPS
    chain = [f"trim=start={t0:.6f}:end={t1:.6f}", "setpts=PTS-STARTPTS"]
    if strand.fade_in:
        chain.append(f"fade=t=in:s=0:n={strand.fade_in}")
    if strand.fade_out:
        chain.append(f"fade=t=out:s={strand.frames - strand.fade_out}:n={strand.fade_out}")
    chain.append("settb=AVTB")  # xfade wants equal time bases on both inputs
    return f"[{k}:v]" + ",".join(chain) + f"[s{k}]"


def encode_piece(piece: Piece, slots: list[Slot], out: Path, enc: Encoder) -> int:
    """Encode the window into `out`; returns its decoding delay (frames)."""
    args: list[str] = ["-copyts"]
    for strand in piece.strands:
        args += strand_input(slots[strand.slot], strand)
    graph = [strand_filter(k, slots[s.slot], s) for k, s in enumerate(piece.strands)]
    if len(piece.strands) == 2:
        offset = (piece.strands[0].frames - piece.overlap) / FPS
        graph.append(f"[s0][s1]xfade=transition={piece.xfade}:duration={piece.overlap / FPS:.6f}"
                     f":offset={offset:.6f}[v]")
        label = "[v]"
    else:
        label = "[s0]"
    what = f"re-encoding the window {describe(piece, slots)}"
    ffmpeg([*args, "-filter_complex", ";".join(graph), "-map", label, "-an",
            *enc.ffmpeg_args(WINDOW_PRESET), "-r", str(FPS), "-frames:v", str(piece.frames),
            "-f", "mp4", str(out)], what)
    scan = scan_video(out)
    if scan.frames != piece.frames:
        raise StitchError(f"{what}: got {scan.frames} frames instead of {piece.frames}")
    return scan.delay


def concat_line(path: Path) -> str:
    return "file '" + str(path.resolve()).replace("'", "'\\''") + "'"


def copy_entry(slot: Slot, strand: Strand) -> list[str]:
    scan = slot.scan
    k = scan.keyframes.index(strand.start)
    lines = [concat_line(slot.video), f"inpoint {scan.key_pts[k]:.6f}"]
    stop = strand.start + strand.frames
    if stop < scan.frames:
        # outpoint is exclusive and compared with DTS: stop just before the next keyframe's DTS
        j = scan.keyframes.index(stop)
        lines.append(f"outpoint {scan.key_dts[j] - 0.5 / FPS:.6f}")
    lines.append(f"duration {strand.frames / FPS:.6f}")
    return lines


def describe(piece: Piece, slots: list[Slot]) -> str:
    parts = [f"{slots[s.slot].name}[{s.start}:{s.start + s.frames}]" for s in piece.strands]
    what = f" {piece.xfade} ".join(parts) if piece.xfade else parts[0]
    fades = [f"fade {'in' if s.fade_in else 'out'}" for s in piece.strands
             if s.fade_in or s.fade_out]
    return what + (f" ({', '.join(fades)})" if fades else "")


def render_video(pieces: list[Piece], slots: list[Slot], ws: Workspace, enc: Encoder,
                 note: Callable[[str], None]) -> Video:
    """Encode the windows and write the concat list that joins them with the copied runs."""
    lines = ["ffconcat version 1.0"]
    copied: Counter[str] = Counter()
    delays = [0]
    jobs = []
    with ThreadPoolExecutor(max_workers=WINDOW_WORKERS) as pool:
        for n, piece in enumerate(pieces):
            if piece.kind == "copy":
                strand = piece.strands[0]
                lines += copy_entry(slots[strand.slot], strand)
                copied[slots[strand.slot].name] += strand.frames
                delays.append(slots[strand.slot].scan.delay)
                continue
            out = ws.run / f"piece{n:04d}.mp4"
            jobs.append((pool.submit(encode_piece, piece, slots, out, enc), piece))
            lines += [concat_line(out), f"duration {piece.frames / FPS:.6f}"]
        for job, piece in jobs:
            delays.append(job.result())  # re-raises the first failure; the pool finishes the rest
            note(f"re-encoded window {describe(piece, slots)}: {piece.frames} frames")
    for name, frames in copied.items():
        note(f"copied {frames} frames of {name} without re-encoding")
    listing = ws.run / "video.ffconcat"
    listing.write_text("\n".join(lines) + "\n")
    return Video(listing, max(delays))


# ---- audio -----------------------------------------------------------------------------------

def open_for_sound(path: Path) -> av.container.InputContainer:
    """Open a clip to decode its sound. Opening probes every stream by decoding a little of it;
    the pictures are not needed here, so their probe skips decoding (a third of the open)."""
    try:
        return av.open(str(path), stream_options=[{"skip_frame": "all"}] * 8)
    except ValueError:  # a format that only finds its streams by probing (MPEG-TS, ...)
        return av.open(str(path))


def decode_pcm(src: AudioSource) -> tuple[np.ndarray, int]:
    """The whole audio track as float32 (n, 2) at 48 kHz, and the sample index of video frame 0."""
    chunks: list[np.ndarray] = []
    t0: float | None = None
    with open_for_sound(src.path) as container:
        stream = container.streams.audio[0]
        resampler = None
        for frame in container.decode(stream):
            if t0 is None and frame.pts is not None:
                t0 = float(frame.pts * frame.time_base)
            if resampler is None and frame.format.name == "fltp" and frame.rate == RATE \
                    and frame.layout.nb_channels == 2:
                chunks.append(frame.to_ndarray().T)  # already the mix format: skip swresample
                continue
            resampler = resampler or av.AudioResampler(format="flt", layout="stereo", rate=RATE)
            chunks += [out.to_ndarray().reshape(-1, 2) for out in resampler.resample(frame)]
        if resampler is not None:
            chunks += [out.to_ndarray().reshape(-1, 2) for out in resampler.resample(None)]
    pcm = np.concatenate(chunks) if chunks else np.zeros((0, 2), np.float32)
    return pcm, round((src.zero - (t0 or 0.0)) * RATE)


def window(pcm: np.ndarray, a: int, b: int) -> np.ndarray:
    """pcm[a:b] with silence wherever the range falls outside the track."""
    out = np.zeros((b - a, 2), np.float32)
    lo, hi = max(a, 0), min(b, len(pcm))
    if hi > lo:
        out[lo - a:hi - a] = pcm[lo:hi]
    return out


def ramp(buf: np.ndarray, n: int, rising: bool) -> None:
    """Linear gain ramp over the first (rising) or last (falling) n samples, in place."""
    n = min(n, len(buf))
    if n <= 0:
        return
    g = np.linspace(0.0, 1.0, n, endpoint=False, dtype=np.float32) + np.float32(1.0 / n)
    if rising:
        buf[:n] *= g[:, None]
    else:
        buf[len(buf) - n:] *= g[::-1, None]


def sound_preroll(slot: Slot) -> int:
    """Samples an extension's sound starts before its picture: crossfaded under its target's end."""
    return EXTEND_XFADE if slot.join.kind == "extend" else 0


def sound_span(slot: Slot, position: int) -> tuple[int, int]:
    """Film samples [first, last) of a clip's sound when its picture starts at film frame
    `position`."""
    return position * SPF - sound_preroll(slot), (position + slot.frames) * SPF


def slot_audio(slot: Slot, next_join: Join) -> np.ndarray:
    """The slot's sound with its join envelopes, starting with its pre-roll (sound_preroll)."""
    a, b = slot.start * SPF, slot.end * SPF
    preroll = sound_preroll(slot)
    if slot.audio.path is None:
        buf = np.zeros((b - a + preroll, 2), np.float32)
    else:
        pcm, zero = decode_pcm(slot.audio)
        body = window(pcm, zero + a, zero + b)
        if preroll and a >= preroll:  # the extension repeats its target: real overlap audio
            head = window(pcm, zero + a - preroll, zero + a)
        else:  # mirror the first samples: continuous with the body at the seam
            head = body[:preroll][::-1].copy()
        buf = np.concatenate([head, body]) if preroll else body
        del pcm
    jin, body = slot.join, buf[preroll:]
    if preroll:
        ramp(buf[:preroll], preroll, rising=True)
    elif jin.kind in ("dissolve", "wipe", "fade"):
        ramp(body, jin.frames * SPF, rising=True)
    else:
        ramp(body, HARD_JOIN_FADE, rising=True)
    if next_join.kind in ("dissolve", "wipe", "fade"):
        ramp(body, next_join.frames * SPF, rising=False)
    elif next_join.kind == "extend":
        ramp(body, EXTEND_XFADE, rising=False)
    else:
        ramp(body, HARD_JOIN_FADE, rising=False)
    return buf


class AudioTrack:
    """Streams the film's samples [lo, hi) as float32 (n, 2) blocks into `sink`, summing
    overlapping clip buffers; holds at most one clip's samples. Samples outside the range are
    counted, not written."""

    def __init__(self, sink: Callable[[np.ndarray], None], lo: int = 0, hi: int | None = None):
        self.sink, self.lo, self.hi = sink, lo, hi
        self.pending = np.zeros((0, 2), np.float32)
        self.pending_at = 0
        self.cursor = 0  # film sample index of the next sample to emit

    def add(self, at: int, buf: np.ndarray) -> None:
        if at < self.pending_at:
            raise StitchError("internal: audio placed before an already placed clip")
        keep = at - self.pending_at
        if keep > len(self.pending):  # a gap (or clips this part skipped): silence
            self._emit(self.pending)
            self._silence(keep - len(self.pending))
            self.pending = np.zeros((0, 2), np.float32)
        else:
            self._emit(self.pending[:keep])
            self.pending = self.pending[keep:]
        merged = np.zeros((max(len(buf), len(self.pending)), 2), np.float32)
        merged[:len(buf)] += buf
        merged[:len(self.pending)] += self.pending
        self.pending, self.pending_at = merged, at

    def flush(self) -> int:
        self._emit(self.pending)
        self.pending = np.zeros((0, 2), np.float32)
        return self.cursor

    def _span(self, n: int) -> tuple[int, int]:
        """Part of the next n samples inside [lo, hi), as offsets into them."""
        a = min(max(self.lo - self.cursor, 0), n)
        b = n if self.hi is None else min(max(self.hi - self.cursor, 0), n)
        return a, max(a, b)

    def _emit(self, buf: np.ndarray) -> None:
        a, b = self._span(len(buf))
        if b > a:
            self.sink(buf[a:b])
        self.cursor += len(buf)

    def _silence(self, n: int) -> None:
        a, b = self._span(n)
        for k in range(a, b, RATE):  # in 1-s blocks: a long gap never allocates much
            self.sink(np.zeros((min(RATE, b - k), 2), np.float32))
        self.cursor += n


class ClipSound:
    """One clip's sound with its envelopes, decoded once however many encoders need it (a clip
    across the split of a two-part encode); freed when the last of them has taken it."""

    def __init__(self, slot: Slot, next_join: Join, users: int):
        self.slot, self.next_join = slot, next_join
        self._users = users
        self._buf: np.ndarray | None = None
        self._lock = threading.Lock()

    def take(self) -> np.ndarray:
        with self._lock:  # the other part waits for this decode instead of repeating it
            buf = self._buf if self._buf is not None else slot_audio(self.slot, self.next_join)
            self._users -= 1
            self._buf = buf if self._users > 0 else None
            return buf  # read-only from here: AudioTrack.add copies it


class AacWriter:
    """An AAC-LC 48 kHz stereo .m4a encoded in this process. PyAV releases the GIL while it
    encodes, so two writers use two cores; no PCM goes through pipes."""

    def __init__(self, out: Path):
        self.out = out
        try:
            self.container = av.open(str(out), "w", format="mp4")
        except (av.FFmpegError, OSError) as e:
            raise StitchError(f"cannot write the film's sound to {out}: {e}") from e
        try:
            self.stream = self.container.add_stream("aac", rate=RATE, layout="stereo")
            self.stream.bit_rate = AAC_BIT_RATE
            self.stream.codec_context.options = dict(AAC_OPTIONS)
        except BaseException:
            self.container.close()
            raise
        self.samples = 0

    def write(self, pcm: np.ndarray) -> None:
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm.T), format="fltp",
                                           layout="stereo")
        frame.sample_rate = RATE
        frame.time_base = Fraction(1, RATE)
        frame.pts = self.samples
        self.samples += len(pcm)
        self._mux(frame)

    def close(self, complete: bool) -> None:
        """Drain the encoder and finish the file when `complete`, else just release it."""
        try:
            if complete:
                self._mux(None)
        finally:
            try:
                self.container.close()
            except (av.FFmpegError, OSError) as e:
                if complete:
                    raise StitchError(f"encoding the film's audio failed: {e}") from e

    def _mux(self, frame: av.AudioFrame | None) -> None:
        try:
            self.container.mux(self.stream.encode(frame))
        except (av.FFmpegError, OSError) as e:
            raise StitchError(f"encoding the film's audio failed: {e}") from e


class AudioPart:
    """One AAC encoder fed with the film's samples [lo, hi) by its own thread; it decodes only the
    clips that reach into its range. The thread owns the encoder from start to close."""

    def __init__(self, lo: int, hi: int | None, out: Path):
        self.lo, self.hi, self.out = lo, hi, out
        self.writer = AacWriter(out)
        self.track = AudioTrack(self.writer.write, lo, hi)
        self.queue: queue.Queue[tuple[ClipSound, int] | None] = queue.Queue()
        self.error: BaseException | None = None
        self.ended = False
        self.thread = threading.Thread(target=self._run, name="stitch-audio", daemon=True)
        self.thread.start()

    def wants(self, slot: Slot, position: int) -> bool:
        """Whether any of the clip's samples (placed at film frame `position`) are in range."""
        first, last = sound_span(slot, position)
        return last > self.lo and (self.hi is None or first < self.hi)

    def _run(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                if self.error is not None:
                    continue  # drain: the producer never blocks on a failed part
                sound, position = item
                try:
                    self.track.add(sound_span(sound.slot, position)[0], sound.take())
                except StitchError as e:  # the encoder's own failure
                    self.error = e
                except (av.FFmpegError, OSError, ValueError) as e:
                    self.error = StitchError(
                        f"clip {sound.slot.name!r}: cannot decode or mix its audio ({e})")
            if self.error is None:
                self.track.flush()  # end of input: finish now, not when finish() gets here
        except BaseException as e:  # noqa: BLE001 - re-raised in finish()
            self.error = self.error or e
        try:
            self.writer.close(complete=self.error is None)
        except BaseException as e:  # noqa: BLE001 - re-raised in finish()
            self.error = self.error or e

    def end_input(self) -> None:
        """No more clips: the part flushes and closes its encoder in its own thread."""
        if not self.ended:
            self.ended = True
            self.queue.put(None)

    def finish(self) -> None:
        self.end_input()
        self.thread.join()
        if self.error is not None:
            raise self.error

    def abort(self) -> None:
        self.error = self.error or StitchError("aborted")
        self.end_input()
        self.thread.join(timeout=10)


def sound_layout(slots: list[Slot]) -> tuple[list[tuple[Slot, Join, int]], int]:
    """Each slot with the join after it and the film frame where its picture starts, and the
    film's length in frames."""
    layout, at = [], 0
    for i, slot in enumerate(slots):
        position = at - slot.join.overlap
        layout.append((slot, slots[i + 1].join if i + 1 < len(slots) else Join("cut"), position))
        at = position + slot.frames
    return layout, at


def balanced_split(spans: list[tuple[int, int]], total: int) -> int:
    """Where to split a two-part encode of `total` samples so both parts finish together. Each
    part encodes its range; the second also decodes every clip reaching into its range (it
    reaches the clips across the split first), the first only the clips before those. `spans`:
    film samples [first, last) of each clip's sound."""
    def excess(split: int) -> float:  # first part's work minus the second's
        lo2 = split - SPLIT_PREROLL
        first = split + SPLIT_TAIL + DECODE_WEIGHT * sum(b - a for a, b in spans if b <= lo2)
        second = total - lo2 + DECODE_WEIGHT * sum(b - a for a, b in spans if b > lo2)
        return first - second

    lo, hi = SPLIT_PREROLL // AAC_FRAME + 1, total // AAC_FRAME - 1  # AAC frames
    while lo < hi:  # the first k whose excess is >= 0: the excess grows with the split
        mid = (lo + hi) // 2
        if excess(mid * AAC_FRAME) < 0:
            lo = mid + 1
        else:
            hi = mid
    best = min((k for k in (lo - 1, lo) if k * AAC_FRAME > SPLIT_PREROLL),
               key=lambda k: abs(excess(k * AAC_FRAME)))
    return best * AAC_FRAME


class AudioMixer:
    """The film's sound, mixed in background threads straight into AAC while the video is being
    assembled. AAC encoding is single-threaded and the slowest step of a hard-cut film, so a long
    film is encoded as two parts in parallel and spliced at an AAC frame boundary: the second
    encoder starts ~1 s before the split (discarded) so its state has settled, the first runs a
    few frames past it, and every kept frame was encoded with its real neighbours."""

    def __init__(self, workdir: Path, slots: list[Slot]):
        layout, frames = sound_layout(slots)
        self.samples = frames * SPF
        spans = [sound_span(slot, position) for slot, _, position in layout]
        self.split = balanced_split(spans, self.samples) \
            if self.samples >= SPLIT_MIN * RATE else None
        ranges = [(0, None)] if self.split is None else \
            [(0, self.split + SPLIT_TAIL), (self.split - SPLIT_PREROLL, None)]
        self.parts: list[AudioPart] = []
        try:
            for n, (lo, hi) in enumerate(ranges, 1):
                self.parts.append(AudioPart(lo, hi, workdir / f"audio{n}.m4a"))
            for slot, next_join, position in layout:
                users = [part for part in self.parts if part.wants(slot, position)]
                sound = ClipSound(slot, next_join, len(users))  # decoded by the parts using it
                for part in users:
                    part.queue.put((sound, position))
            for part in self.parts:  # every clip is queued: each part finishes when it can
                part.end_input()
        except BaseException:
            self.abort()
            raise

    def runs(self) -> list[AacRun]:
        """The packet runs that make the film's AAC track, each waiting for its encoder: the mux
        can take the first part while the second is still encoding."""
        first, *rest = self.parts
        if self.split is None:
            return [AacRun(first.out, wait=first.finish)]
        return [AacRun(first.out, stop=self.split, wait=first.finish),
                AacRun(rest[0].out, start=SPLIT_PREROLL, shift=self.split - SPLIT_PREROLL,
                       wait=rest[0].finish)]

    def finish(self) -> None:
        """Wait for the encoders; raises the first part's failure."""
        try:
            for part in self.parts:
                part.finish()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        for part in self.parts:
            part.abort()


def ready() -> None:
    pass


@dataclass(frozen=True)
class AacRun:
    """AAC packets of `path` with start <= pts < stop, moved by `shift` samples; `wait` returns
    once the file is complete (or raises why it never will be)."""

    path: Path
    start: int | None = None
    stop: int | None = None
    shift: int = 0
    wait: Callable[[], None] = ready


def aac_packets(runs: list[AacRun], stack: ExitStack) -> Iterator[av.Packet]:
    for run in runs:
        run.wait()
        container = stack.enter_context(av.open(str(run.path)))
        stream = container.streams.audio[0]
        if stream.time_base != Fraction(1, RATE):
            raise StitchError(f"internal: unexpected AAC time base {stream.time_base}")
        for packet in container.demux(stream):
            if not packet.size or (run.start is not None and packet.pts < run.start) \
                    or (run.stop is not None and packet.pts >= run.stop):
                continue
            packet.pts += run.shift
            packet.dts += run.shift
            yield packet


class DecodeOrderTooShallow(StitchError):
    """A piece reorders frames more deeply than its keyframes showed (mux_film then measures)."""

    def __init__(self) -> None:
        super().__init__("internal: the video's decode order could not be laid out")


def required_delay(video: Video) -> int:
    """The decoding delay the joined pieces really need: how far behind its decode position any
    frame is presented (one pass over the packets, no decoding)."""
    with av.open(str(video.path)) as container:
        stream = container.streams.video[0]
        step = round(1 / (FPS * stream.time_base))
        packets = (p for p in container.demux(stream) if p.size)
        need, base = 0, None
        for k, packet in enumerate(packets):
            base = packet.pts if base is None else base
            need = max(need, -((packet.pts - base - k * step) // step))
    return need


def mux_film(video: Video, audio: list[AacRun], out: Path) -> tuple[list[int], Fraction]:
    """Interleave the joined video and the AAC runs into the film (packet copy, faststart);
    returns the presentation times of the video frames written and their time base. Splicing two
    AAC encodes at a frame boundary is just a change of packet source here."""
    try:
        return mux_once(video, audio, out)
    except DecodeOrderTooShallow:
        return mux_once(replace(video, delay=required_delay(video)), audio, out)


def mux_once(video: Video, audio: list[AacRun], out: Path) -> tuple[list[int], Fraction]:
    times: list[int] = []

    def video_packets(container: av.container.InputContainer) -> Iterator[av.Packet]:
        stream = container.streams.video[0]
        step = round(1 / (FPS * stream.time_base))
        base = None
        for k, packet in enumerate(p for p in container.demux(stream) if p.size):
            base = packet.pts if base is None else base
            # Pieces reorder frames by different depths (a clip without B-frames next to a window
            # with them), so their own DTS would fall back at a join and the track would be as
            # long as its DTS span, not its frames. Decode order at the frame rate, trailing by
            # the deepest reordering of any piece, rises steadily and spans every frame.
            packet.dts = base + (k - video.delay) * step
            if packet.dts > packet.pts:
                raise DecodeOrderTooShallow()
            times.append(packet.pts)
            yield packet

    with ExitStack() as stack:
        vin = stack.enter_context(av.open(str(video.path)))
        audio[0].wait()
        first = stack.enter_context(av.open(str(audio[0].path)))
        # edit lists count in the movie time scale: at the default 1/1000 s the sound's would
        # lose up to a millisecond at the end; 1/48000 s is exact for samples and for frames
        o = stack.enter_context(av.open(str(out), "w", format="mp4", options={
            "movflags": "+faststart", "movie_timescale": str(RATE)}))
        vs = vin.streams.video[0]
        vo = o.add_stream_from_template(vs)
        ao = o.add_stream_from_template(first.streams.audio[0])
        streams = [video_packets(vin), aac_packets(audio, stack)]
        outs = [vo, ao]
        # DTS -> seconds as int * int / int (correctly rounded, the same value as via Fraction)
        bases = [(vs.time_base.numerator, vs.time_base.denominator), (1, RATE)]
        heads = [next(it, None) for it in streams]
        at = [None if h is None else h.dts * n / d for h, (n, d) in zip(heads, bases)]
        while heads[0] is not None or heads[1] is not None:
            # write whichever stream is behind (by DTS in seconds): the muxer wants them interleaved
            k = 1 if heads[0] is None or (heads[1] is not None and at[1] < at[0]) else 0
            heads[k].stream = outs[k]
            o.mux(heads[k])
            h = heads[k] = next(streams[k], None)
            if h is not None:
                n, d = bases[k]
                at[k] = h.dts * n / d
        base = Fraction(vs.time_base)
    return times, base


# ---- subtitles (moviepy) ---------------------------------------------------------------------

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


def burn_in_subtitles(joined: Video, srt: Path, ws: Workspace, enc: Encoder,
                      note: Callable[[str], None]) -> Video:
    """Burn the cues into the GOPs that show them (moviepy) and copy the rest of the joined video;
    returns the pieces of the new video."""
    from moviepy import CompositeVideoClip, TextClip, VideoFileClip

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
                lines += copy_entry(slot, Strand(0, at, a - at))
            out = ws.run / f"subs{n:04d}.mp4"
            seg = film.subclipped(a / FPS, b / FPS).with_duration((b - a + 0.5) / FPS)
            texts = []
            for start, end, body in cues:
                s, e = max(start, a / FPS), min(end, b / FPS)
                if e > s:
                    clip = TextClip(text=body, font_size=max(12, h // 18), color="white",
                                    stroke_color="black", stroke_width=2, method="caption",
                                    size=(int(w * 0.9), None), text_align="center")
                    texts.append(clip.with_start(s - a / FPS).with_end(e - a / FPS)
                                 .with_position(("center", h - clip.h - h // 20)))
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
            lines += [concat_line(out), f"duration {(b - a) / FPS:.6f}"]
            at = b
        if at < scan.frames:
            lines += copy_entry(slot, Strand(0, at, scan.frames - at))
    finally:
        film.close()
    note(f"burned {len(cues)} subtitles from {srt.name} into {len(spans)} windows "
         f"({sum(b - a for a, b in spans)} frames re-encoded with moviepy)")
    listing = ws.run / "subtitled.ffconcat"
    listing.write_text("\n".join(lines) + "\n")
    return Video(listing, max(delays))


# ---- final mux and verification --------------------------------------------------------------

def join_video(pieces: Video, out: Path) -> Video:
    """Concatenate the video pieces by stream copy (video only; nothing is encoded here)."""
    # -copyts: with explicit inpoints the demuxer's timestamps are already right; without it the
    # first file's AAC priming (audio starts at -21 ms) would shift the whole video (§5.5.3)
    ffmpeg(["-copyts", "-f", "concat", "-safe", "0", "-i", str(pieces.path), "-map", "0:v:0",
            "-c", "copy", "-f", "mp4", str(out)], "joining the video")
    return Video(out, pieces.delay)


def verify(path: Path, frames: int, written: tuple[list[int], Fraction]) -> float:
    """Check the written film against what was muxed into it (`written`: its frames' times and
    their time base) and read its index back; returns its duration. Raises StitchError when it
    is wrong."""
    try:
        with av.open(str(path)) as container:
            vs = container.streams.video[0] if container.streams.video else None
            as_ = container.streams.audio[0] if container.streams.audio else None
            if vs is None or as_ is None:
                raise StitchError(f"the written film lacks a stream (video: {vs is not None}, "
                                  f"audio: {as_ is not None})")
            indexed = vs.frames
            video = float(vs.duration * vs.time_base) if vs.duration else 0.0
            audio = float(as_.duration * as_.time_base) if as_.duration else 0.0
    except (av.FFmpegError, OSError) as e:
        raise StitchError(f"the written film cannot be read back: {e}") from e
    times, base = sorted(written[0]), written[1]
    if abs(len(times) - frames) > 1 or indexed != len(times):
        raise StitchError(f"the written film has {indexed} frames, expected {frames} "
                          f"({indexed / FPS:.3f} s instead of {frames / FPS:.3f} s)")
    steps = [b - a for a, b in zip(times, times[1:])] or [round(1 / (FPS * base))]
    step = float(sum(steps) / len(steps) * base)
    # 1 tick of slack: a millisecond time base rounds 1/24 s
    if max(steps) - min(steps) > 1 or abs(step * FPS - 1) > 1e-3 \
            or abs(video - len(times) / FPS) > 0.5 / FPS:
        raise StitchError("the written film's frame timing is irregular (not 24 fps CFR)")
    if abs(audio - video) > 1 / FPS:
        raise StitchError(f"the written film's audio ({audio:.3f} s) and video "
                          f"({video:.3f} s) differ by more than one frame")
    return video


# ---- the stage -------------------------------------------------------------------------------

@dataclass
class Stitcher:
    """One stitch: the steps from probed clips to a verified film, and the notes of what it did."""

    plan: RenderPlan
    clips: dict[str, Path]
    ws: Workspace
    log: Callable[[str], None]
    actions: list[str] = field(default_factory=list)
    enc: Encoder = Encoder()

    def note(self, message: str) -> None:
        self.actions.append(message)
        self.log(message)

    def probe(self, entries: list[Entry]) -> dict[str, Source]:
        names = list(dict.fromkeys(e.name for e in entries))
        # PyAV opens files without the GIL (stream-info probing decodes a frame or two)
        with ThreadPoolExecutor(max_workers=PROBE_WORKERS) as pool:
            found = pool.map(lambda name: probe_clip(name, self.clips[name]), names)
            sources = dict(zip(names, found))
        self.enc = Encoder.like(sources[entries[0].name].scan.profile)
        return sources

    def played_frames(self, e: Entry, src: Source) -> int | None:
        """Frame count a retimed clip must play, or None when it plays as generated."""
        if e.seconds is not None and abs(e.seconds - src.scan.duration) * FPS >= 0.5:
            return max(1, round(e.seconds * FPS))
        return None

    def prepare(self, entries: list[Entry], sources: dict[str, Source]) -> list[Slot]:
        """Make every clip copyable (remux or conform only where needed), trim extensions."""
        size = film_size([sources[e.name] for e in entries])
        slots: list[Slot] = []
        for i, e in enumerate(entries):
            slot = self.prepare_slot(e, sources[e.name], size)
            if e.join.kind == "extend":
                slot = self.trim_extension(slots[-1], sources[entries[i - 1].name], slot,
                                           sources[e.name])
            slots.append(slot)
        return slots

    def prepare_slot(self, e: Entry, src: Source, size: tuple[int, int]) -> Slot:
        out_frames = self.played_frames(e, src)
        why = video_deviations(src, size)
        if out_frames is not None:
            video = conform_video(self.ws, src, size, out_frames, self.enc)
            self.note(f"retimed clip {e.name} from {src.scan.duration:.2f} s to "
                      f"{out_frames / FPS:.2f} s ({src.scan.frames} -> {out_frames} frames)"
                      + (f"; conformed from {', '.join(why)}" if why else ""))
        elif why:
            video = conform_video(self.ws, src, size, None, self.enc)
            self.note(f"conformed clip {e.name} from {' '.join(why)} "
                      f"to {size[0]}x{size[1]} {FPS}fps")
        elif concat_ready(src.scan):
            video = src.path  # copied straight from the provider's file
        else:
            video = remux_video(self.ws, src)
            self.note(f"remuxed the video of clip {e.name} (stream {src.scan.index}, time base "
                      f"{src.scan.time_base}) so the concat demuxer can copy it")
        scan = src.scan if video == src.path else scan_video(video)
        audio = self.audio_source(e.name, src, out_frames)
        return Slot(e.name, e.join, video, scan, audio, 0, scan.frames)

    def audio_source(self, name: str, src: Source, out_frames: int | None) -> AudioSource:
        a = src.audio
        if a is None:
            self.note(f"added silence to clip {name} (no audio stream)")
            return AudioSource(None)
        if a.rate != RATE or a.channels != 2:
            self.note(f"resampled the audio of clip {name} from {a.rate} Hz "
                      f"{a.channels} ch to {RATE} Hz stereo")
        if out_frames is not None:
            return AudioSource(retime_audio(self.ws, src, out_frames), zero=0.0)
        # remuxed and conformed videos both start at the source's first frame
        return AudioSource(src.path, zero=src.scan.start)

    def trim_extension(self, prev: Slot, target: Source, slot: Slot, src: Source) -> Slot:
        ext_seconds = float(self.plan.clip(slot.name).seconds)
        overlap = extension_overlap(target, src, ext_seconds)
        if overlap is not None:
            cut = min(round(overlap * FPS), slot.frames - 1)
            slot = replace(slot, start=cut)
            self.note(f"trimmed extension overlap of {cut / FPS:.1f} s from {slot.name} "
                      f"(file is {src.scan.duration:.2f} s = {target.scan.duration:.2f} s of "
                      f"{prev.name} + {ext_seconds:g} s)")
        if is_duplicate_boundary(prev, slot):
            slot = replace(slot, start=slot.start + 1)
            self.note(f"dropped the duplicated boundary frame at the start of {slot.name}")
        return slot

    def build(self, entries: list[Entry], subs: Path | None, out: Path) -> tuple[float, int]:
        """Write the film to `out` and verify it; returns its duration and frame count."""
        slots = self.prepare(entries, self.probe(entries))
        frames = total_frames(slots)
        planned = round(self.plan.total_seconds * FPS)
        if abs(frames - planned) > 1:
            self.note(f"the clips as rendered play {frames / FPS:.3f} s; the plan expected "
                      f"{self.plan.total_seconds:.3f} s")
        # the sound is mixed and encoded in background threads while the video is assembled
        mixer = AudioMixer(self.ws.run, slots)
        try:
            if mixer.samples != frames * SPF:
                raise StitchError(
                    f"internal: mixed {mixer.samples} audio samples for {frames} frames")
            pieces = render_video(plan_pieces(slots), slots, self.ws, self.enc, self.note)
            video = join_video(pieces, self.ws.run / "video.mp4")
            if subs is not None:
                pieces = burn_in_subtitles(video, subs, self.ws, self.enc, self.note)
                video = join_video(pieces, self.ws.run / "subtitled.mp4")
            # muxing starts as soon as the first encoder is done, while the second may still run
            written = mux_film(video, mixer.runs(), out)
            mixer.finish()
        except BaseException:
            mixer.abort()
            raise
        parts = "" if mixer.split is None else \
            f"; as 2 parallel parts spliced at {mixer.split / RATE:.3f} s, an AAC frame boundary"
        self.note("mixed the sound and encoded it once for the whole film (AAC 48 kHz stereo, "
                  f"{AAC_BIT_RATE // 1000} kbit/s{parts})")
        return verify(out, frames, written), frames


def stitch(plan: RenderPlan, clips: dict[str, Path], out: Path, *, workdir: Path,
           log: Callable[[str], None] = print, burn_subtitles: Path | None = None) -> StitchResult:
    """Join the plan's clips in timeline order with their transitions into `out` (MP4, H.264 +
    AAC 48 kHz stereo, 24 fps). Re-running with nothing changed returns `reused=True` at once."""
    out, workdir = Path(out), Path(workdir)
    entries = read_timeline(plan)
    clips = {k: Path(v) for k, v in clips.items()}
    for e in entries:
        if e.name not in clips:
            raise StitchError(f"clip {e.name!r} has no rendered file")
        if not clips[e.name].is_file():
            raise StitchError(f"clip {e.name!r}: file not found: {clips[e.name]}")
    if burn_subtitles is not None and not Path(burn_subtitles).is_file():
        raise StitchError(f"subtitle file not found: {burn_subtitles}")
    subs = Path(burn_subtitles) if burn_subtitles is not None else None
    if out.parent.is_dir():  # temp films of killed stitches of this film
        sweep(out.parent, f".{glob.escape(out.stem)}.*.tmp.mp4")
        sweep(out.parent, f".{glob.escape(out.name)}.*.tmp.key")
    record = up_to_date(plan, clips, out, subs, log)
    if record is not None:
        return StitchResult(out, float(record["duration"]), ["reused"], True)
    key = film_key(plan, clips, subs)

    workdir.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    ws = Workspace(workdir)
    tmp = media.temp_sibling(out, ".mp4")
    try:
        st = Stitcher(plan, clips, ws, log)
        duration, frames = st.build(entries, subs, tmp)
        os.replace(tmp, out)
        remember(out, key, duration)
        st.note(f"wrote {out} ({duration:.3f} s, {frames} frames)")
        gone = ws.prune()
        if gone:
            st.note(f"removed {len(gone)} intermediate file(s) no longer used from {ws.cache}")
        return StitchResult(out, duration, st.actions, False)
    finally:
        tmp.unlink(missing_ok=True)
        ws.cleanup()
