shot a 16s:
  A quiet street.
