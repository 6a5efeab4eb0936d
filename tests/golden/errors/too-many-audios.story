character Kitten:
  image: assets/kitten.png
  voice: assets/voice.wav

character Mouse:
  image: assets/mouse.png
  voice: assets/voice.wav

character Bird:
  image: assets/frame.png
  voice: assets/voice.wav

shot chorus:
  @Kitten, @Mouse and @Bird sing together.
  music: assets/song.mp3
