shot 5s:
  A quiet street.
