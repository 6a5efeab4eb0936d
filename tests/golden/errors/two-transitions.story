shot a:
  A quiet street.

dissolve 1s
fade 1s

shot b:
  A busy street.
