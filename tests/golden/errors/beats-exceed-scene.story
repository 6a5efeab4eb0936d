scene battle 8s:
  shot 4s: The armies charge.
  shot 3s: They collide.
  shot 3s: The snow settles.
