character Kitten:
  image: assets/outside-link.png   # a symlink to a file outside this folder

shot a:
  @Kitten sleeps.
