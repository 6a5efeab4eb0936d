# provider: fal
title: Last frame only

shot sunset 5s:
  The sun sinks into the sea.
  last: assets/frame.png
