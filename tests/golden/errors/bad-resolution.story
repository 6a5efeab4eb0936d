resolution: 4k

shot a:
  A quiet street.
