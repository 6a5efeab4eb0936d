include: assets/inc/nothing.story

shot a:
  A quiet street.
