# Together takes remote video and audio by URL.
title: URLs

character Dancer:
  image: assets/blue.png
  video: https://example.com/dance.mp4
  voice: https://example.com/dancer.mp3

shot dance 8s:
  @Dancer spins under a spotlight.
  motion: https://example.com/spin.mp4
  music: https://example.com/waltz.mp3
