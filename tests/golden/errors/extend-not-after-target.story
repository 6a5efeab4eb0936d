shot battle 8s:
  The armies collide.

shot dawn:
  The sun rises.

extend battle 4s:
  The snow settles.
