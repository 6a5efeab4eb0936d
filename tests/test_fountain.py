"""`storyboard import SCRIPT.fountain`: screenplays in full Fountain to `.story` drafts that check
(apart from the pictures still to draw) and are already formatted; malformed input is one clear
diagnostic, never a traceback.

Golden cases: tests/golden/import/<case>.fountain -> <case>.story (STORYBOARD_UPDATE_GOLDEN=1).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli_process import storyboard
from budget import examples
from golden_util import assert_golden
from storyboard.api import compile_file
from storyboard.diagnostics import render
from storyboard.fountain import (
    MAX_SECONDS, ScriptError, draft, heading, identifier, import_script, transition_line,
)
from storyboard.language.fmt import format_source
from storyboard.language.model import Beat, CastMember, Clip, Dialogue, Transition
from storyboard.language.parser import parse
from storyboard.providers import get

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden" / "import"
CASES = sorted(GOLDEN.glob("*.fountain"))


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    proc = storyboard(*args, cwd=cwd)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


def story_of(text: str) -> str:
    return draft(text, "script.fountain", "Script").text


def check_only_missing_pictures(folder: Path, text: str) -> list[str]:
    """Write the story, check it, and return the pictures `check` reports missing (the only errors allowed)."""
    path = folder / "film.story"
    path.write_text(text, encoding="utf-8")
    result = compile_file(path, get("preview"))
    others = [d for d in result.diagnostics if d.is_error and d.code != "SB301"]
    assert not others, render(result.diagnostics, result.sources)
    return [re.sub(r"^file not found: ", "", d.message) for d in result.diagnostics if d.code == "SB301"]


def parsed(text: str):
    story, diags = parse(text, "film.story")
    assert not diags
    return story


# ---- golden cases -------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_golden(case: Path, tmp_path: Path):
    made = import_script(case, case.name)
    assert_golden(case.with_suffix(".story"), made.text)
    assert format_source(made.text, "x.story")[0] == made.text  # fmt --check holds
    missing = check_only_missing_pictures(tmp_path, made.text)
    assert sorted(missing) == sorted(p.path for p in made.pictures)  # one diagnostic per picture to draw


def test_there_are_golden_cases():
    assert {c.stem for c in CASES} >= {"full", "names"}
    assert all(c.with_suffix(".story").exists() for c in CASES)


# ---- what each construct becomes -----------------------------------------------------------------

def test_full_fountain_constructs():
    text = (GOLDEN / "full.fountain").read_text(encoding="utf-8")
    out = story_of(text)
    story = parsed(out)
    settings_ = {i.key: i.value for i in story.items if getattr(i, "key", None)}
    assert settings_["title"] == "The Last Lamp"  # title page, emphasis gone
    cast = {i.name: i.kind for i in story.items if isinstance(i, CastMember)}
    assert cast == {"OldKeeper": "character", "MaryOneil": "character", "Brick": "character", "Steel": "character",
                    "McCLANE": "character", "LighthouseLampRoom": "place", "Harbour": "place", "Boat": "place"}
    clips = {c.name: c for c in story.items if isinstance(c, Clip)}
    assert list(clips) == ["lighthouse-lamp-room", "harbour", "flashback", "boat", "harbour-2"]
    assert clips["lighthouse-lamp-room"].kind == "scene"  # two paragraphs of action: beats
    assert clips["flashback"].kind == "shot"  # a forced heading
    lines = {(d.speaker, d.how, d.line) for c in clips.values() for d in c.body if isinstance(d, Dialogue)}
    assert ("OldKeeper", "to himself", "Not tonight. Not on my watch.") in lines  # parenthetical, emphasis gone
    assert ("MaryOneil", "voice-over", "You said that last winter too.") in lines  # extension
    assert ("Brick", "at the same time", "Screw retirement.") in lines  # dual dialogue
    assert ("Steel", "at the same time", "Screw it indeed!") in lines
    assert ("MaryOneil", "voice-over, singing", "Oh the sea, the sea / She calls me home") in lines  # lyrics
    assert [t.kind for t in story.items if isinstance(t, Transition)] == ["cut", "dissolve"]
    for gone in ("older than the script", "BEACH", "Nothing happens", "===", "*", "_empty_"):
        assert gone not in out  # notes, boneyard, page breaks, emphasis
    for comment in ("# section: ACT ONE", "# synopsis: The keeper learns", "# FADE IN: (line 13): no transition",
                    "# FADE TO BLACK. (line 70): the end", "# 1. INT. LIGHTHOUSE - LAMP ROOM - NIGHT (line 15)"):
        assert comment in out
    assert "“THE END OF THE NIGHT”" in out  # centered text
    assert "A younger @OldKeeper polishes" in out and "@Steel's lantern" in out  # names in action: mentions


def test_action_after_a_transition_or_a_section_goes_on_at_the_same_place():
    out = story_of("INT. A - DAY\n\nAction.\n\n# Sequence 2\n\nMore action.\n\nCUT TO:\n\nEven more.\n")
    clips = _clips(out)
    assert [c.name for c in clips] == ["a", "a-2", "a-3"]
    assert all(c.body[0].text.startswith("Interior, @A, day.") for c in clips)
    assert out.count("# INT. A - DAY (line 1), continued") == 2
    assert [t.kind for t in parsed(out).items if isinstance(t, Transition)] == ["cut"]


def test_headings():
    h = heading("INT. LIGHTHOUSE - LAMP ROOM - NIGHT", 1, None)
    assert (h.setting, h.location, h.time) == ("Interior", "LIGHTHOUSE - LAMP ROOM", "NIGHT")
    h = heading("I/E. CAR \u2013 MOVING", 1, None)
    assert (h.setting, h.location, h.time) == ("Interior and exterior", "CAR", "MOVING")
    h = heading("EXT. ROOFTOP - MOMENTS LATER", 1, None)
    assert (h.setting, h.location, h.time) == ("Exterior", "ROOFTOP", "MOMENTS LATER")
    assert heading("FLASHBACK", 1, None).location is None  # a forced heading that names no place
    assert heading("THE BEACH", 1, None).location == "THE BEACH"


def test_transitions():
    assert [transition_line(t) for t in ("CUT TO:", "SMASH CUT TO:", "DISSOLVE TO:", "FADE OUT.", "FADE TO BLACK.",
                                         "WIPE TO:", "BACK TO:", "FADE IN:")] == \
        ["cut", "cut", "dissolve 1s", "fade 1s", "fade 1s", "wipe left 1s", "cut", None]


def test_identifiers():
    assert identifier("OLD KEEPER", "X") == "OldKeeper"
    assert identifier("MARY O'NEIL", "X") == "MaryOneil"
    assert identifier("ÉLODIE", "X") == "Elodie"
    assert identifier("23 SKIDOO", "X") == "_23Skidoo"
    assert identifier("王", "Character1") == "Character1"
    assert identifier("McCLANE", "X") == "McCLANE"


def test_names_clash_with_nothing(tmp_path: Path):
    """Duplicates after spelling, keywords, and a place and a character of one name."""
    text = ("EXT. CUT - DAY\n\nCUT\nHello.\n\nMARY-ANN\nHi.\n\nMARY ANN\nHi.\n\n"
            "INT. SHOT - DAY\n\nSHOT\nBang.\n\nINT. SHOT - NIGHT\n\nQuiet.\n")
    out = story_of(text)
    names = [i.name for i in parsed(out).items if isinstance(i, CastMember | Clip)]
    assert len(names) == len(set(names))
    assert {"Cut", "Cut2", "MaryAnn", "MaryAnn2", "Shot", "Shot2", "cut", "shot", "shot-2"} <= set(names)
    check_only_missing_pictures(tmp_path, out)


def test_text_that_would_read_as_something_else(tmp_path: Path):
    text = ('INT. ROOM - DAY\n\ncamera: the one on the table # is broken.\n\n'
            'INT. HALL - DAY\n\nshot: a photo of "her.\n\nsound: rain\n\n'
            'BOB\nMy e-mail is @bob and "quotes" (really) # here.\n\n@cut the rope.\n')
    out = story_of(text)
    room, hall = [c for c in parsed(out).items if isinstance(c, Clip)]
    assert [type(x).__name__ for x in room.body] == ["Prose"]  # not a `camera:` setting
    assert "Interior, @Room, day. Camera: the one on the table ＃ is broken." in out
    # no line became a setting, or dialogue; `@cut` alone is a cue with nothing said: no character
    assert [type(x).__name__ for x in hall.body] == ["Prose", "Beat", "Beat", "Dialogue"]
    assert "shot 2s: shot: a photo of “her.\n  shot: sound: rain\n" in out
    assert [i.name for i in parsed(out).items if isinstance(i, CastMember)] == ["Bob", "Room", "Hall"]
    said = next(x for x in hall.body if isinstance(x, Dialogue))
    assert said.line == "My e-mail is ＠bob and ‘quotes’ (really) # here."
    check_only_missing_pictures(tmp_path, out)


# ---- durations and splitting -----------------------------------------------------------------------

def _clips(out: str) -> list[Clip]:
    return [c for c in parsed(out).items if isinstance(c, Clip)]


def test_durations_follow_the_words():
    short = _clips(story_of("INT. A - DAY\n\nShe nods.\n"))[0]
    assert short.seconds == 4  # at least the shortest clip
    talk = " ".join(["word"] * 20)  # 20 words at 2.5 a second, and a pause
    medium = _clips(story_of(f"INT. A - DAY\n\nShe nods.\n\nBOB\n{talk}\n"))[0]
    assert medium.seconds == 11  # 2 s of action + 8.5 s of speech


def test_a_long_scene_is_split_with_a_comment(tmp_path: Path):
    paragraphs = "\n\n".join(f"The storm hits wave number {i} against the old stone wall of the harbour." for i in
                             range(12))
    speech = " ".join(["Never."] * 60)  # a monologue longer than one clip
    out = story_of(f"EXT. HARBOUR - NIGHT\n\n{paragraphs}\n\nKEEPER\n{speech}\n")
    clips = _clips(out)
    assert len(clips) >= 5
    assert all(4 <= c.seconds <= MAX_SECONDS for c in clips)
    assert [c.name for c in clips[:3]] == ["harbour", "harbour-2", "harbour-3"]
    assert f"part 1 of {len(clips)}: split, about" in out and f"part {len(clips)} of {len(clips)}" in out
    said = [d.line for c in clips for d in c.body if isinstance(d, Dialogue)]
    assert " ".join(said) == speech  # the monologue is all there, in order
    for c in clips:  # each part shows its place again
        assert any("@Harbour" in getattr(x, "text", "") for x in c.body)
    check_only_missing_pictures(tmp_path, out)


def test_beats_share_the_scene():
    out = story_of("INT. A - DAY\n\nShe opens the door.\n\nA long corridor stretches away into the dark, lined "
                   "with portraits of forgotten kings.\n\nShe runs.\n")
    scene = _clips(out)[0]
    beats = [b for b in scene.body if isinstance(b, Beat)]
    assert scene.kind == "scene" and len(beats) == 3
    assert beats[-1].seconds is None and all(b.seconds >= 1 for b in beats[:-1])
    assert sum(b.seconds for b in beats[:-1]) <= scene.seconds - 1
    assert beats[1].seconds > beats[0].seconds  # the longer paragraph, the longer beat


def test_more_speakers_than_one_clip_can_show(tmp_path: Path):
    crowd = "\n\n".join(f"GUEST {chr(65 + i)}\nHello." for i in range(12))
    out = story_of(f"INT. PARTY - NIGHT\n\n{crowd}\n")
    clips = _clips(out)
    assert len(clips) == 2 and "more speakers than the 9 pictures" in out
    check_only_missing_pictures(tmp_path, out)


# ---- files and the command ---------------------------------------------------------------------------

SCRIPT = "Title: Tea\n\nINT. TEA HOUSE - DAY\n\nSteam rises.\n\nOWNER\n(smiling)\nSit down.\n"


def test_cli_import_writes_the_story_and_lists_the_pictures(tmp_path: Path):
    (tmp_path / "tea.fountain").write_text(SCRIPT, encoding="utf-8")
    proc = run("import", "tea.fountain", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "tea.story\n"
    assert "wrote tea.story: 1 clip, 1 character, 1 place" in proc.stderr
    assert "cast/owner.png" in proc.stderr and "places/tea-house.png" in proc.stderr
    again = run("import", "tea.fountain", cwd=tmp_path)
    assert again.returncode == 2 and "tea.story already exists" in again.stderr and "--force" in again.stderr
    (tmp_path / "places").mkdir()
    (tmp_path / "places" / "tea-house.png").write_bytes(b"mine")
    forced = run("import", "tea.fountain", "--force", "--placeholders", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert "drew 1 placeholder picture" in forced.stderr
    assert (tmp_path / "places" / "tea-house.png").read_bytes() == b"mine"  # a picture is never replaced
    checked = run("check", "tea.story", cwd=tmp_path)
    assert "error[SB302]" in checked.stderr and checked.stderr.count("error[") == 1  # only "mine" is no picture


def test_cli_import_to_stdout_and_into_another_folder(tmp_path: Path):
    (tmp_path / "tea.fountain").write_text(SCRIPT, encoding="utf-8")
    proc = run("import", "tea.fountain", "-o", "-", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.startswith("# Imported from the screenplay tea.fountain")
    assert list(tmp_path.iterdir()) == [tmp_path / "tea.fountain"]
    assert run("import", "tea.fountain", "-o", "-", "--placeholders", cwd=tmp_path).returncode == 2
    (tmp_path / "film").mkdir()
    made = run("import", "tea.fountain", "-o", "film/tea.story", "--placeholders", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert sorted(str(p.relative_to(tmp_path / "film")) for p in (tmp_path / "film").rglob("*.png")) == \
        ["cast/owner.png", "places/tea-house.png"]
    checked = run("check", "film/tea.story", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr


def test_cli_refuses_to_replace_the_screenplay(tmp_path: Path):
    (tmp_path / "tea.story").write_text(SCRIPT, encoding="utf-8")
    proc = run("import", "tea.story", cwd=tmp_path)
    assert proc.returncode == 2 and "would replace the screenplay" in proc.stderr
    assert run("import", ".", cwd=tmp_path).stderr == "storyboard: .: is a directory, not a Fountain screenplay\n"
    (tmp_path / "s.fountain").write_text(SCRIPT, encoding="utf-8")
    assert run("import", "s.fountain", "-o", ".", cwd=tmp_path).stderr == \
        "storyboard: .: is a folder; name the story to write in it, e.g. -o s.story\n"


MALFORMED = {
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "error[SB050]", "bad.fountain:3:1:"),
    "empty": (b"", "error[SB052]: the screenplay is empty", "bad.fountain:1:1:"),
    "blank": (b"\n\n   \n", "error[SB052]: the screenplay is empty", "bad.fountain:1:1:"),
    "latin-1": (b"INT. CAF\xc9 - DAY\n\nHello.\n", "error[SB034]: not UTF-8 text: byte 0xC9", "bad.fountain:1:9:"),
    "title page only": (b"Title: Only Me\nAuthor: X\n", "a title page but no scenes", "bad.fountain:1:1:"),
    "notes only": (b"[[a note]]\n\n===\n\n/* cut */\n", "only notes, boneyard or page breaks", "bad.fountain:1:1:"),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_malformed_input_is_one_clear_error(tmp_path: Path, case: str):
    data, message, where = MALFORMED[case]
    (tmp_path / "bad.fountain").write_bytes(data)
    with pytest.raises(ScriptError) as caught:
        import_script(tmp_path / "bad.fountain", "bad.fountain")
    text = render(caught.value.diagnostics, {"bad.fountain": caught.value.source})
    assert message in text and text.startswith(where)
    assert "^" in text and "hint:" in text
    assert not (tmp_path / "bad.story").exists()


def test_malformed_input_through_the_cli(tmp_path: Path):
    (tmp_path / "big.fountain").write_bytes(b"Title: Big\n\n" + b"INT. A - DAY\n\nRain.\n\n" * (5 * 1024 * 1024 // 21))
    proc = run("import", "big.fountain", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("big.fountain:1:1: error[SB051]: the screenplay is 5.0 MB, more than the 1.0 MB")
    assert not (tmp_path / "big.story").exists()
    (tmp_path / "bin.fountain").write_bytes(bytes(range(256)))
    binary = run("import", "bin.fountain", cwd=tmp_path)
    assert binary.returncode == 1 and "error[SB050]" in binary.stderr and binary.stderr.startswith("bin.fountain:1:1")


def test_the_size_limit_is_the_bytes(tmp_path: Path, monkeypatch):
    import storyboard.fountain as fountain

    monkeypatch.setattr(fountain, "MAX_SCRIPT_BYTES", 100)
    path = tmp_path / "edge.fountain"
    path.write_bytes(b"INT. A - DAY\n\n" + b"x" * 86)
    import_script(path, "edge.fountain")  # exactly at the limit: read
    path.write_bytes(b"INT. A - DAY\n\n" + b"x" * 87)
    with pytest.raises(ScriptError, match="more than"):
        import_script(path, "edge.fountain")


def test_very_long_words_still_make_prompts_the_provider_takes(tmp_path: Path):
    out = story_of("INT. A - DAY\n\n" + "x" * 20_000 + " and " + "y" * 5_000 + ".\n\nBOB\n" + "z" * 4_000 + "\n")
    assert len(_clips(out)) >= (25_000 + 4_000) // 1800
    assert "more text than one prompt can hold" in out
    check_only_missing_pictures(tmp_path, out)


def test_unclosed_boneyard_and_note_are_warnings(tmp_path: Path):
    path = tmp_path / "open.fountain"
    path.write_text("INT. A - DAY\n\nHello [[ a note\n\nEXT. B - DAY\n\nBye.\n\n  /* the rest\n\nINT. C - DAY\n",
                    encoding="utf-8")
    made = import_script(path, "open.fountain")
    text = render(made.warnings, {"open.fountain": made.source})
    assert "open.fountain:3:7: warning[SB053]: `[[` is never closed, so the note is imported as text" in text
    assert "open.fountain:9:3: warning[SB053]: `/*` is never closed" in text
    assert "c" not in [c.name for c in _clips(made.text)]


def test_utf16_and_bom_and_crlf(tmp_path: Path):
    path = tmp_path / "wide.fountain"
    path.write_bytes(SCRIPT.replace("\n", "\r\n").encode("utf-16"))
    assert "@Owner (smiling): \"Sit down.\"" in import_script(path, "wide.fountain").text
    path.write_bytes(b"\xef\xbb\xbf" + SCRIPT.encode("utf-8"))
    assert "title: Tea\n" in import_script(path, "wide.fountain").text


def test_non_ascii_cues_are_dialogue():
    """fountain-py reads a cue in non-ASCII capitals as action; the fix-up makes it dialogue."""
    out = story_of("INT. CAFÉ - DAY\n\nZOË (O.S.) (CONT'D)\n(softly)\nBonjour.\nÇa va?\n\nBOB (V.O.) (CONT'D)\nHi.\n")
    lines = [(d.speaker, d.how, d.line) for c in _clips(out) for d in c.body if isinstance(d, Dialogue)]
    assert lines == [("Zoe", "off-screen, softly", "Bonjour. Ça va?"), ("Bob", "voice-over", "Hi.")]


# ---- anything a writer might write ---------------------------------------------------------------------

_CUES = ["BOB", "MARY O'NEIL", "ZOË", "DR. NO", "CUT", "23 SKIDOO", "王", "@mcClane", "ANN (V.O.)", "ANN (CONT'D)",
         "BOB ^", "SHOT"]
_WORDS = ["Bob", "BOB", "rain", "camera:", "shot:", "@Bob:", '"', "#", "@", "[[x]]", "*bold*", "_u_", "cut",
          "continue", "(", ")", "~", "Mary O'Neil", "雨", "Zoë", "...", "-", "shot 4s:", "sound:"]
_HEADINGS = ["INT. HOUSE - DAY", "EXT. HOUSE - NIGHT", ".FLASHBACK", "INT./EXT. CAR - MOVING", "EXT. SHOT - DAY",
             "INT. CAFÉ ÉLODIE - DAWN #3A#", "EST. CITY", "INT. 221B BAKER STREET - DAY", "INT. 家 - DAY"]
_TRANSITIONS = ["CUT TO:", "DISSOLVE TO:", "FADE OUT.", "> WIPE TO:", "FADE IN:", "SMASH CUT TO:"]

_sentence = st.lists(st.sampled_from(_WORDS), min_size=1, max_size=12).map(" ".join)
_block = st.one_of(
    st.sampled_from(_HEADINGS),
    _sentence,
    st.builds(lambda cue, how, line: f"{cue}\n{how}{line}", st.sampled_from(_CUES),
              st.sampled_from(["", "(quietly)\n", "(a (b) c)\n"]), _sentence),
    st.sampled_from(_TRANSITIONS),
    st.sampled_from(["# ACT ONE", "## Sequence", "= a synopsis", "===", "> CENTERED <", "~la la la", "/* cut */"]),
    st.lists(_sentence, min_size=2, max_size=3).map("\n".join),
)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blocks=st.lists(_block, min_size=1, max_size=14), title=st.sampled_from(["", "Title: A *b* #1\n\n"]))
def test_any_screenplay_imports_to_a_story_that_checks(tmp_path: Path, blocks: list[str], title: str):
    text = title + "\n\n".join(blocks) + "\n"
    try:
        made = draft(text, "any.fountain", "Any")
    except ScriptError as exc:
        assert exc.diagnostics[0].code == "SB052"  # only when there is nothing to import
        return
    assert format_source(made.text, "x.story")[0] == made.text
    missing = check_only_missing_pictures(tmp_path, made.text)
    assert sorted(missing) == sorted(p.path for p in made.pictures)
    assert all(4 <= c.seconds <= MAX_SECONDS for c in _clips(made.text))
