"""The film file: the joined video and the AAC parts interleaved by packet copy, with the decode
order laid out afresh, then checked against what was muxed into it."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass, replace
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from collections.abc import Callable, Iterator

import av

from .base import FPS, RATE, StitchError
from .video import Video


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
        at = [None if h is None else h.dts * n / d for h, (n, d) in zip(heads, bases, strict=True)]
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
    steps = [b - a for a, b in pairwise(times)] or [round(1 / (FPS * base))]
    step = float(sum(steps) / len(steps) * base)
    # 1 tick of slack: a millisecond time base rounds 1/24 s
    if max(steps) - min(steps) > 1 or abs(step * FPS - 1) > 1e-3 \
            or abs(video - len(times) / FPS) > 0.5 / FPS:
        raise StitchError("the written film's frame timing is irregular (not 24 fps CFR)")
    if abs(audio - video) > 1 / FPS:
        raise StitchError(f"the written film's audio ({audio:.3f} s) and video "
                          f"({video:.3f} s) differ by more than one frame")
    return video
