"""Stitch rendered clips into one film: plan + clip files -> film.mp4.

One stage in a package of small modules, in the order a stitch goes through them:
base (format, timeline, errors; pure) -> probe (what each clip file is) -> clips (each made
ready to be placed; workspace keeps the intermediates) -> video (copied GOP runs and re-encoded
windows) and sound (decoded, mixed, encoded in parallel) -> mux (the film file, checked) ->
stage (the whole, and reuse); segments keeps the cached sound segments and windows. burnin
(subtitles) and composition (the film as a moviepy clip, `api.film_clip` and `render --stitcher
moviepy`) are the modules importing moviepy.

Which tool does what, and why ("§" below are sections of the stitching reference the design was measured against, kept
with the project's design notes):

- ffmpeg (imageio-ffmpeg's binary) moves the pictures. Hard cuts between clips in the film format
  are never decoded: the concat demuxer stream-copies whole GOPs straight from the clip files
  (explicit inpoints plus -copyts keep the AAC priming from shifting the video, §5.5.3; a file
  whose video is not stream 0 in the common time base is remuxed first). A transition re-encodes
  only its window, from the last keyframe before it to the first keyframe after it (the hybrid of
  §5.5), in its own filter graph of at most two inputs (xfade has every wipe and is frame-exact),
  two windows at a time. Memory therefore does not grow with the number of clips (§5.6). Pieces
  may reorder frames by different depths (B-frames or not), so the final mux lays out the decode
  order afresh: DTS rise steadily and the track lasts exactly as long as its frames.
- The sound is decoded per clip (PyAV) and mixed sample-exactly in numpy (crossfades, fades,
  10 ms fades at cuts, 30 ms crossfades at extension seams, silence for clips without audio), one
  clip at a time, in background threads that encode it in process (PyAV's AAC encoder releases
  the GIL) while the video is assembled. It is encoded as one track (stream-copying the clips'
  AAC drifts ~35 ms per join, §5.7) in ~20-s segments on a fixed grid of AAC frames, two
  encoders at a time; each segment's encoder starts ~1 s early and runs a few frames past its
  end, so segments splice seamlessly, and the mux takes each one as it is done. The final file is
  muxed by PyAV (packet copy, faststart) and checked against what was muxed into it.
- Re-stitching is in proportion to the edit (segments.py): the sound segments and the encoded
  windows are kept in the stitch cache under keys of everything they are made from (file
  contents by SHA-256, frames, joins, score settings, encoder settings, versions) with a checksum
  each, so a stitch after an edit encodes only the segments and windows the edit reaches, copies
  the rest, and never uses a stale or damaged entry.
- moviepy renders the subtitle burn-in, only on the GOPs that show a cue: per-frame text
  compositing with Pillow's bundled font, no libass/fontconfig dependency, settings of §2.6. The
  fast stitcher does not use it for transitions: it has no wipe, its compose path is 3-4x slower
  than xfade, and it decodes and re-encodes every frame.
- composition builds the same film as one moviepy clip (the Python face: a user adds effects
  and writes it), from the same timing model and the same decisions about what of each file
  plays; its readers open lazily, a few at a time (§2.4). The two are each other's oracle
  (tests/test_film_clip.py): it found the fades' colour cast and the wipes' rounded edges that
  the windows now avoid (video.window_graph).

The core is pure (timeline -> slots -> pieces -> film positions); ffmpeg, PyAV and moviepy sit at
the edges. The film is written to a temp file beside `out`, verified, and renamed; a sidecar
`<out>.key` holds the film key so an unchanged re-run returns at once.
"""

# The submodules load on first use: `storyboard.stitch.filmkey` must stay importable without
# PyAV, numpy or moviepy, so an unchanged re-render never pays for loading the media stack.
_EXPORTS = {
    "base": ("FPS", "RATE", "Join", "StitchError", "StitchResult", "read_timeline"),
    "burnin": ("parse_srt",),
    "clips": ("AudioSource", "Slot"),
    "composition": ("FilmClip", "compose", "write_film"),
    "mux": ("AacRun", "mux_film", "required_delay", "verify"),
    "probe": ("VideoScan", "scan_video"),
    "segments": ("SegmentCache",),
    "sound": ("AAC_BIT_RATE", "AAC_OPTIONS", "AacWriter", "Segment", "sound_segments"),
    "stage": ("stitch",),
    "video": ("Video", "plan_pieces", "total_frames"),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name in _HOME:
        from importlib import import_module

        return getattr(import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(name)
