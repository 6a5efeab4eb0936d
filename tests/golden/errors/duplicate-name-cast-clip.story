character Kitten:
  image: assets/kitten.png

shot Kitten:
  A kitten sleeps.
