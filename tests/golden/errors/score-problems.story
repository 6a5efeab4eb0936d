title: Score Problems
music: assets/song.mp3
score: assets/song.mp3 from opening to finale, fade 2s, duck -12dB
score: assets/song.mp3 from finale, dukc -3dB, fade 2
score: assets/nope.mp3 from openin to opening
score: assets/kitten.png
score: assets/song.mp3 from finale to opening
score: assets/song.mp3 to opening+1
score: assets/song.mp3, volume loud, loop, once

shot opening 5s:
  A quiet street.
  score: assets/song.mp3

shot finale 5s:
  The street at night.
