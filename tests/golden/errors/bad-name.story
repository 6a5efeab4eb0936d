shot 1st-take:
  A quiet street.

shot b:
  A busy street.
