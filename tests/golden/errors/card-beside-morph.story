card opening 4s:
  text: Three days later

morph 1s: The page dissolves into snow.

shot a:
  A quiet street.

extend opening 4s:
  More snow.
