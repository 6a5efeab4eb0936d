"""The command line: the typer app (`commands`), what every command shares (`common`), the one
render path of render and preview (`render`, with its `progress` display and its `words` for the
engine's reasons), and watch mode (`watch`). Each goes through `storyboard.api`. `main` is the
console entry point."""

from .commands import app, main

__all__ = ["app", "main"]
