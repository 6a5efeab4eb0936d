character Kitten:
  image: assets/kitten.png

shot a:
  @Kitten: "Where did everyone go?
  camera: slow pan
