"""Looking and choosing (issue 12): every take of a clip side by side on the storyboard page
(player, poster, seed, tier, cost), the played take marked, the exact command that picks another;
the takes sheet (one row per clip, one column per take); the bundle carrying every take; and the
played take's number and seed in the OTIO, EDL and FCP XML exports."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

from render_helpers import cli
from storyboard.picks import read_picks
from storyboard.present import page as page_mod
from takes_page_helpers import copy_film, render_takes_film


# Every test but one looks at the film the module renders (ffmpeg, PyAV): all of them are slow.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    return render_takes_film(tmp_path_factory.mktemp("takes-page") / "film")


class Takes(HTMLParser):
    """The page's take figures: {clip: [{take, classes, status, video, poster, buttons, commands}]}."""

    def __init__(self, html: str):
        super().__init__()
        self.takes: dict[str, list[dict]] = {}
        self.current: dict | None = None
        self.in_code = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "figure" and "take" in (a.get("class") or "").split():
            self.current = {"take": int(a["data-take"]), "classes": a["class"].split(), "status": a["data-status"],
                            "video": None, "poster": None, "buttons": [], "commands": [], "text": ""}
            self.takes.setdefault(a["data-clip"], []).append(self.current)
        elif self.current is not None and tag == "video":
            self.current["video"], self.current["poster"] = a.get("src"), a.get("poster")
        elif self.current is not None and tag == "button":
            self.current["buttons"].append((a.get("data-action"), a.get("data-take")))
        elif self.current is not None and tag == "code":
            self.in_code = True
            self.current["commands"].append("")

    def handle_endtag(self, tag):
        if tag == "figure":
            self.current = None
        elif tag == "code":
            self.in_code = False

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"] += data
            if self.in_code:
                self.current["commands"][-1] += data


def _preview(path: Path, *extra: str) -> Path:
    r = cli(["preview", str(path), *extra])
    assert r.exit_code == 0, r.output
    return Path(r.stdout.strip().splitlines()[-1])


def _seeds(path: Path, clip: str) -> dict[int, int | None]:
    rows = json.loads(cli(["takes", str(path), clip, "--json"]).stdout)["takes"]
    return {r["take"]: r["seed"] for r in rows}


def test_the_page_shows_every_take_side_by_side_with_its_seed_and_the_command_to_pick_it(rendered):
    page = _preview(rendered)
    html = page.read_text(encoding="utf-8")
    takes = Takes(html).takes
    assert {clip: [t["take"] for t in ts] for clip, ts in takes.items()} == {
        "opening": [1, 2, 3], "second": [1, 2], "second+1": [1, 2]}
    seeds = _seeds(rendered, "opening")
    for t in takes["opening"]:
        assert t["status"] == "cached" and t["video"].startswith("../.storyboard/cache/"), t
        assert t["poster"].startswith("posters/") and (page.parent / t["poster"]).is_file()
        assert f"seed {seeds[t['take']]}" in " ".join(t["text"].split()) and "final" in t["text"]
        assert "est. $0.00" in t["text"]
        assert t["commands"] == [f"storyboard pick takes.story opening {t['take']} -p preview"]
        assert t["buttons"] == []  # a page opened from the file has commands, no buttons ...
    assert "<script" not in html  # ... and no script at all
    # take 1 plays until one is picked: marked, and every take's player is its own file
    assert [("plays" in t["classes"], "picked" in t["classes"]) for t in takes["opening"]] == [
        (True, False), (False, False), (False, False)]
    assert len({t["video"] for ts in takes.values() for t in ts}) == 7
    assert len(re.findall(r'<li class="card [^"]*has-takes', html)) == 3
    assert 'href="takes-sheet.png"' in html


def test_a_picked_take_is_marked_with_the_command_that_drops_it(rendered, tmp_path):
    path = copy_film(rendered, tmp_path / "film")
    assert cli(["pick", str(path), "opening", "3"]).exit_code == 0
    takes = Takes(_preview(path).read_text(encoding="utf-8")).takes["opening"]
    assert [("plays" in t["classes"], "picked" in t["classes"]) for t in takes] == [
        (False, False), (False, False), (True, True)]
    assert takes[2]["commands"] == ["storyboard unpick takes.story opening -p preview"]
    assert "picked" in takes[2]["text"]
    assert takes[0]["commands"] == ["storyboard pick takes.story opening 1 -p preview"]


def test_takes_rendered_beyond_the_story_show_and_travel_in_the_bundle(rendered, tmp_path):
    path = copy_film(rendered, tmp_path / "film")
    r = cli(["render", str(path), "--shot", "second", "--takes", "4"])
    assert r.exit_code == 0, r.output
    page = _preview(path, "--bundle", str(tmp_path / "share"))
    takes = Takes(page.read_text(encoding="utf-8")).takes
    assert [t["take"] for t in takes["second"]] == [1, 2, 3, 4]  # the story lists 2
    bundle_clips = sorted(p.name for p in (tmp_path / "share" / "clips").iterdir())
    assert len(bundle_clips) == 3 + 4 + 2
    for t in (t for ts in takes.values() for t in ts):
        assert t["video"].startswith("clips/") and (tmp_path / "share" / t["video"]).is_file(), t


def test_a_film_without_takes_has_no_takes_row_and_no_takes_sheet(tmp_path):
    path = tmp_path / "plain.story"
    path.write_text("title: Plain\nsize: 320x180\n\nshot one 4s:\n  A field.\n", encoding="utf-8")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "takes-sheet.png").write_bytes(b"old")  # an old sheet does not linger
    html = _preview(path).read_text(encoding="utf-8")
    assert not re.search(r'<li class="card [^"]*has-takes', html)
    assert 'class="take' not in html and "takes-sheet" not in html
    assert not (tmp_path / "build" / "takes-sheet.png").exists()


def test_the_takes_sheet_has_a_row_per_clip_and_a_column_per_take_the_played_one_framed(rendered, tmp_path):
    from PIL import Image

    path = copy_film(rendered, tmp_path / "film")
    assert cli(["pick", str(path), "second", "2"]).exit_code == 0
    _preview(path)
    with Image.open(path.parent / "build" / "takes-sheet.png") as im:
        sheet = im.convert("RGB")
    tw, th = page_mod.SHEET_TILE
    rows, cols = 3, 3
    assert sheet.size == (2 * page_mod.SHEET_MARGIN + page_mod.TAKES_LABEL_W + cols * (tw + page_mod.SHEET_GAP),
                          page_mod.SHEET_HEADER + 2 * page_mod.SHEET_MARGIN
                          + rows * (th + page_mod.SHEET_LABEL + page_mod.SHEET_GAP))

    def tile(row: int, col: int) -> tuple[int, int]:
        return (page_mod.SHEET_MARGIN + page_mod.TAKES_LABEL_W + col * (tw + page_mod.SHEET_GAP),
                page_mod.SHEET_HEADER + page_mod.SHEET_MARGIN + row * (th + page_mod.SHEET_LABEL + page_mod.SHEET_GAP))

    def framed(row: int, col: int) -> bool:
        x, y = tile(row, col)
        return sheet.getpixel((x - 2, y + th // 2)) == page_mod.TAKE_MARK

    def blank(row: int, col: int) -> bool:
        x, y = tile(row, col)
        return sheet.getpixel((x + tw // 2, y + th // 2)) == page_mod.SHEET_BG

    assert [framed(0, c) for c in range(3)] == [True, False, False]  # opening: take 1 plays
    assert [framed(1, c) for c in range(2)] == [False, True]  # second: take 2 is picked
    assert blank(1, 2) and blank(2, 2) and not blank(0, 2)  # two takes: no third column
    centres = [sheet.getpixel((tile(0, c)[0] + tw // 2, tile(0, c)[1] + th // 2 + 40)) for c in range(3)]
    assert len(set(centres)) == 3  # three takes, three pictures


def test_exports_carry_the_played_take_and_its_seed(rendered, tmp_path):
    path = copy_film(rendered, tmp_path / "film")
    assert cli(["pick", str(path), "opening", "2"]).exit_code == 0
    seed = read_picks(path).of("preview")["opening"].seed
    second_seed = _seeds(path, "second")[1]
    out = {}
    for suffix in ("otio", "edl", "xml"):
        r = cli(["export", str(path), "--otio", str(tmp_path / f"cut.{suffix}")])
        assert r.exit_code == 0, r.output
        out[suffix] = (tmp_path / f"cut.{suffix}").read_text(encoding="utf-8")

    import opentimelineio as otio

    timeline = otio.adapters.read_from_string(out["otio"], "otio_json")
    meta = {c.name: c.metadata["storyboard"] for c in timeline.tracks[0].find_clips()}
    assert (meta["opening"]["take"], meta["opening"]["takes"], meta["opening"]["seed"]) == (2, 3, seed)
    assert (meta["second"]["take"], meta["second"]["seed"]) == (1, second_seed)

    events = re.split(r"\n(?=\d{3}  )", out["edl"])
    opening = next(e for e in events if "* FROM CLIP NAME:  opening\n" in e)
    assert f"* TAKE: 2 OF 3\n* SEED: {seed}" in opening
    second = next(e for e in events if "* FROM CLIP NAME:  second\n" in e)
    assert f"* TAKE: 1 OF 2\n* SEED: {second_seed}" in second
    # an editor's EDL reader keeps them as the clip's comments
    read = otio.adapters.read_from_string(out["edl"], "cmx_3600")
    assert read.tracks[0][0].metadata["cmx_3600"]["comments"][-2:] == ["TAKE: 2 OF 3", f"SEED: {seed}"]

    items = {i.findtext("name"): i for i in ET.fromstring(out["xml"]).iter("clipitem")}
    assert items["opening"].findtext("comments/mastercomment1") == "take 2 of 3"
    assert items["opening"].findtext("comments/mastercomment2") == f"seed {seed}"
    assert items["second+1"].findtext("comments/mastercomment1") == "take 1 of 2"
