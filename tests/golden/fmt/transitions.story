shot a 5s:
  One.
cut
shot b 5s:
  Two.
continue
shot c 5s:
  Three.
dissolve 1s
shot d 5s:
  Four.
fade 0.5s
shot e 5s:
  Five.
wipe left 1s
shot f:
  Six.
wipe right 1.0s
wipe up 0.25s
wipe down 2s
morph 1s: the kitten's helmet becomes the rising sun
morph 1.5s:
shot g:
  Seven.
