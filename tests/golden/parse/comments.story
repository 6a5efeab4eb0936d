# A comment on the first line

   # an indented comment at the top level
title: Comments   # after a value

# between blocks
character Kitten:   # after a header
  # inside a block
  image: kitten.png

  # after a blank line
  description: a kitten # with a trailing comment

shot a 5s:  # header comment
  # a comment before the first body line
  @Kitten waits. # trailing
  # the next line is a comment only
      # even when indented deeper
  @Kitten: "Is # this a comment?"   # no: inside quotes
  email me at kitten@example.com   # not a mention (glued to a word)
