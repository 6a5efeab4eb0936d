# provider: modelark
model: seedance-2.0-fast
resolution: 1080p

shot a:
  A quiet street.

shot b:
  A busy street.
