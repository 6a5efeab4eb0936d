# Extensions continue their target's video; an extension can itself be extended.
title: Chain
seed: 5

character Hero:
  image: assets/red.png

shot climb 6s:
  @Hero climbs a ladder into the clouds.

extend climb 4s:
  The ladder sways in the wind.

extend climb 5s:
  @Hero reaches the top and looks out over a city in the sky.
  camera: pull back to a wide shot
  audio: off

dissolve 1s

shot city 5s:
  Streets of cloud, lit by lanterns.
