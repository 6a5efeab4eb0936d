shot a:
  A quiet street.

crossfade 1s

shot b:
  A busy street.
