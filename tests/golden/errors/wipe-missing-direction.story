shot a:
  A quiet street.

wipe 1s

shot b:
  A busy street.
