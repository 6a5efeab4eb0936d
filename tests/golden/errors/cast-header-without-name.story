character:
  image: assets/kitten.png

shot a:
  A quiet street.
