include: assets/inc/broken.story

shot a:
  @Hero walks down a quiet street.
