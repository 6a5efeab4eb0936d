character Kitten:
  image: cast/kitten.png

shot talk 8s:
  @Kitten (shouting): "Charge, brave mice!"
  @Kitten: "Quiet now."
  @Kitten(whispering):"Closer."
  @Kitten   (  calmly, to the mice  )   :   "  We hold the line.  "
  @Kitten (): "No direction given."
  @Kitten: ""
  @Kitten waves (not dialogue): she just waves.
  camera: two-shot
