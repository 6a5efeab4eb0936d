# Imported from the screenplay names.fountain by `storyboard import`: a draft to edit.
# Draw the picture each `image:` names (`storyboard import --placeholders` draws stand-ins),
# give each character a `description:` (who they are, how they look), then run `storyboard check`.
# Durations are estimated from the length of the action and the dialogue.
title: Names & Clashes ＃2
resolution: 720p
ratio: 16:9

# style: the look every clip shares, e.g. 35mm film, natural light, muted colours

# ZOË: speaks first at line 5 of the screenplay
character Zoe:
  image: cast/zoe.png

# MARY-ANN: speaks first at line 8 of the screenplay
character MaryAnn:
  image: cast/mary-ann.png

# MARY ANN: speaks first at line 11 of the screenplay
character MaryAnn2:
  image: cast/mary-ann2.png

# CUT: speaks first at line 15 of the screenplay
character Cut:
  image: cast/cut.png

# 23 SKIDOO: speaks first at line 18 of the screenplay
character _23Skidoo:
  image: cast/23-skidoo.png

# 王: speaks first at line 21 of the screenplay
character Character6:
  image: cast/character6.png

# INT. CAFÉ ÉLODIE - DAY: first at line 3 of the screenplay
place CafeElodie:
  image: places/cafe-elodie.png
  description: Café Élodie

# EXT. SHOT - NIGHT: first at line 24 of the screenplay
place Shot:
  image: places/shot.png

# INT. HOUSE - DAY: first at line 28 of the screenplay
place HouseInterior:
  image: places/house-interior.png
  description: House

# EXT. HOUSE - DAY: first at line 32 of the screenplay
place HouseExterior:
  image: places/house-exterior.png
  description: House

# INT. 221B BAKER STREET - NIGHT: first at line 36 of the screenplay
place _221bBakerStreet:
  image: places/221b-baker-street.png
  description: 221B Baker Street

# INT. 家 - DAY: first at line 40 of the screenplay
place Place6:
  image: places/place6.png
  description: 家

# INT. CAFÉ ÉLODIE - DAY (line 3)
shot cafe-elodie 8s:
  Interior, @CafeElodie, day.
  @Zoe (off-screen): "Bonjour!"
  @MaryAnn: "Hi."
  @MaryAnn2 (confused): "Hi?"
  @Cut: "Who named me ‘this’?"
  @_23Skidoo: "Twenty-three."
  @Character6: "你好。"

# EXT. SHOT - NIGHT (line 24)
shot shot 6s:
  Exterior, @Shot, night. The SHOT tower stands. @Cut sits at the bar; @MaryAnn waves at @Zoe. camera: she says.

# INT. HOUSE - DAY (line 28)
shot house 4s:
  Interior, @HouseInterior, day. Quiet inside.

# EXT. HOUSE - DAY (line 32)
shot house-2 4s:
  Exterior, @HouseExterior, day. Loud outside.

# INT. 221B BAKER STREET - NIGHT (line 36)
shot scene-221b-baker-street 4s:
  Interior, @_221bBakerStreet, night. Violin music.

# INT. 家 - DAY (line 40)
shot scene 4s:
  Interior, @Place6, day. Rain on the roof.
