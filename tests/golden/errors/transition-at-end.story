shot a:
  A quiet street.

fade 1s
