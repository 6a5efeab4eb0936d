shot a 4s:
  A quiet street.

dissolve 3s

shot b 10s:
  A busy street.
