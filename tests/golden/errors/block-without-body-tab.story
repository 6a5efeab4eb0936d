# A tab between the keyword and the name is blank space like any other.
shot	opening_scene:

shot b:
  A busy street.
