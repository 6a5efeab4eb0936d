shot garden 5s:
  A kitten naps in the garden.
    camera: static wide shot
