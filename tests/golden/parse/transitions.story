shot a:
  One.
cut
shot b:
  Two.

dissolve 1s

shot c:
  Three.

fade 0.5s

shot d:
  Four.

wipe left 1s
shot e:
  Five.
wipe right 0.25s
shot f:
  Six.
wipe up 1s
shot g:
  Seven.
wipe down 1s
shot h:
  Eight.

morph 2s: The kitten's helmet melts into the rising sun,
  and the sun into a golden coin.

shot i:
  Nine.

continue

shot j:
  Ten.
