ratio: 16/9

shot a:
  A quiet street.
