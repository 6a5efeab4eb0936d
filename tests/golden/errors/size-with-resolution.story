resolution: 720p
size: 1280x720

shot a:
  A quiet street.
