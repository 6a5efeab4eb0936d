# No settings, no cast: every default (720p, 16:9, 5 s, audio on, no seed).
shot hello:
  A paper boat drifts down a rain-filled gutter.

shot long 15s:
  The boat sails into a storm drain and out into a wide river.
  camera: drone shot following the boat
  sound: rushing water
