include: https://example.com/cast.story

shot a:
  A quiet street.
