# A film with settings and notes, but no clips yet.
title: The Garden
resolution: 720p
