shot a:
  A quiet street.

disolve 1s

shot b:
  A busy street.
