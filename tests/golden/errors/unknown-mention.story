character Kitten:
  image: assets/kitten.png

shot a:
  @Kiten chases a butterfly.
