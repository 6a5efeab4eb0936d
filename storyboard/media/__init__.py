"""Media files, for every stage that reads or makes them: `probe` (streams, durations, packet
timing, and the one way to run ffmpeg), `frames` (the one frame grabber), `text` (fonts, and
fitting text into pixels); `engine` is the render engine's view of them."""
