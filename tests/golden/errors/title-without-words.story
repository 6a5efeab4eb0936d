title: ...

shot a 4s:
  A ball rolls.
