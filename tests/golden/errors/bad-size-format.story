size: 1280*720

shot a:
  A quiet street.
