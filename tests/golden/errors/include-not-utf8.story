include: assets/inc/latin1.story

shot a:
  A quiet street.
