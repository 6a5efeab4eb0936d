shot a 3s:
  A quiet street.
