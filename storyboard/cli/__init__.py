"""The command line: the typer app (`commands`), the one render driver shared by render, preview
and watch (`render`), and watch mode (`watch`). `main` is the console entry point."""

from .commands import app, main

__all__ = ["app", "main"]
