# Mentions become index words; every clip sends a member's images in the same order.
title: References
resolution: 480p
seed: 1

character Red:
  image: assets/red.png
  image: https://example.com/red-profile.png
  description: a red ball with a white dot

prop Box:
  image: assets/blue.png
  description: a blue box

place Lawn:
  image: assets/green.png

shot meet 5s:
  @Red rolls across @Lawn towards @Box.
  @Red bumps into @Box twice.   # a second mention adds nothing new
  @Red (cheerfully): "Hello, @Box!"

shot alone 4s:
  @Box sits alone on @Lawn at dusk.
  email the crew at crew@example.com   # not a mention
