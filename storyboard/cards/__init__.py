"""Title cards and intertitles: `card` blocks drawn on this machine, never sent to a provider.

- style: the small vocabulary of `style:` (colours, serif/sans, bold, fade) read into settings;
- layout: where each line of text goes on a card of a given size, and whether it fits (the
  checker and the renderer ask the same function, so a card `check` accepts is the card drawn);
- render: the card as an MP4 (moviepy: ImageClip/TextClip/CompositeVideoClip) at the film's size
  and frame rate with a silent AAC track, cached by content like a rendered clip.
"""
