character Kitten:
  image: assets/kitten.png

shot dawn:
  first: assets/frame.png
  @Kitten yawns as the sun rises.
