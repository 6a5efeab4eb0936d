# Shared settings with two mistakes.
resolutoin: 480p
audio: on
audio: off
