# The cast of "The Last Lamp", shared by every episode (lighthouse.story includes this file).
# Paths here are relative to this file's folder.
negative: text, watermarks, modern buildings

character Keeper:
  image: keeper.png
  image: keeper-side.png
  voice: keeper-voice.wav
  description: an old lighthouse keeper with a white beard and a yellow oilskin coat

character Skipper:
  image: skipper.png
  description: a young fisherwoman in a red knitted hat

prop Gull:
  image: boat.png
  description: a small blue fishing boat with a white sail

place Tower:
  image: tower.png
  description: a red-and-white striped lighthouse on black rocks
