shot battle 8s:
  The armies collide.

extend battle 4s:
  first: assets/frame.png
  size: 1280x720
  The snow settles.
