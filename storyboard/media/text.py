"""Text drawn into pictures (animatic captions and cards, the contact sheet): the one font
finder, and the one way to fit text into a width of pixels (wrapping, ellipsizing).

Text a Latin font cannot draw comes out as boxes, never an exception; a CJK font is used for
CJK text when the system has one. FreeType faces are cached and shared between threads: draw
with them under DRAW_LOCK.
"""

from __future__ import annotations

import os
import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from PIL import ImageFont

ELLIPSIS = "\u2026"
DRAW_LOCK = threading.Lock()

_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts",
              "/Library/Fonts", "/System/Library/Fonts", "C:/Windows/Fonts")
_LATIN = {False: ("DejaVuSans.ttf", "LiberationSans-Regular.ttf", "Arial.ttf", "arial.ttf", "Helvetica.ttc"),
          True: ("DejaVuSans-Bold.ttf", "LiberationSans-Bold.ttf", "Arial Bold.ttf", "arialbd.ttf", "Helvetica.ttc")}
_CJK = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSansSC-Regular.otf", "wqy-microhei.ttc",
        "wqy-zenhei.ttc", "DroidSansFallbackFull.ttf", "DroidSansFallback.ttf", "PingFang.ttc",
        "Hiragino Sans GB.ttc", "msyh.ttc", "simhei.ttf")


@lru_cache(maxsize=1)
def _font_files() -> dict[str, str]:
    """File name -> path of every font on the system (walked once per process)."""
    found: dict[str, str] = {}
    for d in _FONT_DIRS:
        for root, _, files in os.walk(os.path.expanduser(d)):
            for f in files:
                found.setdefault(f, os.path.join(root, f))
    return found


def _find_font(names: Sequence[str]) -> str | None:
    files = _font_files()
    return next((files[n] for n in names if n in files), None)


@lru_cache(maxsize=64)
def _font_at(size: int, bold: bool, cjk: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = (_find_font(_CJK) if cjk else None) or _find_font(_LATIN[bold]) or _find_font(_LATIN[False])
    return font_from_file(path, size)


def has_wide(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for ch in text)


def font(text: str, size: int, *, bold: bool = False):
    # Text a Latin font cannot draw comes out as boxes, never an exception; a CJK font is used
    # for CJK text when the system has one.
    return _font_at(int(size), bold, has_wide(text) and _find_font(_CJK) is not None)


def line_height(size: int) -> int:
    return round(size * 1.3)


def _text_width(face, text: str) -> float:
    return face.getlength(text)


_WIDE = "\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"  # CJK: a line may break between any two
_TOKEN_RE = re.compile(rf"\s+|[{_WIDE}]|[^\s{_WIDE}]+")


def wrap(text: str, face, width: int, max_lines: int) -> list[str]:
    """Greedy wrap to `width` pixels: at spaces, between CJK characters, or inside an overlong
    word. Text beyond `max_lines` is cut and the last line ends with an ellipsis."""
    text = " ".join(text.split())
    if not text or max_lines <= 0:
        return []
    lines: list[str] = []
    line = ""
    tokens = _TOKEN_RE.findall(text)
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        candidate = line + tok
        if _text_width(face, candidate.rstrip()) <= width or not line.strip():
            if not line.strip() and _text_width(face, tok) > width and not tok.isspace():
                # An overlong word: break it by characters.
                head = _fit_chars(tok, face, width)
                line, tokens[i] = head, tok[len(head):]
                lines.append(line)
                line = ""
                if len(lines) == max_lines:
                    break
                continue
            line = candidate if line.strip() else tok.lstrip()
            i += 1
            continue
        lines.append(line.rstrip())
        line = ""
        if len(lines) == max_lines:
            break
    else:
        if line.strip():
            lines.append(line.rstrip())
        return lines[:max_lines]
    # Ran out of lines with text left over.
    lines[-1] = ellipsize(lines[-1], face, width)
    return lines


def _fit_chars(word: str, face, width: int) -> str:
    n = 1
    while n < len(word) and _text_width(face, word[: n + 1]) <= width:
        n += 1
    return word[:n]


def ellipsize(line: str, face, width: int) -> str:
    while line and _text_width(face, line.rstrip() + ELLIPSIS) > width:
        line = line[:-1]
    return line.rstrip() + ELLIPSIS




def shorten(text: str, n: int) -> str:
    """At most n characters, the last an ellipsis when the text was cut."""
    return text if len(text) <= n else text[: n - 1] + ELLIPSIS


def fit(text: str, face, width: int) -> str:
    """The text as it is when it fits in `width` pixels, else cut with an ellipsis."""
    return text if _text_width(face, text) <= width else ellipsize(text, face, width)


# ---- the one layout of text on a frame -----------------------------------------------------------
#
# Burned-in subtitles (`render --burn-subtitles`) and the animatic's caption band share this
# layout, so they never collide at any aspect ratio: both stay inside the title-safe area (90% of
# each side), subtitles at its bottom, the animatic's caption band at its top, never taller than
# what is left above the subtitle zone.

SAFE_MARGIN = 0.05  # of each side: the title-safe area is the middle 90%
CAPTION_MAX_SHARE = 0.34  # the caption band never covers more of the frame's height than this
SUBTITLE_LINES = 2


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def overlaps(self, other: Box) -> bool:
        return self.x < other.right and other.x < self.right and self.y < other.bottom and other.y < self.bottom

    def contains(self, other: Box) -> bool:
        return self.x <= other.x and self.y <= other.y and other.right <= self.right and other.bottom <= self.bottom


@dataclass(frozen=True)
class FrameLayout:
    """Where text may go on a frame of `width` x `height`."""

    width: int
    height: int
    safe: Box  # the title-safe area
    caption: Box  # the animatic's caption band at most (top of the safe area)
    subtitle: Box  # burned-in subtitles (bottom of the safe area)
    caption_size: int  # font sizes in pixels
    subtitle_size: int

    @property
    def caption_pad(self) -> int:
        return max(3, self.caption_size // 2)


def frame_layout(width: int, height: int) -> FrameLayout:
    """The text layout of a frame (pure; the same numbers for every caller)."""
    short = min(width, height)
    mx, my = round(width * SAFE_MARGIN), round(height * SAFE_MARGIN)
    safe = Box(mx, my, width - 2 * mx, height - 2 * my)
    subtitle_size = max(10, round(short / 17))
    sub_h = SUBTITLE_LINES * line_height(subtitle_size) + max(2, subtitle_size // 3)
    subtitle = Box(safe.x, safe.bottom - sub_h, safe.w, sub_h)
    gap = max(2, subtitle_size // 3)
    cap_h = max(1, min(round(height * CAPTION_MAX_SHARE), subtitle.y - gap - safe.y))
    caption = Box(safe.x, safe.y, safe.w, cap_h)
    return FrameLayout(width, height, safe, caption, subtitle, max(9, round(short / 28)), subtitle_size)


def subtitle_image(text: str, layout: FrameLayout):
    """A burned-in subtitle as an RGBA picture and where it goes: white text with a dark outline,
    wrapped to the subtitle zone (at most SUBTITLE_LINES lines, the rest ellipsized), centred,
    on the zone's bottom line. Returns (image, (x, y)); the image lies inside `layout.subtitle`."""
    from PIL import Image, ImageDraw

    zone, size = layout.subtitle, layout.subtitle_size
    stroke = max(1, size // 14)
    wrapped = wrap(text, font(text, size), zone.w - 2 * stroke, SUBTITLE_LINES) or [""]  # line breaks become spaces
    lh = line_height(size)
    im = Image.new("RGBA", (zone.w, lh * len(wrapped)), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    for k, line in enumerate(wrapped):
        draw.text((zone.w / 2, k * lh + (lh - size) / 2), line, font=font(line, size), anchor="ma",
                  fill=(255, 255, 255, 255), stroke_width=stroke, stroke_fill=(0, 0, 0, 230))
    return im, (zone.x, zone.bottom - im.height)
# ---- a font family by name (title cards: `style: serif`) ------------------------------------------

_SERIF = {False: ("DejaVuSerif.ttf", "LiberationSerif-Regular.ttf", "Times New Roman.ttf", "times.ttf",
                  "Georgia.ttf", "Times.ttc"),
          True: ("DejaVuSerif-Bold.ttf", "LiberationSerif-Bold.ttf", "Times New Roman Bold.ttf", "timesbd.ttf",
                 "Georgia Bold.ttf", "Times.ttc")}


def font_file(text: str, family: str = "sans", bold: bool = False) -> str | None:
    """The font file that draws `text` in `family` ("serif" or "sans"): a CJK font for CJK text
    when the system has one, else the family's, else any sans; None when the system has no font
    (Pillow's bundled one is used)."""
    if has_wide(text) and (cjk := _find_font(_CJK)):
        return cjk
    names = _SERIF if family == "serif" else _LATIN
    return _find_font(names[bold]) or _find_font(names[False]) or _find_font(_LATIN[bold]) \
        or _find_font(_LATIN[False])


@lru_cache(maxsize=64)
def font_from_file(path: str | None, size: int):
    """The face of `font_file`'s answer at `size` pixels (Pillow's bundled font for None)."""
    if path:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=size)  # Pillow >= 10.1 with FreeType
    except TypeError:
        return ImageFont.load_default()
