shot a 5:
  A quiet street.

shot b:
  A busy street.
