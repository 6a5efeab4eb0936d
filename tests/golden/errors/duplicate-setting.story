title: First title
seed: 1
title: Second title

shot a:
  A quiet street.
