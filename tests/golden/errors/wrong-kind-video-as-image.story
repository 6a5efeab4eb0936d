shot a:
  first: assets/clip.mp4
  A quiet street.
