audio: yes

shot a:
  A quiet street.
