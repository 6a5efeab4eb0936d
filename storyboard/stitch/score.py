"""The film's score (`score:` lines): music laid under a span of clips, mixed into the clips'
sound sample-exactly on its way to the AAC encoder.

Each score starts at its first clip's first frame and ends at its last clip's last frame, fades
in and out over its fade lengths, plays again (crossfaded over 50 ms at the seam) when it is
shorter than its span unless `once`, and is ducked under the clips' own sound: a sidechain on
the clip mix, measured in 10 ms blocks aligned to the film's sample clock (-50 dBFS and below
lowers nothing, -30 dBFS and above lowers it by the full amount), each block's ducking held and
let go linearly over the release, and reached over the attack (a moving average): a smooth
envelope, not a switch. The envelope depends only on the clip mix of the last
`Ducker.memory` samples, so an encoder that starts that far before its first sample (the second
part of a two-part encode) ducks exactly as one that ran from the film's start."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import paths
from ..plan import RenderPlan, ScoreSpec
from .base import RATE, SPF, StitchError
from .pcm import pcm_chunks
from .workspace import Workspace, make_atomic

BLOCK = RATE // 100  # the sidechain's block: 10 ms
QUIET_DB, LOUD_DB = -50.0, -30.0  # clip sound from no ducking to the full amount
LOOP_SEAM = RATE // 20  # 50 ms crossfade where a looping score starts again
END_FADE = RATE // 100  # 10 ms fade where music played once ends (no click)


@dataclass(frozen=True)
class PlacedScore:
    """A score on the film's sample clock."""

    spec: ScoreSpec
    pcm: np.ndarray  # float32 (n, 2) at 48 kHz, memory-mapped from the workspace
    start: int  # film sample where its span starts
    end: int  # film sample where its span ends
    source: Path | None = None  # the score's file (its content is part of the sound cache's keys)

    def overlaps(self, a: int, b: int) -> bool:
        return a < self.end and b > self.start

    def block(self, a: int, b: int) -> tuple[int, np.ndarray]:
        """(first film sample, the score's samples) of the part of [a, b) inside the span,
        faded and at its volume, before ducking."""
        lo, hi = max(a, self.start), min(b, self.end)
        t = np.arange(lo - self.start, hi - self.start, dtype=np.int64)
        music = self._music(t)
        gain = np.ones(len(t), np.float32) * np.float32(10 ** (self.spec.volume_db / 20))
        span = self.end - self.start
        for length, distance in ((self.spec.fade_in * RATE, t), (self.spec.fade_out * RATE, span - t)):
            if length > 0:
                gain *= np.clip(distance / length, 0.0, 1.0).astype(np.float32)
        if not self._loops():
            gain *= np.clip((len(self.pcm) - t) / END_FADE, 0.0, 1.0).astype(np.float32)
        return lo, music * gain[:, None]

    def _loops(self) -> bool:
        return self.spec.loop and self.end - self.start > len(self.pcm) > 4 * LOOP_SEAM

    def _music(self, t: np.ndarray) -> np.ndarray:
        n = len(self.pcm)
        if not self._loops():
            out = np.zeros((len(t), 2), np.float32)
            inside = t < n
            out[inside] = self.pcm[t[inside]]
            return out
        period = n - LOOP_SEAM
        k, r = np.divmod(t, period)
        out = np.asarray(self.pcm[r], np.float32)
        seam = (k > 0) & (r < LOOP_SEAM)  # the head fades in over the tail of the round before
        if seam.any():
            w = (r[seam] / LOOP_SEAM).astype(np.float32)[:, None]
            out[seam] = out[seam] * w + np.asarray(self.pcm[period + r[seam]], np.float32) * (1 - w)
        return out


class Ducker:
    """The ducking gain of one score, from the clip mix as it streams past (see the module)."""

    def __init__(self, spec: ScoreSpec):
        self.amount = spec.duck_db
        self.release = max(1, round(spec.release * RATE / BLOCK))
        self.attack = max(1, round(spec.attack * RATE / BLOCK))
        self.memory = (self.release + self.attack + 3) * BLOCK  # samples of history the gain depends on
        self.held: deque[float] = deque(maxlen=self.release + 1)  # u of the last blocks, newest last
        self.decay = 1 - np.arange(self.release + 1) / (self.release + 1)  # a block's hold, by its age
        self.smoothed: deque[float] = deque(maxlen=self.attack)  # held envelope of the last blocks
        self.env: deque[float] = deque([0.0, 0.0], maxlen=2)  # envelope of the two last whole blocks
        self.level = 0.0  # sum of squares of the block being measured
        self.count = 0
        self.next_block = None  # film index of the block being measured

    def feed(self, at: int, mix: np.ndarray) -> np.ndarray:
        """Measure `mix` (film samples from `at`) and return the score's gain for those samples."""
        if self.amount == 0:
            return np.ones(len(mix), np.float32)
        if self.next_block is None:
            self.next_block = at // BLOCK
        gains = np.empty(len(mix), np.float32)
        i = 0
        while i < len(mix):
            block_end = (self.next_block + 1) * BLOCK
            j = min(len(mix), block_end - at)
            part = mix[i:j]
            gains[i:j] = self._gain(at + i, at + j)
            self.level += float(np.square(part, dtype=np.float64).sum())
            self.count += len(part) * 2
            i = j
            if at + j == block_end:
                self._close_block()
        return gains

    def _gain(self, a: int, b: int) -> np.ndarray:
        """Within one block: from the envelope two blocks back to the last one, linearly."""
        start, end = self.env
        frac = (np.arange(a, b) % BLOCK).astype(np.float32) / BLOCK
        depth = start + (end - start) * frac
        return (10 ** (self.amount * depth / 20)).astype(np.float32)

    def _close_block(self) -> None:
        mean = self.level / max(self.count, 1)
        db = 10 * np.log10(mean + 1e-12)
        self.held.append(float(np.clip((db - QUIET_DB) / (LOUD_DB - QUIET_DB), 0.0, 1.0)))
        recent = np.fromiter(reversed(self.held), np.float64, len(self.held))  # newest first
        self.smoothed.append(float((recent * self.decay[:len(recent)]).max()))
        self.env.append(sum(self.smoothed) / self.attack)
        self.level, self.count = 0.0, 0
        self.next_block += 1


class ScoreMix:
    """A sink for the clip mix that adds the scores and passes it on. It receives the film's
    samples from `start`; the first `warmup` of them only teach the duckers (see the module)."""

    def __init__(self, sink: Callable[[np.ndarray], None], scores: list[PlacedScore], start: int, warmup: int):
        self.sink, self.scores = sink, scores
        self.duckers = [Ducker(s.spec) for s in scores]
        self.at, self.emit_from = start, start + warmup

    def __call__(self, mix: np.ndarray) -> None:
        a, b = self.at, self.at + len(mix)
        out = mix
        for score, ducker in zip(self.scores, self.duckers, strict=True):
            gains = ducker.feed(a, mix)
            if score.overlaps(a, b):
                lo, music = score.block(a, b)
                if out is mix:
                    out = mix.copy()
                out[lo - a:lo - a + len(music)] += music * gains[lo - a:lo - a + len(music), None]
        self.at = b
        skip = max(0, min(len(out), self.emit_from - a))
        if skip < len(out):
            self.sink(out[skip:])


def warmup(scores: list[PlacedScore]) -> int:
    """How far before its first sample an encoder must start hearing the clips to duck exactly."""
    return max((Ducker(s.spec).memory for s in scores), default=0)


# ---- placing the scores ---------------------------------------------------------------------------

def place_scores(plan: RenderPlan, spans: dict[str, tuple[int, int]], ws: Workspace) -> list[PlacedScore]:
    """Each score of the plan on the film's clock. `spans`: film samples [first, last) of each
    timeline clip's picture, as the stitcher placed them."""
    out = []
    for spec in plan.scores:
        if spec.first not in spans or spec.last not in spans:
            raise StitchError(f"the score {spec.file} names a clip that is not in the film")
        start, end = spans[spec.first][0], spans[spec.last][1]
        if end <= start:
            raise StitchError(f"the score {spec.file} ends before it starts")
        pcm, source = _decoded(plan, spec, ws)
        out.append(PlacedScore(spec, pcm, start, end, source))
    return out


def _decoded(plan: RenderPlan, spec: ScoreSpec, ws: Workspace) -> tuple[np.ndarray, Path]:
    """The score's sound as float32 48 kHz stereo, decoded once into the stitch cache and
    memory-mapped (a long score is never held in memory), and the score's file."""
    found = paths.resolve(plan.base_dir, spec.file)  # the one rule: the file the checker approved
    if not found.ok or not found.path.is_file():
        raise StitchError(f"the score {paths.shown(spec.file)} {found.reason_in(Path(plan.base_dir)) or 'is missing'}")

    def decode(tmp: Path) -> None:
        with open(tmp, "wb") as fh:
            try:
                for chunk in pcm_chunks(found.path):
                    fh.write(np.ascontiguousarray(chunk, np.float32).tobytes())
            except Exception as exc:  # PyAV's own errors: the file is no sound it can decode
                raise StitchError(f"cannot decode the score {spec.file}: {exc}") from exc

    raw = make_atomic(ws.cached(found.path, {"op": "score-pcm", "rate": RATE}, ".f32"), decode)
    if raw.stat().st_size < 8 * SPF:
        raise StitchError(f"the score {spec.file} holds no sound")
    return np.memmap(raw, dtype=np.float32, mode="r").reshape(-1, 2), found.path
