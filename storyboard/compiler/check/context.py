"""What every part of the checker shares: the film, the provider, the diagnostics found so far,
and the indexes built once per film (names, near names, each file's problems)."""

from __future__ import annotations

from pathlib import Path

from ...diagnostics import Diagnostic, Span
from ...language.load import Film
from ...language.model import Card, Clip
from ...messages import report
from ...providers.base import Provider
from .near import NearNames


class Context:
    def __init__(self, film: Film, provider: Provider):
        self.film = film
        self.provider = provider
        self.limits = provider.limits
        self.diags: list[Diagnostic] = []
        # once, not per unknown mention: a film with thousands of them was quadratic
        # by exact class, as a clip's lines are picked (`Clip` in model.py says why)
        self.clip_names = {c.name for c in film.timeline if type(c) is Clip}
        self.card_names = {c.name for c in film.timeline if type(c) is Card}
        self.near_cast = NearNames(film.cast)
        # set by `names.check_names`, read by the timeline: every cast and clip name and where it is first
        self.names: dict[str, Span | None] = {}
        self.near_clip_names = NearNames(())
        self.checked_files: dict[tuple, tuple] = {}  # (path, folder, kind, role) -> problems (files.py)
        self.near_in_folder: dict[Path, NearNames | None] = {}  # a folder's file names (files.py)
        self.template = None  # the story's compiled template, once looked for (units.py)
        self.model_limit_lines: set[Span | None] = set()  # one report per line, not per clip under it (units.py)

    def report(self, code: str, span: Span | None, variant: str | None = None, **args) -> None:
        """Report `code` from the catalogue (storyboard/messages.py); `args` as for `messages.report`."""
        self.diags.append(report(code, span, variant, **args))


def seconds(x: float) -> str:
    """A length in seconds as messages write it: `2.5s`, `4s`."""
    return f"{x:g}s"
