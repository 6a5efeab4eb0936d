include: assets/inc/loop-a.story

shot a:
  A quiet street.
