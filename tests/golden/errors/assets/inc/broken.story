character Hero:
  imag: hero.png
  description: a hero
