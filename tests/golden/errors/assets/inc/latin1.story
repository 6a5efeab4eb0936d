# Latin-1, not UTF-8: the e of café is one byte.
character Hero:
  image: hero.png
  description: a hero in a café
