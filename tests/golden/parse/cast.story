# The three cast kinds share one shape.
character Kitten:
  image: cast/kitten.png
  image: cast/kitten-back.png      # the first image is the main reference
  image: https://example.com/kitten-side.png
  video: cast/kitten-walk.mp4
  voice: cast/kitten.wav
  description: a small cute cartoon kitten general
    in golden armor

prop Sword:
  image: props/sword.png
  description: a tiny curved sword

place Cliff:

  image: places/cliff.png   # blank lines inside a block are allowed
  description: a snowy cliff above a wide valley
