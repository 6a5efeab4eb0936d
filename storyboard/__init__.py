"""storyboard: a multi-shot storyboard compiler for AI film-making."""

__version__ = "0.1.0"
