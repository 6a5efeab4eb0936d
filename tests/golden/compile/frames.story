# First/last frame control (image-to-video), and `continue` into a clip without references.
title: Frames
ratio: 4:3

shot sunrise 6s:
  first: assets/frame-start.png
  last: assets/frame-end.png
  The sky turns from orange to blue.

continue

shot noon 4s:
  Clouds drift over the same sky.

continue

shot evening 4s:
  last: assets/frame-start.png
  The sky turns orange again.
