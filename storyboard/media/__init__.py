"""Media primitives shared by every stage: probing files, grabbing frames, running ffmpeg."""
