shot a:
  A quiet street.

wipe lef 1s

shot b:
  A busy street.
