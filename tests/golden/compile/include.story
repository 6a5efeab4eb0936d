# Cast and settings come from an included file; this file's settings win.
include: assets/inc/cast.story
title: Included
seed: 3

shot arrive 5s:
  @Hero walks across @Field.
