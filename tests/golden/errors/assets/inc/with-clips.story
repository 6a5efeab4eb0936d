character Hero:
  image: hero.png

shot stray:
  This clip is ignored by the including story.
