shot a 5s:

shot b:
  A busy street.
