include: assets/inc/with-clips.story

shot a:
  @Hero walks down a quiet street.
