title: Many mistakes
resolution: 4k
seed: lucky

character Kitten:
  imag: assets/kitten.png

shot opening 3s:
  @Kiten stands on the cliff.

dissolve 1s
fade 1s

shot charge 20s:
  @Mouse charges.
