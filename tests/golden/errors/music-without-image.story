shot dance:
  Confetti falls on an empty dance floor.
  music: assets/song.mp3
