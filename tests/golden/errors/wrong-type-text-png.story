character Kitten:
  image: assets/notes.png

shot a:
  @Kitten sleeps.
