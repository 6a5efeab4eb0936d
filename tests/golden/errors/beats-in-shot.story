shot battle 8s:
  shot 4s: The armies charge.
  shot: They collide.
