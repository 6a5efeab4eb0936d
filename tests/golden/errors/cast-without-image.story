character Kitten:
  description: a small kitten

shot a:
  @Kitten sleeps.
