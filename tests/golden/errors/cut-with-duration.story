shot a:
  A quiet street.

cut 1s

shot b:
  A busy street.
