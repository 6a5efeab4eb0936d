# Included by include.story: its cast and settings. Paths are relative to this folder.
style: Flat pastel illustration.
seed: 99

character Hero:
  image: hero.png
  description: a brave yellow hero

place Field:
  image: ../green.png
  description: an open green field
