"""Subtitles for the stitched film: `build/<title>.srt` from the plan's dialogue lines.

Timing follows the film as `storyboard.stitch` cuts it (pure; no media is read): the plan's
film timing model (`plan.film_layout`) places each clip, and within a clip each line shows while
it is spoken, at the times `speech.schedule` gives: the same times at which the animatic shows
the line in its caption band and its scratch voice reads it, so the .srt, the burned-in cues and
the animatic agree. A clip that plays at another speed than it was made at (a morph) has its
times scaled with it. A cue is kept to its clip's *clear* part, which leaves out half of each
overlap, as the animatic's caption is: the cues of two dissolving clips never overlap, and the
cue changes where the picture is half one clip, half the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..names import plan_film_stem
from ..plan import Placement, RenderPlan, film_layout
from ..speech import Spoken, schedule

# ---- cues --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str
    clip: str


def cue_text(speaker: str, line: str) -> str:
    return f"{speaker}: {line}"


def build_cues(plan: RenderPlan) -> list[Cue]:
    """The film's dialogue as timed cues, in film order."""
    by_name = {c.name: c for c in plan.clips}
    cues: list[Cue] = []
    for p in film_layout(plan):
        lines = by_name[p.name].dialogue
        if lines:
            spoken = schedule([(d.speaker, d.line) for d in lines], p.planned)
            cues += [_cue(p, s, cue_text(d.speaker, d.line)) for s, d in zip(spoken, lines, strict=True)]
    return cues


def _cue(p: Placement, line: Spoken, text: str) -> Cue:
    """One spoken line on the film's clock: shifted to where its clip plays, scaled with a
    retimed clip, kept to the clip's clear part (a line wholly inside an overlap keeps its own
    times: shown over the transition rather than lost)."""
    rate = p.seconds / p.planned if p.planned else 1.0
    start, end = p.start + line.start * rate, p.start + line.end * rate
    clear_a, clear_b = p.clear
    if min(end, clear_b) > max(start, clear_a):
        start, end = max(start, clear_a), min(end, clear_b)
    return Cue(round(start, 3), round(end, 3), text, p.name)


def srt_timestamp(seconds: float) -> str:
    ms = max(0, int(round(seconds * 1000)))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def to_srt(cues: list[Cue]) -> str:
    blocks = []
    for i, cue in enumerate(cues, 1):
        text = "\n".join(line for line in cue.text.replace("\r", "").split("\n") if line.strip()) or " "
        blocks.append(f"{i}\n{srt_timestamp(cue.start)} --> {srt_timestamp(cue.end)}\n{text}\n")
    return "\n".join(blocks)


def srt_path(plan: RenderPlan, out_dir: Path) -> Path:
    return Path(out_dir) / f"{plan_film_stem(plan)}.srt"


def write_srt(plan: RenderPlan, out: Path) -> Path:
    """Write the film's subtitles (UTF-8) atomically and return the path. A film without
    dialogue gets an empty file."""
    from ..atomic import write_text

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text(out, to_srt(build_cues(plan)))
    return out
