seed: lucky

shot a:
  A quiet street.
