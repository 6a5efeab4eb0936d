shot a:
  A quiet street.
The kitten wakes up.

shot b:
  A busy street.
