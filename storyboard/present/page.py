"""The storyboard page: every clip of a plan as a card, to look at before paying and to share.

    page = write_page(plan, clips, out_dir, statuses=..., film=...)   # out_dir/storyboard.html
    sheet = write_contact_sheet(plan, posters, out_dir / "contact-sheet.png", clips)

The page is one static HTML file (jinja2, autoescaped: prompts are user text) with inline CSS and
no network: it opens from `file://`. Pictures are small files written beside it (`thumbs/` for
the reference images a clip sends, `posters/` for a frame of each rendered clip), never inlined;
videos are linked by relative paths. Thumbnail and poster names carry a hash of their source's
identity (path, size, mtime), so a re-render shows the new picture, never a stale browser cache;
files of ours that the page no longer uses are removed. (`bundle.py` writes the page with copies
of everything it shows, to send.) The header states the film file's own length when there is one,
and the paid provider's prices only for a story that provider's own check accepts (else why not).
A clip with takes shows every take side by side (player, poster, seed, tier, cost), the take the
film plays marked, with the command that picks each; `takes-sheet.png` is the same as a picture
(one row per clip, one column per take). A `served` page adds pick buttons (cli.serve).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..atomic import write_bytes, write_text
from ..disk import os_reason, raise_disk_trouble
from ..names import plan_film_stem
from ..plan import (Placement, PlannedClip, RenderPlan, film_layout, parse_placeholder, placeholders_in,
                    played_clips, takes_of)
from ..providers.base import Provider
from ..stitch.base import FPS

PAGE_NAME = "storyboard.html"
CONTACT_SHEET_NAME = "contact-sheet.png"
TAKES_SHEET_NAME = "takes-sheet.png"
LIVE_SCRIPT_NAME = "live.js"
THUMB_BOX = (240, 160)  # reference thumbnails fit in this box
POSTER_WIDTH = 480  # poster frames are at most this wide
POSTER_AT = 0.35  # where in the clip the poster frame is taken (share of its duration)
VIDEO_EXTS = {".mp4", ".mov", ".m4v", ".webm", ".mkv"}
AUDIO_EXTS = {".mp3", ".wav", ".m4a", ".aac", ".ogg", ".flac"}
OUR_FILE_RE = re.compile(r".*-[0-9a-f]{12}\.(jpg|png)$")


# ---- clip states -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipState:
    """What is known about one clip's render (from a render report, the cache, or a plain status)."""

    status: str  # cached | rendered | failed | skipped | in-doubt | not-requested | interrupted | missing
    job_id: str | None = None
    cost: float | None = None
    error: str | None = None
    provider: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("cached", "rendered")


def as_state(value: Any, provider: str | None = None) -> ClipState:
    """A ClipState from a status string, a render `ClipOutcome`, a cache record, or a ClipState."""
    if isinstance(value, ClipState):
        return value
    if value is None:
        return ClipState("missing", provider=provider)
    if isinstance(value, str):
        return ClipState(value, provider=provider)
    return ClipState(status=str(getattr(value, "status", None) or "cached"),
                     job_id=getattr(value, "job_id", None), cost=getattr(value, "cost", None),
                     error=getattr(value, "error", None), provider=getattr(value, "provider", None) or provider)


def rendered_clips(plan: RenderPlan, provider: Any, *, state_dir: Path | None = None
                   ) -> tuple[dict[str, Path], dict[str, ClipState]]:
    """The clips of `plan` already in the render cache (no render, no network): files and states.
    `provider` is a Provider (its cache namespace is used) or a namespace string."""
    from ..render.cache import Cache
    from ..render import default_state_dir

    namespace = provider if isinstance(provider, str) else provider.namespace
    cache = Cache(Path(state_dir) if state_dir else default_state_dir(plan), namespace)
    clips: dict[str, Path] = {}
    states: dict[str, ClipState] = {}
    from ..cards.render import cached_cards

    state = Path(state_dir) if state_dir else default_state_dir(plan)
    cards = cached_cards(plan, state)  # drawn on this machine, in their own cache
    for c in plan.clips:
        if c.name in cards:
            clips[c.name] = cards[c.name]
            states[c.name] = ClipState("cached", cost=0.0, provider="card")
        elif c.kind == "card":
            states[c.name] = ClipState("missing", provider="card")
        elif cache.has_file(c.key):
            rec = cache.read_record(c.key)
            clips[c.name] = cache.clip_path(c.key)
            states[c.name] = ClipState("cached", job_id=rec.job_id if rec else None,
                                       cost=rec.cost if rec else None, provider=plan.provider)
        else:
            states[c.name] = ClipState("missing", provider=plan.provider)
    return clips, states


# ---- costs ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TierCost:
    tier: str
    usd: float | None  # None: no published price
    lower_bound: bool  # some clips are priced "from" the listed rate (video inputs)


def quoting_provider() -> Provider:
    """The paid provider whose prices the page quotes, whichever provider the plan is for."""
    from ..providers import quoted

    return quoted()


def tier_costs(plan: RenderPlan, quoting: Provider | None = None) -> list[TierCost]:
    """The whole film's cost at each resolution the quoting provider renders (None: a tier
    without a published price)."""
    quoting = quoting or quoting_provider()
    out = []
    for tier in quoting.limits.resolutions:
        prices = [quoting.quote(c.request, tier) for c in plan.generated().clips]  # a card costs nothing
        usd = None if any(x.usd is None for x in prices) else round(sum(x.usd or 0.0 for x in prices), 2)
        out.append(TierCost(tier, usd, any(x.lower_bound for x in prices)))
    return out


@dataclass(frozen=True)
class SendProblem:
    """One reason the quoting provider would refuse the story, with every place it arises."""

    message: str
    places: tuple[str, ...]  # "file:line:col", as `check` prints them
    hint: str | None = None


def send_problems(plan: RenderPlan, quoting: Provider) -> list[SendProblem]:
    """Why the story cannot be sent to `quoting` as written (local videos without a bucket for
    Together, a length it does not make ...): the errors of `check -p <quoting>`, the provider's
    own rules, one entry per message. Empty when it can be sent: the page then quotes its prices."""
    if plan.provider == quoting.name:
        return []  # the plan was compiled, so checked, for this very provider
    from ..compiler.check import check_for
    from ..language.load import load

    try:
        film = load(_story_path(plan))
    except OSError as exc:  # moved or unreadable since it was compiled: no quote is better than a wrong one
        return [SendProblem(f"the story could not be read again to check it for {quoting.label}: "
                            f"{os_reason(exc)}", ())]
    grouped: dict[str, tuple[list[str], str | None]] = {}
    for d in check_for(film, quoting):
        if d.is_error:
            places, hint = grouped.setdefault(d.message, ([], d.hint))
            places.append(str(d.span) if d.span else "")
    return [SendProblem(message, tuple(p for p in places if p), hint)
            for message, (places, hint) in grouped.items()]


def _story_path(plan: RenderPlan) -> Path:
    """The story file (`plan.story` is as given on the command line, maybe relative to another
    working folder: its folder is `plan.base_dir`)."""
    given = Path(plan.story)
    return given if given.is_file() else Path(plan.base_dir) / given.name


def _clip_quotes(clip: PlannedClip, quoting: Provider, tiers: list[str]) -> dict[str, Any]:
    if clip.card is not None:  # drawn on this machine at every tier, for nothing
        return {"quotes": [{"tier": t, "usd": fmt_usd(0.0)} for t in tiers], "video_input": False}
    prices = [quoting.quote(clip.request, tier) for tier in tiers]
    return {"quotes": [{"tier": t, "usd": fmt_usd(x.usd)} for t, x in zip(tiers, prices, strict=True)],
            "video_input": any(x.lower_bound for x in prices)}


def _card_words(clip: PlannedClip) -> str:
    """What a card shows and how, where a generated clip shows its prompt."""
    card = clip.card
    lines = [f"title card, drawn on this machine (free): {card.color} on {card.background}, {card.font}"
             + (", bold" if card.bold else "") + (f", fade {card.fade:g}s" if card.fade else "")]
    lines += [f"{what}: {value}" for what, value in (("text", card.text), ("subtitle", card.subtitle),
                                                     ("image", card.image)) if value]
    lines += [f"credits: {line}" for line in card.credits]
    return "\n".join(lines)


# ---- pictures ------------------------------------------------------------------------------------

def _identity(path: Path, extra: str = "") -> str:
    st = path.stat()
    text = f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}:{extra}"
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def file_slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_")[:40] or "x"


def _save_jpeg(im, dest: Path) -> Path:
    from PIL import Image

    if im.mode in ("RGBA", "LA", "P"):
        im = im.convert("RGBA")
        bg = Image.new("RGB", im.size, (24, 24, 28))
        bg.paste(im, mask=im.split()[-1])
        im = bg
    elif im.mode != "RGB":
        im = im.convert("RGB")
    dest.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=82, optimize=True, progressive=True)
    write_bytes(dest, buf.getvalue())
    return dest


def make_thumbnail(src: Path, thumbs_dir: Path, *, box: tuple[int, int] = THUMB_BOX, which: str = "") -> Path:
    """A small JPEG of an image (or of a frame of a video) in `thumbs_dir`; reused when its
    source is unchanged."""
    from PIL import Image, ImageOps

    from ..media.frames import frame_image

    src = Path(src)
    dest = Path(thumbs_dir) / f"{file_slug(src.stem)}-{_identity(src, f'{box}{which}')}.jpg"
    if dest.is_file():
        return dest
    if src.suffix.lower() in VIDEO_EXTS:
        im = frame_image(src, which or POSTER_AT)
    else:
        with Image.open(src) as opened:
            opened.seek(0)
            im = ImageOps.exif_transpose(opened)
            im.load()
    im = im.copy()
    im.thumbnail(box, Image.Resampling.LANCZOS)
    return _save_jpeg(im, dest)


def make_poster(video: Path, posters_dir: Path, *, width: int = POSTER_WIDTH, label: str | None = None) -> Path:
    """A small JPEG of a frame a third into the clip, in `posters_dir`; reused when unchanged.
    `label` (the clip's name) starts the file name."""
    from PIL import Image

    from ..media.frames import frame_image

    video = Path(video)
    dest = Path(posters_dir) / f"{file_slug(label or video.stem)}-{_identity(video, str(width))}.jpg"
    if dest.is_file():
        return dest
    im = frame_image(video, POSTER_AT)
    if im.width > width:
        im = im.resize((width, max(2, round(im.height * width / im.width))), Image.Resampling.LANCZOS)
    return _save_jpeg(im, dest)


def href(target: Path, out_dir: Path) -> str:
    """A relative URL from the page's folder to `target` (works from file://)."""
    rel = os.path.relpath(Path(target).resolve(), Path(out_dir).resolve())
    return quote(Path(rel).as_posix(), safe="/._-~")


def _readable(path: Path) -> Path:
    """Atomic writes create 0600 files; the page and its files are for sharing."""
    with contextlib.suppress(OSError):
        os.chmod(path, 0o644)
    return path


def _cleanup(folder: Path, keep: set[Path]) -> None:
    if not folder.is_dir():
        return
    keep_names = {p.name for p in keep}
    for f in folder.iterdir():
        if f.is_file() and OUR_FILE_RE.match(f.name) and f.name not in keep_names:
            with contextlib.suppress(OSError):
                f.unlink()


# ---- the page model --------------------------------------------------------------------------------

def fmt_seconds(x: float) -> str:
    x = float(x)
    return f"{int(x)}s" if x.is_integer() else f"{x:.2f}".rstrip("0").rstrip(".") + "s"


def fmt_clock(x: float, places: int = 1) -> str:
    """m:ss.s (rounded first, so 59.96 s is 1:00.0, never 0:60.0)."""
    scale = 10 ** places
    m, rest = divmod(round(max(0.0, float(x)) * scale), 60 * scale)
    width = 3 + places if places else 2
    return f"{m}:{rest / scale:0{width}.{places}f}"


def fmt_film_clock(x: float) -> str:
    """A film's length to the hundredth, never rounded up into a second it does not reach: a
    player's clock counts whole seconds down (29.958 s reads 0:29), so this says 0:29.96."""
    x = max(0.0, float(x))
    return fmt_clock(min(round(x, 2), math.floor(x) + 0.99), 2)


def fmt_usd(x: float | None) -> str:
    return "unknown" if x is None else f"${x:,.2f}"


def _short_source(source: str) -> str:
    """"/long/path/film.story:9:1" -> "film.story:9:1" (the full one is in the tooltip)."""
    path, sep, rest = source.rpartition(":")
    path2, sep2, rest2 = path.rpartition(":")
    if sep and sep2 and rest.isdigit() and rest2.isdigit():
        return f"{Path(path2).name}:{rest2}:{rest}"
    return Path(source).name or source


def _join_label(entry) -> str:
    if entry is None:
        return ""
    if entry.transition == "wipe":
        return f"wipe {entry.direction or 'left'} {fmt_seconds(entry.seconds or 0)}"
    return f"{entry.transition} {fmt_seconds(entry.seconds or 0)}" if entry.seconds else str(entry.transition)


@dataclass
class RefView:
    name: str
    kind: str
    label: str  # what the file is (path as written, URL, or "last frame of X")
    thumb: str | None = None  # relative URL of the thumbnail
    media: str = "image"  # image | video | audio | link

    @property
    def file(self) -> str:
        """A short name for the file: its base name, or the label for frames of other clips."""
        if self.label.startswith(("last frame of ", "first frame of ", "video of ")):
            return self.label
        return self.label.rstrip("/").rsplit("/", 1)[-1] or self.label


@dataclass
class _Pictures:
    """The picture files a page uses, made as the cards are built, and what could not be made."""

    out_dir: Path
    made: set[Path] = field(default_factory=set)
    posters: dict[str, Path] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def poster(self, name: str, video: Path) -> str | None:
        try:
            poster = make_poster(video, self.out_dir / "posters", label=name)
        except Exception as exc:  # an unreadable clip has no poster; a full disk stops here
            raise_disk_trouble(exc)
            self.problems.append(f"{name}: no poster frame: {exc}")
            return None
        self.made.add(poster)
        self.posters[name] = poster
        return href(poster, self.out_dir)

    def thumbnail(self, name: str, view: RefView, src: Path, which: str) -> None:
        try:
            thumb = make_thumbnail(src, self.out_dir / "thumbs", which=which)
        except Exception as exc:  # an unreadable image must not break the page
            raise_disk_trouble(exc)
            self.problems.append(f"{name}: no thumbnail for {view.label}: {exc}")
            return
        self.made.add(thumb)
        view.thumb = href(thumb, self.out_dir)


_FRAME_OF = {"last-frame": "last", "first-frame": "first"}


def _reference_view(base: Path, ref, value: str, clips: Mapping[str, Path]) -> tuple[RefView, Path | None, str]:
    """A reference file as the card shows it, the local file to picture it from, and which frame
    of that file (a video's "first"/"last", or "" for the picture itself)."""
    view = RefView(ref.name, ref.kind, value)
    ph = parse_placeholder(value)
    if ph is None:
        if "://" in value:
            view.media = "link"
            return view, None, ""
        return view, base / value, ""
    kind, target = ph
    if kind == "file":
        view.label = target
        return view, base / target, ""
    which = _FRAME_OF.get(kind, "")  # a frame or the video of another clip of the film
    view.label = f"{which} frame of {target}" if which else f"video of {target}"
    view.media = "image" if which else "video"
    return view, clips.get(target), which


def _reference_views(plan: RenderPlan, clip: PlannedClip, clips: Mapping[str, Path],
                     pictures: _Pictures) -> list[RefView]:
    base = Path(plan.base_dir)
    views: list[RefView] = []
    for ref in clip.references:
        for value in ref.files:
            view, src, which = _reference_view(base, ref, value, clips)
            if src is not None:
                suffix = src.suffix.lower()
                if suffix in AUDIO_EXTS:
                    view.media = "audio"
                elif suffix in VIDEO_EXTS and not which:
                    view.media = "video"
                if view.media != "audio" and src.is_file():
                    pictures.thumbnail(clip.name, view, src, which)
            views.append(view)
    return views


_JOIN_WORDS = {"extend": "extends", "continue": "continue", "morph": "morph"}


def _join_of(place: Placement, index: int) -> tuple[str, str]:
    """How the card names the join before its clip: (label, kind)."""
    if place.join_in is not None:
        return _join_label(place.join_in), str(place.join_in.transition)
    if index == 0:
        return "", ""
    if place.kind in _JOIN_WORDS:
        return _JOIN_WORDS[place.kind], place.kind
    return "cut", "cut"


def _state(plan: RenderPlan, name: str, path: Path | None, statuses: Mapping[str, Any]) -> ClipState:
    if name in statuses:
        return as_state(statuses.get(name), plan.provider)
    return ClipState("cached" if path else "missing", provider=plan.provider)


def _existing(path: Path | str | None) -> Path | None:
    return Path(path) if path is not None and Path(path).is_file() else None


@dataclass(frozen=True)
class _Pricing:
    quoting: Provider
    tiers: list[TierCost]
    refused: list[SendProblem] = field(default_factory=list)  # why the story cannot be sent to it

    @property
    def priced(self) -> list[str]:
        """The tiers a card quotes: those with a published price, none for a story the quoting
        provider would refuse."""
        return [] if self.refused else [t.tier for t in self.tiers if t.usd is not None]


def _card(plan: RenderPlan, index: int, place: Placement, clips: Mapping[str, Path],
          statuses: Mapping[str, Any], pictures: _Pictures, pricing: _Pricing) -> dict[str, Any]:
    clip = plan.clip(place.name)
    path = _existing(clips.get(clip.name))
    state = _state(plan, clip.name, path, statuses)
    total = plan.total_seconds
    join, join_kind = _join_of(place, index)
    poster = pictures.poster(clip.name, path) if path is not None else None
    return {
        "index": index + 1,
        "anchor": f"clip-{index + 1}",
        "name": clip.name,
        "kind": clip.kind,
        "mode": clip.mode,
        "seconds": fmt_seconds(place.seconds),
        "planned": fmt_seconds(clip.seconds),
        "retimed": place.retimed,
        "speed": _speed(clip.seconds, place.seconds),
        "start": fmt_clock(place.start),
        "end": fmt_clock(place.end),
        "share": max(0.5, place.seconds / total * 100) if total > 0 else 0,
        "size": f"{clip.width}\u00d7{clip.height}",
        "ratio": clip.width / clip.height if clip.height else 16 / 9,
        "action": clip.action,
        "prompt": str(clip.request.get("prompt", "")) if clip.card is None else _card_words(clip),
        "camera": clip.camera,
        "sound": clip.sound,
        "audio": clip.audio,
        "seed": clip.request.get("seed"),
        "dialogue": [{"speaker": d.speaker, "how": d.how, "line": d.line} for d in clip.dialogue],
        "references": _reference_views(plan, clip, clips, pictures),
        "after": clip.after,
        "cost": fmt_usd(clip.estimated_cost_usd),
        **_clip_quotes(clip, pricing.quoting, pricing.priced),
        "source": clip.source,
        "source_short": _short_source(clip.source),
        "status": state.status,
        "status_ok": state.ok,
        "job_id": state.job_id,
        "paid": state.cost,
        "error": state.error,
        "video": href(path, pictures.out_dir) if path else None,
        "poster": poster,
        "join": join,
        "join_kind": join_kind,
    }


def _speed(generated: float, played: float) -> str:
    """How much faster a retimed clip plays than it was generated ("4×", "2.67×")."""
    if played <= 0:
        return ""
    return f"{generated / played:.2f}".rstrip("0").rstrip(".") + "\u00d7"


# ---- takes: every take of a clip side by side, the picked one marked -------------------------------

@dataclass(frozen=True)
class TakeView:
    """One take of one clip as its card shows it (the page's takes row, the takes sheet)."""

    clip: str
    take: int
    plan_name: str  # `clip` for the take the film plays, else `clip#k`
    seed: int | None
    tier: str
    status: str
    cost: str  # the plan's estimate
    paid: float | None  # what the provider charged, when known
    picked: bool  # the picks file picks it
    played: bool  # the film plays it (the picked take, else take 1)
    pinned: bool
    video: str | None
    poster: str | None
    pick_command: str
    unpick_command: str


def picked_takes(plan: RenderPlan) -> dict[str, int]:
    """{clip: picked take} from the picks file beside the story (none when it cannot be read:
    the compile that made the plan reported that)."""
    from ..picks import read_picks

    found = read_picks(_story_path(plan))
    return {clip: pick.take for clip, pick in found.of(plan.provider).items()} if found.ok else {}


def pick_commands(plan: RenderPlan, clip: str, take: int) -> tuple[str, str]:
    """The exact commands that pick this take and that drop the clip's pick, from the story's
    folder (the provider named: picks are kept per provider)."""
    import shlex

    story, who = shlex.quote(Path(plan.story).name), shlex.quote(plan.provider)
    return (f"storyboard pick {story} {shlex.quote(clip)} {take} -p {who}",
            f"storyboard unpick {story} {shlex.quote(clip)} -p {who}")


def shown_takes(plan: RenderPlan, clip: str, clips: Mapping[str, Path],
                takes_plan: RenderPlan | None = None) -> list[PlannedClip]:
    """The takes a card shows: the plan's, and any other take rendered (`render --takes N`
    adds takes the story does not list; `takes_plan` is the story compiled with every take)."""
    own = takes_of(plan, clip)
    numbers = {c.take for c in own}
    more = [c for c in takes_of(takes_plan, clip) if c.take not in numbers and _existing(clips.get(c.name))] \
        if takes_plan is not None else []
    return sorted(own + more, key=lambda c: c.take)


def take_views(plan: RenderPlan, clip: str, clips: Mapping[str, Path], statuses: Mapping[str, Any],
               pictures: _Pictures, picked: Mapping[str, int],
               takes_plan: RenderPlan | None = None) -> list[TakeView]:
    views = []
    for c in shown_takes(plan, clip, clips, takes_plan):
        path = _existing(clips.get(c.name))
        state = _state(plan, c.name, path, statuses)
        pick, unpick = pick_commands(plan, clip, c.take)
        views.append(TakeView(
            clip=clip, take=c.take, plan_name=c.name, seed=c.seed, tier=c.tier,
            status=state.status if path is None or state.ok else "cached", cost=fmt_usd(c.estimated_cost_usd),
            paid=state.cost, picked=picked.get(clip) == c.take, played=c.take_of is None, pinned=c.pinned,
            video=href(path, pictures.out_dir) if path else None,
            poster=pictures.poster(c.name, path) if path else None, pick_command=pick, unpick_command=unpick))
    return views


def add_takes(plan: RenderPlan, cards: list[dict[str, Any]], clips: Mapping[str, Path],
              statuses: Mapping[str, Any], pictures: _Pictures, takes_plan: RenderPlan | None = None) -> None:
    """Give each generated clip's card its takes (`takes`; a title card has none) and whether it
    has more than one to choose from (`choose`)."""
    picked = picked_takes(plan)
    for card in cards:
        clip = plan.clip(card["name"])
        views = [] if clip.card is not None else take_views(plan, clip.name, clips, statuses, pictures, picked,
                                                            takes_plan)
        card["takes"] = views
        card["choose"] = len(views) > 1 or any(v.picked for v in views)
        card["picked_take"] = picked.get(clip.name)


def film_seconds(film: Path) -> float | None:
    """The stitched film's real length (its container's duration), None when it cannot be read."""
    from ..media.probe import MediaError, probe

    try:
        return probe(film).duration
    except MediaError:
        return None


def _film_view(film: Path | None, clips: Mapping[str, Path], cards: list[dict[str, Any]],
               out_dir: Path) -> dict[str, Any] | None:
    if film is None or not Path(film).is_file():
        return None
    film = Path(film)
    made = film.stat().st_mtime
    stale = any(p.is_file() and p.stat().st_mtime > made for p in (Path(x) for x in clips.values()))
    return {"src": href(film, out_dir), "name": film.name, "stale": stale, "seconds": film_seconds(film),
            "poster": next((c["poster"] for c in cards if c["poster"]), None)}


def _length(planned: float, film: dict[str, Any] | None) -> dict[str, Any]:
    """The film's length as the header states it: the stitched file's own when there is one (what
    its player shows), else the timing model's (`plan.film_layout`). `planned` says the model's
    when the file differs from it by a frame or more (a seam's repeated frame dropped, say)."""
    seconds = film["seconds"] if film and film.get("seconds") is not None else None
    if seconds is None:
        return {"seconds": planned, "clock": fmt_clock(planned), "exact": f"{planned:.3f}", "planned": None,
                "of": "plan"}
    differs = abs(seconds - planned) >= 0.5 / FPS
    return {"seconds": seconds, "clock": fmt_film_clock(seconds), "exact": f"{seconds:.3f}",
            "planned": fmt_clock(planned) if differs else None, "of": "file",
            "frames": round((planned - seconds) * FPS) if differs else 0}


def _counts(cards: list[dict[str, Any]]) -> list[tuple[str, int]]:
    counts: dict[str, int] = {}
    for c in cards:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    return sorted(counts.items())


def build_context(plan: RenderPlan, clips: Mapping[str, Path], out_dir: Path, *,
                  statuses: Mapping[str, Any] | None = None, film: Path | None = None,
                  contact_sheet: Path | None = None, subtitles: Path | None = None,
                  live_stamp: str | None = None, served: bool = False, takes_sheet: Path | None = None,
                  takes_plan: RenderPlan | None = None) -> tuple[dict[str, Any], set[Path], dict[str, Path], list[str]]:
    """The template's context, plus the picture files it uses, the poster per clip, and problems."""
    out_dir = Path(out_dir)
    pictures = _Pictures(out_dir)
    quoting = quoting_provider()
    pricing = _Pricing(quoting, tier_costs(plan, quoting), send_problems(plan, quoting))
    cards = [_card(plan, index, place, clips, statuses or {}, pictures, pricing)
             for index, place in enumerate(film_layout(plan))]
    add_takes(plan, cards, clips, statuses or {}, pictures, takes_plan)
    total = plan.total_seconds
    first = plan.clips[0] if plan.clips else None
    film_view = _film_view(film, clips, cards, out_dir)
    ctx = {
        "title": plan.title,
        "story": plan.story,
        "story_name": Path(plan.story).name,
        "provider": plan.provider,
        "model": plan.model,
        "clip_count": len(cards),
        "generated_seconds": sum(c.seconds for c in plan.generated().clips),
        "total": fmt_clock(total),
        "total_seconds": fmt_seconds(round(total, 3)),
        "length": _length(total, film_view),
        "plan_cost": fmt_usd(plan.estimated_cost_usd),
        "quoted": quoting.label,
        "quoted_model": quoting.model_label,
        "tiers": [{"tier": t.tier, "usd": fmt_usd(t.usd) if t.usd is not None else None,
                   "lower_bound": t.lower_bound} for t in pricing.tiers],
        "refused": [{"message": p.message, "hint": p.hint, "places": [
            {"full": x, "short": _short_source(x)} for x in p.places]} for p in pricing.refused],
        "size": f"{first.width}\u00d7{first.height}" if first else "",
        "cards": cards,
        "counts": _counts(cards),
        "ready": sum(1 for c in cards if c["status_ok"]),
        "film": film_view,
        "contact_sheet": href(contact_sheet, out_dir) if contact_sheet is not None else None,
        "subtitles": href(subtitles, out_dir) if subtitles is not None and Path(subtitles).is_file() else None,
        "warnings": list(plan.warnings),
        "problems": pictures.problems,
        "generated_at": time.strftime("%Y-%m-%d %H:%M:%S"),
        "live_stamp": live_stamp,
        "live_script": LIVE_SCRIPT_NAME,
        "served": served,
        "takes_sheet": href(takes_sheet, out_dir) if takes_sheet is not None else None,
    }
    return ctx, pictures.made, pictures.posters, pictures.problems


def _environment():
    from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

    env = Environment(loader=PackageLoader(__package__, "templates"),
                      autoescape=select_autoescape(enabled_extensions=("html", "j2", "html.j2"),
                                                   default_for_string=True, default=True),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env


def render_page(context: dict[str, Any]) -> str:
    return _environment().get_template("storyboard.html.j2").render(**context)


def write_page(plan: RenderPlan, clips: Mapping[str, Path], out_dir: Path, *,
               statuses: Mapping[str, Any] | None = None, film: Path | None = None,
               contact_sheet: Path | None = None, subtitles: Path | None = None,
               live: bool = False, served: bool = False, takes_plan: RenderPlan | None = None,
               takes_sheet: Path | None = None) -> Path:
    """Write `out_dir/storyboard.html` (with its thumbnails and posters) and return its path.

    `clips`: clip name -> rendered file (missing names are shown as not rendered).
    `statuses`: clip name -> a status string (`render.ClipStatus`), a `render.ClipOutcome` or a
    `ClipState` (job id, cost, error). `film`: the stitched film, shown at the top if it exists.
    `live`: the page reloads itself when `live.js` beside it changes (watch mode). `served`: the
    page is for `storyboard serve` / `watch --serve` (pick buttons; cli.serve fills in its token).
    `takes_plan`: the story compiled with every take, so takes rendered beyond the story's count
    show too. `takes_sheet`: the takes sheet to link.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = None
    if live or served:
        live = True  # a served page reloads itself too, when the film is re-stitched
        stamp = hashlib.sha1(f"{time.time_ns()}:{os.getpid()}".encode()).hexdigest()[:16]
    ctx, made, _, _ = build_context(plan, clips, out_dir, statuses=statuses, film=film,
                                    contact_sheet=contact_sheet, subtitles=subtitles, live_stamp=stamp,
                                    served=served, takes_plan=takes_plan, takes_sheet=takes_sheet)
    page = out_dir / PAGE_NAME
    write_text(page, render_page(ctx))
    _readable(page)
    if live:
        write_text(out_dir / LIVE_SCRIPT_NAME,
                   f"window.__storyboardStamp && window.__storyboardStamp({stamp!r});\n")
        _readable(out_dir / LIVE_SCRIPT_NAME)
    _cleanup(out_dir / "thumbs", made)
    _cleanup(out_dir / "posters", made)
    return page


def posters_for(plan: RenderPlan, clips: Mapping[str, Path], out_dir: Path) -> dict[str, Path]:
    """Poster frames of the rendered clips (made if needed) under `out_dir/posters`."""
    out: dict[str, Path] = {}
    for c in plan.clips:
        p = clips.get(c.name)
        if p is not None and Path(p).is_file():
            try:
                out[c.name] = make_poster(Path(p), Path(out_dir) / "posters", label=c.name)
            except Exception as exc:  # an unreadable clip has no poster; a full disk stops here
                raise_disk_trouble(exc)
    return out


# ---- contact sheet -----------------------------------------------------------------------------------

SHEET_TILE = (320, 180)  # poster box per clip
SHEET_LABEL = 30  # label strip under each poster
SHEET_MARGIN = 20
SHEET_GAP = 12
SHEET_HEADER = 56
SHEET_MAX_COLS = 4
SHEET_BG = (17, 18, 22)
SHEET_TILE_BG = (0, 0, 0)
SHEET_TEXT = (236, 236, 240)
SHEET_MUTED = (150, 153, 165)


def contact_sheet_size(n: int, cols: int | None = None) -> tuple[int, int, int, int]:
    """(width, height, columns, rows) of a contact sheet of n clips."""
    cols = cols or max(1, min(SHEET_MAX_COLS, n))
    rows = max(1, -(-n // cols))
    tw, th = SHEET_TILE
    width = 2 * SHEET_MARGIN + cols * tw + (cols - 1) * SHEET_GAP
    height = SHEET_HEADER + 2 * SHEET_MARGIN + rows * (th + SHEET_LABEL) + (rows - 1) * SHEET_GAP
    return width, height, cols, rows


@dataclass(frozen=True)
class SheetTile:
    """One tile of the contact sheet: a clip, or one beat of a scene."""

    name: str  # the clip's name, with the beat's number for a scene ("battle 2/3")
    kind: str
    seconds: float  # how long it plays
    picture: Any = None  # a poster's Path or a PIL image; None: not rendered


def sheet_tiles(plan: RenderPlan, posters: Mapping[str, Path],
                clips: Mapping[str, Path] | None = None) -> list[SheetTile]:
    """The tiles in film order: with the rendered `clips`, one per beat (the frame in the middle
    of the beat, where the animatic shows that beat's panel), else one per clip (its poster; a
    card's middle frame). No two tiles show the same picture where the clips allow: a tile that
    would repeat an earlier one (an extension opening on its clip's last frame) takes another
    frame of its clip or beat (`distinct.pick_distinct`)."""
    from ..plan import is_card
    from .distinct import pick_distinct

    tiles: list[SheetTile] = []
    seen: list = []  # the signatures of the tiles so far
    for place in film_layout(plan):
        clip = plan.clip(place.name)
        video = (clips or {}).get(place.name)
        video = Path(video) if video is not None and Path(video).is_file() else None
        size = (clip.width, clip.height)
        if not clip.beats or video is None:
            card = is_card(clip)  # a card's poster may be in the middle of its fade or roll
            first = [] if card else [lambda c=clip: posters.get(c.name)]
            picture = pick_distinct(first + _frames_at(video, (0.0, 1.0), SHEET_CLIP_AT[card]), size, seen)
            tiles.append(SheetTile(place.name, place.kind, place.seconds, picture))
            continue
        for b in clip.beats:
            picture = pick_distinct(_frames_at(video, (b.start / clip.seconds, b.end / clip.seconds), SHEET_BEAT_AT),
                                    size, seen)
            tiles.append(SheetTile(f"{place.name} {b.index}/{len(clip.beats)}", place.kind, b.end - b.start, picture))
    return tiles


SHEET_BEAT_AT = (0.5, 0.8, 0.2)  # where in a beat its tile's frame is looked for, in order
SHEET_CLIP_AT = {False: (0.65, 0.9, 0.15), True: (0.5, 0.3, 0.7)}  # a clip after its poster; a card


def _frames_at(video: Path | None, span: tuple[float, float], shares: tuple[float, ...]) -> list:
    """Makers of the frames of `video` at `shares` of `span` (itself shares of the video)."""
    from ..media.frames import frame_image
    from ..media.probe import MediaError

    def grab(at: float):
        try:
            return frame_image(video, at)
        except MediaError:
            return None

    if video is None:
        return []
    a, b = span
    return [lambda f=f: grab(a + (b - a) * f) for f in shares]


def write_contact_sheet(plan: RenderPlan, posters: Mapping[str, Path], out_path: Path,
                        clips: Mapping[str, Path] | None = None, film: Path | None = None) -> Path:
    """A PNG grid of every clip's poster frame with its name (a dark tile where a clip is not
    rendered yet), in film order; a scene's rendered clip gives a tile per beat. The header
    states the film's length as the page does (the stitched `film`'s own when there is one).
    Size: see `contact_sheet_size`."""
    from PIL import Image, ImageDraw

    from ..media.text import DRAW_LOCK

    layout = sheet_tiles(plan, posters, clips)
    width, height, cols, _ = contact_sheet_size(len(layout))
    sheet = Image.new("RGB", (width, height), SHEET_BG)
    draw = ImageDraw.Draw(sheet)
    tw, th = SHEET_TILE
    with DRAW_LOCK:  # the fonts' FreeType faces are shared with animatics rendering in threads
        _draw_header(draw, plan, _length(plan.total_seconds, {"seconds": film_seconds(film)} if film else None),
                     width)
        for i, place in enumerate(layout):
            r, c = divmod(i, cols)
            x = SHEET_MARGIN + c * (tw + SHEET_GAP)
            y = SHEET_HEADER + SHEET_MARGIN + r * (th + SHEET_LABEL + SHEET_GAP)
            _draw_tile(sheet, draw, (x, y), place.picture)
            _draw_label(draw, (x, y + th), i, place)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    sheet.save(buf, "PNG", optimize=True)
    write_bytes(out_path, buf.getvalue())
    return _readable(out_path)


def _draw_header(draw, plan: RenderPlan, length: dict[str, Any], width: int) -> None:
    from ..media.text import fit, font

    title_font, small = font(plan.title, 24, bold=True), font("", 13)
    draw.text((SHEET_MARGIN, SHEET_MARGIN + 4), fit(plan.title, title_font, width - 2 * SHEET_MARGIN - 200),
              font=title_font, fill=SHEET_TEXT)
    info = f"{len(film_layout(plan))} clips \u00b7 {length['clock']}"
    draw.text((width - SHEET_MARGIN - draw.textlength(info, font=small), SHEET_MARGIN + 12), info,
              font=small, fill=SHEET_MUTED)


def _draw_tile(sheet, draw, at: tuple[int, int], poster: Any) -> None:
    from PIL import Image

    from ..media.text import font

    (x, y), (tw, th) = at, SHEET_TILE
    draw.rectangle([x, y, x + tw - 1, y + th - 1], fill=SHEET_TILE_BG)
    if isinstance(poster, Image.Image):
        im = poster.convert("RGB")
        im.thumbnail((tw, th), Image.Resampling.LANCZOS)
        sheet.paste(im, (x + (tw - im.width) // 2, y + (th - im.height) // 2))
        return
    if poster is not None and Path(poster).is_file():
        with Image.open(poster) as im:
            im = im.convert("RGB")
            im.thumbnail((tw, th), Image.Resampling.LANCZOS)
            sheet.paste(im, (x + (tw - im.width) // 2, y + (th - im.height) // 2))
        return
    msg, small = "not rendered", font("", 13)
    draw.text((x + (tw - draw.textlength(msg, font=small)) / 2, y + th / 2 - 8), msg, font=small, fill=SHEET_MUTED)


def _draw_label(draw, at: tuple[int, int], i: int, place: Placement | SheetTile) -> None:
    """The strip under a tile: number, name (cut to fit), kind and played length."""
    from ..media.text import fit, font

    (x, y), tw = at, SHEET_TILE[0]
    small, label_font = font("", 13), font(place.name, 15, bold=True)
    num = f"{i + 1:02d}"
    draw.text((x, y + 7), num, font=small, fill=SHEET_MUTED)
    meta = f"{place.kind} \u00b7 {fmt_seconds(place.seconds)}"
    meta_w = draw.textlength(meta, font=small)
    nx = x + draw.textlength(num, font=small) + 8
    draw.text((nx, y + 5), fit(place.name, label_font, int(tw - (nx - x) - meta_w - 10)),
              font=label_font, fill=SHEET_TEXT)
    draw.text((x + tw - meta_w, y + 7), meta, font=small, fill=SHEET_MUTED)


# ---- takes sheet: one row per clip, one column per take ---------------------------------------------

TAKES_LABEL_W = 200  # the clip's name left of its row
TAKE_MARK = (245, 185, 66)  # the picked (played) take's frame: the page's accent


def takes_rows(plan: RenderPlan, clips: Mapping[str, Path],
               takes_plan: RenderPlan | None = None) -> list[tuple[PlannedClip, list[PlannedClip]]]:
    """(clip, its takes) for each generated clip in film order (a title card has no takes)."""
    return [(c, shown_takes(plan, c.name, clips, takes_plan)) for c in played_clips(plan) if c.card is None]


def write_takes_sheet(plan: RenderPlan, clips: Mapping[str, Path], out_path: Path,
                      takes_plan: RenderPlan | None = None) -> Path | None:
    """A PNG with one row per clip and one column per take (the poster frame of each rendered
    take, the played one framed), to compare takes at a glance; None (and no file) when no clip
    has more than one take."""
    from PIL import Image, ImageDraw

    from ..media.text import DRAW_LOCK

    rows = takes_rows(plan, clips, takes_plan)
    out_path = Path(out_path)
    if not any(len(takes) > 1 for _, takes in rows):
        out_path.unlink(missing_ok=True)  # an old sheet would show takes the story no longer has
        return None
    cols = max(max(t.take for t in takes) for _, takes in rows)
    tw, th = SHEET_TILE
    width = 2 * SHEET_MARGIN + TAKES_LABEL_W + cols * (tw + SHEET_GAP)
    height = SHEET_HEADER + 2 * SHEET_MARGIN + len(rows) * (th + SHEET_LABEL + SHEET_GAP)
    sheet = Image.new("RGB", (width, height), SHEET_BG)
    draw = ImageDraw.Draw(sheet)
    posters = Path(out_path).parent / "posters"
    with DRAW_LOCK:
        _draw_header(draw, plan, _length(plan.total_seconds, None), width)
        for r, (clip, takes) in enumerate(rows):
            y = SHEET_HEADER + SHEET_MARGIN + r * (th + SHEET_LABEL + SHEET_GAP)
            _draw_row_label(draw, (SHEET_MARGIN, y), clip, len(takes))
            for t in takes:
                x = SHEET_MARGIN + TAKES_LABEL_W + (t.take - 1) * (tw + SHEET_GAP)
                _draw_tile(sheet, draw, (x, y), _take_poster(t, clips, posters))
                _draw_take_label(draw, (x, y + th), t)
    buf = io.BytesIO()
    sheet.save(buf, "PNG", optimize=True)
    write_bytes(out_path, buf.getvalue())
    return _readable(out_path)


def _take_poster(take: PlannedClip, clips: Mapping[str, Path], posters: Path) -> Path | None:
    """The take's poster frame (the page's own file, made once), None when not rendered."""
    video = _existing(clips.get(take.name))
    if video is None:
        return None
    try:
        return make_poster(video, posters, label=take.name)
    except Exception as exc:  # an unreadable clip shows as not rendered; a full disk stops here
        raise_disk_trouble(exc)
        return None


def _draw_row_label(draw, at: tuple[int, int], clip: PlannedClip, takes: int) -> None:
    from ..media.text import fit, font

    (x, y), big, small = at, font(clip.name, 17, bold=True), font("", 13)
    draw.text((x, y + 8), fit(clip.name, big, TAKES_LABEL_W - 16), font=big, fill=SHEET_TEXT)
    draw.text((x, y + 34), f"{clip.kind} \u00b7 {fmt_seconds(clip.seconds)}", font=small, fill=SHEET_MUTED)
    draw.text((x, y + 54), f"{takes} take{'s' * (takes != 1)}", font=small, fill=SHEET_MUTED)


def _draw_take_label(draw, at: tuple[int, int], take: PlannedClip) -> None:
    """Under a take: its number and seed, and `plays` on the take the film plays (framed)."""
    from ..media.text import font

    (x, y), (tw, th) = at, SHEET_TILE
    small, bold = font("", 13), font("", 14, bold=True)
    if take.take_of is None:
        draw.rectangle([x - 3, y - th - 3, x + tw + 2, y + 2], outline=TAKE_MARK, width=3)
    draw.text((x, y + 7), f"take {take.take}", font=bold, fill=TAKE_MARK if take.take_of is None else SHEET_TEXT)
    meta = ("plays \u00b7 " if take.take_of is None else "") + ("no seed" if take.seed is None else f"seed {take.seed}")
    draw.text((x + tw - draw.textlength(meta, font=small), y + 8), meta, font=small, fill=SHEET_MUTED)


# ---- everything at once --------------------------------------------------------------------------

@dataclass(frozen=True)
class Outputs:
    page: Path
    contact_sheet: Path
    subtitles: Path | None


def film_path(plan: RenderPlan, out_dir: Path) -> Path:
    """Where the stitched film is expected: `out_dir/<title>.mp4`."""
    return Path(out_dir) / f"{plan_film_stem(plan)}.mp4"


def write_all(plan: RenderPlan, clips: Mapping[str, Path], out_dir: Path, *,
              statuses: Mapping[str, Any] | None = None, film: Path | None = None,
              live: bool = False, served: bool = False, takes_plan: RenderPlan | None = None) -> Outputs:
    """Contact sheet, takes sheet (when a clip has takes), subtitles and page, in that order (the
    page links the others). `served`, `takes_plan`: see `write_page`."""
    from .subtitles import srt_path, write_srt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    posters = posters_for(plan, clips, out_dir)
    if film is None:
        candidate = film_path(plan, out_dir)
        film = candidate if candidate.is_file() else None
    sheet = write_contact_sheet(plan, posters, out_dir / CONTACT_SHEET_NAME, clips, film=film)
    takes_sheet = write_takes_sheet(plan, clips, out_dir / TAKES_SHEET_NAME, takes_plan)
    srt = None
    if any(c.dialogue for c in plan.clips):
        srt = _readable(write_srt(plan, srt_path(plan, out_dir)))
    page = write_page(plan, clips, out_dir, statuses=statuses, film=film, contact_sheet=sheet,
                      subtitles=srt, live=live, served=served, takes_plan=takes_plan, takes_sheet=takes_sheet)
    return Outputs(page, sheet, srt)


def iter_local_inputs(plan: RenderPlan) -> Iterable[Path]:
    """Every local file a plan's requests name (cast images, frames, motion, music), once each."""
    base = Path(plan.base_dir)
    seen: set[str] = set()
    for c in plan.clips:
        for _, _, (kind, value) in placeholders_in(c.request):
            if kind == "file" and value not in seen:
                seen.add(value)
                yield base / value
