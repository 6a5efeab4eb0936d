include: assets/inc/hero.story
include: assets/inc/hero-again.story

shot a:
  @Hero walks down a quiet street.
