character Kitten:
  image: assets/kitten.png

shot a:
  A quiet street.

morph 1s: @Kitten melts into a puddle of sunlight.

shot b:
  A busy street.
