"""The film's sound: each clip decoded (PyAV), mixed sample-exactly in numpy with its join
envelopes, and encoded in ~20-s AAC segments that splice seamlessly (stream-copying the clips'
own AAC would drift at every join), in background threads while the pictures are assembled.
Segments are cached by content: a re-stitch encodes only those an edit reaches."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from itertools import pairwise
from pathlib import Path
from collections.abc import Callable

import av
import numpy as np

from .base import Join, RATE, SPF, StitchError
from .clips import AudioSource, Slot
from .mux import AacRun, ready
from .pcm import pcm_chunks
from .score import PlacedScore, ScoreMix, warmup
from .segments import SegmentCache

HARD_JOIN_FADE = RATE // 100  # 10 ms fades at hard cuts: no click, inaudible as a dip
EXTEND_XFADE = RATE * 30 // 1000  # 30 ms audio crossfade at extension seams
AAC_FRAME = 1024  # samples per AAC-LC frame
# ~20-s segments: a one-clip edit re-encodes one or two of them, a 40-s film is two even encodes
# for the two workers, and the pre-rolls add ~5% to the encoding. (~10-s segments halve what an
# edit re-encodes but made the hard-cut stitch of a 40-s film ~10% dearer in CPU and, with four
# encodes in two rounds, up to 1.8x slower in wall time on a loaded machine: bench/stitch.py.)
SEGMENT_FRAMES = 938
PREROLL = 47 * AAC_FRAME  # ~1 s a segment's encoder encodes before its start, then drops
TAIL = 4 * AAC_FRAME  # a segment's encoder runs this far past its end
SOUND_WORKERS = 2
# 256 kbit/s coded left/right: 128 kbit/s per channel is transparent AAC-LC, and skipping the
# encoder's per-band mid/side search makes it ~40% cheaper than 192 kbit/s with the search, with
# a better SNR on mixed and wide stereo and at most 2.3 dB less (at 43+ dB) on dual mono
# (bench/aac.py). The AAC encode is the slowest step of a hard-cut film.
AAC_BIT_RATE = 256_000
AAC_OPTIONS = {"aac_ms": "0"}


def decode_pcm(src: AudioSource) -> tuple[np.ndarray, int]:
    """The whole audio track as float32 (n, 2) at 48 kHz, and the sample index of video frame 0."""
    start: list[float] = []
    chunks = list(pcm_chunks(src.path, start))
    pcm = np.concatenate(chunks) if chunks else np.zeros((0, 2), np.float32)
    return pcm, round((src.zero - (start[0] if start else 0.0)) * RATE)


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
        # an extension repeats its target: real overlap audio; else mirror the first samples,
        # continuous with the body at the seam
        head = (window(pcm, zero + a - preroll, zero + a) if preroll and a >= preroll
                else body[:preroll][::-1].copy())
        buf = np.concatenate([head, body]) if preroll else body
        del pcm
    jin, body = slot.join, buf[preroll:]
    if preroll:
        ramp(buf[:preroll], preroll, rising=True)
    elif jin.blends:
        ramp(body, jin.frames * SPF, rising=True)
    else:
        ramp(body, HARD_JOIN_FADE, rising=True)
    if next_join.blends:
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

    def __init__(self, out: Path, bit_rate: int = AAC_BIT_RATE,
                 options: dict[str, str] = AAC_OPTIONS):
        self.out = out
        try:
            self.container = av.open(str(out), "w", format="mp4")
        except (av.FFmpegError, OSError) as e:
            raise StitchError(f"cannot write the film's sound to {out}: {e}") from e
        try:
            self.stream = self.container.add_stream("aac", rate=RATE, layout="stereo")
            self.stream.bit_rate = bit_rate
            self.stream.codec_context.options = dict(options)
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


def sound_layout(slots: list[Slot]) -> tuple[list[tuple[Slot, Join, int]], int]:
    """Each slot with the join after it and the film frame where its picture starts, and the
    film's length in frames."""
    layout, at = [], 0
    for i, slot in enumerate(slots):
        position = at - slot.join.overlap
        layout.append((slot, slots[i + 1].join if i + 1 < len(slots) else Join("cut"), position))
        at = position + slot.frames
    return layout, at


# ---- the sound in segments ---------------------------------------------------------------------

@dataclass(frozen=True)
class Segment:
    """Film samples [lo, hi) of the sound, kept from an AAC encode of [enc_lo, enc_hi): the
    encoder starts PREROLL before (discarded: its state has settled at `lo`) and runs TAIL past
    `hi` (every kept frame was encoded with its real neighbours), so segments encoded apart
    splice seamlessly at their AAC frame boundaries."""

    index: int
    lo: int
    hi: int
    enc_lo: int
    enc_hi: int
    last: bool

    def run(self, path: Path, wait: Callable[[], None]) -> AacRun:
        """The segment's packets in the film's AAC track (the first keeps the encoder's
        priming packet, the last its final padded frames)."""
        return AacRun(path, start=None if self.index == 0 else self.lo - self.enc_lo,
                      stop=None if self.last else self.hi - self.enc_lo, shift=self.enc_lo,
                      wait=wait)


def sound_segments(total: int) -> list[Segment]:
    """The film's sound cut on a fixed grid of SEGMENT_FRAMES AAC frames from its start: an edit
    moves no boundary before it (a clip changing length changes what follows it anyway). A last
    piece shorter than a pre-roll (it would cost more to start than to encode) joins the one
    before."""
    length = SEGMENT_FRAMES * AAC_FRAME
    bounds = [*range(0, total, length), total]
    if len(bounds) > 2 and total - bounds[-2] < PREROLL:
        del bounds[-2]
    n = len(bounds) - 1
    return [Segment(k, lo, hi, max(0, lo - PREROLL) if k else 0, min(total, hi + TAIL), k == n - 1)
            for k, (lo, hi) in enumerate(pairwise(bounds))]


def segment_key(seg: Segment, heard: int, clips: list[tuple[Slot, Join, int]],
                scores: list[PlacedScore], digest: Callable[[Path | None], str | None]) -> dict:
    """Everything the segment's encoded sound depends on, placed relative to its encode's start
    (`heard`: where its mix starts, earlier than enc_lo when a score's ducking needs to hear the
    clips before it): each clip's sound file by content, the frames that play, its joins (their
    envelopes) and where it lands; each score's file by content, settings and span; the encoder."""
    return {
        "span": [seg.enc_lo - heard, seg.lo - heard, seg.hi - heard, seg.enc_hi - heard],
        "first": seg.index == 0, "last": seg.last,
        "clips": [{"audio": digest(slot.audio.path), "zero": slot.audio.zero,
                   "frames": [slot.start, slot.end], "join": join_fields(slot.join),
                   "next": join_fields(next_join),
                   "at": sound_span(slot, position)[0] - heard}
                  for slot, next_join, position in clips],
        "scores": [{"file": digest(p.source), "spec": p.spec.model_dump(mode="json"),
                    "span": [p.start - heard, p.end - heard]} for p in scores],
        "aac": {"rate": RATE, "bit_rate": AAC_BIT_RATE, "options": AAC_OPTIONS},
    }


def join_fields(join: Join) -> list:
    return [join.kind, join.seconds, join.direction]


def encode_segment(seg: Segment, heard: int, items: list[tuple[ClipSound, int]],
                   scores: list[PlacedScore], stop: threading.Event, out: Path) -> dict:
    """Mix the clips (and scores) of the segment's encode range and encode it into `out`."""
    writer = AacWriter(out)
    done = False
    try:
        track = AudioTrack(writer.write, seg.enc_lo, seg.enc_hi)
        if scores:  # the duckers hear the clips from `heard` on; only enc_lo on is encoded
            track = AudioTrack(ScoreMix(writer.write, scores, heard, seg.enc_lo - heard),
                               heard, seg.enc_hi)
        for sound, position in items:
            if stop.is_set():
                raise StitchError("aborted")
            try:
                buf = sound.take()
            except (av.FFmpegError, OSError, ValueError) as e:
                raise StitchError(
                    f"clip {sound.slot.name!r}: cannot decode or mix its audio ({e})") from e
            track.add(sound_span(sound.slot, position)[0], buf)
        track.flush()
        if writer.samples != seg.enc_hi - seg.enc_lo:
            raise StitchError(f"internal: sound segment {seg.index} mixed {writer.samples} "
                              f"samples instead of {seg.enc_hi - seg.enc_lo}")
        done = True
    finally:
        writer.close(complete=done)
    return {"samples": writer.samples}


class AudioMixer:
    """The film's sound in AAC segments (sound_segments), each kept in the stitch cache under a
    key of everything it is made from (segment_key). A segment already there is reused as it is;
    the others are mixed and encoded in background threads, two at a time (PyAV's encoder
    releases the GIL), while the video is assembled; the mux takes each segment's packets as it
    is done. AAC encoding is the slowest step of a hard-cut film, and a re-stitch after an edit
    encodes only the segments the edit reaches."""

    def __init__(self, cache: SegmentCache, slots: list[Slot], scores: list[PlacedScore] = ()):
        layout, frames = sound_layout(slots)
        self.samples = frames * SPF
        self.segments = sound_segments(self.samples)
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(SOUND_WORKERS, thread_name_prefix="stitch-sound")
        self.paths: list[Path] = []
        self.jobs: dict[int, Future] = {}
        try:
            self._start(cache, layout, list(scores))
        except BaseException:
            self.abort()
            raise

    def _start(self, cache: SegmentCache, layout: list[tuple[Slot, Join, int]],
               scores: list[PlacedScore]) -> None:
        todo, users = [], Counter()
        for seg in self.segments:
            near = [s for s in scores if s.overlaps(seg.enc_lo, seg.enc_hi)]
            heard = max(0, seg.enc_lo - warmup(near)) if near else seg.enc_lo
            items = [i for i, (slot, _, at) in enumerate(layout)
                     if sound_span(slot, at)[1] > heard and sound_span(slot, at)[0] < seg.enc_hi]
            key = segment_key(seg, heard, [layout[i] for i in items], near, cache.digest)
            path = cache.path("sound", cache.key("sound", key), ".m4a")
            self.paths.append(path)
            info = cache.lookup(path)
            if info is None or info.get("samples") != seg.enc_hi - seg.enc_lo:
                todo.append((seg, heard, items, near, path))
                users.update(items)
        sounds = {i: ClipSound(layout[i][0], layout[i][1], n) for i, n in users.items()}
        for seg, heard, items, near, path in todo:  # in film order: the mux waits in that order
            job = partial(encode_segment, seg, heard, [(sounds[i], layout[i][2]) for i in items],
                          near, self.stop)
            self.jobs[seg.index] = self.pool.submit(cache.store, path, job)

    @property
    def encoded(self) -> list[Segment]:
        return [seg for seg in self.segments if seg.index in self.jobs]

    def runs(self) -> list[AacRun]:
        """The packet runs that make the film's AAC track, each waiting for its encode (if any):
        the mux takes the first segments while the later ones are still encoding."""
        def waiter(k: int) -> Callable[[], None]:
            job = self.jobs.get(k)
            if job is None:
                return ready

            def wait() -> None:
                job.result()
            return wait

        return [seg.run(path, waiter(seg.index))
                for seg, path in zip(self.segments, self.paths, strict=True)]

    def finish(self) -> None:
        """Wait for the encodes; raises the first segment's failure."""
        try:
            for job in self.jobs.values():
                job.result()
        except BaseException:
            self.abort()
            raise
        self.pool.shutdown()

    def abort(self) -> None:
        self.stop.set()
        self.pool.shutdown(wait=True, cancel_futures=True)
