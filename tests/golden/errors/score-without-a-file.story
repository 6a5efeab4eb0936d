title: Score Without A File
score: from opening to finale, fade 2s

shot opening 5s:
  A quiet street.

shot finale 5s:
  The street at night.

score: , loop
