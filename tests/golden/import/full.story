# Imported from the screenplay full.fountain by `storyboard import`: a draft to edit.
# Draw the picture each `image:` names (`storyboard import --placeholders` draws stand-ins),
# give each character a `description:` (who they are, how they look), then run `storyboard check`.
# Durations are estimated from the length of the action and the dialogue.
# Credit: written by
# Author: Ada Quill
# Draft date: 1 May 2025
# Contact: ada@example.com
title: The Last Lamp
resolution: 720p
ratio: 16:9

# style: the look every clip shares, e.g. 35mm film, natural light, muted colours

# OLD KEEPER: speaks first at line 21 of the screenplay
character OldKeeper:
  image: cast/old-keeper.png

# MARY O'NEIL: speaks first at line 25 of the screenplay
character MaryOneil:
  image: cast/mary-oneil.png

# BRICK: speaks first at line 39 of the screenplay
character Brick:
  image: cast/brick.png

# STEEL: speaks first at line 42 of the screenplay
character Steel:
  image: cast/steel.png

# McCLANE: speaks first at line 57 of the screenplay
character McCLANE:
  image: cast/mc-clane.png

# INT. LIGHTHOUSE - LAMP ROOM - NIGHT: first at line 15 of the screenplay
place LighthouseLampRoom:
  image: places/lighthouse-lamp-room.png
  description: Lighthouse, Lamp Room

# EXT. HARBOUR - DAWN: first at line 35 of the screenplay
place Harbour:
  image: places/harbour.png

# INT./EXT. BOAT - CONTINUOUS: first at line 62 of the screenplay
place Boat:
  image: places/boat.png

# section: ACT ONE

# synopsis: The keeper learns the lamp will be switched off.

# FADE IN: (line 13): no transition here

# 1. INT. LIGHTHOUSE - LAMP ROOM - NIGHT (line 15)
scene lighthouse-lamp-room 12s:
  Interior, @LighthouseLampRoom, night.
  shot 3s: The great lamp turns slowly. Rain hammers the glass.
  shot: @OldKeeper climbs the last step, breathing hard.
  @OldKeeper (to himself): "Not tonight. Not on my watch."
  @MaryOneil (voice-over): "You said that last winter too."

cut  # CUT TO:

# EXT. HARBOUR - DAWN (line 35)
scene harbour 13s:
  Exterior, @Harbour, dawn.
  shot 10s: Gulls wheel over the empty pier.
  @Brick (at the same time): "Screw retirement."
  @Steel (at the same time): "Screw it indeed!"
  @MaryOneil (voice-over, singing): "Oh the sea, the sea / She calls me home"
  shot: Centered on screen, the words “THE END OF THE NIGHT”.

# FLASHBACK (line 53)
shot flashback 4s:
  Flashback. A younger @OldKeeper polishes the brass.
  @McCLANE: "Yippee ki-yay."

dissolve 1s  # DISSOLVE TO:

# INT./EXT. BOAT - CONTINUOUS (line 62)
shot boat 4s:
  Interior and exterior, @Boat. The boat rocks. @Steel's lantern swings over the “deck” ＃2.

# EXT. HARBOUR - NIGHT (line 66)
shot harbour-2 4s:
  Exterior, @Harbour, night. @Brick waits on the pier.

# FADE TO BLACK. (line 70): the end
