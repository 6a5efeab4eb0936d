"""The stage: probed clips -> prepared slots -> pictures and sound -> a verified film, reused
when nothing changed."""

from __future__ import annotations

import glob
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from collections.abc import Callable

from ..atomic import temp_sibling
from .filmkey import film_key, remember, up_to_date
from ..plan import RenderPlan
from .base import Encoder, Entry, FPS, RATE, read_timeline, SPF, StitchError, StitchResult
from .burnin import burn_in_subtitles
from .clips import (
    AudioSource, concat_ready, conform_video, extension_overlap, is_duplicate_boundary,
    remux_video, retime_audio, Slot,
)
from .mux import mux_film, verify
from .probe import (
    film_size, probe_clip, scan_video, Source, source_from_json, source_to_json, video_deviations,
)
from .score import PlacedScore, place_scores
from .segments import SegmentCache
from .sound import AAC_BIT_RATE, AudioMixer, Segment, sound_layout
from .video import join_video, plan_pieces, render_video, total_frames
from .workspace import sweep, Workspace

PROBE_WORKERS = 2


@dataclass
class Stitcher:
    """One stitch: the steps from probed clips to a verified film, and the notes of what it did."""

    plan: RenderPlan
    clips: dict[str, Path]
    ws: Workspace
    log: Callable[[str], None]
    actions: list[str] = field(default_factory=list)
    enc: Encoder = Encoder()
    cache: SegmentCache | None = None  # the sound segments and windows; made by build()

    def note(self, message: str) -> None:
        self.actions.append(message)
        self.log(message)

    def probe(self, entries: list[Entry]) -> dict[str, Source]:
        names = list(dict.fromkeys(e.name for e in entries))
        sources = self.remembered(names)
        todo = [name for name in names if name not in sources]
        # PyAV opens files without the GIL (stream-info probing decodes a frame or two)
        with ThreadPoolExecutor(max_workers=PROBE_WORKERS) as pool:
            found = pool.map(lambda name: probe_clip(name, self.clips[name]), todo)
            sources.update(zip(todo, found, strict=True))
        if self.cache is not None:
            for name in names:
                self.cache.remember_probe(self.clips[name], source_to_json(sources[name]))
        self.enc = Encoder.like(sources[entries[0].name].scan.profile)
        return sources

    def remembered(self, names: list[str]) -> dict[str, Source]:
        """Probes of clip files the stitch cache's memo holds (by file identity)."""
        out: dict[str, Source] = {}
        for name in names if self.cache is not None else ():
            try:
                record = self.cache.probe(self.clips[name])
            except OSError:
                continue  # probe_clip says what is wrong with the file
            src = record and source_from_json(name, self.clips[name], record)
            if src is not None:
                out[name] = src
        return out

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
        if a.sample_rate != RATE or a.channels != 2:
            self.note(f"resampled the audio of clip {name} from {a.sample_rate} Hz "
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

    def scores(self, slots: list[Slot]) -> list[PlacedScore]:
        """The plan's scores on the film's sample clock, as the clips were placed."""
        if not self.plan.scores:
            return []
        layout, _ = sound_layout(slots)
        spans = {slot.name: (at * SPF, (at + slot.frames) * SPF) for slot, _, at in layout}
        placed = place_scores(self.plan, spans, self.ws)
        for p in placed:
            s = p.spec
            self.note(f"laid the score {s.file} under {s.first} to {s.last} ({p.start / RATE:.3f} s to "
                      f"{p.end / RATE:.3f} s, {'looped' if s.loop else 'once'}, fades {s.fade_in:g}/{s.fade_out:g} s, "
                      f"ducked {s.duck_db:g} dB under the clips' sound)")
        return placed

    def build(self, entries: list[Entry], subs: Path | None, out: Path) -> tuple[float, int]:
        """Write the film to `out` and verify it; returns its duration and frame count."""
        slots = self.prepare(entries, self.probe(entries))
        frames = total_frames(slots)
        planned = round(self.plan.total_seconds * FPS)
        if abs(frames - planned) > 1:
            self.note(f"the clips as rendered play {frames / FPS:.3f} s; the plan expected "
                      f"{self.plan.total_seconds:.3f} s")
        cache = self.cache = self.cache or SegmentCache(self.ws)
        # the sound is mixed and encoded in background threads while the video is assembled
        mixer = AudioMixer(cache, slots, self.scores(slots))
        try:
            if mixer.samples != frames * SPF:
                raise StitchError(
                    f"internal: mixed {mixer.samples} audio samples for {frames} frames")
            pieces = render_video(plan_pieces(slots), slots, self.ws, self.enc, self.note, cache)
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
        self.note_sound(mixer.segments, mixer.encoded)
        cache.counts["sound_segments"] += len(mixer.segments)
        cache.counts["sound_encoded"] += len(mixer.encoded)
        return verify(out, frames, written), frames

    def note_sound(self, segments: list[Segment], encoded: list[Segment]) -> None:
        what = (f"mixed the sound and encoded it (AAC 48 kHz stereo, {AAC_BIT_RATE // 1000} "
                f"kbit/s) in {len(segments)} segment(s) spliced at AAC frame boundaries")
        if len(encoded) == len(segments):
            self.note(what)
            return
        runs: list[list[Segment]] = []
        for seg in encoded:
            if runs and runs[-1][-1].index == seg.index - 1:
                runs[-1].append(seg)
            else:
                runs.append([seg])
        if not runs:
            self.note(f"{what}: all reused from the stitch cache (the sound did not change)")
            return
        where = ", ".join(f"{r[0].lo / RATE:.3f}-{r[-1].hi / RATE:.3f} s" for r in runs)
        self.note(f"{what}: encoded {len(encoded)} ({where}), reused "
                  f"{len(segments) - len(encoded)} from the stitch cache")


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
    tmp = temp_sibling(out, ".mp4")
    try:
        st = Stitcher(plan, clips, ws, log, cache=SegmentCache(ws))
        duration, frames = st.build(entries, subs, tmp)
        os.replace(tmp, out)
        remember(out, key, duration)
        st.note(f"wrote {out} ({duration:.3f} s, {frames} frames)")
        st.cache.save_digests()
        gone = ws.prune()
        if gone:
            st.note(f"removed {len(gone)} intermediate file(s) no longer used from {ws.cache}")
        return StitchResult(out, duration, st.actions, False, dict(st.cache.counts))
    finally:
        tmp.unlink(missing_ok=True)
        ws.cleanup()
