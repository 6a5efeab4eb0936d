shot nap 5s:
  A kitten naps on a sunny windowsill.

shot nap-again 5s:
  A kitten naps on a sunny windowsill.
