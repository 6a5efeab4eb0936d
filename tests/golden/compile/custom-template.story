# A story may name its own prompt template (relative to the story).
title: Terse
template: assets/terse.j2
style: flat colours

character Red:
  image: assets/red.png
  description: a red square with big eyes

shot hello 4s:
  @Red bounces across the floor.
  camera: locked-off wide
  @Red (cheerful): "Hello!"
