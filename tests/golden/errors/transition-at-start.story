fade 1s

shot a:
  A quiet street.
