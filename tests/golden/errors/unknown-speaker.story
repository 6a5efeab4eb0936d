character Kitten:
  image: assets/kitten.png

shot a:
  @Kitten looks up.
  @Mouse: "Hello up there!"
