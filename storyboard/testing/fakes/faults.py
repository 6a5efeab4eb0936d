"""Fault injection for the fake servers: which faults exist and how each request draws one.

Counted faults (`create_429=2`) hit the next N matching requests and count down. Chaos mode
draws faults from a random source seeded by the chaos seed and keyed by what is asked, so a run
repeats itself however concurrent requests interleave. A draw names a fault kind ("429", "503",
"drop", ...); each fake answers the kind in its vendor's words.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

CHAOS_KINDS = ("429", "500", "503", "ambiguous", "drop", "expired", "fail", "slow")
ANSWERED_KINDS = ("402", "429", "500", "503")  # fault kinds answered with an HTTP error status


@dataclass
class Faults:
    """Faults to inject. Counts (`create_429=2`) apply to the next N matching requests and
    count down; the other fields are settings. All can be changed at run time."""

    create_429: int = 0
    get_429: int = 0
    retry_after: float = 1.0          # seconds, sent as `Retry-After` (ceil) and `retry-after-ms`
    create_500: int = 0
    create_503: int = 0
    create_402: int = 0               # billing: monthly spend limit reached
    get_500: int = 0
    get_503: int = 0
    drop_before_create: int = 0       # close the socket, nothing created
    drop_after_create: int = 0        # create the job, then close the socket: the ambiguous case
    drop_get: int = 0
    drop_download: int = 0            # send half the file, then close
    expire_downloads: int = 0         # the next N file requests answer 403 "expired"
    download_delay: float = 0.0       # pause this long halfway through each file (a slow download)
    create_delay: float = 0.0         # accept, then wait this long before answering (timeouts)
    url_ttl: float | None = None      # video URLs expire this long after they are issued
    fail_every: int = 0               # every Nth accepted job fails
    fail_on: str | None = None        # jobs whose prompt contains this fail
    slow_every: int = 0               # every Nth accepted job takes `slow_latency`
    slow_latency: float = 30.0
    max_running: int = 0              # rate limit: creates while this many jobs run answer 429 (0 = off)
    creates_per_minute: int = 0       # rate limit: creates beyond this many in 60 s answer 429 (0 = off)
    upload_500: int = 0               # file storage: the next N uploads answered 500
    upload_cut: int = 0               # file storage: the next N uploads cut off halfway (connection closed)
    upload_ttl: float | None = None   # file storage: uploads expire this long after they arrive
    chaos: int | None = None          # seed of the random mode; None = off
    chaos_rate: float = 0.2
    chaos_kinds: tuple[str, ...] = CHAOS_KINDS

    def update(self, changes: dict[str, Any]) -> None:
        """Apply changes (from kwargs or JSON), checking names and coercing types."""
        types = {f.name: f.type for f in dataclasses.fields(self)}
        unknown = set(changes) - set(types)
        if unknown:
            raise ValueError(f"unknown faults: {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            setattr(self, name, _coerce(name, types[name], value))

    def public(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["chaos_kinds"] = list(self.chaos_kinds)
        return data


# One line of help per fault, for every fake's command line.
FAULT_HELP = {
    "create_429": "answer creates 429 with Retry-After", "get_429": "answer GETs 429 with Retry-After",
    "retry_after": "the Retry-After of 429s (default 1)", "create_500": "answer creates 500",
    "create_503": "answer creates 503", "create_402": "answer creates 402 (spend limit)",
    "get_500": "answer GETs 500", "get_503": "answer GETs 503",
    "drop_before_create": "close the connection without creating the job",
    "drop_after_create": "create the job, then close the connection unanswered (ambiguous)",
    "drop_get": "close GET connections unanswered", "drop_download": "send half a file, then close",
    "expire_downloads": "answer file requests 403 expired", "create_delay": "answer creates this late",
    "download_delay": "pause this long halfway through each file (a slow download)",
    "url_ttl": "video URLs expire this long after they are issued",
    "fail_every": "every Nth job fails", "fail_on": "jobs whose prompt contains TEXT fail, e.g. FAIL",
    "slow_every": "every Nth job takes --slow-latency", "slow_latency": "how long slow jobs take (default 30)",
    "max_running": "rate limit: answer creates 429 while this many jobs are running",
    "creates_per_minute": "rate limit: answer creates 429 past this many in any 60 s",
    "upload_500": "answer file uploads 500", "upload_cut": "cut file uploads off halfway (connection closed)",
    "upload_ttl": "uploaded files expire this long after they arrive (default: the vendor's)",
    "chaos": "seeded random mix of faults", "chaos_rate": "share of requests hit in chaos mode (default 0.2)",
}


def _coerce(name: str, type_: Any, value: Any) -> Any:
    # dataclass field types are strings here (postponed annotations)
    if value is None and "None" in str(type_):
        return None
    try:
        if name == "chaos_kinds":
            return parse_chaos_kinds(value)
        if str(type_).startswith("int"):
            return int(value)
        if str(type_).startswith("float"):
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"bad value for {name}: {value!r} ({exc})") from None


def parse_chaos_kinds(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """A comma list (or a list) of chaos kinds, checked."""
    kinds = tuple(k.strip() for k in (value.split(",") if isinstance(value, str) else value) if k.strip())
    bad = [k for k in kinds if k not in CHAOS_KINDS]
    if bad:
        raise ValueError(f"unknown chaos kinds {bad}; choose from {', '.join(CHAOS_KINDS)}")
    return kinds


@dataclass(frozen=True)
class JobFate:
    """What the faults decided for a newly accepted job."""

    slow: bool = False
    failure: str | None = None  # "refused" (its prompt holds `fail_on`) or "failed"


class FaultDraws:
    """The faults in force and the draws made from them. Not thread-safe: the server calls it
    with its lock held, so that counted faults are consumed exactly once."""

    def __init__(self, initial: dict[str, Any]):
        self.faults = Faults()
        self.faults.update(initial)
        self._seen: dict[tuple[str, str], int] = {}
        self._accepted = 0

    def take(self, name: str) -> bool:
        """Consume one of a counted fault."""
        left = getattr(self.faults, name)
        if left > 0:
            setattr(self.faults, name, left - 1)
            return True
        return False

    def chaos(self, where: str, key: str, kinds: tuple[str, ...]) -> str | None:
        """A seeded choice keyed by what is asked (not by arrival order), so concurrent clients
        see the same faults for the same requests on every run with the same seed."""
        if self.faults.chaos is None:
            return None
        allowed = [k for k in kinds if k in self.faults.chaos_kinds]
        n = self._seen[(where, key)] = self._seen.get((where, key), 0) + 1
        rng = random.Random(f"{self.faults.chaos}:{where}:{key}:{n}")
        if not allowed or rng.random() >= self.faults.chaos_rate:
            return None
        return rng.choice(allowed)

    def on_create(self, body_sha: str) -> str | None:
        """'drop' (nothing created), 'drop_after' (created, answer lost), an answered kind, or None."""
        chaos = self.chaos("create", body_sha, ("ambiguous", "429", "500", "503"))
        if chaos == "ambiguous":
            return random.Random(f"{self.faults.chaos}:{body_sha}").choice(["drop", "drop_after"])
        if self.take("drop_before_create"):
            return "drop"
        if self.take("drop_after_create"):
            return "drop_after"
        for kind in ("429", "503", "500"):
            if self.take(f"create_{kind}") or chaos == kind:
                return kind
        return "402" if self.take("create_402") else None

    def on_get(self, key: str) -> str | None:
        """'drop', an answered kind, or None."""
        chaos = self.chaos("get", key, ("drop", "429", "500", "503"))
        if self.take("drop_get") or chaos == "drop":
            return "drop"
        for kind in ("429", "503", "500"):
            if self.take(f"get_{kind}") or chaos == kind:
                return kind
        return None

    def on_download(self, key: str, url_expired: bool) -> str | None:
        """'expired', '503', 'drop' (half the file, then hang up), or None."""
        chaos = self.chaos("download", key, ("expired", "drop", "503"))
        if url_expired or self.take("expire_downloads") or chaos == "expired":
            return "expired"
        if chaos == "503":
            return "503"
        return "drop" if self.take("drop_download") or chaos == "drop" else None

    def on_job(self, body_sha: str, prompt: str) -> JobFate:
        """Whether the job just accepted is slow and whether it fails."""
        self._accepted += 1
        n, f = self._accepted, self.faults
        chaos = self.chaos("job", body_sha, ("fail", "slow"))
        slow = bool(f.slow_every and n % f.slow_every == 0) or chaos == "slow"
        failure = None
        if f.fail_on and f.fail_on in prompt:
            failure = "refused"
        elif (f.fail_every and n % f.fail_every == 0) or chaos == "fail":
            failure = "failed"
        return JobFate(slow=slow, failure=failure)
