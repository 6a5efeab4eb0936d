# The Kitten General: a short in two clips
# (comments before the first line stay on top)

title: The Kitten General  # the output file name
seed: 1234 # trailing, one space before the hash

# ---- cast ----
character Kitten: # the hero
  # the first image is the main reference
  image: cast/kitten.png
  description: a kitten holding a sign that reads "#1 general"  # quoted hash is text
  # an indented comment at the end of a block stays in the block

# a comment between blocks belongs to the next block
shot opening 5s:   #   header comment, spacing inside kept
# a comment at column 0 inside a body moves to the body's indentation
  @Kitten stands on the cliff.
  @Kitten (whispering #quietly): "Is that #2?"  # dialogue with hashes inside
      # deeper comment before a body line
  camera: slow crane up

    # a deep comment after the body, with a blank line above it
# about the transition
dissolve 1s # the only transition

shot charge 6s:
  @Kitten charges.
#last words, no space after the hash
	# a tab-indented comment
