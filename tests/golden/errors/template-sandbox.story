template: assets/huge.j2

shot a 4s:
  A ball rolls.
