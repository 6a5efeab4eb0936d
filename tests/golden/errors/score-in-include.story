include: assets/inc/with-score.story

shot a:
  A quiet street.
