title: The Kitten
  General
style: Epic ancient war atmosphere,
     dramatic clouds over snowy mountains,   # sky
     cinematic lighting.  # light
negative:
  blurry, low quality

character Kitten:
  description: a small cute cartoon kitten general
    in golden armor
  image: cast/kitten.png

shot opening 5s:
  @Kitten stands on the cliff,
  cape flapping,
    looking down at the valley.
  camera: slow crane up from eye level
      to a bird's-eye view
  sound:
      howling wind, distant war drums

  The wind picks up.

  Snow swirls around her.
  @Kitten: "Forward!"
  Meanwhile: the mice wait below.

morph 2s: the snow
  turns into the dawn sky
