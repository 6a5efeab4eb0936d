character Kitten:
  image: assets/kitten.png

shot a:
  A quiet street.

continue

shot b:
  @Kitten walks into the street.
