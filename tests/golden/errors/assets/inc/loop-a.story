include: loop-b.story
