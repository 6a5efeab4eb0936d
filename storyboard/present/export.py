"""The rendered film as an OpenTimelineIO timeline, for an editor to take over.

    timeline = build_timeline(plan, clips, provenance=...)
    write_timeline(plan, clips, "film.otio")   # or .otioz, .edl (CMX 3600), .xml (FCP 7)

One video track (and an audio track with the same cut; a clip with its audio off is a Gap there)
holds one OTIO clip per shot, scene, extension and morph, each with an ExternalReference to its
rendered file whose available range is the file's real duration. The cut matches `storyboard.stitch`
frame for frame at 24 fps:

- dissolve / wipe of d: the clips overlap by d. OTIO puts a transition centred on the cut, whose
  halves use the neighbours' handles, so the outgoing clip is trimmed by the transition's
  out_offset at its tail and the incoming one by its in_offset at its head (offsets = d/2). A
  dissolve is `SMPTE_Dissolve`; a wipe is a custom `SMPTE_Wipe` type, direction in its name.
- fade of d (out to black, then back in): no overlap. The clips keep their full length; between
  them stand a custom `Fade_To_Black` transition (in_offset d/2: the outgoing clip's own last
  frames), a zero-length Gap (black) and a custom `Fade_From_Black` transition (out_offset d/2:
  the incoming clip's first frames). No handle is needed on either side: the gap is the black.
- a morph plays its whole generated clip retimed to the transition's length: its source range is
  the played length and a LinearTimeWarp carries the speed.
- an extension whose file is its target followed by the continuation starts past the target.

So the track's duration is `plan.total_seconds` (rounded to frames as the stitcher rounds them).
Provenance (name, prompt, seed, take, provider, job id, cost, story line, ...) is in each clip's
metadata under "storyboard"; the played take's number and seed are also written where an editor
sees them: EDL comment lines (`* TAKE: 2 OF 3`, `* SEED: ...`) and FCP XML clip comments.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import opentimelineio as otio

from ..plan import PlannedClip, Placement, RenderPlan, TimelineEntry, film_layout, overlaps, transition_frames

RATE = 24
DISSOLVE = otio.schema.TransitionTypes.SMPTE_Dissolve
WIPE = "SMPTE_Wipe"
FADE_OUT = "Fade_To_Black"
FADE_IN = "Fade_From_Black"
EXTEND_TOLERANCE = 0.5  # s, as in storyboard.stitch.clips: "file = target + continuation" is decided by duration

ADAPTERS = {".otio": "otio_json", ".otioz": "otioz", ".edl": "cmx_3600", ".xml": "fcp_xml"}
ADAPTER_PACKAGES = {"cmx_3600": "otio-cmx3600-adapter", "fcp_xml": "otio-fcp-adapter"}
# FCP 7 effect ids for the transitions (FCP 7 / Premiere import these by name)
FCP_EFFECTS = {"dissolve": "Cross Dissolve", "fade": "Cross Dissolve", "wipe": "Edge Wipe"}  # fade: to a gap


class ExportError(Exception):
    pass


def frames(seconds: float) -> int:
    return int(round(float(seconds) * RATE))


def rt(n: int) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(n, RATE)


def tr(start: int, duration: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(rt(start), rt(duration))


def _real_frames(path: Path | None) -> int | None:
    if path is None or not Path(path).is_file():
        return None
    from ..media import probe as media

    try:
        info = media.probe(path)
    except Exception:
        return None
    if info.video is not None and info.video.frames:
        if info.video.fps and abs(info.video.fps - RATE) < 0.01:
            return int(info.video.frames)
        return frames(info.video.duration or info.duration)
    return frames(info.duration)


def _offsets(entry: TimelineEntry | None) -> tuple[int, int]:
    """(in_offset, out_offset) in frames of the OTIO transition for a timeline transition, as
    storyboard.stitch counts them: an overlap split around the cut, or each half of a fade."""
    if entry is None:
        return 0, 0
    n = transition_frames(entry.transition, entry.seconds or 0, RATE)
    if overlaps(entry.transition):
        return n // 2, n - n // 2
    return n, n


def _provenance(plan: RenderPlan, name: str, state: Any, path: Path | None) -> dict[str, Any]:
    clip = plan.clip(name)
    meta: dict[str, Any] = {
        "name": clip.name,
        "kind": clip.kind,
        "prompt": str(clip.request.get("prompt", "")),
        "seed": clip.request.get("seed"),
        "provider": plan.provider,
        "model": plan.model,
        "job_id": getattr(state, "job_id", None),
        "cost": getattr(state, "cost", None),
        "estimated_cost_usd": clip.estimated_cost_usd,
        "status": getattr(state, "status", None) if state is not None else ("cached" if path else "missing"),
        "source": clip.source,
        "key": clip.key,
        "mode": clip.mode,
        "seconds": clip.seconds,
        "action": clip.action,
        "camera": clip.camera,
        "dialogue": [{"speaker": d.speaker, "how": d.how, "line": d.line} for d in clip.dialogue],
        "references": [{"name": r.name, "kind": r.kind, "files": list(r.files)} for r in clip.references],
        "file": str(Path(path).resolve()) if path else None,
    }
    if clip.card is not None:  # a title card: what it shows, drawn on this machine (no provider, no job)
        meta["card"] = clip.card.model_dump(mode="json")
        meta["provider"] = meta["model"] = None
    else:  # the take the film plays (the picked one, else take 1), for an editor to find it again
        meta.update(take=clip.take, takes=clip.takes, tier=clip.tier, pinned=clip.pinned)
    return meta


def take_notes(plan: RenderPlan, name: str) -> dict[str, Any]:
    """The played take's number and seed where each format keeps notes on a clip: CMX 3600
    comment lines (`* TAKE: 2 OF 3`, `* SEED: 1234`) and FCP 7 clip comments (`mastercomment1/2`).
    A title card has no take: no notes."""
    clip = plan.clip(name)
    if clip.card is not None:
        return {}
    seed = "NONE (THE PROVIDER'S)" if clip.seed is None else str(clip.seed)
    take = f"{clip.take} OF {clip.takes}"
    return {"cmx_3600": {"comments": [f"TAKE: {take}", f"SEED: {seed}"]},
            "fcp_xml": {"comments": {"mastercomment1": f"take {take.lower()}",
                                     "mastercomment2": f"seed {seed.lower()}"}}}


@dataclass(frozen=True)
class _Cut:
    """What of one clip's file the film plays, in frames."""

    path: Path | None  # the rendered file (None: not rendered)
    media_frames: int  # the file's length (its planned length when there is no file)
    start: int  # first frame played
    duration: int  # frames played between the transitions' halves
    speed: float | None  # a retimed morph's time scalar (None: plays as generated)
    offsets_in: tuple[int, int]  # of the transition before it


def _extension_head(clip: PlannedClip, have: int | None, target: int | None) -> int:
    """Frames to skip in an extension whose file is its target followed by the continuation."""
    if clip.kind != "extend" or have is None or target is None:
        return 0
    ext = frames(clip.seconds)
    tolerance = EXTEND_TOLERANCE * RATE
    if abs((have - target) - ext) <= tolerance and have - ext > tolerance:
        return have - ext
    return 0


def _cut(place: Placement, clip: PlannedClip, path: Path | None, have: int | None, target: int | None) -> _Cut:
    played = max(1, frames(place.seconds))
    offsets_in, offsets_out = _offsets(place.join_in), _offsets(place.join_out)
    trim_head = offsets_in[0] if place.overlap_in else 0  # the incoming side of the transition before
    trim_tail = offsets_out[1] if place.overlap_out else 0  # the outgoing side of the transition after
    duration = played - trim_head - trim_tail
    if duration <= 0:
        raise ExportError(f"clip {place.name}: its transitions ({trim_head + trim_tail} frames) are "
                          f"longer than the clip ({played} frames)")
    retimed = clip.kind == "morph" and have is not None and have != played
    return _Cut(path, have if have is not None else frames(clip.seconds),
                _extension_head(clip, have, target) + trim_head, duration,
                have / played if retimed else None, offsets_in)


def _reference(name: str, cut: _Cut):
    available = tr(0, cut.media_frames)
    if cut.path is None:
        return otio.schema.MissingReference(name=name, available_range=available,
                                            metadata={"storyboard": {"reason": "not rendered"}})
    return otio.schema.ExternalReference(target_url=cut.path.resolve().as_uri(), available_range=available)


def _otio_clip(name: str, cut: _Cut, metadata: dict[str, Any]) -> otio.schema.Clip:
    item = otio.schema.Clip(name=name, media_reference=_reference(name, cut),
                            source_range=tr(cut.start, cut.duration), metadata=copy.deepcopy(metadata))
    if cut.speed is not None:
        item.effects.append(otio.schema.LinearTimeWarp(name="retime", time_scalar=cut.speed))
    return item


def _sound_item(clip: PlannedClip, cut: _Cut, metadata: dict[str, Any]):
    """The audio track's item for a clip: the clip, or a Gap when its audio is off."""
    if clip.audio:
        return _otio_clip(clip.name, cut, metadata)
    return otio.schema.Gap(source_range=tr(0, cut.duration), name=f"{clip.name} (no audio)",
                           metadata={"storyboard": {"silent": clip.name}})


def _rendered(clips: Mapping[str, Path], name: str) -> Path | None:
    path = clips.get(name)
    return Path(path) if path is not None and Path(path).is_file() else None


def _real_lengths(layout: list[Placement], clips: Mapping[str, Path],
                  durations: Mapping[str, int] | None) -> dict[str, int | None]:
    if durations is None:
        durations = {}
    return {p.name: int(durations[p.name]) if p.name in durations else _real_frames(clips.get(p.name))
            for p in layout}


def _new_timeline(plan: RenderPlan) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(name=plan.title)
    timeline.global_start_time = rt(0)
    timeline.metadata["storyboard"] = {
        "title": plan.title, "story": plan.story, "provider": plan.provider, "model": plan.model,
        "film_seconds": plan.total_seconds, "estimated_cost_usd": plan.estimated_cost_usd, "fps": RATE,
    }
    if plan.scores:  # music the stitcher lays under the film
        timeline.metadata["storyboard"]["scores"] = [s.model_dump(mode="json") for s in plan.scores]
    return timeline


def build_timeline(plan: RenderPlan, clips: Mapping[str, Path], *,
                   provenance: Mapping[str, Any] | None = None, audio_track: bool = True,
                   durations: Mapping[str, int] | None = None) -> otio.schema.Timeline:
    """The plan's film as an OTIO timeline. `clips`: name -> rendered file; a clip without a
    file gets a MissingReference of its planned length. `provenance`: name -> a render
    `ClipOutcome` / `preview.ClipState` (job id, cost, status). `durations`: real lengths in
    frames (probed from the files when not given)."""
    from .page import as_state

    provenance = provenance or {}
    layout = film_layout(plan)
    real = _real_lengths(layout, clips, durations)
    timeline = _new_timeline(plan)
    video = otio.schema.Track(name="Video", kind=otio.schema.TrackKind.Video)
    sound = otio.schema.Track(name="Audio", kind=otio.schema.TrackKind.Audio)
    previous: str | None = None
    for p in layout:
        clip = plan.clip(p.name)
        path = _rendered(clips, p.name)
        cut = _cut(p, clip, path, real[p.name], real.get(previous) if previous is not None else None)
        state = as_state(provenance[p.name]) if p.name in provenance else None
        metadata = {"storyboard": {**_provenance(plan, p.name, state, path),
                                   "film_start_seconds": round(p.start, 4), "played_seconds": p.seconds},
                    **take_notes(plan, p.name)}
        if p.join_in is not None:
            video.extend(_join(p.join_in, cut.offsets_in))
            sound.extend(_join(p.join_in, cut.offsets_in, audio=True))
        video.append(_otio_clip(p.name, cut, metadata))
        sound.append(_sound_item(clip, cut, metadata))
        previous = p.name
    timeline.tracks.append(video)
    if audio_track:
        timeline.tracks.append(sound)
    return timeline


def _join(entry: TimelineEntry, offsets: tuple[int, int], audio: bool = False) -> list:
    """The OTIO items that stand for a transition line between two clips."""
    kind = entry.transition
    seconds = float(entry.seconds or 0)
    meta: dict[str, Any] = {"storyboard": {"transition": kind, "seconds": seconds, "direction": entry.direction,
                                           "overlap": overlaps(kind)}}
    if not audio and kind in FCP_EFFECTS:
        meta["fcp_xml"] = {"effectid": FCP_EFFECTS[kind]}
    if kind == "fade":
        return _fade_through_black(meta, seconds, offsets)
    if kind == "dissolve" or (audio and kind == "wipe"):  # sound cannot wipe: it crossfades
        ttype, name = DISSOLVE, f"{kind} {seconds:g}s"
    elif kind == "wipe":
        ttype, name = WIPE, f"wipe {entry.direction or 'left'} {seconds:g}s"
    else:
        ttype, name = otio.schema.TransitionTypes.Custom, f"{kind} {seconds:g}s"
    return [otio.schema.Transition(name=name, transition_type=ttype, in_offset=rt(offsets[0]),
                                   out_offset=rt(offsets[1]), metadata=meta)]


def _fade_through_black(meta: dict[str, Any], seconds: float, offsets: tuple[int, int]) -> list:
    out_meta, in_meta = copy.deepcopy(meta), copy.deepcopy(meta)
    out_meta["storyboard"]["half"], in_meta["storyboard"]["half"] = "out", "in"
    return [
        otio.schema.Transition(name=f"fade {seconds:g}s (out)", transition_type=FADE_OUT,
                               in_offset=rt(offsets[0]), out_offset=rt(0), metadata=out_meta),
        otio.schema.Gap(name="black", source_range=tr(0, 0), metadata={"storyboard": {"black": True}}),
        otio.schema.Transition(name=f"fade {seconds:g}s (in)", transition_type=FADE_IN,
                               in_offset=rt(0), out_offset=rt(offsets[1]), metadata=in_meta),
    ]


def _without_fades(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """CMX 3600 has no fade through black between two events: fades become plain cuts (the
    durations do not change: the fade takes no time from the cut)."""
    timeline = copy.deepcopy(timeline)
    for track in timeline.tracks:
        for i in range(len(track) - 1, -1, -1):
            item = track[i]
            meta = item.metadata.get("storyboard", {})
            if (isinstance(item, otio.schema.Transition) and meta.get("transition") == "fade") or \
                    (isinstance(item, otio.schema.Gap) and meta.get("black")):
                del track[i]
    return timeline


def adapter_for(path: Path | str, adapter: str | None = None) -> str:
    if adapter:
        return adapter
    suffix = Path(path).suffix.lower()
    if suffix not in ADAPTERS:
        raise ExportError(f"cannot tell the timeline format of {path}: use one of "
                          f"{', '.join(sorted(ADAPTERS))} (or name an adapter)")
    return ADAPTERS[suffix]


def check_adapter(name: str) -> None:
    if name not in otio.adapters.available_adapter_names():
        package = ADAPTER_PACKAGES.get(name)
        hint = f" (pip install {package})" if package else ""
        raise ExportError(f"OpenTimelineIO has no {name!r} adapter here{hint}")


def write_timeline(plan: RenderPlan, clips: Mapping[str, Path], out: Path | str, *,
                   provenance: Mapping[str, Any] | None = None, adapter: str | None = None) -> Path:
    """Build the timeline and write it with the adapter its suffix names (.otio, .otioz, .edl,
    .xml). Returns the path. The EDL has only the video track, and its fades are plain cuts
    (CMX 3600 cannot fade through black between two events)."""
    out = Path(out)
    name = adapter_for(out, adapter)
    check_adapter(name)
    timeline = build_timeline(plan, clips, provenance=provenance, audio_track=name != "cmx_3600")
    if name == "cmx_3600":
        timeline = _without_fades(timeline)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    try:
        if otio.adapters.from_name(name).has_feature("write_to_string"):
            # otio's own file writer leaves an empty file on a full disk and says nothing;
            # Python's write raises
            text = otio.adapters.write_to_string(copy.deepcopy(timeline), adapter_name=name)
            tmp.write_text(with_speed_changes(text, name, speed_changes(timeline)), encoding="utf-8")
        else:  # .otioz: a zip bundle with the media, written by Python's zipfile (which raises)
            otio.adapters.write_to_file(copy.deepcopy(timeline), str(tmp), adapter_name=name)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return out


# ---- speed changes in CMX 3600 and FCP 7 XML ----------------------------------------------------
# A retimed clip (a morph generated at 4 s and played in 1 s) is a LinearTimeWarp in OTIO. The
# adapters do not carry it right: otio-cmx3600-adapter 1.0 writes the event's source range as the
# played length divided by the speed (6 frames for 1 s at 4x; it should multiply, see
# AcademySoftwareFoundation/OpenTimelineIO#1458) and names the clip instead of the event's reel
# on the M2 line; otio-fcp-adapter 1.0 drops the effect and writes the played length as the
# source range. So the written text is corrected here, where the speeds are known.


@dataclass(frozen=True)
class SpeedChange:
    source_in: int  # first frame of the file played
    played: int  # frames on the record side
    speed: float  # source frames per record frame

    @property
    def source_frames(self) -> int:
        return round(self.played * self.speed)


def speed_changes(timeline: otio.schema.Timeline) -> dict[str, SpeedChange]:
    """Each retimed clip of the timeline by name."""
    out: dict[str, SpeedChange] = {}
    for clip in timeline.find_clips():
        warp = next((e for e in clip.effects if isinstance(e, otio.schema.LinearTimeWarp)), None)
        if warp is not None and clip.name not in out:
            out[clip.name] = SpeedChange(int(clip.source_range.start_time.value),
                                         int(clip.source_range.duration.value), float(warp.time_scalar))
    return out


def with_speed_changes(text: str, adapter: str, speeds: Mapping[str, SpeedChange]) -> str:
    """The adapter's text with every speed change written as the format has it."""
    if not speeds:
        return text
    if adapter == "cmx_3600":
        return _edl_speeds(text, speeds)
    if adapter == "fcp_xml":
        return _fcp_speeds(text, speeds)
    return text


TIMECODE = re.compile(r"\d\d:\d\d:\d\d[:;]\d\d")
M2_LINE = re.compile(r"^M2\s+(?P<name>.*?)\s+(?P<speed>-?[0-9.]+)\s+(?P<tc>\d\d:\d\d:\d\d[:;]\d\d)\s*$")


def _edl_speeds(text: str, speeds: Mapping[str, SpeedChange]) -> str:
    """CMX 3600: the event's source out is source in + record length x speed, and its M2 line
    reads `M2   <reel> <speed in fps> <source in>` (e.g. `M2   morph    096.0    00:00:00:00`)."""
    lines = text.split("\n")
    event: int | None = None  # the event line the next M2 line belongs to
    for i, line in enumerate(lines):
        if line[:3].isdigit() and len(TIMECODE.findall(line)) == 4:
            event = i
            continue
        m = M2_LINE.match(line)
        if m is None or event is None or m.group("name") not in speeds:
            continue
        change = speeds[m.group("name")]
        stamps = list(TIMECODE.finditer(lines[event]))
        source_out = otio.opentime.to_timecode(rt(change.source_in + change.source_frames), RATE)
        ev = lines[event]
        lines[event] = ev[:stamps[1].start()] + source_out + ev[stamps[1].end():]
        reel, source_in = ev.split()[1], otio.opentime.to_timecode(rt(change.source_in), RATE)
        lines[i] = f"M2   {reel:<8} {change.speed * RATE:05.1f}    {source_in}"
    return "\n".join(lines)


def _fcp_speeds(text: str, speeds: Mapping[str, SpeedChange]) -> str:
    """FCP 7 XML: a retimed clipitem's in/out span the source frames it plays, and the video one
    carries a constant Time Remap filter (speed in percent) as Final Cut Pro and Premiere write
    it. (The adapter's audio track refers to the same clipitems by id: no audio filter.)"""
    from xml.etree import ElementTree as ET  # noqa: N817 - the module's usual name

    root = ET.fromstring(text)
    for sequence in root.iter("sequence"):
        media = sequence.find("media")
        for kind in ("video", "audio"):
            tracks = media.find(kind) if media is not None else None
            for item in tracks.iter("clipitem") if tracks is not None else ():
                change = speeds.get(item.findtext("name") or "")
                if change is None or item.find("in") is None or item.find("out") is None:
                    continue
                item.find("out").text = str(int(item.findtext("in")) + change.source_frames)
                if kind == "video":
                    item.append(_time_remap(change.speed))
    ET.indent(root, space="    ")
    return text[:text.index("<xmeml")] + ET.tostring(root, encoding="unicode") + "\n"


def _time_remap(speed: float):
    from xml.etree import ElementTree as ET  # noqa: N817

    effect = ET.Element("effect")
    for tag, value in (("name", "Time Remap"), ("effectid", "timeremap"), ("effectcategory", "motion"),
                       ("effecttype", "motion"), ("mediatype", "video")):
        ET.SubElement(effect, tag).text = value
    for pid, value in (("variablespeed", "0"), ("speed", f"{speed * 100:.6g}"), ("reverse", "FALSE"),
                       ("frameblending", "FALSE")):
        param = ET.SubElement(effect, "parameter")
        ET.SubElement(param, "parameterid").text = pid
        ET.SubElement(param, "name").text = pid
        ET.SubElement(param, "value").text = value
    filt = ET.Element("filter")
    filt.append(effect)
    return filt
