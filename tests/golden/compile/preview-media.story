# provider: preview
# Local video and audio references (the preview provider takes them; together needs URLs).
title: Media
resolution: 480p

character Singer:
  image: assets/red.png
  video: assets/clip.mp4
  voice: assets/voice.wav
  description: a red ball that sings

shot song 6s:
  @Singer sings on a small stage.
  @Singer (softly): "La la la."
  motion: assets/clip.mp4
  music: assets/beat.mp3
  camera: slow orbit
