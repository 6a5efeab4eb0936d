title: Too much to say
character Cat:
  image: assets/kitten.png

shot one 4s:
  @Cat looks up at the door.
  @Cat: "Hello there."
  @Cat (softly): "I have been waiting here for such a long time, and nobody ever comes to the door."
