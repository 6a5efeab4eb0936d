extend battle 4s:
  The snow settles.

shot battle 8s:
  The armies collide.
