"""The film's sound: each clip decoded (PyAV), mixed sample-exactly in numpy with its join
envelopes, and encoded once for the whole film in background threads (in two parallel parts
for a long film), while the pictures are assembled."""

from __future__ import annotations

import queue
import threading
from fractions import Fraction
from pathlib import Path
from collections.abc import Callable

import av
import numpy as np

from .base import Join, RATE, SPF, StitchError
from .clips import AudioSource, Slot
from .mux import AacRun
from .pcm import pcm_chunks
from .score import PlacedScore, ScoreMix, warmup

HARD_JOIN_FADE = RATE // 100  # 10 ms fades at hard cuts: no click, inaudible as a dip
EXTEND_XFADE = RATE * 30 // 1000  # 30 ms audio crossfade at extension seams
AAC_FRAME = 1024  # samples per AAC-LC frame
SPLIT_MIN = 20  # s: shorter films' sound is encoded by one AAC encoder
SPLIT_PREROLL = 47 * AAC_FRAME  # ~1 s the second encoder encodes before the split, then drops
SPLIT_TAIL = 4 * AAC_FRAME  # the first encoder runs this far past the split
DECODE_WEIGHT = 0.15  # decoding a clip's second of AAC costs ~0.15 of encoding a film second
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


class AudioPart:
    """One AAC encoder fed with the film's samples [lo, hi) by its own thread; it decodes only the
    clips that reach into its range. The thread owns the encoder from start to close."""

    def __init__(self, lo: int, hi: int | None, out: Path, scores: list[PlacedScore] = ()):
        self.lo, self.hi, self.out = lo, hi, out
        self.writer = AacWriter(out)
        self.track = AudioTrack(self.writer.write, lo, hi)
        if scores:  # the scores' ducking hears the clips from a little before `lo` (score.py)
            self.lo = max(0, lo - warmup(scores))
            self.track = AudioTrack(ScoreMix(self.writer.write, scores, self.lo, lo - self.lo), self.lo, hi)
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

    def __init__(self, workdir: Path, slots: list[Slot], scores: list[PlacedScore] = ()):
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
                self.parts.append(AudioPart(lo, hi, workdir / f"audio{n}.m4a", scores))
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
