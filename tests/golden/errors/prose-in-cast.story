character Kitten:
  image: assets/kitten.png
  A small kitten with big eyes.

shot a:
  @Kitten sleeps.
