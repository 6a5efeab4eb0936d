character Kitten:
  image: assets/kitten.png
  voice: assets/voice-really.mp3

shot a:
  @Kitten: "Meow."
