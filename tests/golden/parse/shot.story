shot opening:
  @Kitten stands on @Cliff, cape flapping,
  looking down at the valley.
  Meanwhile: the mice wait below.   # not a clip key, so prose
  camera: slow crane up
  sound: howling wind, distant drums
  audio: off

shot frames 6s:
  first: frames/start.png
  last: frames/end.png
  The sun rises over the battlefield.

shot refs 15s:
  motion: refs/crane.mp4
  music: refs/drums.mp3
  @Kitten marches to the beat.
  resolution: 1080p
  ratio: 21:9
  seed: 7
  model: ByteDance/Seedance-2.0
  negative: blur, text

shot sized 4s:
  size: 960x960
  A square close-up of @Kitten's eyes.
