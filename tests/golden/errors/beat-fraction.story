scene battle 8s:
  shot 2.5s: The armies charge.
  shot: They collide.
