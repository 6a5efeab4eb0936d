shot battle 8s:
  The armies collide.

extend battle 5s:
  The camera pulls back to reveal the whole valley.
  camera: rising crane

extend battle:   # an extension of the extension (default 5s)
  The snow settles.
  @Kitten: "It is over."
