title: Card Problems

card opening 40s:
  text: The Kitten General
  style: whte on black, seriff

card blank 3s:
  style: white on

card twice 3s:
  text: One
  text: Two
  colour: red

card roll 2s:
  text: The End
  credits: Directed by A. Person
  credits: Written by B. Person
  credits: Music by C. Person
  credits: Edited by D. Person

card wordy 4s:
  text: A title so long that it goes on and on, line after line, past any screen, far longer than anyone could read on one title card in four seconds, which is the point of this example

card picture 3s:
  image: https://example.com/sky.png

shot a:
  A quiet street.
