character Kitten:
  image: assets/kiten.png

shot a:
  @Kitten sleeps.
