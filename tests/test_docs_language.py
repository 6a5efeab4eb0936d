"""docs/language.md, the writers' reference, cannot drift from the language: every example in it
goes through `storyboard check` (and the prompts it shows through `storyboard compile`).

How the page marks its fenced blocks (the first word is all a Markdown viewer looks at):

- ```story            a complete film that checks with no errors and no warnings;
- ```story warning    a film that checks with no errors and at least one warning;
- ```story error      a film that must fail check (what not to write);
- ```LANG file=PATH   a file the examples use (an included story, a prompt template), written
                      beside every example and not checked on its own;
- ```prompt clip=NAME the exact prompt the story block before it compiles to for clip NAME.

Media files the examples name (cast images, frames, reference videos and audios) are created
as tiny files of the right type wherever `check` reports them missing, so examples read like
real films without the repository carrying their pictures.
"""

from __future__ import annotations

import json
import re
import struct
import subprocess
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

import cli_process
from storyboard.language.model import CAST_FIELDS, CAST_KINDS, CLIP_SETTINGS, FILM_SETTINGS, TRANSITIONS

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "language.md"
FENCE_RE = re.compile(r"^```(\S*)[ \t]*(.*)$")
STORY_FILE = "film.story"
MAX_MISSING_FILE_ROUNDS = 3


@dataclass(frozen=True)
class Block:
    lang: str
    info: str  # what follows the language word: "", "warning", "error", "file=PATH", "clip=NAME"
    text: str
    line: int  # of the opening fence, 1-based

    @property
    def companion_path(self) -> str | None:
        return self.info[len("file="):] if self.info.startswith("file=") else None

    @property
    def folder(self) -> str:
        return f"example-line-{self.line}"


def doc_blocks() -> list[Block]:
    blocks, opened, body = [], None, []
    for n, line in enumerate(DOC.read_text(encoding="utf-8").splitlines(), 1):
        m = FENCE_RE.match(line)
        if opened is None and m:
            opened, body = (m.group(1), m.group(2).strip(), n), []
        elif opened is not None and line.strip() == "```":
            blocks.append(Block(opened[0], opened[1], "\n".join(body) + "\n", opened[2]))
            opened = None
        elif opened is not None:
            body.append(line)
    assert opened is None, f"docs/language.md:{opened[2]}: a fenced block is never closed"
    return blocks


BLOCKS = doc_blocks() if DOC.is_file() else []
COMPANIONS = [b for b in BLOCKS if b.companion_path]
EXAMPLES = [b for b in BLOCKS if b.lang == "story" and not b.companion_path]
PROMPTS = [b for b in BLOCKS if b.lang == "prompt"]


# ---- tiny media files of each supported type (check reads their first bytes) ---------------------

def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\0\0\0")) \
        + chunk(b"IEND", b"")


def _riff(kind: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 36) + kind + b"\0" * 32


def _wav() -> bytes:
    """A real WAV (0.1 s of quiet noise): a score is probed, not only sniffed."""
    import io
    import wave

    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(48000)
        w.writeframes(bytes(range(256)) * 75)
    return out.getvalue()


def _mp3() -> bytes:
    """A real MP3: 0.1 s of a 440 Hz tone, encoded in this process by PyAV (no ffmpeg run while
    tests are collected, where the test-fast guard could not see it)."""
    import io

    import av
    import numpy as np

    out = io.BytesIO()
    with av.open(out, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=48000, layout="mono")
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(4800) / 48000)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(tone.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = 48000
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return out.getvalue()


MEDIA = {
    ".png": _png(),
    ".jpg": b"\xff\xd8\xff\xe0" + b"\0" * 60,
    ".jpeg": b"\xff\xd8\xff\xe0" + b"\0" * 60,
    ".webp": _riff(b"WEBP"),
    ".wav": _wav(),
    ".mp3": _mp3(),
    ".mp4": b"\0\0\0\x18ftypmp42" + b"\0" * 52,
    ".mov": b"\0\0\0\x14ftypqt  " + b"\0" * 52,
}


def _written_value(root: Path, diag: dict) -> str:
    """The path as the story writes it: the value that starts at the diagnostic's column."""
    line = (root / diag["file"]).read_text(encoding="utf-8").splitlines()[diag["line"] - 1]
    value = line[diag["column"] - 1:].split("#", 1)[0].strip()
    if line.startswith("score:"):  # `score: FILE from A to B, options`: the file alone
        value = re.split(r",|\s+from\s|\s+to\s", value)[0].strip()
    return value


def _create_missing_media(root: Path, diags: list[dict]) -> int:
    made = 0
    for d in diags:
        if d["code"] != "SB301":
            continue
        written = _written_value(root, d)
        target = (root / d["file"]).parent / written
        assert target.suffix.lower() in MEDIA, f"{d['file']}:{d['line']}: no tiny file for {written}"
        assert target.resolve().is_relative_to(root.resolve()), f"{written} leaves the example's folder"
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(MEDIA[target.suffix.lower()])
            made += 1
    return made


def storyboard(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = cli_process.storyboard(*args, cwd=cwd, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def check_all(root: Path) -> list[dict]:
    """One `storyboard check --json` over every example (one process: the page has many)."""
    proc = storyboard("check", "--json", *[f"{b.folder}/{STORY_FILE}" for b in EXAMPLES], cwd=root)
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def checked(tmp_path_factory) -> tuple[Path, dict[str, list[dict]]]:
    """Every example in its own folder with the companion files; its diagnostics by folder."""
    root = tmp_path_factory.mktemp("language-doc")
    for block in EXAMPLES:
        folder = root / block.folder
        folder.mkdir()
        (folder / STORY_FILE).write_text(block.text, encoding="utf-8")
        for companion in COMPANIONS:
            path = folder / companion.companion_path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(companion.text, encoding="utf-8")
    diags = check_all(root)
    for _ in range(MAX_MISSING_FILE_ROUNDS):
        if not _create_missing_media(root, diags):
            break
        diags = check_all(root)
    by_folder: dict[str, list[dict]] = {}
    for d in diags:
        by_folder.setdefault(Path(d["file"]).parts[0], []).append(d)
    return root, by_folder


def _shown(diags: list[dict]) -> str:
    return "\n".join(f"  {d['file']}:{d['line']}:{d['column']}: {d['severity']}[{d['code']}] {d['message']}"
                     for d in diags) or "  (none)"


# ---- the tests ------------------------------------------------------------------------------------

def test_the_page_exists_and_has_examples_of_each_kind():
    assert DOC.is_file(), "docs/language.md is missing"
    infos = {b.info for b in EXAMPLES}
    assert {"", "warning", "error"} <= infos, infos
    assert all(b.info in ("", "warning", "error") for b in EXAMPLES), [b.info for b in EXAMPLES]
    assert PROMPTS and COMPANIONS


@pytest.mark.parametrize("block", EXAMPLES, ids=lambda b: f"line-{b.line}-{b.info or 'ok'}")
def test_example_checks_as_marked(checked, block: Block):
    _, by_folder = checked
    diags = by_folder.get(block.folder, [])
    errors = [d for d in diags if d["severity"] == "error"]
    warnings = [d for d in diags if d["severity"] == "warning"]
    where = f"docs/language.md:{block.line} (```story {block.info}):\n{_shown(diags)}"
    if block.info == "error":
        assert errors, f"{where}\nis marked as an error example but checks without errors"
    elif block.info == "warning":
        assert not errors and warnings, f"{where}\nmust check with warnings and no errors"
    else:
        assert not diags, f"{where}\nmust check with no problems (mark it ```story warning if it shows one)"


@pytest.mark.parametrize("block", PROMPTS, ids=lambda b: f"line-{b.line}")
def test_prompt_shown_is_the_prompt_compiled(checked, block: Block):
    root, _ = checked
    story = max((b for b in EXAMPLES if b.line < block.line), key=lambda b: b.line)
    name = block.info.removeprefix("clip=")
    proc = storyboard("compile", f"{story.folder}/{STORY_FILE}", cwd=root)
    assert proc.returncode == 0, proc.stderr
    clips = {c["name"]: c for c in json.loads(proc.stdout)["clips"]}
    assert name in clips, f"docs/language.md:{block.line}: no clip {name} in the example at line {story.line}"
    assert clips[name]["request"]["prompt"] == block.text.strip(), \
        f"docs/language.md:{block.line}: the prompt shown for {name} is not what the example compiles to"


def _keys_used(blocks: list[Block]) -> set[str]:
    return {m.group(1) for b in blocks for m in re.finditer(r"^[ \t]*([a-z]+):", b.text, re.M)}


def _top_words_used(blocks: list[Block]) -> set[str]:
    return {m.group(1) for b in blocks for m in re.finditer(r"^([a-z]+)\b", b.text, re.M)}


def test_every_setting_field_block_and_transition_has_a_passing_example():
    passing = [b for b in EXAMPLES if b.info != "error"] + [b for b in COMPANIONS if b.lang == "story"]
    words = set(FILM_SETTINGS) | {"include"} | set(CLIP_SETTINGS) | set(CAST_FIELDS)
    assert words <= _keys_used(passing), sorted(words - _keys_used(passing))
    constructs = set(CAST_KINDS) | {"shot", "scene", "extend"} | set(TRANSITIONS)
    assert constructs <= _top_words_used(passing), sorted(constructs - _top_words_used(passing))


def _slug(heading: str) -> str:
    """The anchor a Markdown viewer (GitHub) gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_within_the_page_has_its_heading():
    text = re.sub(r"^```.*?^```$", "", DOC.read_text(encoding="utf-8"), flags=re.M | re.S)  # no code comments
    anchors = {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", text, re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links and links <= anchors, sorted(links - anchors)


def test_readme_sends_readers_to_the_reference_in_the_repository():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/language.md" in readme
    assert "../shared" not in readme
    assert "diagnostics.md" in DOC.read_text(encoding="utf-8")
