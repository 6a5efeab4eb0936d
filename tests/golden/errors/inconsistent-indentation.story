shot a:
    A quiet street.
  camera: slow pan
