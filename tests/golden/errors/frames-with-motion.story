shot dawn:
  last: assets/frame.png
  motion: assets/clip.mp4
  The sun rises.
