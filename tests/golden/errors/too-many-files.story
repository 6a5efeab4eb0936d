character Kitten:
  image: assets/kitten.png
  image: assets/kitten.png
  image: assets/kitten.png
  video: assets/clip.mp4
  voice: assets/voice.wav

character Mouse:
  image: assets/mouse.png
  image: assets/mouse.png
  image: assets/mouse.png
  video: assets/clip.mp4

place Cliff:
  image: assets/frame.png
  image: assets/frame.png
  image: assets/frame.png
  video: assets/clip.mp4

shot standoff:
  @Kitten and @Mouse face each other on @Cliff.
