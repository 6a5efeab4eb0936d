title: Takes
seed: 7
takes: 2

shot opening 4s:
  A kitten naps on a sunny windowsill.
  takes: 3

shot second:
  The kitten wakes up.

extend second 4s:
  The kitten stretches.
