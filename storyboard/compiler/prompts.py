"""Prompt text from jinja2 templates (StrictUndefined), shipped in the package.

The compiler gathers the parts; the template only arranges them. A story may name its own
template (`template: my-prompt.j2`, relative to the story) with the same variables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import jinja2

from ..language.model import MENTION_RE


@dataclass(frozen=True)
class PromptParts:
    action: str
    style: str | None = None
    legend: tuple[str, ...] = ()
    opening: str | None = None
    extend: bool = False
    beats: tuple[dict, ...] = ()
    camera: str | None = None
    dialogue: tuple[dict, ...] = ()
    sound: str | None = None
    negative: str | None = None
    extra: dict = field(default_factory=dict)


@lru_cache(maxsize=1)
def _package_env() -> jinja2.Environment:
    return jinja2.Environment(loader=jinja2.PackageLoader(__package__, "templates"),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=False, autoescape=False)


@lru_cache(maxsize=16)
def _file_template(path: str, mtime: float) -> jinja2.Template:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)
    return env.from_string(Path(path).read_text(encoding="utf-8"))


def template(path: Path | None = None) -> jinja2.Template:
    if path is None:
        return _package_env().get_template("prompt.j2")
    return _file_template(str(path), path.stat().st_mtime)


def render_prompt(parts: PromptParts, tmpl: jinja2.Template | None = None) -> str:
    text = (tmpl or template()).render(
        style=parts.style, legend=list(parts.legend), opening=parts.opening, extend=parts.extend,
        action=parts.action, beats=list(parts.beats), camera=parts.camera, dialogue=list(parts.dialogue),
        sound=parts.sound, negative=parts.negative, **parts.extra)
    lines = [re.sub(r"[ \t]+", " ", ln).strip() for ln in text.splitlines()]
    return "\n".join(ln for ln in lines if ln)


def rewrite_mentions(text: str, words: dict[str, str]) -> str:
    """`@Kitten` -> its index words ("Image 1"); unknown names are left for the checker."""
    return MENTION_RE.sub(lambda m: words.get(m.group(1), m.group(0)), text)
