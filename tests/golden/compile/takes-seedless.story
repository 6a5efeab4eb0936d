title: Takes

shot opening 4s:
  A kitten naps.
  takes: 2

shot second:
  The kitten wakes up.
