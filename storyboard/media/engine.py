"""The media operations the render engine uses, in one namespace (`render.decide.media_module`)
that its tests swap for a fake: probe a rendered clip, extract its first or last frame."""

from .frames import extract_frame
from .probe import MediaError, probe

__all__ = ["MediaError", "extract_frame", "probe"]
