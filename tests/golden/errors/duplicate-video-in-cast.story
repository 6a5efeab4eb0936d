character Kitten:
  image: assets/kitten.png
  video: assets/clip.mp4
  video: assets/clip.mp4

shot a:
  @Kitten sleeps.
