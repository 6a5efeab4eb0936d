"""The pipeline above the stages (like Jinja2's `Environment` or pyflakes' `api`).

Each function runs the stages in order and returns data: diagnostics, plans, results with
structured reasons. Nothing here prints or exits; the CLI, watch mode and the tests all come
through these functions, and the stage modules below never import this one.

    result = compile_file("film.story", providers.get("preview"))
    if result.ok:
        plan = result.plan
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .compiler.check import check
from .compiler.requests import compile_film
from .diagnostics import Diagnostic
from .language.load import load
from .plan import RenderPlan
from .providers.base import Provider


@dataclass
class CompileResult:
    plan: RenderPlan | None
    diagnostics: list[Diagnostic]
    sources: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.plan is not None


@contextmanager
def _rare_gc_passes(threshold: int = 100_000):
    """The front half allocates many small objects that all live to the end (nodes, spans,
    inputs, requests) and makes no garbage cycles to speak of: the cyclic collector's repeated
    passes over them cost a sixth of a 1,000-clip compile. Collect rarely meanwhile (as mypy
    does), then restore the thresholds."""
    old = gc.get_threshold()
    gc.set_threshold(max(old[0], threshold), *old[1:])
    try:
        yield
    finally:
        gc.set_threshold(*old)


def check_file(path: Path | str, provider: Provider) -> CompileResult:
    """Load and check; `plan` stays None. Raises OSError only if the story itself can't be read."""
    with _rare_gc_passes():
        film = load(path)
        return CompileResult(None, check(film, provider), film.sources)


def compile_file(path: Path | str, provider: Provider) -> CompileResult:
    """Load, check and compile. Raises OSError only if the story file itself can't be read."""
    with _rare_gc_passes():
        film = load(path)
        diags = check(film, provider)
        if any(d.is_error for d in diags):
            return CompileResult(None, diags, film.sources)
        return CompileResult(compile_film(film, provider, diags), diags, film.sources)
