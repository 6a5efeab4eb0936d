character Kitten:
  image: assets/kitten.png

shot opening:
  @Kitten wakes up.

shot later:
  @Kitten remembers @opening.
