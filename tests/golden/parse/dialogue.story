shot talk 6s:
  @Kitten: "Charge, brave mice!"
  @Kitten (shouting, raising a paw): "For the valley!"
  @Mouse ( whispering ):"Yes, general."
  @Mouse: "Tell @Kitten we are ready."   # a mention inside the spoken line
  @Kitten: "Wait # for it"                # a # inside quotes is text, not a comment
  The mice cheer.
