"""Title cards wherever a film's clips are: in the render report and `render --json` (drawn or
cached, with their files, cost 0, never sent), drawn by `export` when missing (or named as missing
with the reason), laid out by the checker at the very size they are drawn at, and a film of cards
only rendered under a paid provider without its key. Small films (320x180, 1-2 s cards) keep the
drawing quick."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storyboard import api, providers
from storyboard.api import check_file
from storyboard.compiler.requests import card_size
from storyboard.language.load import load

from render_helpers import cli, compile_story

CARD_FILM = """\
title: Cards Everywhere
size: 320x180

card opening 1s:
  text: Cards Everywhere

shot a 4s:
  A quiet street at dawn.

dissolve 0.5s

card later 1.5s:
  text: Three days later
"""


def story(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "film.story"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.slow
def test_render_json_lists_the_cards_drawn_then_cached_and_the_preview_provider_takes_a_card_first(tmp_path):
    path = story(tmp_path / "film", CARD_FILM)
    first = cli(["render", str(path), "--json"])
    assert first.exit_code == 0, first.output  # a card opening the film once broke the preview's edges
    data = json.loads(first.stdout)
    assert [(c["name"], c["status"]) for c in data["clips"]] == [("a", "rendered")]
    cards = {c["name"]: c for c in data["cards"]}
    assert [c["name"] for c in data["cards"]] == ["opening", "later"]  # film order
    assert {c["status"] for c in cards.values()} == {"drawn"}
    assert all(c["cost"] == 0.0 and c["job_id"] is None and Path(c["path"]).is_file() for c in cards.values())
    assert cards["later"]["seconds"] == 1.5 and cards["later"]["source"].endswith("film.story:12:1")
    assert data["film"] and Path(data["film"]).is_file()
    again = cli(["render", str(path)])
    assert again.exit_code == 0
    assert "1 cached in" in again.text and "title cards: 2 cached (on this machine, free)" in again.text


@pytest.mark.slow
def test_a_render_of_one_shot_leaves_cards_alone_and_a_card_asked_for_is_drawn(tmp_path):
    path = story(tmp_path / "film", CARD_FILM + "\nshot b 4s:\n  A river at night.\n")
    plan = compile_story(path, providers.get("preview"))
    only_shot = api.render(plan, providers.get("preview"), only=["a"])
    assert only_shot.film is None
    assert [(o.name, o.status, o.path) for o in only_shot.report.cards] == [
        ("opening", "not-requested", None), ("later", "not-requested", None)]
    only_card = api.render(plan, providers.get("preview"), only=["later"])
    statuses = {o.name: o.status for o in only_card.report.cards}
    assert statuses == {"opening": "not-requested", "later": "drawn"}
    assert only_card.report.cards[1].path.is_file() and only_card.film is None
    assert {o.name: o.status for o in only_card.report.outcomes} == {"a": "not-requested", "b": "not-requested"}


@pytest.mark.slow
def test_a_card_that_cannot_be_drawn_fails_in_the_report_and_stops_the_film(tmp_path, monkeypatch):
    from storyboard.cards import render as card_render

    path = story(tmp_path / "film", CARD_FILM)
    plan = compile_story(path, providers.get("preview"))

    def refuse(clip, base_dir, target):
        raise card_render.CardError(f"card {clip.name}: cannot write {target.name}: disk full")

    monkeypatch.setattr(card_render, "draw_card", refuse)
    result = api.render(plan, providers.get("preview"))
    assert result.film is None and "card opening: cannot write" in result.film_problem
    assert [(o.name, o.status) for o in result.report.cards] == [("opening", "failed"), ("later", "not-drawn")]
    assert "disk full" in result.report.cards[0].error


@pytest.mark.slow
def test_export_draws_the_cards_not_drawn_yet(tmp_path):
    path = story(tmp_path / "film", CARD_FILM)
    assert cli(["render", str(path)]).exit_code == 0
    cards = path.parent / ".storyboard" / "cards"
    for f in cards.glob("*.mp4"):
        f.unlink()  # a cache cleared, or a film rendered before its cards were written
    r = cli(["export", str(path), "--otio", str(tmp_path / "film.edl")])
    assert r.exit_code == 0, r.output
    assert "drew card opening on this machine" in r.text and "not drawn" not in r.text and "warning" not in r.text
    edl = (tmp_path / "film.edl").read_text()
    assert all(f"cards/{f.name}" in edl for f in cards.glob("*.mp4")) and len(list(cards.glob("*.mp4"))) == 2


def test_export_names_a_card_it_cannot_draw_and_why(tmp_path, monkeypatch):
    from storyboard.cards import render as card_render

    path = story(tmp_path / "film", CARD_FILM)

    def refuse(clip, base_dir, target):
        raise card_render.CardError(f"card {clip.name}: cannot read the card picture")

    monkeypatch.setattr(card_render, "draw_card", refuse)
    r = cli(["export", str(path), "--otio", str(tmp_path / "film.otio")])
    assert r.exit_code == 0
    assert ("warning: title card(s) not drawn: opening, later (card opening: cannot read the card picture; "
            "in the timeline as missing media)") in r.text
    assert "warning: not rendered yet: a " in r.text


@pytest.mark.slow
def test_a_film_of_cards_only_needs_no_key_under_a_paid_provider(tmp_path, monkeypatch):
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    path = story(tmp_path / "cards", "title: Only Cards\nsize: 320x180\n\ncard t 1s:\n  text: The End\n")
    r = cli(["render", str(path), "-p", "together", "--json"], {"TOGETHER_API_KEY": ""})
    assert r.exit_code == 0, r.output
    assert "TOGETHER_API_KEY" not in r.output
    data = json.loads(r.stdout)
    assert data["clips"] == [] and [c["status"] for c in data["cards"]] == ["drawn"] and Path(data["film"]).is_file()
    # one shot to generate: the key is asked for, before anything is drawn or sent
    mixed = story(tmp_path / "mixed", CARD_FILM)
    r = cli(["render", str(mixed), "-p", "together"], {"TOGETHER_API_KEY": ""})
    assert r.exit_code == 2 and "TOGETHER_API_KEY" in r.text
    assert not (mixed.parent / ".storyboard" / "cards").exists()


# ---- one size for a card: checked where it is drawn ----------------------------------------------

NARROW = """\
title: Narrow
resolution: 1080p

card opening 4s:
  text: The long and winding road that leads to the lighthouse at the end of the world

shot a 4s:
  A quiet street at dawn.
  size: 320x240

shot b 4s:
  A river at night.
  size: 320x240
"""


def test_a_card_is_checked_at_the_size_it_is_drawn_at(tmp_path):
    """The film's settings say 1920x1080, where the title fits in 3 lines; its clips are 320x240,
    so the card is drawn at 320x240, where it needs 4: the checker says so at that size."""
    path = story(tmp_path / "film", NARROW)
    provider = providers.get("preview")
    diags = check_file(path, provider).diagnostics
    (sb603,) = [d for d in diags if d.code == "SB603"]
    assert "320x240" in sb603.message and sb603.span.line == 5
    shorter = story(tmp_path / "fits", NARROW.replace(" at the end of the world", ""))
    plan = compile_story(shorter, provider)
    card = plan.clip("opening")
    assert (card.width, card.height) == (320, 240) == card_size(load(shorter), provider)


def test_a_film_of_cards_only_is_drawn_at_its_own_settings_and_drafts_smaller():
    provider = providers.get("together", api_key="sk-x")
    film = load_text("title: T\nratio: 9:16\n\ncard t:\n  text: Hi\n")
    assert card_size(film, provider) == provider.pixel_size("720p", "9:16")
    assert card_size(film, provider, "draft") == provider.pixel_size("480p", "9:16")


def load_text(text: str):
    import tempfile

    folder = Path(tempfile.mkdtemp())
    return load(story(folder, text))


@pytest.mark.parametrize("score", ["from opening to finale, fade 2s", ", loop", "to finale"])
def test_a_score_without_a_file_is_sb606_at_the_file_s_place(tmp_path, score):
    path = story(tmp_path / "film", f"score: {score}\n\nshot opening 4s:\n  A street.\n\nshot finale 4s:\n"
                 "  A river.\n")
    diags = check_file(path, providers.get("preview")).diagnostics
    assert [(d.code, d.span.column) for d in diags] == [("SB606", 8)]
    assert "write `score: music/theme.mp3`" in str(diags[0])
