takes: 0

shot a:
  A quiet street.
  takes: 99

shot b:
  A loud street.
  takes: two
