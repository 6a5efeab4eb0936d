character Kitten:
  image: assets/kitten.png
  image: assets/kitten.png
  image: assets/kitten.png
  image: assets/kitten.png

character Mouse:
  image: assets/mouse.png
  image: assets/mouse.png
  image: assets/mouse.png

place Cliff:
  image: assets/frame.png
  image: assets/frame.png
  image: assets/frame.png

shot standoff:
  @Kitten and @Mouse face each other on @Cliff.
