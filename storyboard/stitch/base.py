"""The film's format (24 fps, 48 kHz, the x264 settings of what the stitcher encodes), the
timeline read from the plan, and the stage's errors and result. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..plan import RenderPlan, overlaps, transition_frames

FPS = 24
RATE = 48000
SPF = RATE // FPS  # audio samples per video frame: every frame boundary is a sample boundary
TIMESCALE = 12288  # mp4 video timescale of every piece (ffmpeg's default for 24 fps)
X264_PROFILES = {"Baseline": "baseline", "Constrained Baseline": "baseline", "Main": "main"}


@dataclass(frozen=True)
class Encoder:
    """x264 settings for everything the stitcher encodes. The profile follows the film's first
    clip: the MP4 sample entry carries only the first piece's parameter sets (§5.5.4), so the
    encoded windows should differ from the copied runs as little as possible."""

    profile: str = "high"

    @classmethod
    def like(cls, profile: str | None) -> Encoder:
        return cls(X264_PROFILES.get(profile or "", "high"))

    def common(self) -> list[str]:
        return ["-crf", "18", "-profile:v", self.profile, "-g", str(FPS), "-sc_threshold", "0",
                "-video_track_timescale", str(TIMESCALE)]

    def ffmpeg_args(self, preset: str) -> list[str]:
        return ["-c:v", "libx264", "-preset", preset, "-pix_fmt", "yuv420p", *self.common()]

    def moviepy_params(self) -> list[str]:
        return self.common()  # moviepy sets codec, preset and (wrongly, §2.3) pix_fmt itself


def retime_pick(j: int, n_src: int, n_out: int) -> int:
    """The source frame that output frame `j` of a clip retimed from `n_src` to `n_out` frames
    shows: spread evenly, the first and the last kept (a morph ends on its end frame)."""
    if n_out <= 1 or n_src <= 1:
        return 0
    return round(j * (n_src - 1) / (n_out - 1))


JoinKind = Literal["cut", "extend", "dissolve", "wipe", "fade"]


class StitchError(Exception):
    """The film cannot be made, or came out wrong; the message names the clip when there is one."""


@dataclass(frozen=True)
class StitchResult:
    path: Path
    duration: float  # seconds
    actions: list[str]  # what was done, in order ("copied ...", "re-encoded window ...", ...)
    reused: bool  # True: the output was already up to date and nothing was rebuilt
    # what was made and what came from the stitch cache: "sound_segments", "sound_encoded",
    # "windows", "windows_encoded", "damaged" (cache entries found broken and rebuilt)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Join:
    """How a clip joins the one before it. `seconds` is the transition's length as written."""

    kind: JoinKind
    seconds: float = 0.0
    direction: str | None = None

    @property
    def frames(self) -> int:
        """Overlap of a dissolve/wipe, or the length of each half of a fade, in frames."""
        return transition_frames(self.kind, self.seconds, FPS)

    @property
    def overlap(self) -> int:
        return self.frames if overlaps(self.kind) else 0

    @property
    def blends(self) -> bool:
        """A transition the sound crosses with ramps (every one but a cut or an extension seam)."""
        return self.frames > 0

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
