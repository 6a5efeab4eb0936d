shot:
  A quiet street.

shot b:
  A busy street.
