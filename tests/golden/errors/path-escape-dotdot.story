character Kitten:
  image: ../compile/assets/red.png

shot a:
  @Kitten sleeps.
