seed: 99999999999

shot a:
  A quiet street.
