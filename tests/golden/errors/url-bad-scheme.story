character Kitten:
  image: ftp://example.com/kitten.png

shot a:
  @Kitten sleeps.
