title:

shot a:
  A quiet street.
