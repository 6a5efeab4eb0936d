

title:The Kitten General   
resolution :   720p
ratio  :16:9
character    Kitten   :
      image:    cast/kitten.png
      description:   a small cute cartoon kitten general
shot   opening    5s :
    @Kitten stands on the cliff.   
    camera :   slow crane up
dissolve    1s
shot charge 6.0s:
  @Kitten    charges.
        


fade 0.50s



