character Kitten:
  image: https:///kitten.png

shot a 4s:
  @Kitten naps.
