size: 1281x721

shot a:
  A quiet street.
