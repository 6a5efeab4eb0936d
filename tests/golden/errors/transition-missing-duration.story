shot a:
  A quiet street.

dissolve

shot b:
  A busy street.
