shot a:
  A quiet street.
  ratio: 1:1
  size: 960x960
