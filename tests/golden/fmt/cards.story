title: Cards
score:   music/theme.mp3 from a to a,  fade 2s
card   opening_title 4.50s:  # the title
  text:   The Kitten General
  # the film's subtitle
  subtitle: a short film
  style: white on black,
    serif
shot a 5s:
  A cat.
card end:
  credits: One
  credits:
  credits: Two
