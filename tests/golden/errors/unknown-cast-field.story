character Kitten:
  imgae: assets/kitten.png
  image: assets/kitten.png
  descripton: a small kitten

shot a:
  @Kitten sleeps.
