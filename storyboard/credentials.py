"""Provider secrets: read them one way, refuse malformed ones, scrub them from every message.

`read_secret` is the one way a provider reads a key (from the environment or an explicit
value): surrounding whitespace is stripped (a key pasted from a file keeps its newline or CRLF)
and the secret is remembered, so `scrub` removes it from any text that can reach the terminal,
`--json`, a log or a file. `secret_problem` says, without quoting any of the key, why a key
cannot go into an HTTP header; callers refuse it before any request is sent.

A key leaks in more shapes than its raw text: an exception quotes it as `repr()` or
`b'...'` (`Illegal header value b'Bearer sk-...\\n'`), JSON escapes it, a URL
percent-encodes it, an Authorization header carries it in base64. `scrub` removes them all.
"""

from __future__ import annotations

import contextlib
import base64
import json
import os
import re
import threading
from urllib.parse import quote, quote_plus, unquote, urlsplit

MASK = "***"
MIN_SECRET = 4  # shorter values are not keys, and masking them would garble ordinary words
MIN_BASE64_PIECE = 8  # the shortest base64 run worth masking inside a larger blob

_known: set[str] = set()
_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()
_key_sources: dict[str, str] = {}


def read_secret(variable: str, value: str | None = None) -> str | None:
    """The secret `value`, or the environment's `variable` when `value` is None, with surrounding
    whitespace stripped; None when unset or blank. Remembered for `scrub`, as given and as
    stripped (a refused key must not leak either)."""
    raw = os.environ.get(variable) if value is None else value
    if raw is None:
        return None
    remember(raw)
    key = raw.strip()
    remember(key)
    return key or None


def read_key(variable: str, value: str | None = None) -> str | None:
    """A provider's key: `value`, else the environment's `variable`, else the user config file's
    `[keys]` entry (see config.py; ConfigError when that file may not be read). Where it came
    from is kept for `plan` (`key_source`)."""
    if value is not None:
        return read_secret(variable, value)
    from .config import key

    found = key(variable)
    if found is None:
        return None
    _key_sources[variable] = found.source
    return read_secret(variable, found.value)


def key_source(variable: str) -> str | None:
    """Where the last key read for `variable` came from (its variable, or the config file)."""
    return _key_sources.get(variable)


def secret_problem(variable: str, key: str | None) -> str | None:
    """Why `key` (already stripped) cannot be sent as a credential, in one line that names the
    variable and quotes nothing of the key; None when it can."""
    if not key:
        return None
    if any(ord(c) > 127 for c in key):
        why = "a non-ASCII character (a typographic quote or dash from copying it?)"
    elif any(c.isspace() for c in key):
        why = "a space, tab or line break inside it"
    elif any(ord(c) < 32 or ord(c) == 127 for c in key):
        why = "a control character"
    else:
        return None
    return (f"{variable} is not a usable API key: it contains {why}; set it to the key alone, "
            "exactly as the provider's dashboard shows it")


def remember(secret: str | None) -> None:
    """Mask `secret` in everything `scrub` sees from now on."""
    global _pattern
    if not isinstance(secret, str) or len(secret.strip()) < MIN_SECRET:
        return
    with _lock:
        if secret in _known:
            return
        _known.add(secret)
        forms = {form for s in _known for form in representations(s)}
        # longest first, so an escaped form is masked whole rather than around its raw core
        _pattern = re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


def remember_url_credentials(url: str | None) -> None:
    """A password in a URL (`https://user:token@proxy`) is a secret too: error messages quote URLs."""
    try:
        password = urlsplit(url).password if url else None
    except ValueError:  # not a URL at all: nothing to find in it
        return
    if password:
        remember(password)
        remember(unquote(password))


def scrub(text: str) -> str:
    """`text` with every representation of every remembered secret masked."""
    pattern = _pattern
    if pattern is None or not isinstance(text, str):
        return text
    return pattern.sub(MASK, text)


def representations(secret: str) -> set[str]:
    """The shapes `secret` takes in messages: raw, repr- and bytes-escaped, JSON-escaped,
    percent-encoded, and base64 (standalone, and at any alignment inside a larger blob)."""
    forms = {secret, repr(secret)[1:-1], secret.encode("unicode_escape").decode("ascii"),
             json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
             quote(secret), quote(secret, safe=""), quote_plus(secret)}
    with contextlib.suppress(UnicodeEncodeError):  # a lone surrogate: no bytes form to find
        forms.add(repr(secret.encode("utf-8"))[2:-1])
    forms |= _base64_forms(secret)
    return {f for f in forms if len(f) >= MIN_SECRET}


def _base64_forms(secret: str) -> set[str]:
    try:
        data = secret.encode("utf-8")
    except UnicodeEncodeError:
        return set()
    forms: set[str] = set()
    for standalone in (data, b"Bearer " + data):
        encoded = base64.b64encode(standalone).decode("ascii")
        forms |= {encoded, encoded.rstrip("=")}
    for offset in range(3):  # inside a larger blob (`Basic base64(user:key)`, a dumped header)
        encoded = base64.b64encode(b"\0" * offset + data).decode("ascii").rstrip("=")
        start = 4 if offset else 0  # the first group mixes in the bytes before the secret
        end = len(encoded) - len(encoded) % 4  # and the last, partial one the bytes after it
        piece = encoded[start:end]
        if len(piece) >= MIN_BASE64_PIECE:
            forms.add(piece)
    return forms | {f.replace("+", "-").replace("/", "_") for f in forms}  # the URL-safe alphabet
