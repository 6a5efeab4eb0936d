include: ../shared/cast.story
include:   ../shared/settings.story   # house style
title: Part Two

include: extra.story
character Owl:
  include: owls.story
  image: cast/owl.png

shot a:
  @Owl watches.
