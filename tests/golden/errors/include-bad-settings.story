include: assets/inc/bad-settings.story

shot a:
  A quiet street.
