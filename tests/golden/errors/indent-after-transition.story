shot a:
  A quiet street.

dissolve 1s
  slowly, like a dream

shot b:
  A busy street.
