shot a:
  A quiet street.
  camra: slow pan
