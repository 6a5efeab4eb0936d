character Kitten:
  image: assets/kitten.png

shot a:
  @Kitten: "Hello?" she asks the empty street.
