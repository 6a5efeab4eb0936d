title: Cards and Score
score: assets/beat.mp3 from opening to finale, fade 2s, duck -12dB
score: assets/voice.wav from finale, fade in 0.5s, fade out 3s, volume -6dB, attack 0.1s, release 1s, once

card opening_title 4s:
  text: The Kitten General
  subtitle: a short film
  style: white on black, serif, fade 0.5s

dissolve 1s

shot opening 5s:
  A snowy cliff above a wide valley.

extend opening 4s:
  The camera pulls back.

card three_days 2.5s:
  text: Three days later
  image: assets/red.png
  style: gold, bold

wipe left 0.5s

shot finale 5s:
  The valley at dawn.

fade 1s

card credits 8s:
  text: The End
  credits: Directed by A. Person
  credits: Music by B. Person
  credits:
  credits: Made with storyboard
  style: cream on navy
