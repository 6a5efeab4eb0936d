scene battle 8s:
  The armies charge and collide.
  camera: wide aerial
