# Film-level size; per-clip resolution, ratio, size, seed, model, negative and audio.
title: Overrides
size: 1280x720
seed: 42
audio: off
negative: blur
model: seedance-2.0

shot film-defaults 5s:
  Everything comes from the film.

shot tier 5s:
  A tier and a ratio instead of the film's size.
  resolution: 1080p
  ratio: 9:16

shot square 5s:
  size: 960x960
  A square frame.

shot tuned 5s:
  Its own seed, model, negative prompt and audio.
  seed: 7
  model: ByteDance/Seedance-2.0-custom
  negative: text, watermarks
  audio: on
