scene battle 12s:
  shot 4s: Wide aerial of the valley as @Mice pour over the ridge.
  shot 3s: Close-up of @Kitten's determined face.
  shot: The two armies collide
    in a cloud of snow.
  shot: Silence.
  camera: handheld throughout
  sound: clash of tiny swords
  @Kitten (roaring): "Now!"

scene quiet:
  shot: An empty field.
  shot: A single flag.
