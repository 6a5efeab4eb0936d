shot a:
  camera: slow pan
  A quiet street.
  camera: fast zoom
