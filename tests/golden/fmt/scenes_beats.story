scene battle 12s:
  camera: handheld, close to the ground
  shot 4s: Wide aerial of the valley as @Mice pour over the ridge.
  shot 4.0s:Close-up of @Kitten's determined face.
  shot   :   The two armies collide in a cloud of snow.
  shot 2s:
  shot: a long beat that goes on
    over two lines
  sound: drums

extend battle 5s:
  The camera pulls back to reveal the whole valley.

extend battle:
  The snow settles.
