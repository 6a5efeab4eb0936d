shot battle 8s:
  The armies collide.

dissolve 1s

extend battle 4s:
  The snow settles.
