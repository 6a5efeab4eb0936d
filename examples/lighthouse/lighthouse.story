# The Last Lamp: an old keeper keeps the light burning through a storm, and a boat comes home.
include: cast/crew.story  # Keeper, Skipper, Gull and Tower, and the film's negative prompt

title: The Last Lamp
model: seedance-2.0
size: 864x496  # explicit pixels instead of resolution + ratio
audio: on
seed: 2024
style: Hand-painted storybook illustration, deep blues and warm lamplight, soft film grain.

prop Lamp:
  image: props/lamp.png
  video: props/lamp-turn.mp4
  description: the great brass lamp at the top of the lighthouse

shot storm 5s:
  Rain lashes @Tower as waves break over the rocks. @Keeper climbs the spiral stairs, a lantern swinging in his hand.
  @Keeper: "Not tonight. Not on my watch."
  camera: slow push in from the sea towards the tower
  sound: rain, rolling thunder, the creak of iron stairs

cut

scene signal 6s:
  shot 2s: @Keeper wipes the fog from the lamp-room window.
  shot: Far out at sea, a tiny light blinks in the dark.
  shot: @Keeper pulls the lever and @Lamp begins to turn.
  camera: handheld, close to the keeper
  resolution: 480p  # a clip may trade the film's size for a tier and a ratio
  ratio: 16:9  # (480p 16:9 is 864x496 too, so the film keeps one frame size)

continue  # the boat shot opens on the scene's last frame

shot boat 5s:
  The beam sweeps over @Gull as it fights the swell.
  @Skipper (shouting over the wind): "There! The light!"
  motion: refs/waves.mp4  # follow the rolling motion of this clip
  music: refs/shanty.wav  # and the rhythm of this tune
  seed: 7  # keep this take
  negative: text, watermarks, calm water

extend boat 4s:
  The boat rounds the rocks into the sheltered harbour.

extend boat 4s:
  The crew ties up at the pier and @Skipper waves up at the tower.
  sound: gulls, rope creaking, cheering

morph 1s: The storm clouds melt away into a pale pink dawn.

shot dawn 5s:
  first: frames/dawn.png
  The sea lies calm. The lighthouse stands quiet in the morning light.
  camera: static wide shot
  sound: gulls, gentle waves
  audio: off
