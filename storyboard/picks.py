"""Picks: the lockfile of the cut. `<story>.picks.toml` beside the story records, per provider
and clip, the take the film plays: its number, seed, tier, the sha256 of its clip file and the
request key it was made from. It is meant for version control: plain TOML, one table per pick,
written whole and atomically by `storyboard pick` / `unpick` (and the page's pick buttons, which
call the same functions through `api`).

Reading never resets anything: a file that is not TOML, or not the shape written here, is a
diagnostic (SB621) at its line, and the render stops before anything is sent.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from .atomic import write_text
from .digest import file_sha256
from .diagnostics import Diagnostic, Span
from .messages import report
from .plan import MAX_TAKES, PickedTake, PlannedClip, RenderPlan, clip_of, played_clips, takes_of

SUFFIX = ".picks.toml"
HEADER = ("# The takes this film plays, written by `storyboard pick` and `storyboard unpick`: commit it with\n"
          "# the story. One table per provider and clip: the take, the seed it was made with, its tier,\n"
          "# the sha256 of its clip file and the request key it was made from.\n\n")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_FIELDS = {"take", "seed", "tier", "sha256", "key", "seconds", "job_id"}
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
_TOML_AT_END = re.compile(r"\(at end of document\)")


class PickError(Exception):
    """A pick or unpick that cannot be done (unknown clip, take out of range, never rendered)."""


@dataclass(frozen=True)
class Pick:
    """One pick as the file records it."""

    take: int
    tier: str
    key: str
    sha256: str
    seed: int | None = None
    seconds: float | None = None
    job_id: str | None = None

    def for_compiler(self) -> PickedTake:
        return PickedTake(take=self.take, key=self.key, tier=self.tier, seed=self.seed,  # type: ignore[arg-type]
                          seconds=self.seconds, job_id=self.job_id)

    def as_table(self) -> dict[str, Any]:
        table: dict[str, Any] = {"take": self.take}
        if self.seed is not None:  # take 1 of a seedless film was sent without one
            table["seed"] = self.seed
        table.update(tier=self.tier, sha256=self.sha256, key=self.key)
        if self.seconds is not None:
            table["seconds"] = round(self.seconds, 3)
        if self.job_id is not None:
            table["job_id"] = self.job_id
        return table


@dataclass
class PicksFile:
    """The picks file of a story: {provider: {clip: Pick}}, and what was wrong with it."""

    path: Path
    text: str | None = None  # None: there is no picks file
    picks: dict[str, dict[str, Pick]] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    def of(self, provider: str) -> dict[str, Pick]:
        return self.picks.get(provider, {})

    def line_of(self, provider: str, clip: str | None = None) -> int:
        """The line of a pick's table (or of a provider's), for diagnostics; 1 when not found."""
        if not self.text:
            return 1
        parts = [provider] + ([clip] if clip is not None else [])
        quoted = r"\s*\.\s*".join(r'(?:"{0}"|\'{0}\'|{0})'.format(re.escape(p)) for p in parts)
        pattern = re.compile(r"^\s*\[\s*" + quoted + r"\s*\]", re.M)
        m = pattern.search(self.text)
        return self.text.count("\n", 0, m.start()) + 1 if m else 1


def picks_path(story: Path | str) -> Path:
    """`film.story` -> `film.picks.toml` beside it."""
    story = Path(story)
    return story.with_name(story.stem + SUFFIX)


def read_picks(story: Path | str) -> PicksFile:
    """The picks file beside `story` (none: no picks). Never raises for its content."""
    path = picks_path(story)
    found = PicksFile(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return found
    except OSError as exc:
        found.diagnostics.append(_shape(found, 1, f"cannot read the picks file: {exc.strerror or exc}"))
        return found
    try:
        found.text = raw.decode("utf-8")
        data = tomllib.loads(found.text)
    except UnicodeDecodeError as exc:
        found.text = raw.decode("utf-8", "replace")
        found.diagnostics.append(_shape(found, found.text.count("\n", 0, exc.start) + 1, "the picks file is not UTF-8"))
        return found
    except tomllib.TOMLDecodeError as exc:
        m = _TOML_AT.search(str(exc))
        last = found.text.rstrip("\n").split("\n")
        line, col = (int(m.group(1)), int(m.group(2))) if m else (len(last), len(last[-1]) + 1)
        why = _TOML_AT_END.sub("", _TOML_AT.sub("", str(exc))).strip() + ("" if m else " at the end of the file")
        found.diagnostics.append(report("SB621", Span(str(path), line, col), "toml", why=why))
        return found
    _read_tables(found, data)
    return found


def _shape(found: PicksFile, line: int, what: str) -> Diagnostic:
    return report("SB621", Span(str(found.path), line, 1), "shape", what=what)


def _read_tables(found: PicksFile, data: dict[str, Any]) -> None:
    for provider, clips in data.items():
        if not isinstance(clips, dict):
            found.diagnostics.append(_shape(found, 1, f"`{provider}` must be a table of picks, one per clip "
                                                      f"(`[{provider}.CLIP]`)"))
            continue
        for clip, table in clips.items():
            line = found.line_of(provider, clip)
            problem = _pick_problem(table)
            if problem:
                found.diagnostics.append(_shape(found, line, f"the pick of `{clip}` ({provider}): {problem}"))
                continue
            found.picks.setdefault(provider, {})[clip] = Pick(
                take=table["take"], tier=table["tier"], key=table["key"], sha256=table["sha256"],
                seed=table.get("seed"), seconds=table.get("seconds"), job_id=table.get("job_id"))


def _pick_problem(table: Any) -> str | None:
    """What is wrong with one pick's table, or None."""
    if not isinstance(table, dict):
        return "must be a table with take, tier, sha256 and key"
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        return f"unknown field `{unknown[0]}` (a pick has {', '.join(sorted(_FIELDS))})"
    missing = [k for k in ("take", "tier", "sha256", "key") if k not in table]
    if missing:
        return f"no `{missing[0]}`"
    take, seed, seconds = table["take"], table.get("seed"), table.get("seconds")
    if isinstance(take, bool) or not isinstance(take, int) or not 1 <= take <= MAX_TAKES:
        return f"take must be a whole number from 1 to {MAX_TAKES}, not {take!r}"
    if table["tier"] not in ("final", "draft"):
        return f"tier is \"final\" or \"draft\", not {table['tier']!r}"
    for name in ("sha256", "key"):
        if not isinstance(table[name], str) or not _HEX64.fullmatch(table[name]):
            return f"{name} must be 64 lowercase hex digits"
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        return f"seed must be a whole number, not {seed!r}"
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))):
        return f"seconds must be a number, not {seconds!r}"
    if table.get("job_id") is not None and not isinstance(table["job_id"], str):
        return "job_id must be a string"
    return None


def write_picks(found: PicksFile) -> None:
    """Write the picks file whole, atomically (an empty file goes away). Never called on a file
    that did not read cleanly: a hand-broken file is the writer's to fix, not ours to reset."""
    if not found.ok:
        raise PickError(f"{found.path} has problems (run `storyboard check`); it was not rewritten")
    data = {p: dict(sorted(clips.items())) for p, clips in sorted(found.picks.items()) if clips}
    if not data:
        found.path.unlink(missing_ok=True)
        found.text = None
        return
    text = HEADER + tomli_w.dumps({p: {c: pick.as_table() for c, pick in clips.items()} for p, clips in data.items()})
    write_text(found.path, text)
    found.text = text


def selection_picks(found: PicksFile, provider: str) -> tuple[tuple[str, PickedTake], ...]:
    return tuple((clip, pick.for_compiler()) for clip, pick in sorted(found.of(provider).items()))


def unknown_clip_warnings(found: PicksFile, plan: RenderPlan) -> list[Diagnostic]:
    """SB622 for each pick naming a clip the story no longer has (kept, never deleted)."""
    names = {c.name for c in played_clips(plan)}
    return [report("SB622", Span(str(found.path), found.line_of(plan.provider, clip), 1), clip=clip, take=pick.take)
            for clip, pick in found.of(plan.provider).items() if clip not in names]


# ---- every take, for `storyboard takes`, the page and the exports ---------------------------------

@dataclass(frozen=True)
class TakeInfo:
    """One take of one clip as the writer sees it."""

    clip: str
    take: int
    takes: int
    seed: int | None
    tier: str
    state: str  # rendered | submitted | running | in doubt | failed | not rendered
    cost_usd: float | None
    file: str | None  # the clip file in the cache, when rendered
    picked: bool  # the picks file picks this take
    played: bool  # the film plays this take (the picked one, else take 1)
    pinned: bool  # a pick from an older version of its clip
    key: str
    plan_name: str  # the take's name in the plan (`clip` or `clip#k`)

    def as_json(self) -> dict[str, Any]:
        return {"clip": self.clip, "take": self.take, "takes": self.takes, "seed": self.seed, "tier": self.tier,
                "state": self.state, "cost_usd": self.cost_usd, "file": self.file, "picked": self.picked,
                "played": self.played, "pinned": self.pinned, "key": self.key}


def list_takes(plan: RenderPlan, found: PicksFile, cache: Any, journal: Any) -> list[TakeInfo]:
    """Every take of every clip of the plan, in film order then take order. `cache` and `journal`
    are the provider's (render.Cache, render.Journal)."""
    picks = found.of(plan.provider)
    out = []
    for played in played_clips(plan):
        for c in takes_of(plan, played.name):
            pick = picks.get(played.name)
            out.append(TakeInfo(
                clip=played.name, take=c.take, takes=c.takes, seed=c.seed, tier=c.tier,
                state=take_state(c, cache, journal), cost_usd=c.estimated_cost_usd,
                file=str(cache.clip_path(c.key)) if cache.has_file(c.key) else None,
                picked=pick is not None and pick.take == c.take, played=c.take_of is None, pinned=c.pinned,
                key=c.key, plan_name=c.name))
    return out


def take_state(c: PlannedClip, cache: Any, journal: Any) -> str:
    if cache.has_file(c.key):
        return "rendered"
    try:
        record = journal.get(c.key)
    except Exception:  # an unreadable record may hide a paid job: say so, do not guess
        return "in doubt"
    if record is None or record.state == "unsent":
        return "not rendered"
    return {"sending": "in doubt", "ambiguous": "in doubt"}.get(record.state, record.state)


# ---- pick, unpick ----------------------------------------------------------------------------------

def find_take(plan: RenderPlan, clip: str, take: int) -> PlannedClip:
    """The take of a clip in a plan; PickError for an unknown clip or a take out of range."""
    clips = [c.name for c in played_clips(plan)]
    if clip not in clips:
        from .compiler.check.near import close

        near = close(clip, clips)
        raise PickError(f"no clip named {clip!r} in this film" + (f" (did you mean {near!r}?)" if near else "")
                        + f"; clips: {', '.join(clips)}")
    found = takes_of(plan, clip)
    if not 1 <= take <= MAX_TAKES:
        raise PickError(f"take must be a number from 1 to {MAX_TAKES}, not {take}")
    for c in found:
        if c.take == take:
            return c
    raise PickError(f"{clip} has {len(found)} take(s); there is no take {take} "
                    f"(add takes with `storyboard render FILE --shot {clip} --takes {take}`)")


def make_pick(c: PlannedClip, cache: Any) -> Pick:
    """The pick of a rendered take; PickError when it was never rendered."""
    if not cache.has_file(c.key):
        raise PickError(f"take {c.take} of {clip_of(c)} has not been rendered"
                        + (" at the draft tier" if c.tier == "draft" else "")
                        + f" (render it with `storyboard render FILE --shot {clip_of(c)}"
                        + (f" --takes {c.take}" if c.take > 1 else "") + "`)")
    record = cache.read_record(c.key)
    duration = record.probe.get("duration") if record else None
    return Pick(take=c.take, tier=c.tier, key=c.key, sha256=file_sha256(cache.clip_path(c.key)), seed=c.seed,
                seconds=float(duration) if isinstance(duration, (int, float)) else None,
                job_id=record.job_id if record else None)
