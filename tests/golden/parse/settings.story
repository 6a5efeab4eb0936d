# Every film setting, once each. Values are the rest of the line, trimmed.
title: The Kitten General
model: seedance-2.0
resolution: 720p
ratio: 16:9
audio: on
seed: 1234
style: Epic ancient war atmosphere,
  dramatic clouds over snowy mountains,   # a value may continue on indented lines
  cinematic lighting.
negative: text, watermarks
include: cast/shared.story
include: cast/extra.story   # repeatable

size: 1280x720
