# provider: together
character Kitten:
  image: assets/kitten.png
  video: assets/clip.mp4
  voice: assets/voice.wav

shot a:
  @Kitten sleeps.
  music: assets/song.mp3
