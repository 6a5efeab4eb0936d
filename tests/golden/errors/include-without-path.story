include:

shot a:
  A quiet street.
