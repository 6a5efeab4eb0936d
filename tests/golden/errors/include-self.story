include: include-self.story

shot a:
  A quiet street.
