"""`storyboard init`: a new film's folder, and the placeholder pictures `init` and `import
--placeholders` draw.

A new film is a starter `.story` that uses every kind of block once (and passes `check` and
`fmt --check`), one placeholder picture per cast member, and a `.gitignore` for what storyboard
writes beside a story (`build/`, `.storyboard/`). Nothing is ever overwritten: every file that
would be written is known (and drawn, in memory) before the first is, any one that exists already
refuses the whole set, and a write that fails half way removes what it had written.
"""

from __future__ import annotations

import colorsys
import contextlib
import hashlib
import io
import os
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .names import OUT_DIR_NAME, film_stem

STATE_DIR_NAME = ".storyboard"  # the render state (cache, journal) beside a story
PLACEHOLDER_LABEL = "placeholder \u2014 replace me"
# The film's own shape (16:9), so the preview animatic shows a placeholder whole: the label on a
# band near the top, where the animatic's captions (at the bottom) do not cover it.
PLACEHOLDER_SIZE = (1280, 720)
KINDS = ("character", "prop", "place")


class ScaffoldError(Exception):
    """Why the files cannot be written, in one line (nothing was written). `existing`: the files
    in the way, when that is why."""

    def __init__(self, message: str, existing: list[Path] | None = None):
        super().__init__(message)
        self.existing = existing or []


# ---- names ----------------------------------------------------------------------------------

def latin_words(text: str) -> list[str]:
    """The words of `text` in plain Latin letters and digits: accents dropped (`Élodie` ->
    `Elodie`), apostrophes too (`O'NEIL` -> `ONEIL`), anything else a separator. Scripts with no
    Latin spelling leave nothing."""
    decomposed = unicodedata.normalize("NFKD", re.sub("['\u2019]", "", text))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = plain.replace("\u00df", "ss").replace("\u00e6", "ae").replace("\u00c6", "AE") \
        .replace("\u00f8", "o").replace("\u00d8", "O").replace("\u0153", "oe").replace("\u0152", "OE")
    return re.findall(r"[A-Za-z0-9]+", plain)


def slug(text: str, fallback: str, max_words: int = 4) -> str:
    """A lowercase file or clip name: `Lamp Room, North` -> `lamp-room-north`."""
    words = [w.lower() for w in latin_words(text)][:max_words]
    return "-".join(words)[:40].strip("-") or fallback


# ---- placeholder pictures ---------------------------------------------------------------------

@dataclass(frozen=True)
class Placeholder:
    """A picture to draw: where (relative to the story's folder), for whom."""

    path: str
    name: str
    kind: str  # character, prop or place


def placeholder_png(name: str, kind: str) -> bytes:
    """A PNG that cannot be mistaken for a finished picture: hatched, in a colour of its own for
    each name, with a simple figure for the kind, the name, and PLACEHOLDER_LABEL on a band."""
    from PIL import Image, ImageDraw

    from .media.text import DRAW_LOCK

    width, height = PLACEHOLDER_SIZE
    background, ink = _colours(name)
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    _hatch(draw, width, height, ink)
    _FIGURES.get(kind, _draw_prop)(draw, width, height, ink)
    with DRAW_LOCK:
        _labels(draw, width, height, name, kind, ink)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _colours(name: str) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """A pale background and a dark ink of one hue, chosen by the name (stable across runs)."""
    hue = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:2], "big") / 65536

    def rgb(lightness: float, saturation: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hls_to_rgb(hue, lightness, saturation)
        return round(r * 255), round(g * 255), round(b * 255)

    return rgb(0.82, 0.55), rgb(0.25, 0.45)


def _hatch(draw, width: int, height: int, ink) -> None:
    step = 48
    for x in range(-height, width, step):
        draw.line([(x, height), (x + height, 0)], fill=_mix(ink, 0.1), width=6)


def _mix(ink, amount: float) -> tuple[int, int, int]:
    """`ink` faded toward white: the hatching and figures stay behind the words."""
    return tuple(round(c * amount + 255 * (1 - amount)) for c in ink)


def _draw_character(draw, width: int, height: int, ink) -> None:
    cx, top, r = width * 0.27, height * 0.3, height * 0.1
    fill = _mix(ink, 0.35)
    draw.ellipse([cx - r, top, cx + r, top + 2 * r], fill=fill)
    draw.pieslice([cx - 2.2 * r, top + 2.3 * r, cx + 2.2 * r, top + 6.3 * r], 180, 360, fill=fill)


def _draw_prop(draw, width: int, height: int, ink) -> None:
    cx, cy, r = width * 0.27, height * 0.55, height * 0.22
    draw.polygon([(cx, cy - r), (cx + r, cy), (cx, cy + r), (cx - r, cy)], fill=_mix(ink, 0.35))


def _draw_place(draw, width: int, height: int, ink) -> None:
    base = height * 0.88
    draw.polygon([(0, base), (width * 0.28, height * 0.45), (width * 0.5, base)], fill=_mix(ink, 0.35))
    draw.polygon([(width * 0.35, base), (width * 0.68, height * 0.35), (width, base)], fill=_mix(ink, 0.45))


_FIGURES = {"character": _draw_character, "prop": _draw_prop, "place": _draw_place}


def _labels(draw, width: int, height: int, name: str, kind: str, ink) -> None:
    from .media.text import fit, font

    # beside the figure, or over a place's mountains
    x, y, room = (width * 0.5, height * 0.38, width * 0.9) if kind == "place" else (width * 0.66, height * 0.5,
                                                                                 width * 0.6)
    name_face = font(name, height // 8, bold=True)
    draw.text((x, y), fit(name, name_face, int(room)), font=name_face, fill=ink, anchor="mm")
    draw.text((x, y + height // 10), kind, font=font(kind, height // 20), fill=ink, anchor="mm")
    top, bottom = height * 0.06, height * 0.18  # inside what the animatic's slow zoom keeps
    draw.rectangle([0, top, width, bottom], fill=ink)
    label_face = font(PLACEHOLDER_LABEL, int((bottom - top) * 0.55), bold=True)
    draw.text((width / 2, (top + bottom) / 2), PLACEHOLDER_LABEL, font=label_face, fill=(255, 255, 255),
              anchor="mm")


def drawn(placeholders: list[Placeholder], folder: Path) -> dict[Path, bytes]:
    """Each placeholder's PNG, at its path under `folder`."""
    return {folder / p.path: placeholder_png(p.name, p.kind) for p in placeholders}


# ---- writing a set of new files ----------------------------------------------------------------

def refuse_existing(files: dict[Path, bytes]) -> None:
    """Raise ScaffoldError if any of `files` exists (a dangling link too) or cannot be made (a
    file where a folder must go), or the disk cannot hold them: before anything is written."""
    existing = [p for p in files if os.path.lexists(p)]
    if existing:
        more = f" and {len(existing) - 5} more" if len(existing) > 5 else ""
        listed = ", ".join(str(p) for p in existing[:5]) + more
        raise ScaffoldError(f"{listed} already exist{'s' if len(existing) == 1 else ''}; nothing was written "
                            f"(storyboard never overwrites a file: move {'it' if len(existing) == 1 else 'them'} "
                            f"away or choose another folder)", existing)
    for p in files:
        blocked = next((a for a in _ancestors(p) if os.path.lexists(a) and not a.is_dir()), None)
        if blocked is not None:
            raise ScaffoldError(f"{blocked} is a file, so {p} cannot be written; nothing was written")
    _refuse_full_disk(files)


def _ancestors(path: Path) -> list[Path]:
    return list(reversed(path.parents))[1:]


def _refuse_full_disk(files: dict[Path, bytes]) -> None:
    existing = next((a for a in reversed(_ancestors(next(iter(files)))) if a.is_dir()), Path("."))
    needed = sum(len(b) for b in files.values()) + 64 * 1024
    with contextlib.suppress(OSError):
        free = shutil.disk_usage(existing).free
        if free < needed:
            raise ScaffoldError(f"{existing}: the disk has {free:,} bytes free, {needed:,} are needed; "
                                "nothing was written")


def write_new_files(files: dict[Path, bytes]) -> None:
    """Write every file, none of which may exist (refuse_existing first). A failure half way
    removes the files and folders this call made, so it leaves nothing behind, then raises."""
    refuse_existing(files)
    made_dirs: list[Path] = []
    made_files: list[Path] = []
    try:
        for path, data in files.items():
            for folder in _ancestors(path):
                if not folder.is_dir():
                    folder.mkdir()
                    made_dirs.append(folder)
            with open(path, "xb") as fh:  # x: never replace a file that appeared meanwhile
                made_files.append(path)
                fh.write(data)
    except BaseException:
        for path in reversed(made_files):
            with contextlib.suppress(OSError):
                path.unlink()
        for folder in reversed(made_dirs):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


# ---- the starter film -----------------------------------------------------------------------

GITIGNORE = f"""# written by storyboard beside the story: the film and page, and the render state (cache, journal)
{OUT_DIR_NAME}/
{STATE_DIR_NAME}/
"""

CAST = (
    Placeholder("cast/nell.png", "Nell", "character"),
    Placeholder("cast/otto.png", "Otto", "character"),
    Placeholder("props/kite.png", "Kite", "prop"),
    Placeholder("places/pier.png", "Pier", "place"),
)

STARTER = """\
# {title}: a starter film from `storyboard init`. It uses every kind of block once: change the
# words, replace the placeholder pictures in cast/, props/ and places/ with your own, and run
# `storyboard check {story}` after each change. The language: docs/language.md in storyboard.

# Film settings: the whole film's picture, sound and look.
title: {title}
resolution: 720p
ratio: 16:9
audio: on
seed: 7
style: Soft hand-painted animation, warm evening light, gentle film grain.
negative: text, subtitles, watermarks

# The cast: each member's pictures go with every clip that mentions it (@Name).
character Nell:
  image: cast/nell.png
  description: a ten-year-old girl in a yellow raincoat and red boots

character Otto:
  image: cast/otto.png
  description: an old fisherman with a grey beard and a blue woollen cap

prop Kite:
  image: props/kite.png
  description: a red paper kite with a long ribbon tail

place Pier:
  image: places/pier.png
  description: a wooden pier at the edge of a small harbour town

# A shot: one continuous take of 4 to 15 seconds, with a spoken line, the camera and the sound.
shot arrival 6s:
  @Nell runs along @Pier with @Kite under her arm.
  @Otto (calling out): "Mind the gap in the boards!"
  camera: low tracking shot beside her boots
  sound: gulls, wind, waves under the pier

dissolve 1s

# A scene: one generation with several cuts (beats) inside it.
scene launch 10s:
  The wind picks up over the harbour.
  shot 4s: @Nell lifts @Kite high above her head on @Pier.
  shot: @Otto lets the line run through his fingers.
  shot: @Kite climbs into the orange sky.

# An extension: the same take goes on for 4 more seconds (its clip is launch+1).
extend launch 4s:
  The camera tilts up and follows @Kite higher and higher.

cut

shot wave 4s:
  @Otto waves goodbye from @Pier.

fade 1s

shot lights 5s:
  The harbour lights come on one by one under a deep blue sky.

# A morph: a generated clip from the last frame before it to the first frame after it.
morph 1s: the harbour lights rise and become stars

shot stars 4s:
  Stars turn slowly over the dark sea.

wipe left 0.5s

shot bedroom 5s:
  @Nell sleeps by the window, @Kite hanging on the wall above her bed.

# continue: the next clip starts from this one's last frame.
continue

shot morning 4s:
  Morning sunlight slowly fills the quiet room.
  audio: off
"""


@dataclass(frozen=True)
class NewFilm:
    folder: Path
    story: Path
    title: str
    files: dict[Path, bytes]


def starter_title(folder: Path) -> str:
    """`my-first-film` -> `My First Film`; a folder with no Latin name -> `My Film`."""
    words = latin_words(folder.resolve().name)
    return " ".join(w.capitalize() for w in words) or "My Film"


def new_film(folder: Path | str) -> NewFilm:
    """Every file of a new film in `folder` (not written yet): the story, its pictures, .gitignore."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ScaffoldError(f"{folder} is a file, not a folder; nothing was written")
    title = starter_title(folder)
    story = folder / f"{slug(folder.resolve().name, 'film', max_words=6)}.story"
    files = {story: STARTER.format(title=title, story=story.name).encode("utf-8"),
             folder / ".gitignore": GITIGNORE.encode("utf-8"), **drawn(list(CAST), folder)}
    return NewFilm(folder, story, title, files)


def init(folder: Path | str) -> NewFilm:
    """Write a new film into `folder` (made if missing); raises ScaffoldError, writing nothing,
    if any of its files exists."""
    film = new_film(folder)
    write_new_files(film.files)
    return film


def next_steps(film: NewFilm, shown_folder: str) -> list[str]:
    """What to do next, as printed after `init`: the commands in order and where things appear."""
    name = film.story.name
    animatic = f"{OUT_DIR_NAME}/{film_stem(film.title, 'preview')}.mp4"
    paid = f"{OUT_DIR_NAME}/{film_stem(film.title, 'together')}.mp4"
    lines = [f"created {film.story} with {len(CAST)} placeholder pictures and a .gitignore", "next:"]
    if shown_folder not in ("", "."):
        lines.append(f"  cd {shown_folder}")
    return lines + [
        f"  storyboard check {name}     every problem, with its line and column",
        f"  storyboard plan {name}      the clips, their lengths and what each would cost",
        f"  storyboard preview {name}   a free offline animatic of every clip; the page is "
        f"{OUT_DIR_NAME}/storyboard.html",
        f"  storyboard render {name}    the film: {animatic}, free from the preview provider "
        f"(-p together renders real clips, paid, into {paid})",
        "  replace the pictures in cast/, props/ and places/ with your own (PNG, JPEG or WebP)",
    ]
