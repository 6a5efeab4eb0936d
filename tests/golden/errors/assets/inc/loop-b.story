include: loop-a.story
