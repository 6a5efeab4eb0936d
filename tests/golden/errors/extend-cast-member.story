character Kitten:
  image: assets/kitten.png

shot a:
  @Kitten sleeps.

extend Kitten 4s:
  @Kitten wakes up.
