# Beats without a duration share what is left of the scene equally.
title: Beats

scene chase 10s:
  shot 4s: A fox bursts out of the hedge.
  shot: A rabbit darts across the field.
  shot: The fox stops, out of breath.
  camera: handheld, low to the ground
  sound: rustling grass, panting

scene even:
  shot: Snow falls.
  shot: Snow settles.
  shot: Snow melts.

scene fixed 9s:
  shot 2s: Ready.
  shot 3s: Steady.
  shot 4s: Go!
