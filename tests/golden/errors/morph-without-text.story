shot a:
  A quiet street.

morph 1s:

shot b:
  A busy street.
