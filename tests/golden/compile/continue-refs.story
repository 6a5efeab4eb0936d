# `continue` into a clip with references: the last frame becomes Image 1 (with a warning).
title: Continue
resolution: 480p

character Cat:
  image: assets/red.png
  description: a round red cat

shot window 5s:
  Rain runs down a window.

continue

shot cat 5s:
  @Cat presses its nose against the glass.
