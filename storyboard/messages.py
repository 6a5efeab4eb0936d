"""Every diagnostic storyboard reports, in one table (pyflakes' `messages.py` is the model).

Each code has a severity, a one-line explanation (for docs/diagnostics.md), its message forms
and its hints, all `str.format` templates. Stages never write message text: they call
`report(code, span, variant, **args)` and get a `Diagnostic`. A code with one message form has
the variant `None`; a code with several names the one it means (`report("SB009", span,
"wipe_direction", duration="1s")`).

Hints: by default the hint named like the variant, else the code's `hint`; `hint="name"` picks
another of the code's hints (or a shared one, `HINTS`); `hint=None` gives none. Notes are named
the same way (`notes=("namespace",)`). A `{count:~word}` field reads `1 word` or `3 words`.

A new code is one `_entry(...)` below; `python -m storyboard.messages tests/golden/errors >
docs/diagnostics.md` (`make docs`) regenerates the reference, and tests/test_catalogue.py fails
until the code has a golden error case and is used somewhere.
"""

from __future__ import annotations

import re
import string
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .diagnostics import Diagnostic, Severity, Span, utf8_error_at

ONLY = "only"  # the variant name of a code's single message form
_DEFAULT = object()  # `report(hint=...)` not given: the variant's own hint, else the code's


@dataclass(frozen=True)
class Entry:
    code: str
    severity: Severity
    explanation: str  # one line, for docs/diagnostics.md
    messages: Mapping[str, str]  # variant -> template
    hint: str | None = None  # the hint of every variant that has none of its own
    hints: Mapping[str, str | None] = field(default_factory=dict)  # name -> template; a variant's name: its hint
    notes: Mapping[str, str] = field(default_factory=dict)
    no_example: str | None = None  # why no story can show it (no golden error case)


CATALOGUE: dict[str, Entry] = {}


def _entry(code: str, severity: Severity, explanation: str, messages: str | Mapping[str, str], *,
           hint: str | None = None, hints: Mapping[str, str | None] | None = None,
           notes: Mapping[str, str] | None = None, no_example: str | None = None) -> None:
    if code in CATALOGUE:
        raise ValueError(f"{code} is catalogued twice")
    forms = {ONLY: messages} if isinstance(messages, str) else dict(messages)
    CATALOGUE[code] = Entry(code, severity, explanation, forms, hint, dict(hints or {}), dict(notes or {}),
                            no_example)


def _error(code: str, explanation: str, messages: str | Mapping[str, str], **kw) -> None:
    _entry(code, Severity.ERROR, explanation, messages, **kw)


def _warning(code: str, explanation: str, messages: str | Mapping[str, str], **kw) -> None:
    _entry(code, Severity.WARNING, explanation, messages, **kw)


# Hints and notes more than one code gives.
HINTS = {
    "did_you_mean": "did you mean `{near}`?",
    "first_set": "first set at line {line}",
    "name": "names start with a letter or _ and use only A-Z, a-z, 0-9, _ and -",
    "url": "use an https:// URL the provider can download, or a file in the story's folder",
}
NOTES = {
    "template_set_at": "the prompt template is set at {where}",
}

_DIRECTIONS = "left, right, up or down"  # wipe directions, as the messages list them
_ONE_OF = "use one of {choices}"

# ---- SB0xx: reading the file ------------------------------------------------------------------

_error("SB001", "A block or the file ends where the grammar still expects more.", {
    "eof": "the file ends in the middle of a block",
    "end_of_block": "unexpected end of block",
})
_error("SB002", "A tab in a line's indentation: indentation is spaces only.",
       "tab in indentation; indent with spaces",
       hint="replace each tab with spaces (storyboard fmt does not guess tab widths)")
_error("SB003", "A line indented to a level no enclosing block opened.", {
    "levels": "inconsistent indentation: {width} spaces matches no enclosing level",
    "bare": "inconsistent indentation",
}, hints={"levels": "indent it {inner} spaces like the lines above it, or {outer} to end their block"})
_error("SB004", "An indented line under a line that cannot own a body.", "unexpected indentation",
       hints={"no_body": "only block headers (lines ending in ':') and continued text take indented lines"})
_error("SB005", "A block header (`shot x:`, `character X:` ...) with nothing indented under it.",
       "`{header}` has no body", hint="indent the lines that belong to this block under its header")
_error("SB006", "A quotation opened with `\"` and not closed on the same line.", "unclosed quote",
       hint='close the "..." on the same line')
_error("SB007", "A word or character the grammar does not allow where it stands.", {
    "expected": "unexpected {found}; expected {expected}",
    "bare": "unexpected {found}",
}, hints={"unit": "durations carry a unit: `{number}s`",
          "dialogue": "a dialogue line is one quoted line; put what follows on a line of its own"})
_error("SB008", "A block header whose name is missing or not a valid name.", {
    "no_name": "`{kind}` needs a name",
    "name_before_duration": "`{kind}` needs a name before its duration",
    "bad_name": "`{name}` is not a valid name",
    "cast_duration": "a {kind} takes no duration",
}, hints={"no_name": "write {usage}", "name_before_duration": "write `{kind} NAME {duration}:`",
          "bad_name": HINTS["name"],
          "script": HINTS["name"] + "; write other scripts (Chinese, accents) in prose and descriptions, not in names",
          "cast_duration": "write {usage}; durations belong to clips"})
_error("SB009", "A transition missing its duration, direction or prompt, or with words it does not take.", {
    "needs_duration": "`{kind}` needs a duration",
    "wipe_both": "`wipe` needs a direction and a duration",
    "wipe_direction": "`wipe` needs a direction",
    "wipe_duration": "`wipe` needs a duration",
    "morph": "`morph` needs a duration and a prompt",
    "nothing_after": "`{kind}` takes nothing after it",
}, hints={"needs_duration": "for example `{kind} 1s`",
          "wipe_both": f"for example `wipe left 1s` ({_DIRECTIONS})",
          "wipe_direction": "write `wipe left {duration}` (" + _DIRECTIONS + ")",
          "wipe_duration": "for example `wipe {direction} 1s`",
          "morph": "for example `morph 1s: the helmet melts into the rising sun`",
          "cut": "a cut has no duration; use `dissolve 1s` or `fade 1s` for a gradual transition",
          "continue": "write `continue` on a line of its own"})
_error("SB010", "A top-level line that is no setting, block or transition.", {
    "unknown": "unknown line `{line}`",
    "needs_name": "`{kind}` needs a name",
}, hints={"unknown": "expected a setting (`key: value`), a block (character, prop, place, shot, scene, extend) "
                     "or a transition (cut, dissolve, fade, wipe, morph, continue)",
          "indent": "to continue the block above, indent this line like the lines above it",
          "cast_usage": "write `{kind} NAME:`", "clip_usage": "write `{kind} NAME [DURATION]:`"})
_error("SB011", "A line in a cast block or a card that is not `key: value`.",
       "expected `key: value` here, found `{line}`",
       hint="cast blocks take image:, video:, voice: and description: lines",
       hints={"card": "cards take text:, subtitle:, image:, credits: and style: lines"})

_error("SB030", "An `include:` without a local path.", {
    "no_path": "include needs a path",
    "url": "include takes a local .story file, not a URL",
})
_error("SB031", "An included file that cannot be found or read.", {
    "refused": "included file {path} {reason}",
    "unopenable": "included file {path} cannot be opened: {why}",
    "not_found": "included file not found: {path}",
    "unreadable": "cannot read included file {path}: {why}",
}, hints={"not_found": "an include path is relative to the file that includes it"})
_error("SB032", "Stories that include each other in a loop.", "include cycle: {cycle}",
       hint="remove one of the includes")
_error("SB033", "An include that leads outside the story's folder tree.", "included file {path} {reason}",
       hint="stories may only include files in their own folder tree")
_error("SB034", "A story, included story, prompt template or imported screenplay that is not UTF-8 text.", {
    "file": "not UTF-8 text: byte 0x{byte:02X} cannot be read as UTF-8",
    "included": "included file {path} is not UTF-8 text (byte 0x{byte:02X} at line {line}, column {column})",
}, hints={"file": "save the file as UTF-8", "included": "save that file as UTF-8"})
_error("SB040", "`storyboard fmt` refused to write a layout that would read back as a different story.",
       "formatting would change what this story means, so fmt left the file as it is",
       hint="this is a bug in storyboard fmt; the story itself is fine (please report it)",
       no_example="only a bug in `storyboard fmt` can cause it, and `check` never runs fmt")

# ---- SB05x: importing a screenplay (`storyboard import SCRIPT.fountain`) ----------------------------

_IMPORT_ONLY = "`storyboard import` reports it about a Fountain screenplay; no story can show it"
_error("SB050", "A screenplay to import that is a binary file (it holds a NUL byte).",
       "this is a binary file, not a Fountain screenplay (a NUL byte)",
       hint="a Fountain screenplay is plain text: export it from your screenwriting app as .fountain",
       no_example=_IMPORT_ONLY)
_error("SB051", "A screenplay to import that is larger than one film can come from.",
       "the screenplay is {size}, more than the {most} one import reads",
       hint="a feature screenplay is about 200 KB: split the script (by act or episode) and import each part",
       no_example=_IMPORT_ONLY)
_error("SB052", "A screenplay with no scene, action or dialogue to import.", {
    "empty": "the screenplay is empty",
    "title_only": "the screenplay has a title page but no scenes, action or dialogue",
    "nothing": "the screenplay has no scenes, action or dialogue (only notes, boneyard or page breaks)",
}, hint="a scene starts with a heading such as `INT. KITCHEN - DAY` on a line of its own, a blank line after it",
   no_example=_IMPORT_ONLY)
_warning("SB053", "A screenplay's boneyard or note that is never closed.", {
    "boneyard": "`/*` is never closed, so the rest of the screenplay is boneyard and is not imported",
    "note": "`[[` is never closed, so the note is imported as text",
}, hints={"boneyard": "close the boneyard with `*/` where the cut text ends",
          "note": "close the note with `]]`"}, no_example=_IMPORT_ONLY)

# ---- SB1xx: film settings -----------------------------------------------------------------------

_error("SB101", "A film setting storyboard does not know (often a misspelling).", "unknown setting `{key}`",
       hints={"known": "film settings: {known}",
              "music": "music under the whole film is `score: FILE`; `music:` belongs in a shot, where it is a "
                       "reference recording sent to the generator"})
_error("SB102", "A film setting written twice.", "`{key}` is set more than once")
_error("SB103", "A setting's value outside what it accepts.", {
    "resolution": "unknown resolution `{value}`",
    "ratio": "unknown aspect ratio `{value}`",
    "audio": "audio is `on` or `off`, not `{value}`",
    "seed": "seed must be a whole number, not `{value}`",
    "seed_range": "seed must be between 0 and {largest}, not {value}",
    "size": "size is WIDTHxHEIGHT in pixels (like 1280x720), not `{value}`",
    "size_range": "size {value}: width and height must be even numbers from {least} to {most}",
    "no_size": "{provider} takes no pixel size, only a resolution and a ratio",
    "model_resolution": "{provider}'s model `{model}` renders no {value}",
    "host": "host is a bucket URL like s3://bucket/prefix, not `{value}`",
}, hints={"resolution": _ONE_OF, "ratio": _ONE_OF, "no_size": "use `resolution:` and `ratio:` instead of `size:`",
          "model_resolution": "`{model}` renders only {choices}: choose one of those, or another model"})
_error("SB104", "`size` together with `resolution` or `ratio` in one place.",
       "`size` and `{other}` cannot both be set for {where}",
       hint="`size` gives exact pixels and `{other}` picks them from a table: keep one "
            "(`{earlier}` is set at line {line})")
_error("SB105", "A setting or cast field with nothing after its colon.", "`{key}` needs a value")
_error("SB106", "A title with nothing in it that can name the film's file.",
       "the title `{title}` gives no file name for the film",
       hint="the film is written as build/<title>.mp4: use a title with some words in it")

_error("SB107", "A `takes:` that is not a whole number of takes from 1 to 8.", {
    "not_number": "takes must be a whole number of takes, not `{value}`",
    "range": "takes must be between 1 and {most}, not {value}",
}, hint="`takes: 3` makes three generations of each clip it applies to, each with its own seed; "
        "pick one with `storyboard pick`")

# ---- SB2xx: the cast ----------------------------------------------------------------------------

_error("SB201", "A field a character, prop or place does not take.", "unknown {kind} field `{key}`",
       hints={"fields": "use image:, video:, voice: or description:"})
_error("SB202", "A cast member without an image (its main reference).", "{kind} {name} has no image",
       hint="add `image: PATH` under `{kind} {name}:` (the first image is the main reference)")
_error("SB203", "A cast field other than `image:` written twice.", "{name} has more than one `{key}`",
       hint="a {kind} takes one {key}")
_error("SB204", "Two cast members or clips with one name.", "the name `{name}` is already used",
       hints={"first_used": "first used at line {line} by `{kind} {name}`; rename one of them"},
       notes={"namespace": "cast members and clips share one namespace"})

# ---- SB3xx: files and URLs ------------------------------------------------------------------------

_error("SB301", "A referenced file that is missing, not a file, or cannot be opened.", {
    "refused": "`{path}` {reason}",
    "unopenable": "cannot use `{path}`: {why}",
    "not_found": "file not found: {path}",
    "not_a_file": "`{path}` is not a file",
}, hints={"near": "did you mean {near}?"})
_error("SB302", "A referenced file whose real type (read from its bytes) is not one its use takes.",
       {"typed": "`{path}` is {what} file; {role} must be {allowed}",
        "unknown": "`{path}` is not a recognised media file; {role} must be {allowed}"})
_error("SB303", "A referenced file outside the story's folder tree.", "`{path}` {reason}", hints={
    "absolute": "reference files by a path relative to the story, inside its folder",
    "link-outside": "copy the file into the story's folder instead of linking to it",
    "outside": "a story may only send files from its own folder tree",
})
_error("SB304", "A URL that is not http(s).", "only http(s) URLs can be sent, not `{scheme}://`",
       hint=HINTS["url"])
_error("SB305", "A local file the provider cannot take: it needs a URL.",
       "{provider} cannot take a local {kind} file: it needs a URL",
       hint="upload {path} somewhere the provider can download it and use its https:// URL",
       hints={"host": "name a bucket to upload it to with the `host` setting (--host s3://bucket/prefix, "
                      "or STORYBOARD_HOST), or use an https:// URL of {path}"})
_error("SB306", "An http(s) URL with no host or an invalid port.", "cannot send `{url}`: {why}",
       hint=HINTS["url"])

# ---- SB4xx: clips and generations -------------------------------------------------------------------

_error("SB401", "A clip length that is not whole seconds or outside what the model generates.", {
    "fraction": "{what}: clip durations are whole seconds, not {seconds}s",
    "range": "{what}: {seconds}s is outside {lo}..{hi} seconds",
}, hints={"fraction": "use {lower}s or {upper}s",
          "too_long": "{model} generates {lo} to {hi} seconds per clip; split longer action into more clips",
          "too_short": "the shortest generation is {lo}s"})
_error("SB402", "An @mention of a name that is not in the cast.", "@{name} is not in the cast",
       hints={"near": "did you mean @{near}?", "define": "define it as a character, prop or place",
              "clip": "{name} is a clip, not a cast member"})
_error("SB403", "A generation that sends more references than the provider accepts.", {
    "images": "{label} sends {count} reference images; {provider} accepts at most {most}",
    "videos": "{label} sends {count} reference videos; {provider} accepts at most {most}",
    "audios": "{label} sends {count} reference audios; {provider} accepts at most {most}",
    "files": "{label} sends {count} files; {provider} accepts at most {most} in all",
}, hint="contributed by {contributions}")
_error("SB404", "First/last frames and reference inputs in one generation.",
       "{label} combines frame images ({frames}) with reference inputs ({references})",
       hints={"morph": "a morph is generated between its neighbours' frames, so it cannot send references: "
                       "describe the cast in words instead of mentioning them",
              "either": "{model} takes either first/last frames or references in one request, not both: "
                        "drop the frames or the mentions' images/motion/music"},
       notes={"table": "see the input compatibility table of {model}"})
_error("SB405", "Reference audio without a reference image or video.",
       "{label} has reference audio ({owners}) but no reference image or video",
       hint="audio-guided generation needs at least one reference image or video: mention a cast member with an image")
_error("SB406", "A prompt the provider would refuse: empty, too short or too long.", {
    "morph": "a morph needs a prompt: what happens between the two clips",
    "length": "the prompt of {label} is {length:~character}; {provider} accepts {lo} to {hi}",
}, hints={"morph": "write `morph {seconds}: TEXT`, e.g. `morph 1s: the helmet melts into the sun`",
          "too_long": "shorten the prose, style or descriptions", "too_short": "describe what happens"})
_error("SB407", "`shot:` beats outside a scene, or a scene without beats.", {
    "not_in_scene": "`shot:` beats belong in a scene, not in a {kind}",
    "no_beats": "scene {name} has no `shot:` beats",
}, hints={"not_in_scene": "make it `scene {name}` or write the beat as prose",
          "no_beats": "write each cut as `shot [DURATION]: what we see`"})
_error("SB408", "Beats whose durations do not fit their scene, or a beat without text.", {
    "fraction": "beat durations are whole seconds above 0, not {seconds}s",
    "no_text": "a beat needs text: what we see in this shot",
    "too_long": "beats add up to {fixed}, more than scene {name}'s {total}s",
    "some_left_one": "only {left} is left of scene {name}'s {total}s for the beat without a duration",
    "some_left_many": "only {left} is left of scene {name}'s {total}s for the {count} beats without a duration",
    "none_left_one": "no time is left of scene {name}'s {total}s for the beat without a duration",
    "none_left_many": "no time is left of scene {name}'s {total}s for the {count} beats without a duration",
}, hint="each beat needs at least 1s: shorten the timed beats or make the scene longer",
   hints={"fraction": "use {lower}s", "fraction_two": "use {lower}s or {upper}s", "no_text": None,
          "too_long": "shorten the beats or make the scene longer (at most {most}s)"})
_error("SB409", "A clip setting written twice in one clip.", "`{key}` is set more than once in {kind} {name}")
_error("SB410", "An extension setting what only its target's video decides.",
       "an extension cannot set `{key}`: it continues its target's video")
_error("SB411", "A clip whose mix of inputs the provider's API has no request for.",
       "{provider} cannot send {label}: {why}",
       hint="change the clip's frames or mentions, or render it with a provider that takes this mix")
_error("SB420", "A story's prompt template that does not compile or fails while rendering a prompt.", {
    "syntax": "syntax error in the prompt template: {why}",
    "failed": "the prompt template failed: {why}",
}, hints={"variables": "its variables are style, legend, opening, extend, action, beats, camera, dialogue, sound "
                       "and negative (see storyboard/compiler/templates/prompt.j2)"})
_error("SB421", "A story's prompt template doing what its sandbox forbids.",
       "the prompt template did something templates may not do: {why}",
       hint="a prompt template may only arrange the variables it is given")
_warning("SB430", "Clips that compile to the same request: one generation shown in each.",
         "{names} make the same request: they are one generation, rendered (and paid for) once, "
         "and every one of them shows the same video",
         hint="give one of them its own `seed:` to get a different take")

# ---- SB5xx: the timeline -------------------------------------------------------------------------

_error("SB501", "`extend` naming something that is not a clip.", {
    "cast": "`extend {name}`: {name} is a {kind}, not a clip",
    "unknown": "`extend {name}`: no clip named `{name}`",
}, hints={"cast": "`extend` names the clip it continues: the one right before it",
          "cast_before": "`extend` names the clip it continues: the one right before it is `{before}`"})
_error("SB502", "`extend` that does not come right after its target.", {
    "follows": "`extend {name}` must come right after {name}, but it follows {before}",
    "later": "`extend {name}` must come right after {name}, but {name} comes later",
}, hint="an extension continues the clip directly before it")
_error("SB503", "A transition at the start or end of the timeline.", {
    "first": "`{kind}` must stand between two clips; nothing comes before it",
    "last": "`{kind}` must stand between two clips; nothing comes after it",
})
_error("SB504", "Two transitions with no clip between them.", "two transitions in a row (`{first}` then `{second}`)",
       hint="keep one of them")
_error("SB505", "A transition longer than half of a clip beside it.",
       "`{kind} {seconds}` is longer than half of the clip {side} it ({name}, {length})",
       hint="at most {half} here: a transition overlaps at most half of each neighbour")
_error("SB506", "A transition between a clip and its extension.",
       "no transition may stand between {name} and its extension",
       hint="an extension plays right after its target with no transition")
_error("SB507", f"A wipe direction other than {_DIRECTIONS}.",
       f"wipe direction must be {_DIRECTIONS}, not `{{direction}}`")
_error("SB508", "A transition of 0s or less, or of more than a minute.", {
    "not_positive": "a {kind} must last longer than 0s",
    "too_long": "a {kind} of {seconds} is far too long",
}, hints={"not_positive": "give it a length like 0.5s, or write `cut` for a hard cut",
          "too_long": "transitions last a fraction of a second to a few seconds"})
_error("SB509", "A clip after `continue` that sets its own first frame.",
       "{name} follows `continue` but sets its own first frame",
       hint="`continue` opens on the previous clip's last frame; remove one of them")
_error("SB510", "A film without a single clip.", "the film has no clips",
       hint="add at least one clip: a header such as `shot opening 5s:` and under it, indented, "
            "what we see (`  A kitten naps on a sunny windowsill.`)")

# ---- SB60x: title cards and the score ----------------------------------------------------------------

_error("SB601", "A card shorter than 1 second or longer than 30.", "card {name}: {seconds} is outside 1s..30s",
       hint="a title or intertitle lasts a few seconds; a long credits roll up to 30s (split longer ones)")
_error("SB602", "A card line a card does not take, written twice, or a card with nothing to show.", {
    "unknown": "unknown card line `{key}`",
    "twice": "card {name} has more than one `{key}`",
    "empty": "card {name} shows nothing",
    "url": "a card's image is drawn on this machine: `{path}` must be a file in the story's folder",
}, hints={"known": "cards take text:, subtitle:, image:, credits: (several) and style:",
          "empty": "give it `text:`, `subtitle:`, `image:` or `credits:` lines",
          "twice": "one `{key}:` per card; only `credits:` may repeat (one line of the roll each)",
          "url": "download the picture next to the story and name it by its path"})
_error("SB603", "Card text that cannot fit on the card, or credits that scroll too fast to read.", {
    "lines": "the {what} of card {name} needs {lines} lines at {width}x{height}; at most {most} fit",
    "credits": "a credits line of card {name} needs {lines} lines: `{line}`",
    "speed": "card {name} scrolls {rows:~line} in {seconds}: too fast to read",
}, hints={"lines": "shorten it, or move words to `subtitle:`",
          "credits": "split it over several `credits:` lines",
          "speed": "make the card at least {least} long (every line stays on screen {on_screen}s), or split the "
                   "credits over two cards"})
_error("SB604", "A `style:` word of a card outside its vocabulary, or one setting given twice.", {
    "unknown": "unknown style word `{word}`",
    "twice": "the {what} is set twice (`{word}`)",
    "shape": "`on` needs a colour after it",
    "fade": "`fade` takes a duration like `1s`, not `{word}`",
}, hints={"did_you_mean": HINTS["did_you_mean"],
          "vocabulary": "style words: COLOUR [on COLOUR] ({colours}), serif or sans, bold, fade [DURATION]",
          "twice": "keep one of them"})
_error("SB605", "A card where only a generated clip can stand: extended, or next to a morph or `continue`.", {
    "extend": "card {name} cannot be extended: it is drawn on this machine, not generated",
    "transition": "`{kind}` cannot join card {name}: it is generated from a neighbour's frames, and a card is "
                  "drawn after the clips are generated",
}, hints={"extend": "make the card longer (up to 30s), or add a second card",
          "transition": "use `cut`, `dissolve`, `fade` or `wipe` next to a card"})
_error("SB606", "A `score:` line that is not `FILE [from CLIP] [to CLIP]` with known options.", {
    "no_file": "`score:` needs a music file",
    "unknown": "unknown score option `{word}`",
    "value": "`{option}` takes {expected}, not `{word}`",
    "twice": "`{option}` is given twice",
}, hints={"did_you_mean": HINTS["did_you_mean"],
          "options": "options after commas: fade D, fade in D, fade out D, volume G, duck G, attack D, release D, "
                     "loop, once (D like 1.5s, G like -6dB)",
          "no_file": "write `score: music/theme.mp3`, optionally `from CLIP to CLIP`"})
_error("SB607", "A `score:` span naming no clip of the film, or ending before it starts.", {
    "unknown": "the score's `{side} {name}`: no clip named `{name}`",
    "cast": "the score's `{side} {name}`: {name} is a {kind}, not a clip",
    "extension": "the score's `{side} {name}`: name the clip, not its extension",
    "order": "the score ends with {last} before it starts with {first}",
}, hints={"did_you_mean": HINTS["did_you_mean"],
          "extension": "`to {root}` already runs to the end of its extensions",
          "order": "write the clip that plays first after `from`"})

# ---- SB62x: takes and picks (the picks file beside the story) ------------------------------------

_error("SB621", "A picks file (`<story>.picks.toml`) that is not valid TOML or not the shape `storyboard pick` "
       "writes.", {
           "toml": "the picks file is not valid TOML: {why}",
           "shape": "{what}",
       }, hint="fix the line by hand, or undo it in version control; `storyboard pick` and `unpick` rewrite "
               "the file whole", no_example="needs a picks file beside the story; tests/test_takes.py shows it")
_warning("SB622", "A pick in the picks file names a clip the story no longer has.",
         "the picks file picks take {take} of `{clip}`, which this story has no clip of",
         hint="the pick is kept (rename the clip back, or `storyboard unpick FILE {clip}` to drop it)",
         no_example="needs a picks file beside the story; tests/test_takes.py shows it")
_warning("SB623", "A picked take from an older version of its clip: the film keeps it and nothing is generated.",
         "`{clip}` has changed since its take {take} ({tier}) was picked: the film keeps that take",
         hint="`storyboard unpick FILE {clip}` or `storyboard render FILE --repick {clip}` renders the clip "
              "as it is now", no_example="needs a picks file beside the story; tests/test_takes.py shows it")

# ---- SB9xx: warnings: it works, but perhaps not as meant --------------------------------------------

_warning("SB901", "A line that looks like a misspelt clip setting, so it is prose.",
         "`{key}:` is not a clip setting, so this line is prose", hint="did you mean `{near}:`?")
_warning("SB902", "`continue` into a clip with references: the previous last frame goes in as an image.",
         "{name} has reference inputs, so the last frame of {previous} goes in as Image 1 with an "
         "instruction to open on it",
         hint="{model} cannot take a first frame together with references; use `cut` if the clip need not "
              "open on that frame")
_warning("SB903", "A line that looks like dialogue without quotes, so it is prose.",
         "this looks like dialogue without quotes, so it is prose", hint='write @{name}: "..." for spoken lines')
_warning("SB904", "A cast member defined in two story files: the later one wins.",
         "{name} is defined in both {first} and {second}; using {second}")
_warning("SB905", "Clips and transitions in an included file, which only lends cast and settings.",
         "clips and transitions in included file {path} are ignored (include imports cast and settings only)")
_warning("SB906", "A file whose extension says another type than its bytes.",
         "`{path}` is really {what} file despite its extension", hint="rename it to .{extension}")
_warning("SB907", "A clip setting indented into the text above it, so it is text.",
         "`{key}:` is indented deeper than the clip's lines, so it continues the text above it instead of "
         "setting the clip's {key}",
         hint="dedent it to {indent} spaces, like the clip's other lines")
_warning("SB908", "A cast member's spoken line without `@`, so it is prose.",
         "`{name}:` without `@` is prose, not {name}'s line", hint="write `@{line}` for a spoken line")
_warning("SB909", "A `score:` in an included file: a score belongs to the film that plays it.",
         "the score of included file {path} is ignored", hint="write `score:` in the film's own story")
_warning("SB910", "Two scores that play at once over some clips: both are heard there.",
         "this score plays over {clips} together with the one at line {line}",
         hint="end one with `to CLIP` before the other starts, if they are not meant to play together")
_warning("SB911", "`score:` inside a clip, so it is prose.",
         "`score:` is a film setting, so this line is prose",
         hint="write `score: FILE from CLIP to CLIP` at the left margin; in a clip, `music: FILE` is a "
              "reference recording sent to the generator")

# The dialogue timing check (speech.py): a clip too short for its lines.
_warning("SB912", "A clip whose dialogue cannot be spoken within its seconds at a normal rate.",
         "the lines of `{name}` take about {need} to say at a normal rate ({rate} words a minute), "
         "{over} more than its {seconds}s",
         hint="make the clip longer, say less, or move a line to the next clip")


# ---- reporting ----------------------------------------------------------------------------------

class _Formatter(string.Formatter):
    """`str.format`, plus `{count:~word}`: `1 word`, `2 words`."""

    def format_field(self, value, format_spec: str):
        if format_spec.startswith("~"):
            return f"{value} {format_spec[1:]}{'s' * (value != 1)}"
        return super().format_field(value, format_spec)


_FORMATTER = _Formatter()


def report(code: str, span: Span | None, variant: str | None = None, *, hint=_DEFAULT,
           notes: Iterable[str] = (), **args) -> Diagnostic:
    """The diagnostic for `code` (its `variant` when it has several forms), filled in with `args`.
    An unknown code, variant, hint or note, or a missing argument, raises (KeyError)."""
    entry = CATALOGUE[code]
    key = variant or ONLY
    message = _format(entry.messages[key], args)
    if hint is _DEFAULT:
        template = entry.hints.get(key, entry.hint)
    else:
        template = None if hint is None else _named(entry.hints, HINTS, hint)
    return Diagnostic(code, message, span, entry.severity,
                      None if template is None else _format(template, args),
                      tuple(_format(_named(entry.notes, NOTES, n), args) for n in notes))


def _format(template: str, args: dict) -> str:
    # `str.format` itself where no field can be `{count:~word}`: the Formatter class parses a
    # template in Python, ten times slower (a film with many warnings made thousands).
    return template.format(**args) if "~" not in template else _FORMATTER.format(template, **args)


def note(name: str, **args) -> str:
    """A shared note's text (`NOTES`), for a note added to another stage's diagnostic."""
    return _FORMATTER.format(NOTES[name], **args)


def _named(own: Mapping[str, str], shared: Mapping[str, str], name: str) -> str:
    return own[name] if name in own else shared[name]


def not_utf8(file: str, data: bytes, exc: UnicodeDecodeError) -> Diagnostic:
    """A story or template file that is not UTF-8, at its first bad byte (render it with the text
    decoded with `errors="replace"`, where that byte shows as \ufffd)."""
    line, column = utf8_error_at(data, exc)
    return report("SB034", Span(file, line, column, line, column + 1), "file", byte=data[exc.start])


# ---- docs/diagnostics.md ------------------------------------------------------------------------

_FIELD_RE = re.compile(r"\{(\w+)(?::~(\w+)|:[^}]*)?\}")


def _shown_template(template: str) -> str:
    """A template as the reference shows it: `{name}` for each argument, format specs dropped."""
    return _FIELD_RE.sub(lambda m: f"{{{m.group(1)}}} {m.group(2)}s" if m.group(2) else f"{{{m.group(1)}}}",
                         template)


def examples(folder: Path) -> dict[str, tuple[str, str]]:
    """For each code, (case name, its rendered diagnostic) from the shortest golden error case
    in `folder` (tests/golden/errors) that reports it."""
    found: dict[str, tuple[str, str]] = {}
    for path in sorted(folder.glob("*.txt"), key=lambda p: (len(p.read_text(encoding="utf-8")), p.name)):
        for block in _blocks(path.read_text(encoding="utf-8")):
            m = re.search(r"(?:error|warning)\[(SB\d{3})\]", block.split("\n", 1)[0])
            if m and m.group(1) not in found:
                found[m.group(1)] = (path.stem, block)
    return found


def _blocks(rendered: str) -> list[str]:
    """Rendered diagnostics, one block each (a block's later lines are indented)."""
    blocks: list[list[str]] = []
    for line in rendered.splitlines():
        if line and not line[0].isspace() and not line.startswith("…"):
            blocks.append([line])
        elif blocks and line:
            blocks[-1].append(line)
    return ["\n".join(b) for b in blocks]


def markdown(example_folder: Path | None = None) -> str:
    """docs/diagnostics.md: every code, with examples from the golden error cases in `example_folder`."""
    found = examples(example_folder) if example_folder else {}
    out = ["# Diagnostics", "",
           "Every problem `storyboard check` reports, by code. Errors stop `compile` and `render`; warnings",
           "do not. Generated from `storyboard/messages.py` by `make docs`: edit that file, not this one.",
           "In the message forms, `{name}` stands for a value the message fills in. A hint named like a",
           "message form goes with that form; the other named hints are picked case by case.", ""]
    for entry in CATALOGUE.values():
        out += _section(entry, found.get(entry.code))
    return "\n".join(out).rstrip("\n") + "\n"


def _section(entry: Entry, example: tuple[str, str] | None) -> list[str]:
    out = [f"## {entry.code} ({entry.severity.value})", "", entry.explanation, ""]
    for variant, template in entry.messages.items():
        name = "" if variant == ONLY else f" ({variant})"
        out.append(f"- message{name}: `` {_shown_template(template)} ``")
    hints = dict(entry.hints)
    if entry.hint is not None:
        hints = {"": entry.hint, **hints}
    for name, template in hints.items():
        if template is not None:
            out.append(f"- hint{f' ({name})' if name else ''}: `` {_shown_template(template)} ``")
    for name, template in entry.notes.items():
        out.append(f"- note ({name}): `` {_shown_template(template)} ``")
    out.append("")
    if example is not None:
        case, block = example
        out += [f"Example (`tests/golden/errors/{case}.story`):", "", "```text", block, "```", ""]
    elif entry.no_example:
        out += [f"No example: {entry.no_example}.", ""]
    return out


GOLDEN_ERRORS = Path(__file__).resolve().parent.parent / "tests" / "golden" / "errors"  # in a checkout


def main(argv: list[str]) -> int:
    """`python -m storyboard.messages [GOLDEN_ERRORS_FOLDER] > docs/diagnostics.md`; without the
    folder, a checkout's own (an installed package has none: the reference then has no examples)."""
    folder = Path(argv[0]) if argv else GOLDEN_ERRORS if GOLDEN_ERRORS.is_dir() else None
    sys.stdout.write(markdown(folder))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
