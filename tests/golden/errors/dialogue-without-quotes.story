character Kitten:
  image: assets/kitten.png

shot a:
  @Kitten looks up.
  @Kitten: Where did everyone go?
