scene battle 8s:
  shot 4s: The armies charge.
  shot 4s: They collide.
  shot: The snow settles.
