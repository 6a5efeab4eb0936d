shot battle 8s:
  The armies collide.

extend batle 4s:
  The snow settles.
