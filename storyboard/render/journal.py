"""The job journal: what was asked of a provider, written before and after every create.

One small JSON file per clip key under `.storyboard/jobs/<namespace>/`, replaced atomically
(temp file, fsync, rename, fsync of the folder), so a crash at any instant leaves either the old
record or the new one, never half of one. Per-key files rather than an append-only log: each
record is read and replaced on its own, and there is nothing to compact.

Every create ever sent stays in the journal. A second create for a key whose create this
journal already sent (its job exists, or its answer is awaited) is refused (`DuplicateCreate`):
one key is one generation. A record left by an earlier render is replaced only when the render
decided to create again (a failed job, a free provider's lost clip, an in-doubt create the user
chose to resubmit), and then it is first copied to `past/` if it names a job or a create that
may have arrived. `forget` moves a record to `past/` too. Each record names the endpoint its
create was sent to, so a render at another endpoint can say where jobs in flight are.

States (the order a job normally goes through):

    submitting   written BEFORE the create request is sent; no job id yet
    submitted    the provider answered with a job id (the clip is paid for from here on)
    completed    the job finished; `video_url` is known
    downloaded   the clip is in the cache
    failed       the job itself failed at the provider (has a job id)
    in_doubt     the create may or may not have reached the provider (AmbiguousSubmit, or a
                 `submitting` record found by a later run): never resubmitted automatically
    unsent       the provider refused before creating anything (4xx, retries exhausted):
                 safe to submit again
    rejected     the job's video failed the checks (duration, streams)

Records hold no request body and no credentials: only ids, states, URLs, costs and messages.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

from ..atomic import fsync_dir, write_text
from ..credentials import scrub

JobState = Literal["submitting", "submitted", "completed", "downloaded", "failed", "in_doubt",
                   "unsent", "rejected"]

STATES = ("submitting", "submitted", "completed", "downloaded", "failed", "in_doubt", "unsent", "rejected")
# States whose job exists at the provider and can be polled/downloaded without a new create.
HAS_JOB = ("submitted", "completed", "downloaded")
# States where a create may have been received but its id is unknown.
IN_DOUBT = ("submitting", "in_doubt")
# States of a create that was (or may have been) received and whose clip is not downloaded yet.
IN_FLIGHT = ("submitting", "in_doubt", "submitted", "completed")


@dataclass(frozen=True)
class JobRecord:
    key: str
    clip: str
    provider: str  # the provider namespace (see Provider.namespace)
    state: JobState
    job_id: str | None = None
    video_url: str | None = None
    cost: float | None = None
    error: str | None = None
    source: str | None = None  # the clip's story line, for messages
    submitted_at: float | None = None  # when the create was sent (for poll timing on resume)
    updated_at: float = field(default_factory=time.time)
    history: tuple[tuple[str, float], ...] = ()  # (state, time) transitions, oldest first
    endpoint: str | None = None  # the provider's normalized endpoint the create was sent to

    def advance(self, state: JobState, **changes) -> JobRecord:
        """The next record: a new state plus changes, with the transition appended to history."""
        now = time.time()
        return replace(self, state=state, updated_at=now, history=self.history + ((state, now),),
                       **changes)

    def to_json(self) -> str:
        data = asdict(self)
        data["error"] = scrub(data["error"])  # whoever wrote the message, no key reaches the disk
        data["history"] = [list(h) for h in self.history]
        return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> JobRecord:
        """Parse a record; ValueError/TypeError for anything that is not one (a record that is
        half there or of another shape is never taken at its word)."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError(f"not a journal record (a JSON {type(data).__name__})")
        for name in ("key", "clip", "provider", "state"):
            if not isinstance(data.get(name), str) or not data[name]:
                raise ValueError(f"not a journal record (no {name!r})")
        if data["state"] not in STATES:
            raise ValueError(f"unknown state {data['state']!r}")
        for name in ("job_id", "video_url", "error", "source", "endpoint"):
            if data.get(name) is not None and not isinstance(data[name], str):
                raise ValueError(f"{name!r} is not a string")
        for name in ("cost", "submitted_at", "updated_at"):
            value = data.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise ValueError(f"{name!r} is not a number")
        data["history"] = tuple((str(s), float(t)) for s, t in data.get("history") or ())
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` durably: a crash leaves the old file or the new one (and at
    worst a `.NAME.*.tmp` file, which the next render sweeps up)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, text)


class Journal:
    """The records of one provider namespace in one story's state folder. `endpoint` (the
    provider's normalized endpoint) is written into every record."""

    def __init__(self, state_dir: Path, namespace: str, endpoint: str | None = None):
        self.dir = Path(state_dir) / "jobs" / namespace
        self.namespace = namespace
        self.endpoint = endpoint
        self._started: set[str] = set()  # keys whose create this journal started

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def get(self, key: str) -> JobRecord | None:
        try:
            record = JobRecord.from_json(self.path(key).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError) as exc:
            # A record we cannot read may hide a paid job: refuse to guess.
            raise JournalError(f"unreadable journal record {self.path(key)}: "
                               f"{getattr(exc, 'strerror', None) or exc}") from exc
        if record.key != key:
            raise JournalError(f"unreadable journal record {self.path(key)}: it is the record of "
                               f"another clip (key {record.key[:12]}...)")
        return record

    def put(self, record: JobRecord) -> JobRecord:
        if self.endpoint and record.endpoint != self.endpoint:
            record = replace(record, endpoint=self.endpoint)
        atomic_write(self.path(record.key), record.to_json())
        return record

    def start(self, key: str, clip: str, source: str | None = None) -> JobRecord:
        """Write `submitting` (before the create is sent). Raises DuplicateCreate rather than
        replace the record of a create this journal sent; an earlier render's record that names
        a job or a create that may have arrived is copied to `past/` first."""
        now = time.time()
        rec = JobRecord(key=key, clip=clip, provider=self.namespace, state="submitting", source=source,
                        submitted_at=now, updated_at=now, history=(("submitting", now),))
        try:
            old = self.get(key)
        except JournalError:  # the user chose to submit anyway: keep the bad record aside, not over it
            old = None
            self.set_aside(key)
        if old is not None:
            self._refuse_second_create(old)
            if old.job_id or old.state in IN_DOUBT:  # a create was sent: its record stays
                atomic_write(self._aside(key, "past"), old.to_json())  # a copy: no moment without one
            rec = replace(rec, history=old.history + rec.history)  # keep what earlier attempts went through
        self._started.add(key)
        return self.put(rec)

    def _refuse_second_create(self, old: JobRecord) -> None:
        if old.key not in self._started:  # an earlier render's: the render decided to replace it
            return
        if old.state in HAS_JOB:
            raise DuplicateCreate(f"job {old.job_id} was already created for clip {old.clip} ({old.state}); "
                                  "a second create for the same request is refused")
        if old.state in IN_DOUBT:
            raise DuplicateCreate(f"a create for clip {old.clip} was already sent and its job id is not "
                                  "known yet; a second create for the same request is refused")

    def set_aside(self, key: str) -> Path | None:
        """Move an (unreadable) record to `corrupt/` beside the records; returns where it went."""
        return self._move(key, "corrupt")

    def _aside(self, key: str, folder: str) -> Path:
        return self.dir / folder / f"{key}.{time.strftime('%Y%m%d-%H%M%S')}.{time.monotonic_ns()}.json"

    def _move(self, key: str, folder: str) -> Path | None:
        src = self.path(key)
        dest = self._aside(key, folder)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(src, dest)
        except FileNotFoundError:
            return None
        fsync_dir(self.dir)
        return dest

    def forget(self, key: str) -> bool:
        """The user's decision: the next render decides without this record, which is moved to
        `past/` (it may name a paid job)."""
        return self._move(key, "past") is not None

    def all(self) -> list[JobRecord]:
        if not self.dir.is_dir():
            return []
        out = []
        for p in sorted(self.dir.glob("*.json")):
            try:
                out.append(JobRecord.from_json(p.read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                continue
        return out


def other_journals(state_dir: Path, namespace: str, provider: str) -> list[Journal]:
    """The journals of `provider` at endpoints other than `namespace`'s, in one state folder."""
    root = Path(state_dir) / "jobs"
    try:
        folders = sorted(p for p in root.iterdir() if p.is_dir())
    except OSError:  # no jobs yet
        return []
    return [Journal(state_dir, p.name) for p in folders
            if p.name != namespace and (p.name == provider or p.name.startswith(f"{provider}-"))]


class JournalError(Exception):
    pass


class DuplicateCreate(JournalError):
    """A second create for a key whose create was sent and may still give a clip: refused."""
