"""Defaults and provider keys without exporting variables: each value from the environment
first, then from the user config file, `config.toml` in the platform's user config folder
(platformdirs: `~/.config/storyboard/config.toml` on Linux):

    provider = "together"                 # STORYBOARD_PROVIDER
    host = "s3://my-bucket/storyboard"    # STORYBOARD_HOST
    together_fields = "openapi"           # STORYBOARD_TOGETHER_FIELDS

    [keys]
    TOGETHER_API_KEY = "..."              # any provider's key, by its variable's name

The file is read only when the environment does not have the value, and refused (one line) when
anyone but its owner may read it, since it may hold keys. storyboard never writes it. Each value
comes with where it came from, so `plan` can say so.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULTS = {"provider": "STORYBOARD_PROVIDER", "host": "STORYBOARD_HOST",
            "together_fields": "STORYBOARD_TOGETHER_FIELDS"}
KEYS_TABLE = "keys"


class ConfigError(Exception):
    """The config file cannot be used: one line naming it and what to do."""


@dataclass(frozen=True)
class Sourced:
    value: str
    source: str  # "--host", "STORYBOARD_HOST", "the story's host:", "config file <path>", "default"


def config_path() -> Path:
    from platformdirs import user_config_path

    return user_config_path("storyboard", appauthor=False) / "config.toml"


def default(name: str) -> Sourced | None:
    """A default (`provider`, `host`, `together_fields`): its variable, else the config file's."""
    return _lookup(DEFAULTS[name], lambda data: data.get(name), name)


def key(variable: str) -> Sourced | None:
    """A provider key (by its variable's name): the environment's, else the file's `[keys]`."""
    return _lookup(variable, lambda data: (data.get(KEYS_TABLE) or {}).get(variable), f"{KEYS_TABLE}.{variable}")


def _lookup(variable: str, pick: Any, name: str) -> Sourced | None:
    raw = os.environ.get(variable)
    if raw is not None and raw.strip():
        return Sourced(raw, variable)
    path = config_path()
    value = pick(read_config(path))
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{path}: `{name}` must be a quoted, non-empty text value")
    return Sourced(value, f"config file {path}")


def read_config(path: Path) -> dict[str, Any]:
    """The file's table ({} when there is none). Raises ConfigError when others may read it (it
    may hold keys: nothing of it is used) or it is not TOML; never says what it holds."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        # absent, or behind a folder this user may not even look into (another user's HOME
        # under sudo -u): no config of ours, as for every tool that reads one
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror or exc}") from None
    if mode & (stat.S_IRGRP | stat.S_IROTH):
        raise ConfigError(f"refusing to read the config file {path}: other users can read it and it may hold "
                          f"API keys; make it private with `chmod 600 {path}`")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from None
