character Hero:
  image: hero.png
  description: a hero in red
