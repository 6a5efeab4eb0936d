character Bo:
  image: assets/kitten.png

shot hello:
  @Bo looks up.
  Bo: "Hello"
