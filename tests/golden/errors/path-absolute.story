shot a:
  first: /etc/hosts
  A quiet street.
