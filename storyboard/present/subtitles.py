"""Subtitles for the stitched film: `build/<title>.srt` from the plan's dialogue lines.

Timing follows the film as `storyboard.stitch` cuts it (pure; no media is read): the plan's
film timing model (`plan.film_layout`) places each clip, and a clip's lines share its *clear*
part in order, weighted by how long each line is to read. The clear part leaves out half of each
overlap, so the cues of two dissolving clips never overlap: the cue changes where the picture is
half one clip, half the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..names import plan_film_stem
from ..plan import RenderPlan, film_layout

MIN_WEIGHT = 12  # characters: a short line ("No!") still gets time to be read
GAP = 0.1  # seconds of blank between two cues of the same clip
MIN_CUE = 0.5  # a cue is never shorter than this unless the clip itself is


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
        if not lines:
            continue
        a, b = p.clear
        if b <= a:
            continue
        texts = [cue_text(d.speaker, d.line) for d in lines]
        weights = [max(MIN_WEIGHT, len(d.line)) for d in lines]
        total = float(sum(weights))
        t = a
        for k, (text, w) in enumerate(zip(texts, weights, strict=True)):
            share = (b - a) * w / total
            start, end = t, t + share
            t = end
            last = k == len(texts) - 1
            # a little air between consecutive cues of one clip, when the cue stays readable
            shown_end = end if last or share < GAP + MIN_CUE else end - GAP
            cues.append(Cue(round(start, 3), round(shown_end, 3), text, p.name))
    return cues


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
