frobnicate: yes

shot a:
  A quiet street.
