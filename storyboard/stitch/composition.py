"""The film as one moviepy clip: what `api.film_clip` returns and `render --stitcher moviepy`
writes. moviepy composes it frame by frame in Python, so a user can add their own effects:

    with api.film_clip("film.story") as film:     # a FilmClip (a moviepy CompositeVideoClip)
        film.with_effects([vfx.BlackAndWhite()]).write_videofile(
            "bw.mp4", audio_codec="aac", audio_fps=48000)

Timing: the film timing model (`plan.film_layout`) places every clip; the composition rounds
each start and length to the film's 24 fps frames. What of a file plays is decided as the
stitcher decides it, with its own helpers: an extension whose file repeats its target starts
past it; an extension whose first frame repeats the clip before leaves that frame out (the rest
of the film then plays one frame earlier, as in the stitcher's film); a morph spreads its frames
over its played length keeping the first and last (`base.retime_pick`; its sound is sped up
without changing pitch, with the stitcher's atempo chain). A clip that ends early holds its last
frame.

Pictures (layers bottom to top: the clips in film order, each over the one before, then the
subtitle cues): every clip is scaled by ffmpeg (moviepy's reader) to fit the film's size, the
most common clip size, and centred on black like the stitcher's pad. Transitions are moviepy's
compositing: a dissolve is `CrossFadeIn` on the incoming clip, a fade is `FadeOut` then `FadeIn`
through black, a wipe is a mask clip whose edge moves across the incoming clip as xfade's wipes
move (left, right, up, down). Sound: each clip's track with `AudioFadeIn`/`AudioFadeOut` ramps
as long as its transitions (10 ms at cuts, a 30 ms crossfade at extension seams), summed by
`CompositeAudioClip`; a clip without sound adds nothing (silence).

Title cards are clips of the timeline like any other: their drawn files (storyboard.cards, the
very files the fast stitcher copies; `api.film_clip` draws the missing ones first) play through
`clip_layer` with their transitions. Each score (`score:`) is one more sound layer over the clips'
(`score_sound`): the fast stitcher's own rules from `stitch.score` place it on the same span,
decode it once (cached in the stitch folder), fade, loop or end it and set its volume
(`PlacedScore.block`), and duck it under the clips' sound with the same sidechain (`Ducker`, fed
with this composition's clip mix from the film's first sample, as the stitcher's mixer feeds it).

Resources: moviepy starts two ffmpeg processes per open file clip (§2.4 of the stitching notes).
The composition opens a clip's readers only when a frame or a sample of it is asked for, keeps at
most a few open (least recently used first closed; a clip asked for again is reopened), so a
100-clip film never holds 200 processes. `FilmClip.close()` (or leaving its `with` block) closes
them all and removes the retimed sound it made; clips derived from the film (`with_effects`,
`subclipped`, ...) share its readers, so close the film once, after the last of them is written.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from moviepy import (
    afx, AudioClip, AudioFileClip, CompositeAudioClip, CompositeVideoClip, vfx, VideoClip, VideoFileClip,
)

from ..atomic import temp_sibling
from ..media.probe import run_ffmpeg
from ..plan import Placement, RenderPlan, TimelineEntry, film_layout, transition_frames
from .base import Encoder, FPS, Join, RATE, retime_pick, SPF, StitchError, StitchResult
from .burnin import parse_srt, subtitle_clip
from .clips import AudioSource, atempo_chain, extension_overlap, is_duplicate_boundary, Slot
from .filmkey import film_key, remember, up_to_date
from .mux import verify
from .probe import film_size, probe_clip, Source
from .score import Ducker, PlacedScore, place_scores
from .sound import AAC_BIT_RATE, EXTEND_XFADE, HARD_JOIN_FADE
from .workspace import sweep, Workspace

OPEN_READERS = 4  # file clips open at once per kind: a transition needs two
Cue = tuple[float, float, str]  # (start s, end s, text): a subtitle


@dataclass(frozen=True)
class Shot:
    """One clip as the composition plays it: where (film frames) and what of its file."""

    name: str
    path: Path
    first: int  # film frame of its first played frame
    frames: int  # frames it plays
    head: int  # the file's first frame that plays
    retime: int | None  # a morph: the file's frames spread over `frames`; else None
    file_frames: int
    file_fps: float
    size: tuple[int, int]  # the file's picture
    sound: bool  # the file has an audio stream
    join_in: TimelineEntry | None  # the transition before it (None: a cut, or the first clip)
    join_out: TimelineEntry | None
    extends: bool  # an extension continuing the clip before it (a seam, not a cut)

    @property
    def end(self) -> int:
        return self.first + self.frames

    def file_frame(self, j: int) -> int:
        """The frame of its file that its `j`-th played frame shows (the last one held)."""
        if self.retime is not None:
            return retime_pick(j, self.retime, self.frames)
        return min(int((self.head / self.file_fps + (j + 0.5) / FPS) * self.file_fps), self.file_frames - 1)

    @property
    def head_seconds(self) -> float:
        return self.head / self.file_fps


# ---- the timing: film_layout, rounded to frames, and what of each file plays --------------------

def lay_out(plan: RenderPlan, sources: Mapping[str, Source]) -> list[Shot]:
    """Every clip of the film with its place (from `plan.film_layout`) and its file's part."""
    shots: list[Shot] = []
    dropped = 0  # repeated boundary frames left out so far: the film is that much shorter
    for p in film_layout(plan):
        src = sources[p.name]
        extends = p.kind == "extend" and p.join_in is None and bool(shots)
        head, repeat = _extension_head(shots[-1], sources[shots[-1].name], p, src, plan) if extends else (0, 0)
        scan = src.scan
        shots.append(Shot(
            p.name, src.path, round(p.start * FPS) - dropped, max(1, round(p.seconds * FPS) - repeat), head,
            scan.frames if p.retimed else None, scan.frames, 1 / scan.step, src.size,
            src.audio is not None, p.join_in, p.join_out, extends))
        dropped += repeat
    return shots


def _extension_head(prev: Shot, prev_src: Source, p: Placement, src: Source, plan: RenderPlan) -> tuple[int, int]:
    """The first frame of an extension's file that plays, and 1 when it skips a frame repeating
    the clip before (else 0): past its target when the file repeats it, and past a repeated
    boundary frame, which the film leaves out (the stitcher's own tests, stitch.clips)."""
    overlap = extension_overlap(prev_src, src, float(plan.clip(p.name).seconds))
    head = min(round(overlap * FPS), src.scan.frames - 1) if overlap is not None else 0
    before = Slot(prev.name, Join("cut"), prev.path, prev_src.scan, AudioSource(None), 0,
                  prev.file_frame(prev.frames - 1) + 1)
    after = Slot(p.name, Join("extend"), src.path, src.scan, AudioSource(None), head, src.scan.frames)
    return (head + 1, 1) if is_duplicate_boundary(before, after) else (head, 0)


def probe_sources(plan: RenderPlan, clips: Mapping[str, Path]) -> dict[str, Source]:
    """Every clip file of the timeline probed once (StitchError naming a missing or bad one)."""
    out: dict[str, Source] = {}
    for e in plan.timeline:
        if e.clip is not None and e.clip not in out:
            if e.clip not in clips:
                raise StitchError(f"clip {e.clip!r} has no rendered file")
            out[e.clip] = probe_clip(e.clip, Path(clips[e.clip]))
    if not out:
        raise StitchError("the timeline has no clips")
    return out


# ---- readers: opened when first read, a few at a time ---------------------------------------------

class Readers:
    """moviepy file clips opened on first use and closed least recently used first, so a long
    film never holds more than OPEN_READERS of each kind (two ffmpeg processes per clip)."""

    def __init__(self) -> None:
        self.video: OrderedDict[tuple[Path, tuple[int, int]], object] = OrderedDict()
        self.audio: OrderedDict[Path, object] = OrderedDict()
        self._scratch: Path | None = None
        self._retimed: dict[tuple[Path, int], Path] = {}

    def frame(self, shot: Shot, fit: tuple[int, int], j: int) -> np.ndarray:
        key = (shot.path, fit)
        try:
            clip = self._take(self.video, key, lambda: VideoFileClip(
                str(shot.path), audio=False, target_resolution=fit if fit != shot.size else None))
            return clip.get_frame((shot.file_frame(j) + 0.5) / shot.file_fps)
        except (OSError, ValueError) as e:  # moviepy's reader says IOError for a file it cannot read
            raise StitchError(f"clip {shot.name!r}: cannot read the pictures of {shot.path} ({e})") from e

    def sound(self, shot: Shot, path: Path, t: np.ndarray | float) -> np.ndarray:
        """Samples of `path` at times `t` (s), silence outside the file: moviepy's composite asks
        a clip for a whole chunk, also past its end, and its reader refuses times past the end."""
        times = np.atleast_1d(np.asarray(t, dtype=float))
        out = np.zeros((len(times), 2))
        try:
            clip = self._take(self.audio, path, lambda: AudioFileClip(str(path), fps=RATE))
            inside = np.flatnonzero((times >= 0) & (times < clip.duration - 1 / RATE))
            # at most half the reader's buffer per call: its own split of a longer span is broken
            # (moviepy 2.2.1 passes its mask instead of the times); the writer asks for less
            span, at = (clip.reader.buffersize // 2 - 1) / RATE, 0
            while at < len(inside):
                end = at + int(np.searchsorted(times[inside[at:]], times[inside[at]] + span))
                block = inside[at:max(end, at + 1)]
                out[block] = clip.get_frame(times[block]).reshape(-1, 2)
                at = max(end, at + 1)
        except (OSError, ValueError) as e:
            raise StitchError(f"clip {shot.name!r}: cannot read the sound of {path} ({e})") from e
        return out if np.ndim(t) else out[0]

    def retimed_sound(self, shot: Shot) -> Path:
        """The shot's sound played at its new length without changing pitch (a WAV made once)."""
        key = (shot.path, shot.frames)
        if key not in self._retimed:
            out = self.scratch() / f"{len(self._retimed)}.wav"
            factor = shot.file_frames / shot.file_fps * FPS / shot.frames
            run_ffmpeg(["-i", str(shot.path), "-map", "0:a:0", "-vn", "-af", atempo_chain(factor),
                        "-ar", str(RATE), "-ac", "2", "-c:a", "pcm_s16le", str(out)],
                       what=f"retiming the sound of clip {shot.name!r}", error=StitchError)
            self._retimed[key] = out
        return self._retimed[key]

    def scratch(self) -> Path:
        """A folder of this film's own (made on first use), removed when the film is closed."""
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="storyboard-film-"))
        return self._scratch

    def _take(self, pool: OrderedDict, key, open_clip: Callable[[], object]):
        if key in pool:
            pool.move_to_end(key)
            return pool[key]
        while len(pool) >= OPEN_READERS:
            _, old = pool.popitem(last=False)
            old.close()
        pool[key] = clip = open_clip()
        return clip

    def close(self) -> None:
        for pool in (self.video, self.audio):
            while pool:
                pool.popitem()[1].close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch, self._retimed = None, {}


# ---- picture layers ------------------------------------------------------------------------------

def fit_size(size: tuple[int, int], canvas: tuple[int, int]) -> tuple[int, int]:
    """`size` scaled to fit inside `canvas`, aspect kept (ffmpeg's force_original_aspect_ratio=
    decrease, which the stitcher conforms with)."""
    (w, h), (cw, ch) = size, canvas
    return min(cw, round(ch * w / h)), min(ch, round(cw * h / w))


def _video(frame_function: Callable[[float], np.ndarray], size: tuple[int, int], duration: float,
           is_mask: bool = False):
    """A moviepy VideoClip that does not read a frame to learn its size (a reader opens on first
    use, not while the film is being put together)."""
    clip = VideoClip(is_mask=is_mask)
    clip.frame_function, clip.size = frame_function, size
    clip.duration = clip.end = duration
    return clip


def clip_layer(shot: Shot, previous: Shot | None, canvas: tuple[int, int], readers: Readers):
    """The shot's pictures on the film's canvas, with the transitions it takes part in."""
    fit = fit_size(shot.size, canvas)
    x, y = ((canvas[0] - fit[0]) // 2) & ~1, ((canvas[1] - fit[1]) // 2) & ~1  # pad rounds to chroma

    def frame(t: float) -> np.ndarray:
        picture = readers.frame(shot, fit, int(t * FPS + 1e-6))
        if fit == canvas:
            return picture
        out = np.zeros((canvas[1], canvas[0], 3), np.uint8)
        out[y:y + picture.shape[0], x:x + picture.shape[1]] = picture[:, :, :3]
        return out

    layer = _video(frame, canvas, shot.frames / FPS)
    effects = []
    kind_in = shot.join_in.transition if shot.join_in is not None else None
    if kind_in == "dissolve" and previous is not None:
        effects.append(vfx.CrossFadeIn((previous.end - shot.first) / FPS))
    elif kind_in == "wipe" and previous is not None:
        layer = layer.with_mask(wipe_mask(shot.join_in.direction or "left", previous.end - shot.first,
                                          canvas, shot.frames / FPS))
    elif kind_in == "fade":
        effects.append(vfx.FadeIn(_fade_frames(shot.join_in) / FPS))
    if shot.join_out is not None and shot.join_out.transition == "fade":
        effects.append(vfx.FadeOut(_fade_frames(shot.join_out) / FPS))
    return layer.with_effects(effects).with_start(shot.first / FPS)


def _fade_frames(entry: TimelineEntry) -> int:
    return transition_frames(entry.transition, entry.seconds or 0.0, FPS)


def wipe_mask(direction: str, frames: int, size: tuple[int, int], duration: float):
    """Where the incoming clip shows during a wipe of `frames`: xfade's wipeleft/right/up/down
    edge, frame for frame (progress falls from 1 by 1/frames a frame; the edge is at
    int(extent * progress) for left and up, int(extent * (1 - progress)) for right and down)."""
    w, h = size
    xs, ys = np.arange(w)[None, :], np.arange(h)[:, None]
    full = np.ones((h, w), np.float32)

    def frame(t: float) -> np.ndarray:
        k = int(t * FPS + 1e-6)
        if k >= frames:
            return full
        progress = np.float32(1.0) - np.float32(k) / np.float32(frames)
        if direction == "left":
            shown = xs > int(w * progress)
        elif direction == "right":
            shown = xs <= int(w * (np.float32(1.0) - progress))
        elif direction == "up":
            shown = ys > int(h * progress)
        else:
            shown = ys <= int(h * (np.float32(1.0) - progress))
        return np.broadcast_to(shown, (h, w)).astype(np.float32)

    return _video(frame, size, duration, is_mask=True)


def cue_layers(cues: list[Cue], canvas: tuple[int, int]) -> list:
    """The subtitle cues, drawn as the stitcher's burn-in draws them."""
    return [subtitle_clip(text, canvas, start, end) for start, end, text in cues if end > start]


# ---- sound layers --------------------------------------------------------------------------------

def _sound(frame_function: Callable[[np.ndarray], np.ndarray], duration: float):
    """A stereo moviepy AudioClip at 48 kHz that reads nothing until asked."""
    clip = AudioClip()
    clip.frame_function, clip.nchannels, clip.fps = frame_function, 2, RATE
    clip.duration = clip.end = duration
    return clip


def _ramps(shot: Shot, after: Shot | None) -> tuple[float, float, float]:
    """(pre-roll, fade in, fade out) of a shot's sound in seconds: the length of its transitions,
    10 ms at cuts, and at an extension seam a 30 ms crossfade before the picture's join."""
    preroll = EXTEND_XFADE / RATE if shot.extends and shot.head_seconds >= EXTEND_XFADE / RATE else 0.0
    if shot.extends:
        fade_in = EXTEND_XFADE / RATE
    elif shot.join_in is not None:
        fade_in = transition_frames(shot.join_in.transition, shot.join_in.seconds or 0.0, FPS) / FPS
    else:
        fade_in = HARD_JOIN_FADE / RATE
    if after is not None and after.extends:
        fade_out = EXTEND_XFADE / RATE
    elif shot.join_out is not None:
        fade_out = transition_frames(shot.join_out.transition, shot.join_out.seconds or 0.0, FPS) / FPS
    else:
        fade_out = HARD_JOIN_FADE / RATE
    return preroll, fade_in, fade_out


def clip_sound(shot: Shot, after: Shot | None, readers: Readers):
    """The shot's sound where its pictures play, with its join ramps; None when it has none."""
    if not shot.sound:
        return None
    preroll, fade_in, fade_out = _ramps(shot, after)
    if shot.retime is not None:
        def samples(t: np.ndarray) -> np.ndarray:
            return readers.sound(shot, readers.retimed_sound(shot), t)
    else:
        offset = shot.head_seconds - preroll

        def samples(t: np.ndarray) -> np.ndarray:
            return readers.sound(shot, shot.path, t + offset)

    track = _sound(samples, preroll + shot.frames / FPS)
    track = track.with_effects([afx.AudioFadeIn(fade_in), afx.AudioFadeOut(fade_out)])
    return track.with_start(shot.first / FPS - preroll)


def film_sound(tracks: list, duration: float):
    """The clips' sounds summed over the whole film (silence where none plays)."""
    silence = _sound(lambda t: np.zeros((np.size(t), 2)) if np.ndim(t) else np.zeros(2), duration)
    return CompositeAudioClip([silence, *tracks]).with_duration(duration)


# ---- the score: one more sound layer --------------------------------------------------------------

DUCK_CHUNK = RATE  # samples of the clip mix measured at a time while the ducking is worked out


class Ducking:
    """The ducking gain of every score, worked out once (when a sample of a score is first asked
    for) by feeding the composition's own clip mix from the film's first sample through the fast
    stitcher's `score.Ducker`, as its mixer does: the same envelope, sample for sample. The gains
    of each score's span are kept in the film's scratch folder, not in memory."""

    def __init__(self, scores: list[PlacedScore], clip_mix, readers: Readers):
        self.scores, self.clip_mix, self.readers = scores, clip_mix, readers
        self._gains: list[np.ndarray] | None = None

    def gain(self, index: int) -> np.ndarray:
        if self._gains is None:
            self._gains = self._work_out()
        return self._gains[index]

    def _work_out(self) -> list[np.ndarray]:
        duckers = [Ducker(p.spec) for p in self.scores]
        gains = [self._store(n, p.end - p.start) for n, p in enumerate(self.scores)]
        end = max((p.end for p, d in zip(self.scores, duckers, strict=True) if d.amount), default=0)
        # from the film's first sample, as the mixer feeds it: the ducker's 10 ms blocks are on its clock
        for a in range(0, end, DUCK_CHUNK):
            b = min(a + DUCK_CHUNK, end)
            mix = np.asarray(self.clip_mix.get_frame((1.0 / RATE) * np.arange(a, b)), np.float32)
            for p, ducker, gain in zip(self.scores, duckers, gains, strict=True):
                if ducker.amount and a < p.end:
                    g = ducker.feed(a, mix)
                    lo, hi = max(a, p.start), min(b, p.end)
                    if hi > lo:
                        gain[lo - p.start:hi - p.start] = g[lo - a:hi - a]
        return gains

    def _store(self, n: int, length: int) -> np.ndarray:
        gain = np.lib.format.open_memmap(self.readers.scratch() / f"duck{n}.npy", mode="w+",
                                         dtype=np.float32, shape=(length,))
        gain[:] = 1.0  # not ducked (duck off)
        return gain


def score_sound(index: int, placed: PlacedScore, ducking: Ducking, duration: float):
    """A score as a moviepy AudioClip over the film: the music with its fades, loop or end and
    volume (`PlacedScore.block`, the fast stitcher's) times its ducking, silence outside its span."""

    def samples(t: np.ndarray | float) -> np.ndarray:
        n = np.rint(np.atleast_1d(np.asarray(t, dtype=float)) * RATE).astype(np.int64)
        out = np.zeros((len(n), 2))
        inside = np.flatnonzero((n >= placed.start) & (n < placed.end))
        # moviepy asks for runs of consecutive samples: each run is one block of the music
        for run in np.split(inside, np.flatnonzero(np.diff(n[inside]) != 1) + 1):
            if len(run):
                first, music = placed.block(int(n[run[0]]), int(n[run[-1]]) + 1)
                at = n[run] - first
                out[run] = music[at] * ducking.gain(index)[n[run] - placed.start, None]
        return out if np.ndim(t) else out[0]

    return _sound(samples, duration)


def score_sounds(plan: RenderPlan, shots: list[Shot], clip_mix, readers: Readers,
                 workdir: Path | None) -> list:
    """The plan's scores as sound layers, placed on the shots as the fast stitcher places them on
    its slots (`score.place_scores`: the same spans, the same decoded music, cached under
    `workdir`'s stitch cache, else in the film's scratch folder)."""
    if not plan.scores:
        return []
    ws = Workspace(Path(workdir) if workdir is not None else readers.scratch())
    try:
        placed = place_scores(plan, {s.name: (s.first * SPF, s.end * SPF) for s in shots}, ws)
    finally:
        ws.cleanup()  # its run folder: the decoded music lives in its cache
    ducking = Ducking(placed, clip_mix, readers)
    return [score_sound(i, p, ducking, clip_mix.duration) for i, p in enumerate(placed)]


# ---- the film ------------------------------------------------------------------------------------

class FilmClip(CompositeVideoClip):
    """The whole film as a moviepy clip (24 fps, sound at 48 kHz stereo). Close it (or use it in
    a `with` block) once everything made from it is written: that closes every reader."""

    readers: Readers
    shots: list[Shot]
    scores: int  # how many scores play under it

    def close(self) -> None:
        self.readers.close()
        super().close()


def compose(plan: RenderPlan, clips: Mapping[str, Path], *, cues: list[Cue] | None = None,
            workdir: Path | None = None) -> FilmClip:
    """The film of `plan` from its rendered `clips` (name -> file, title cards as drawn) as a
    FilmClip; `cues` are subtitles to burn in; `workdir` keeps the decoded score(s) between runs
    (the stitcher's work folder). Raises StitchError for a clip without a readable file or a
    score it cannot decode."""
    sources = probe_sources(plan, clips)
    shots = lay_out(plan, sources)
    canvas = film_size([sources[s.name] for s in shots])
    readers = Readers()
    frames = max(s.end for s in shots)
    layers = [clip_layer(s, shots[i - 1] if i else None, canvas, readers) for i, s in enumerate(shots)]
    layers += cue_layers(cues or [], canvas)
    tracks = [clip_sound(s, shots[i + 1] if i + 1 < len(shots) else None, readers) for i, s in enumerate(shots)]
    film = FilmClip(layers, size=canvas, bg_color=(0, 0, 0))
    film.readers, film.shots, film.fps = readers, shots, FPS
    film.duration = film.end = frames / FPS
    clip_mix = film_sound([t for t in tracks if t is not None], frames / FPS)
    try:
        scores = score_sounds(plan, shots, clip_mix, readers, workdir)
    except BaseException:
        readers.close()
        raise
    film.scores = len(scores)
    film.audio = CompositeAudioClip([clip_mix, *scores]).with_duration(frames / FPS) if scores else clip_mix
    return film


# ---- `render --stitcher moviepy` ------------------------------------------------------------------

VIA = "moviepy"  # in the film key: a film written this way is not the fast stitcher's


def write_film(plan: RenderPlan, clips: Mapping[str, Path], out: Path, *, workdir: Path,
               log: Callable[[str], None] = print, burn_subtitles: Path | None = None) -> StitchResult:
    """Write the film through the composition with moviepy's `write_videofile` (H.264 CRF 18,
    AAC 48 kHz stereo, faststart), to a temp file beside `out`, checked, then renamed. Like
    `stitch`, an unchanged film (made this way) is answered at once with `reused=True`."""
    out, workdir = Path(out), Path(workdir)
    clips = {k: Path(v) for k, v in clips.items()}
    record = up_to_date(plan, clips, out, burn_subtitles, log, VIA)
    if record is not None:
        return StitchResult(out, float(record["duration"]), ["reused"], True)
    key = film_key(plan, clips, burn_subtitles, VIA)
    cues = parse_srt(burn_subtitles) if burn_subtitles is not None else None
    workdir.mkdir(parents=True, exist_ok=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    # what killed writes left behind (their pid is gone): the film's temp and moviepy's sound
    sweep(out.parent, f".{glob.escape(out.stem)}.*.tmp.mp4")
    sweep(workdir, ".film-sound.*.tmp.m4a")
    tmp, sound = temp_sibling(out, ".mp4"), temp_sibling(workdir / "film-sound.m4a")
    with compose(plan, clips, cues=cues, workdir=workdir) as film:
        frames = round(film.duration * FPS)
        try:
            film.write_videofile(
                str(tmp), fps=FPS, codec="libx264", preset="veryfast", audio_codec="aac", audio_fps=RATE,
                audio_bitrate=f"{AAC_BIT_RATE // 1000}k", temp_audiofile=str(sound), logger=None,
                ffmpeg_params=[*Encoder().moviepy_params(), "-movflags", "+faststart"])
            duration = verify(tmp, frames, _written(tmp))
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)
            sound.unlink(missing_ok=True)
    remember(out, key, duration)
    note = f"wrote {out} with moviepy ({duration:.3f} s, {frames} frames, {_composed(plan, film)})"
    log(note)
    return StitchResult(out, duration, [note], False)


def _composed(plan: RenderPlan, film: FilmClip) -> str:
    """What the film was made of, in words: "12 clips composed, 1 title card, 2 scores"."""
    cards = sum(1 for s in film.shots if plan.clip(s.name).kind == "card")
    counts = ((len(film.shots) - cards, "clip", " composed"), (cards, "title card", ""), (film.scores, "score", ""))
    return ", ".join(f"{n} {what}{'s' if n != 1 else ''}{tail}" for n, what, tail in counts if n or tail)


def _written(path: Path) -> tuple[list[int], Fraction]:
    """The presentation times of a written file's video frames and their time base (what
    `mux.verify` checks the file's index against)."""
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            return [p.pts for p in container.demux(stream) if p.size and p.pts is not None], stream.time_base
    except (av.FFmpegError, OSError, IndexError) as e:
        raise StitchError(f"the written film cannot be read back: {e}") from e
