# The Kitten General: a short in four clips
title: The Kitten General
resolution: 720p
ratio: 16:9
audio: on
seed: 1234
style: Epic ancient war atmosphere, dramatic clouds over snowy mountains, cinematic lighting.

character Kitten:
  image: cast/kitten.png
  image: cast/kitten-back.png
  description: a small cute cartoon kitten general in golden armor

character Mice:
  image: cast/mouse.png
  description: an army of tiny grey mice in leather helmets

place Cliff:
  image: places/cliff.png
  description: a snowy cliff above a wide valley

shot opening 5s:
  @Kitten stands on @Cliff, cape flapping, looking down at the valley.
  camera: slow crane up from eye level to a bird's-eye view
  sound: howling wind, distant war drums

dissolve 1s

shot charge 6s:
  @Mice charge down the slope below @Kitten.
  @Kitten (shouting): "Charge, brave mice!"
  camera: low-angle tracking shot

scene battle 12s:
  shot 4s: Wide aerial of the valley as @Mice pour over the ridge.
  shot 4s: Close-up of @Kitten's determined face.
  shot: The two armies collide in a cloud of snow.

extend battle 5s:
  The camera pulls back to reveal the whole valley as the snow settles.

fade 1s

shot dawn 5s:
  first: frames/dawn-start.png
  last: frames/dawn-end.png
  The sun rises over the quiet battlefield.
  audio: off
