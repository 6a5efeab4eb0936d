shot a:
  A quiet street.

continue

shot b:
  first: assets/frame.png
  A busy street.
