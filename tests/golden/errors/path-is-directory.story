character Kitten:
  image: assets/folder.png

shot a:
  @Kitten sleeps.
