shot a:
  A quiet street.

shot a:
  A busy street.
