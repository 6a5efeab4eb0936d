"""Stitching benchmark: storyboard.stitch vs moviepy's full re-encode, and peak memory.

    .venv/bin/python bench/stitch.py [--keep DIR]

(a) hard cuts, 8 synthetic 720p 5-s clips: our stitch vs moviepy concatenate_videoclips +
    write_videofile (settings of reference/stitching.md §2.6)           target >= 20x faster
(b) the same clips joined by dissolves and fades: ours vs a moviepy CompositeVideoClip render
    (explicit starts, bg_color black, CrossFadeIn / FadeIn / FadeOut)  target >= 5x faster
    plus, for information, ours on single-keyframe sources (the hybrid can then copy little)
(c) peak memory (PSS summed over the process tree, ffmpeg children included) of a stitch of a
    10-minute film of 104 clips and of 25 clips (640x360, 6 s, cuts and transitions), each in a
    fresh child process                                                 target < 600 MB, flat
(d) re-stitching in proportion to the edit: the 104-clip film of (c) stitched from scratch, then
    one clip in the middle replaced by another and the film stitched again with the stitch cache
    of the first: wall time                                             target <= 15% of the full
    and the sound outside the re-encoded segments bit-exact (decoded PCM compared sample by
    sample with the first film's), the film's duration, frame count and A/V agreement checked
Exits 1 when a target is missed. Clips are 24 fps with a 1-s GOP (what the preview provider
writes), x264 veryfast CRF 20, AAC 48 kHz stereo, a different hue and tone per clip.
Both sides of every comparison get the same number of runs (--runs, default 3), taken in turns
(ours, theirs, ours, theirs, ...) so a change in the machine's load hits both alike; medians are
compared, of wall time and of CPU seconds (process + children; on a shared machine they vary less
than wall time). Each of our runs is from scratch (fresh work folder and stitch cache, no film),
after one untimed warm-up; moviepy and our code are imported before any timing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import imageio_ffmpeg  # noqa: E402
import numpy as np  # noqa: E402
# imported here, not inside the timed runs: moviepy's time is its stitch, not its import
from moviepy import (CompositeAudioClip, CompositeVideoClip, VideoFileClip, afx,  # noqa: E402
                     concatenate_videoclips, vfx)

from storyboard.plan import PlannedClip, RenderPlan, TimelineEntry  # noqa: E402
from storyboard.stitch import stitch  # noqa: E402

FF = imageio_ffmpeg.get_ffmpeg_exe()
FPS = 24


# ---- material --------------------------------------------------------------------------------

def make_clip(path: Path, i: int, size: str, seconds: float, keyint: int | None) -> Path:
    if path.exists():
        return path
    gop = ["-x264-params", f"keyint={keyint}:min-keyint={keyint}:scenecut=0"] if keyint else []
    subprocess.run([FF, "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i",
                    f"testsrc2=size={size}:rate={FPS}:duration={seconds},hue=h={i * 37}",
                    "-f", "lavfi", "-i",
                    f"sine=frequency={220 + 40 * i}:sample_rate=48000:duration={seconds}",
                    "-ac", "2", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20",
                    "-pix_fmt", "yuv420p", *gop, "-c:a", "aac", "-b:a", "128k",
                    "-movflags", "+faststart", str(path)], check=True)
    return path


def film_plan(names: list[str], seconds: int, joins: list[tuple[str, float, str | None]],
              size: tuple[int, int]) -> RenderPlan:
    """joins[k] is the transition between names[k] and names[k + 1]: (kind, seconds, direction)."""
    clips = [PlannedClip(name=n, kind="shot", seconds=seconds, request={}, estimated_cost_usd=0.0,
                         key=f"bench-{n}", mode="text", source="bench:1:1",
                         width=size[0], height=size[1]) for n in dict.fromkeys(names)]
    timeline = [TimelineEntry(clip=names[0])]
    for n, (kind, secs, direction) in zip(names[1:], joins, strict=True):
        if kind != "cut":
            timeline.append(TimelineEntry(transition=kind, seconds=secs, direction=direction))
        timeline.append(TimelineEntry(clip=n))
    return RenderPlan(title="bench", provider="preview", model="bench", story="bench.story",
                      clips=clips, timeline=timeline, estimated_cost_usd=0.0)


def check_film(path: Path, expected: float) -> dict:
    """Duration, frame count and a/v end difference from the packets (PyAV)."""
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        vend, aend, frames = 0.0, 0.0, 0
        for p in c.demux(v, a):
            if p.size == 0 or p.pts is None:
                continue
            end = float((p.pts + (p.duration or 0)) * p.time_base)
            if p.stream.type == "video":
                frames += 1
                vend = max(vend, end)
            else:
                aend = max(aend, end)
        a_dur = float(a.duration * a.time_base) if a.duration else aend
    dur = frames / FPS
    return {"duration": dur, "frames": frames, "av_diff": abs(a_dur - dur),
            "ok": abs(dur - expected) <= 1 / FPS + 1e-6 and abs(a_dur - dur) <= 1 / FPS}


# ---- moviepy baselines (reference/stitching.md §2.6) ------------------------------------------

MOVIEPY_WRITE = dict(fps=FPS, codec="libx264", audio_codec="aac", audio_fps=48000,
                     preset="veryfast", ffmpeg_params=["-crf", "20", "-movflags", "+faststart"],
                     logger=None)


def moviepy_cuts(paths: list[Path], out: Path, tmp: Path) -> None:
    clips = [VideoFileClip(str(p), audio_fps=48000) for p in paths]
    try:
        final = concatenate_videoclips(clips)
        final.write_videofile(str(out), temp_audiofile_path=str(tmp), **MOVIEPY_WRITE)
        final.close()
    finally:
        for c in clips:
            c.close()


def moviepy_transitions(paths: list[Path], joins, out: Path, tmp: Path) -> None:
    src = [VideoFileClip(str(p), audio_fps=48000) for p in paths]
    try:
        vids, auds, t = [], [], 0.0
        for i, c in enumerate(src):
            jin = joins[i - 1] if i else ("cut", 0.0, None)
            jout = joins[i] if i < len(joins) else ("cut", 0.0, None)
            fx, ax = [], []
            if jin[0] == "dissolve":
                fx.append(vfx.CrossFadeIn(jin[1]))
                ax.append(afx.AudioFadeIn(jin[1]))
                t -= jin[1]
            elif jin[0] == "fade":
                fx.append(vfx.FadeIn(jin[1] / 2))
                ax.append(afx.AudioFadeIn(jin[1] / 2))
            if jout[0] == "dissolve":
                ax.append(afx.AudioFadeOut(jout[1]))
            elif jout[0] == "fade":
                fx.append(vfx.FadeOut(jout[1] / 2))
                ax.append(afx.AudioFadeOut(jout[1] / 2))
            v = c.with_effects(fx) if fx else c
            a = c.audio.with_effects(ax) if ax else c.audio
            vids.append(v.with_start(t))
            auds.append(a.with_start(t))
            t += c.duration
        final = CompositeVideoClip(vids, size=src[0].size, bg_color=(0, 0, 0)).with_duration(t)
        final = final.with_audio(CompositeAudioClip(auds).with_duration(t))
        final.write_videofile(str(out), temp_audiofile_path=str(tmp), **MOVIEPY_WRITE)
        final.close()
    finally:
        for c in src:
            c.close()


# ---- memory sampling -------------------------------------------------------------------------

def tree_pss_kb(root: int) -> int:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
                    break
        except OSError:
            pass
        stack.extend(children.get(pid, []))
    return total


def cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (ffmpeg, child interpreters)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def run_child_measured(spec: dict) -> tuple[float, float, float, dict]:
    """Run one stitch in a fresh interpreter; sample its tree's PSS every 50 ms."""
    cpu0 = cpu_seconds()
    proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec)],
                            stdout=subprocess.PIPE, text=True)
    peak, start = 0, time.perf_counter()
    while proc.poll() is None:
        peak = max(peak, tree_pss_kb(proc.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - start
    cpu = cpu_seconds() - cpu0
    out = proc.stdout.read()
    if proc.returncode != 0:
        raise SystemExit(f"child stitch failed ({proc.returncode}): {out}")
    return peak / 1024, wall, cpu, json.loads(out.strip().splitlines()[-1])


def child(spec: dict) -> None:
    names = spec["names"]
    paths = {n: Path(p) for n, p in spec["paths"].items()}
    joins = [tuple(j) for j in spec["joins"]]
    plan = film_plan(names, spec["seconds"], joins, tuple(spec["size"]))
    r = stitch(plan, paths, Path(spec["out"]), workdir=Path(spec["workdir"]), log=lambda m: None)
    print(json.dumps({"duration": r.duration, "expected": plan.total_seconds,
                      "encoded": sum("re-encoded" in a for a in r.actions)}))


def changed_window(plan: RenderPlan, name: str) -> tuple[int, int, int]:
    """Film samples [lo, hi) of the sound segments whose encode hears clip `name` (widened by
    one AAC frame each side: a decoded frame overlaps its neighbours), and how many they are."""
    from storyboard.stitch.base import SPF, read_timeline
    from storyboard.stitch.sound import sound_segments

    at, span = 0, None
    for e in read_timeline(plan):
        n = round(plan.clip(e.name).seconds * FPS)
        start = at - e.join.overlap
        if e.name == name:
            span = (start * SPF, (start + n) * SPF)
        at = start + n
    segs = [s for s in sound_segments(at * SPF) if s.enc_lo < span[1] and s.enc_hi > span[0]]
    return segs[0].lo - 1024, segs[-1].hi + 1024, len(segs)


# ---- the runs --------------------------------------------------------------------------------

def timed(fn) -> tuple[float, float]:
    """Wall and CPU seconds of fn()."""
    cpu, start = cpu_seconds(), time.perf_counter()
    fn()
    return time.perf_counter() - start, cpu_seconds() - cpu


def fresh_stitch(plan: RenderPlan, paths: dict[str, Path], out: Path, work: Path, result: dict):
    """A stitch from scratch: no work folder (so no stitch cache), no film."""
    def go() -> None:
        shutil.rmtree(work, ignore_errors=True)
        out.unlink(missing_ok=True)
        result["r"] = stitch(plan, paths, out, workdir=work, log=lambda m: None)
    return go


def in_turns(runs: int, *sides) -> list[list[tuple[float, float]]]:
    """(wall, CPU) of `runs` runs of each side, the sides taking turns."""
    times: list[list[tuple[float, float]]] = [[] for _ in sides]
    for _ in range(runs):
        for k, side in enumerate(sides):
            times[k].append(timed(side))
    return times


def medians(times: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def spread(times: list[tuple[float, float]]) -> str:
    walls = sorted(t[0] for t in times)
    return f"{walls[0]:.2f}-{walls[-1]:.2f}"


def pcm_frames(path: Path):
    """The film's decoded sound, one AAC frame at a time: (first sample, float32 channels x n)."""
    with av.open(str(path)) as c:
        at = 0
        for frame in c.decode(audio=0):
            data = frame.to_ndarray()
            yield at, data
            at += data.shape[1]


def sound_differs_outside(a: Path, b: Path, lo: int, hi: int) -> tuple[int, int]:
    """Decoded frames of two films' sound that differ, outside samples [lo, hi) and inside."""
    outside = inside = 0
    for (at, x), (at2, y) in zip(pcm_frames(a), pcm_frames(b), strict=True):
        if at != at2 or x.shape != y.shape:
            return -1, -1
        if not np.array_equal(x, y):
            if at + x.shape[1] <= lo or at >= hi:
                outside += 1
            else:
                inside += 1
    return outside, inside


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", type=Path, help="keep clips and outputs in this folder")
    ap.add_argument("--runs", type=int, default=3, help="runs of each side of each comparison")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(json.loads(args.child))
        return 0
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-stitch-"))
    base.mkdir(parents=True, exist_ok=True)
    rows, failures = [], []
    t_start = time.perf_counter()

    def row(name, t, film, note=""):
        rows.append((name, t[0], t[1], film, note))

    # material
    gop = [make_clip(base / f"c{i:02d}.mp4", i, "1280x720", 5, 24) for i in range(8)]
    single = [make_clip(base / f"k{i:02d}.mp4", i, "1280x720", 5, None) for i in range(8)]
    names = [f"c{i}" for i in range(8)]

    # (a) hard cuts
    cuts = [("cut", 0.0, None)] * 7
    plan_a = film_plan(names, 5, cuts, (1280, 720))
    got: dict = {}
    ours_a = fresh_stitch(plan_a, dict(zip(names, gop, strict=True)), base / "a_ours.mp4",
                          base / "work-a", got)
    ours_a()  # warm-up: the first stitch in a process also initialises PyAV's codecs
    ta, ma = in_turns(args.runs, ours_a, lambda: moviepy_cuts(gop, base / "a_moviepy.mp4", base))
    t_a, mp_a = medians(ta), medians(ma)
    fa = check_film(base / "a_ours.mp4", plan_a.total_seconds)
    encoded = [a for a in got["r"].actions if "re-encoded" in a or "conformed" in a]
    row("a. hard cuts, ours", t_a, fa, f"wall {spread(ta)}; video re-encodes: {len(encoded)}")
    row("a. hard cuts, moviepy chain", mp_a,
        check_film(base / "a_moviepy.mp4", plan_a.total_seconds), f"wall {spread(ma)}")
    ratio_a, cpu_a = mp_a[0] / t_a[0], mp_a[1] / t_a[1]
    if encoded:
        failures.append(f"hard cuts re-encoded video: {encoded}")

    # (b) dissolves and fades
    trans = [("dissolve", 0.5, None), ("fade", 1.0, None)] * 3 + [("dissolve", 0.5, None)]
    plan_b = film_plan(names, 5, trans, (1280, 720))
    ours_b = fresh_stitch(plan_b, dict(zip(names, gop, strict=True)), base / "b_ours.mp4",
                          base / "work-b", got)
    ours_b()
    tb, mb = in_turns(args.runs, ours_b,
                      lambda: moviepy_transitions(gop, trans, base / "b_moviepy.mp4", base))
    t_b, mp_b = medians(tb), medians(mb)
    row("b. dissolves+fades, ours", t_b, check_film(base / "b_ours.mp4", plan_b.total_seconds),
        f"wall {spread(tb)}")
    t_k = timed(fresh_stitch(plan_b, dict(zip(names, single, strict=True)), base / "b_ours_1kf.mp4",
                             base / "work-b1", got))
    row("b. same, ours, 1 keyframe/clip", t_k,
        check_film(base / "b_ours_1kf.mp4", plan_b.total_seconds), "information only, 1 run")
    row("b. dissolves+fades, moviepy", mp_b,
        check_film(base / "b_moviepy.mp4", plan_b.total_seconds), f"wall {spread(mb)}")
    ratio_b, cpu_b = mp_b[0] / t_b[0], mp_b[1] / t_b[1]

    # (c) memory: 104 and 25 clips of 6 s, 640x360, hard links of 12 distinct clips
    small = [make_clip(base / f"s{i:02d}.mp4", i, "640x360", 6, 24) for i in range(12)]
    pattern = [("cut", 0.0, None), ("dissolve", 0.5, None), ("cut", 0.0, None), ("fade", 1.0, None),
               ("cut", 0.0, None), ("wipe", 0.5, "left"), ("cut", 0.0, None), ("wipe", 0.5, "up")]
    mem = {}
    for n in (25, 104):
        links = base / f"links{n}"
        links.mkdir(exist_ok=True)
        paths = {}
        for i in range(n):
            p = links / f"m{i:03d}.mp4"
            if not p.exists():
                os.link(small[i % len(small)], p)
            paths[f"m{i}"] = str(p)
        (base / f"c_{n}.mp4").unlink(missing_ok=True)  # from scratch: no reuse, no cached remuxes
        shutil.rmtree(base / f"work-c{n}", ignore_errors=True)
        spec = {"names": list(paths), "paths": paths, "seconds": 6, "size": [640, 360],
                "joins": [pattern[i % len(pattern)] for i in range(n - 1)],
                "out": str(base / f"c_{n}.mp4"), "workdir": str(base / f"work-c{n}")}
        peak, wall_c, cpu_c, info = run_child_measured(spec)
        film = check_film(base / f"c_{n}.mp4", info["expected"])
        mem[n] = peak
        row(f"c. {n} clips, ours (child process)", (wall_c, cpu_c), film,
            f"peak PSS {peak:.0f} MB, {info['encoded']} windows")
        if peak >= 600:
            failures.append(f"{n} clips: peak PSS {peak:.0f} MB >= 600 MB")

    # (d) re-stitching in proportion to the edit: the 104-clip film of (c), one clip changed
    plan_d = film_plan(list(paths), 6, [tuple(j) for j in spec["joins"]], (640, 360))
    files_d = {k: Path(v) for k, v in paths.items()}
    middle = f"m{len(paths) // 2}"
    alt = make_clip(base / "alt.mp4", len(small) + 7, "640x360", 6, 24)  # another picture and tone
    edited = dict(files_d, **{middle: alt})
    work_d, full_out, edit_out = base / "work-d", base / "d_full.mp4", base / "d_edit.mp4"

    def restitch() -> None:  # with the stitch cache the full stitch just left
        edit_out.unlink(missing_ok=True)
        got["e"] = stitch(plan_d, edited, edit_out, workdir=work_d, log=lambda m: None)

    td_full, td_edit = in_turns(args.runs, fresh_stitch(plan_d, files_d, full_out, work_d, got),
                                restitch)
    t_full, t_edit = medians(td_full), medians(td_edit)
    counts = got["e"].counts
    lo, hi, reaching = changed_window(plan_d, middle)
    row("d. 104 clips, full stitch", t_full, check_film(full_out, plan_d.total_seconds),
        f"wall {spread(td_full)}")
    row(f"d. {middle} changed, re-stitch", t_edit, check_film(edit_out, plan_d.total_seconds),
        f"wall {spread(td_edit)}; encoded {counts.get('sound_encoded')}/"
        f"{counts.get('sound_segments')} sound segments, {counts.get('windows_encoded')}/"
        f"{counts.get('windows')} windows")
    outside, inside = sound_differs_outside(full_out, edit_out, lo, hi)
    ratio_d, cpu_d = t_edit[0] / t_full[0], t_edit[1] / t_full[1]
    if counts.get("sound_encoded") != reaching:
        failures.append(f"re-stitch encoded {counts.get('sound_encoded')} sound segments, "
                        f"{reaching} reach the changed clip")
    if outside != 0 or inside == 0:
        failures.append(f"re-stitch: {outside} AAC frames of sound differ outside the changed "
                        f"segments, {inside} inside")

    # report
    print(f"\n{'run':36} {'wall s':>7} {'CPU s':>7} {'film s':>8} {'frames':>7} {'a-v ms':>7}"
          "  ok  note")
    for name, wall, cpu, film, note in rows:
        print(f"{name:36} {wall:7.2f} {cpu:7.2f} {film['duration']:8.3f} {film['frames']:7d} "
              f"{film['av_diff'] * 1000:7.1f}  {'yes' if film['ok'] else 'NO '} {note}")
        if not film["ok"]:
            failures.append(f"{name}: wrong duration or a/v difference")
    print(f"\n(a) hard cuts:        moviepy / ours = {ratio_a:5.1f}x wall, {cpu_a:5.1f}x CPU"
          "   (target >= 20x)")
    print(f"(b) dissolves+fades:  moviepy / ours = {ratio_b:5.1f}x wall, {cpu_b:5.1f}x CPU"
          f"   (target >= 5x)   [1 keyframe/clip sources: {mp_b[0] / t_k[0]:.1f}x wall]")
    print(f"(c) peak PSS: 25 clips {mem[25]:.0f} MB, 104 clips {mem[104]:.0f} MB"
          "   (target < 600 MB, flat)")
    print(f"(d) re-stitch / full: {ratio_d:6.1%} wall, {cpu_d:6.1%} CPU   (target <= 15%); sound "
          f"outside samples {lo}-{hi} (the re-encoded segments, +-1 AAC frame): {outside} of the "
          f"decoded frames differ ({inside} inside)")
    if ratio_d > 0.15:
        failures.append(f"re-stitch took {ratio_d:.1%} of the full stitch")
    if ratio_a < 20:
        failures.append(f"hard cuts only {ratio_a:.1f}x faster than moviepy")
    if ratio_b < 5:
        failures.append(f"dissolves+fades only {ratio_b:.1f}x faster than moviepy")
    if mem[104] > 1.5 * mem[25] + 50:
        failures.append("memory grows with the number of clips")
    print(f"bench total {time.perf_counter() - t_start:.0f} s, "
          f"load average {os.getloadavg()[0]:.1f}" + (f", files in {base}" if args.keep else ""))
    for f in failures:
        print("MISSED:", f)
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
