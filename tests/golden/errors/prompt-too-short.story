shot a:
  A
