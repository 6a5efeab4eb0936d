shot a 5.5s:
  A quiet street.
