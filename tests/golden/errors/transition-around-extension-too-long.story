shot battle 4s:
  The armies collide.

extend battle 4s:
  The snow settles.

fade 5s

shot dawn 12s:
  The sun rises.
