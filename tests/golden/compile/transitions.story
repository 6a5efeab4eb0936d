# Every transition: stitcher transitions in the timeline, a morph as its own generation.
title: Transitions
resolution: 480p

shot one 4s:
  A red door.
cut
shot two 4s:
  A blue door.
dissolve 1s
shot three 4s:
  A green door.
fade 0.5s
shot four 4s:
  A yellow door.
wipe left 1s
shot five 4s:
  A white door.
wipe up 0.5s
shot six 6s:
  first: assets/frame-start.png
  A black door.

morph 1.5s: The black door melts into a garden gate.

shot seven 5s:
  A garden gate swings open.
