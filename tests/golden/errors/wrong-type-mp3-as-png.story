character Kitten:
  image: assets/song-renamed.png

shot a:
  @Kitten sleeps.
