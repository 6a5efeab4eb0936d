title: Typos
resolutoin: 720p

shot a:
  A quiet street.
