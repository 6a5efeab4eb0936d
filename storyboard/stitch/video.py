"""The film's pictures: which frames are copied as whole GOPs and which small windows are
re-encoded (pure), the windows' encodes, and the stream-copy join of all the pieces."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Literal
from collections.abc import Callable

from .base import Encoder, FPS, Join, StitchError
from .clips import Slot
from ..media.probe import ffmpeg_exe
from .probe import scan_video
from .segments import SegmentCache
from .workspace import ffmpeg, Workspace

# Transition windows are ~1-2 s and decide the speed of a film with transitions: superfast keeps
# CABAC and deblocking (ultrafast drops both and nearly doubles their size) at ~3/4 of veryfast's
# cost. Whole clips being conformed keep veryfast: their size matters more than their speed.
WINDOW_PRESET = "superfast"
WINDOW_WORKERS = 2  # windows are short: two small encodes use 2 cores better than one x264


@dataclass(frozen=True)
class Video:
    """The film's video: a concat list of its pieces (copied runs and encoded windows) or the file
    joining them, and the deepest frame reordering (decoding delay, frames) of any piece."""

    path: Path
    delay: int


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


def strand_input(slot: Slot, strand: Strand) -> list[str]:
    """Input options that start decoding at the keyframe at or before the strand (no wasted GOP):
    the demuxer lands on a keyframe at or before -ss; the strand is then cut out by timestamps."""
    k = bisect_right(slot.scan.keyframes, strand.start) - 1
    if k <= 0:
        return ["-i", str(slot.video)]
    ss = slot.scan.key_pts[k] - slot.scan.file_start + 0.001  # -ss counts from the file's start
    return ["-noaccurate_seek", "-ss", f"{ss:.6f}", "-i", str(slot.video)]


def strand_filter(k: int, slot: Slot, strand: Strand) -> str:
    """The strand's frames as `[s{k}]`, timed in frames."""
    # -copyts keeps the file's own timestamps, so the half-frame margins select exact frames
    t0 = slot.scan.start + (strand.start - 0.5) / FPS
    t1 = t0 + strand.frames / FPS
    # xfade wants equal time bases on both inputs. The frame's own (1/24 s) keeps its progress
    # exact, k/n at the k-th of n frames: in microseconds (AVTB) a frame is 41666.67 and the
    # rounding moved a wipe's edge a row or a column at the frames where it falls on a pixel
    # boundary (found by the moviepy composition, whose mask moves by k/n).
    return f"[{k}:v]trim=start={t0:.6f}:end={t1:.6f},setpts=PTS-STARTPTS,settb=1/{FPS}[s{k}]"


# Frames that are dimmed (a fade) or mixed (a dissolve) are worked on in RGB, and only those: a
# picture whose YUV lies outside the RGB cube (over-saturated generator output, chroma
# subsampling at sharp colour edges) is shown clipped, and dimming or mixing its unclipped YUV
# shows a colour cast the picture never had (a blue flash through black, found by the moviepy
# composition, which mixes the RGB it shows). The frames around them stay as decoded.
RGB_IN, RGB_OUT = "format=gbrp", "format=yuv420p"


def strand_segments(k: int, strand: Strand, head: int, tail: int, rgb_head: bool,
                    rgb_tail: bool) -> tuple[list[str], dict[str, str]]:
    """Filters cutting `[s{k}]` into its first `head` frames ("h"), the middle ("m") and its
    last `tail` frames ("t"), with the strand's fades; a part marked rgb is handed on in RGB
    (a fade is dimmed there and comes back as YUV; an overlap goes to xfade in RGB). Returns the
    filters and the labels of the parts that have frames."""
    n = strand.frames
    parts = [("h", 0, head, rgb_head, "in" if strand.fade_in else None),
             ("m", head, n - tail, False, None),
             ("t", n - tail, n, rgb_tail, "out" if strand.fade_out else None)]
    parts = [p for p in parts if p[2] > p[1]]
    graph = [f"[s{k}]split={len(parts)}" + "".join(f"[p{k}{p[0]}]" for p in parts)] if len(parts) > 1 else []
    labels: dict[str, str] = {}
    for name, a, b, rgb, fade in parts:
        chain = [f"trim=start_frame={a}:end_frame={b}", "setpts=PTS-STARTPTS"]
        if rgb:
            chain.append(RGB_IN)
        if fade:
            chain += [f"fade=t={fade}:s=0:n={b - a}", RGB_OUT]
        source = f"[p{k}{name}]" if len(parts) > 1 else f"[s{k}]"
        graph.append(source + ",".join(chain) + f"[q{k}{name}]")
        labels[name] = f"[q{k}{name}]"
    return graph, labels


def window_graph(piece: Piece, slots: list[Slot]) -> list[str]:
    """The window's filter graph, ending in `[v]`: each strand cut where its frames are faded or
    overlap the other's, the fades dimmed and a dissolve mixed in RGB (a wipe mixes nothing: it
    stays in YUV), all joined back in order."""
    graph = [strand_filter(k, slots[s.slot], s) for k, s in enumerate(piece.strands)]
    dissolve = piece.xfade == "fade"
    last = len(piece.strands) - 1
    order: list[str | None] = []
    tail: str | None = None
    for k, strand in enumerate(piece.strands):
        head_n = piece.overlap if k > 0 else strand.fade_in
        tail_n = piece.overlap if k < last else strand.fade_out
        seg, parts = strand_segments(k, strand, head_n, tail_n, rgb_head=dissolve if k > 0 else True,
                                     rgb_tail=dissolve if k < last else True)
        graph += seg
        if k > 0:  # the overlap: the previous strand's tail under this one's head
            back = f",{RGB_OUT}" if dissolve else ""
            graph.append(f"{tail}{parts['h']}xfade=transition={piece.xfade}"
                         f":duration={piece.overlap / FPS:.6f}:offset=0{back}[x{k}]")
            order.append(f"[x{k}]")
        else:
            order.append(parts.get("h"))
        order.append(parts.get("m"))
        tail = parts.get("t")
    order.append(tail)
    inputs = [o for o in order if o is not None]
    graph.append("".join(inputs) + (f"concat=n={len(inputs)}:v=1:a=0[v]" if len(inputs) > 1 else "null[v]"))
    return graph


def encode_piece(piece: Piece, slots: list[Slot], out: Path, enc: Encoder) -> int:
    """Encode the window into `out`; returns its decoding delay (frames)."""
    args: list[str] = ["-copyts"]
    for strand in piece.strands:
        args += strand_input(slots[strand.slot], strand)
    what = f"re-encoding the window {describe(piece, slots)}"
    ffmpeg([*args, "-filter_complex", ";".join(window_graph(piece, slots)), "-map", "[v]", "-an",
            *enc.ffmpeg_args(WINDOW_PRESET), "-r", str(FPS), "-frames:v", str(piece.frames),
            "-f", "mp4", str(out)], what)
    scan = scan_video(out)
    if scan.frames != piece.frames:
        raise StitchError(f"{what}: got {scan.frames} frames instead of {piece.frames}")
    return scan.delay


def concat_line(ws: Workspace, path: Path) -> str:
    """A concat list's `file` line. The list is read line by line and a story's folder may hold a
    newline or a quote, so it only ever names files by names the stitch chose (Workspace.listed),
    which ffmpeg's safe mode accepts."""
    return f"file {ws.listed(path)}"


def copy_entry(ws: Workspace, slot: Slot, strand: Strand) -> list[str]:
    scan = slot.scan
    k = scan.keyframes.index(strand.start)
    lines = [concat_line(ws, slot.video), f"inpoint {scan.key_pts[k]:.6f}"]
    stop = strand.start + strand.frames
    if stop < scan.frames:
        # outpoint is exclusive and compared with DTS: stop just before the next keyframe's DTS
        j = scan.keyframes.index(stop)
        lines.append(f"outpoint {scan.key_dts[j] - 0.5 / FPS:.6f}")
    lines.append(f"duration {strand.frames / FPS:.6f}")
    return lines


def describe(piece: Piece, slots: list[Slot]) -> str:
    """The window in the story's words, e.g. "a[96:120] (fade in) dissolve to b[0:24]"."""
    def part(s: Strand) -> str:
        fade = " (fade in)" if s.fade_in else " (fade out)" if s.fade_out else ""
        return f"{slots[s.slot].name}[{s.start}:{s.start + s.frames}]{fade}"

    parts = [part(s) for s in piece.strands]
    if not piece.xfade:
        return parts[0]
    # xfade's names: "fade" is a dissolve, "wipeleft" a wipe to the left
    words = "dissolve" if piece.xfade == "fade" else f"wipe {piece.xfade.removeprefix('wipe')}"
    return f" {words} to ".join(parts)


def window_key(piece: Piece, slots: list[Slot], enc: Encoder,
               digest: Callable[[Path | None], str | None]) -> dict:
    """Everything an encoded window depends on: each strand's video file by content (its frame
    times follow from it), the frames it takes and its fades, the transition, the encoder."""
    return {
        "strands": [{"video": digest(slots[s.slot].video), "start": slots[s.slot].scan.start,
                     "frames": [s.start, s.frames], "fades": [s.fade_in, s.fade_out]}
                    for s in piece.strands],
        "xfade": piece.xfade, "overlap": piece.overlap, "fps": FPS,
        "x264": enc.ffmpeg_args(WINDOW_PRESET), "ffmpeg": Path(ffmpeg_exe()).name,
    }


def encode_window(piece: Piece, slots: list[Slot], enc: Encoder, out: Path) -> dict:
    return {"delay": encode_piece(piece, slots, out, enc), "frames": piece.frames}


@dataclass
class Windows:
    """The film's encoded windows: each from the stitch cache when an earlier stitch made the same
    one (same frames of the same content, same transition and encoder), else encoded, two at a
    time; a window the film uses twice is encoded once."""

    cache: SegmentCache
    slots: list[Slot]
    enc: Encoder
    pool: ThreadPoolExecutor
    made: dict[Path, Future | dict] = field(default_factory=dict)
    reused: int = 0

    def get(self, piece: Piece) -> Path:
        path = self.cache.path("window", self.cache.key(
            "window", window_key(piece, self.slots, self.enc, self.cache.digest)), ".mp4")
        if path not in self.made:
            info = self.cache.lookup(path)
            if info is not None and info.get("frames") == piece.frames \
                    and isinstance(info.get("delay"), int):
                self.made[path] = info
                self.reused += 1
            else:
                self.made[path] = self.pool.submit(
                    self.cache.store, path, partial(encode_window, piece, self.slots, self.enc))
        return path

    def delay(self, path: Path) -> int:
        """The window's decoding delay; waits for its encode (re-raises its failure)."""
        made = self.made[path]
        return (made.result() if isinstance(made, Future) else made)["delay"]

    @property
    def encoded(self) -> int:
        return sum(isinstance(m, Future) for m in self.made.values())


def render_video(pieces: list[Piece], slots: list[Slot], ws: Workspace, enc: Encoder,
                 note: Callable[[str], None], cache: SegmentCache) -> Video:
    """Encode the windows (or take them from the cache) and write the concat list that joins
    them with the copied runs."""
    lines = ["ffconcat version 1.0"]
    copied: Counter[str] = Counter()
    delays = [0]
    used: list[tuple[Path, Piece]] = []
    with ThreadPoolExecutor(max_workers=WINDOW_WORKERS) as pool:
        windows = Windows(cache, slots, enc, pool)
        try:
            for piece in pieces:
                if piece.kind == "copy":
                    strand = piece.strands[0]
                    lines += copy_entry(ws, slots[strand.slot], strand)
                    copied[slots[strand.slot].name] += strand.frames
                    delays.append(slots[strand.slot].scan.delay)
                    continue
                path = windows.get(piece)
                used.append((path, piece))
                lines += [concat_line(ws, path), f"duration {piece.frames / FPS:.6f}"]
            noted: set[Path] = set()
            for path, piece in used:
                delays.append(windows.delay(path))  # re-raises the first failure
                if isinstance(windows.made[path], Future) and path not in noted:
                    noted.add(path)
                    note(f"re-encoded window {describe(piece, slots)}: {piece.frames} frames")
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    if windows.reused:
        note(f"reused {windows.reused} window(s) encoded by an earlier stitch (stitch cache)")
    cache.counts["windows"] += len(windows.made)
    cache.counts["windows_encoded"] += windows.encoded
    for name, frames in copied.items():
        note(f"copied {frames} frames of {name} without re-encoding")
    return Video(ws.write_list("video.ffconcat", lines), max(delays))


def join_video(pieces: Video, out: Path) -> Video:
    """Concatenate the video pieces by stream copy (video only; nothing is encoded here)."""
    # -copyts: with explicit inpoints the demuxer's timestamps are already right; without it the
    # first file's AAC priming (audio starts at -21 ms) would shift the whole video (§5.5.3)
    ffmpeg(["-copyts", "-f", "concat", "-safe", "1", "-i", str(pieces.path), "-map", "0:v:0",
            "-c", "copy", "-f", "mp4", str(out)], "joining the video")
    return Video(out, pieces.delay)
