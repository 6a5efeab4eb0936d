include: ../compile/assets/inc/cast.story

shot a:
  A quiet street.
