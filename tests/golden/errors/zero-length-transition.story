shot a:
  A quiet street.

fade 0s

shot b:
  A busy street.
