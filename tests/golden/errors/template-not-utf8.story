template: assets/latin1.j2

shot a 4s:
  A ball rolls.
