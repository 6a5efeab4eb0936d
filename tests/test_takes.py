"""Takes, picks and draft tiers (issue 12): `takes: N` and `render --takes`, stable take seeds
(take 1 is the request it was before takes), the picks file (`<story>.picks.toml`), pinning,
`--draft`, the films' distinct names, and the money rules against the fake Together server:
every take created once, a pick re-renders only the clips made from it, a kill -9 resumes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from render_helpers import SOAK_KEY, TEST_POLL, cli, fast_cli, kill_after_first_create, sha256_file
from storyboard.api import compile_file
from storyboard.compiler.requests import derived_seed
from storyboard.picks import picks_path, read_picks
from storyboard.plan import played_clips, takes_of
from storyboard.providers import get

STORY = """title: Takes Film
{film}
shot opening 4s:
  A kitten naps on a sunny windowsill.
{opening}
shot second 4s:
  The kitten wakes up and yawns.

extend second 4s:
  The kitten stretches its paws.
"""


def write(folder: Path, film: str = "", opening: str = "", name: str = "takes.story") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(STORY.format(film=film, opening=opening), encoding="utf-8")
    return path


def plan_of(path: Path, provider: str = "together", **kw):
    result = compile_file(path, get(provider, api_key="sk-x") if provider == "together" else get(provider), **kw)
    assert result.ok, [str(d) for d in result.diagnostics]
    return result


# ---- language and seeds -------------------------------------------------------------------------

def test_take_1_is_the_request_of_a_story_without_takes_and_takes_have_stable_distinct_seeds(tmp_path):
    for film in ("", "seed: 42"):
        plain = plan_of(write(tmp_path / "plain", film)).plan
        taken = plan_of(write(tmp_path / "taken", film, "  takes: 3")).plan
        again = plan_of(write(tmp_path / "again", film, "  takes: 3")).plan
        assert plain.clip("opening").key == taken.clip("opening").key  # existing caches stay valid
        assert plain.clip("opening").request == taken.clip("opening").request
        takes = takes_of(taken, "opening")
        assert [t.take for t in takes] == [1, 2, 3] and [t.name for t in takes] == ["opening", "opening#2", "opening#3"]
        seeds = [t.request.get("seed") for t in takes]
        assert len(set(seeds[1:])) == 2 and None not in seeds[1:]
        assert seeds == [t.request.get("seed") for t in takes_of(again, "opening")]  # stable
        assert all(t.request["prompt"] == takes[0].request["prompt"] for t in takes)
        if film:
            assert seeds[0] == derived_seed(42, "opening")
        else:  # a seedless film's take 1 is sent without one, as before takes existed
            assert seeds[0] is None and takes[0].seed is None
        assert len(takes_of(taken, "second")) == 1


def test_a_film_setting_applies_to_every_clip_and_a_clip_overrides_it(tmp_path):
    plan = plan_of(write(tmp_path, "takes: 2", "  takes: 4")).plan
    assert {c.name: c.takes for c in played_clips(plan)} == {"opening": 4, "second": 2, "second+1": 2}
    # every take of the extension extends the played take of its source
    assert all(t.after == ["second"] for t in takes_of(plan, "second+1"))


def test_compile_json_carries_the_takes_and_a_plain_story_compiles_as_before(tmp_path):
    plain = plan_of(write(tmp_path / "p")).plan.to_json()
    assert '"take' not in plain and '"tier"' not in plain
    data = json.loads(plan_of(write(tmp_path / "t", "", "  takes: 2")).plan.to_json())
    second = [c for c in data["clips"] if c["name"] == "opening#2"][0]
    assert second["take"] == 2 and second["takes"] == 2 and second["take_of"] == "opening"
    assert second["seed"] == second["request"]["seed"]


@pytest.mark.parametrize("value, words", [("0", "between 1 and 8, not 0"), ("99", "between 1 and 8, not 99"),
                                          ("2.5", "a whole number of takes, not `2.5`")])
def test_bad_takes_are_errors_with_their_position(tmp_path, value, words):
    path = write(tmp_path, "", f"  takes: {value}")
    r = cli(["check", str(path)])
    assert r.exit_code == 1
    assert f"takes.story:5:10: error[SB107]: takes must be {words}" in r.text


def test_fmt_keeps_takes(tmp_path):
    path = tmp_path / "fmt.story"
    path.write_text("title: Takes Film\ntakes: 2\n\nshot opening 4s:\n  A kitten naps.\n  takes: 3\n", encoding="utf-8")
    r = cli(["fmt", "--check", str(path)])
    assert r.exit_code == 0, r.output


# ---- plan, tiers, money -----------------------------------------------------------------------------

def test_plan_shows_every_take_and_the_total_counts_them(tmp_path):
    path = write(tmp_path, "", "  takes: 3")
    r = cli(["plan", str(path), "-p", "together", "--json"], env={"TOGETHER_API_KEY": "sk-x"})
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    rows = [(c["clip"], c["take"], c["played"]) for c in data["clips"]]
    assert rows[:3] == [("opening", 1, True), ("opening", 2, False), ("opening", 3, False)]
    assert len(rows) == 5 and [c["estimated_cost_usd"] for c in data["clips"][:3]] == [0.64] * 3
    assert data["estimated_cost_usd"] == pytest.approx(sum(c["estimated_cost_usd"] for c in data["clips"]))
    table = cli(["plan", str(path), "-p", "together", "--takes", "2", "--shot", "second"],
                env={"TOGETHER_API_KEY": "sk-x"})
    assert "1/2 *" in table.stdout and "2/2" in table.stdout
    assert f"${data['estimated_cost_usd'] + 0.64:,.2f}" in table.stdout  # second's take 2 added


def test_draft_tier_is_480p_same_ratio_seeds_and_prompts_priced_at_480p(tmp_path):
    path = write(tmp_path, "ratio: 9:16", "  takes: 2")
    final = plan_of(path).plan
    draft = plan_of(path, tier="draft").plan
    assert draft.tier == "draft"
    shots = [(f.estimated_cost_usd, d.estimated_cost_usd) for f, d in zip(final.clips, draft.clips, strict=True)
             if f.kind == "shot"]
    assert shots == [(0.64, 0.28)] * 3  # 4 s at $0.16/s, at 480p $0.07/s
    assert draft.estimated_cost_usd < final.estimated_cost_usd / 2
    for f, d in zip(final.clips, draft.clips, strict=True):
        assert d.request["resolution"] == "480p" and d.request["ratio"] == f.request["ratio"] == "9:16"
        assert d.request["prompt"] == f.request["prompt"] and d.tier == "draft"
        assert d.request["seed"] == (f.request.get("seed") or d.seed) and d.seed is not None
    assert any("does not promise that a seed reproduces a draft" in w for w in draft.warnings)
    r = cli(["plan", str(path), "-p", "together", "--draft"], env={"TOGETHER_API_KEY": "sk-x"})
    assert "draft tier" in r.stdout and f"${draft.estimated_cost_usd:,.2f}" in r.stdout


def test_max_cost_counts_every_take(tmp_path):
    path = write(tmp_path, "", "  takes: 3")
    r = cli(["render", str(path), "-p", "together", "--base-url", "http://127.0.0.1:9", "--yes",
             "--max-cost", "1.5", "--shot", "opening"], env={"TOGETHER_API_KEY": "sk-x"})
    assert r.exit_code == 2 and "the estimate $1.92 for 3 clip(s) exceeds --max-cost $1.50" in r.text  # 3 x $0.64


# ---- picks file --------------------------------------------------------------------------------------

def test_a_hand_broken_picks_file_is_a_diagnostic_with_its_line_never_a_reset(tmp_path):
    path = write(tmp_path)
    picks = picks_path(path)
    assert picks.name == "takes.picks.toml"
    picks.write_text('[preview.opening]\ntake = 2\ntier = "final"\nsha256 = "x"\n', encoding="utf-8")
    r = cli(["render", str(path)])
    assert r.exit_code == 2
    assert "takes.picks.toml:1:1: error[SB621]" in r.text and "sha256 must be 64" not in r.text  # no key first
    assert "no `key`" in r.text
    picks.write_text('[preview.opening]\ntake = \n', encoding="utf-8")
    r = cli(["check", str(path)])
    assert "takes.picks.toml:2:8: error[SB621]: the picks file is not valid TOML" in r.text and "^" in r.output
    r = cli(["pick", str(path), "opening", "1"])
    assert r.exit_code == 2 and "not changed" in r.text
    assert picks.read_text(encoding="utf-8") == '[preview.opening]\ntake = \n'  # nothing lost


@pytest.mark.slow
def test_pick_errors_and_the_pick_of_a_vanished_clip_is_kept_with_a_warning(tmp_path):
    path = write(tmp_path, "", "  takes: 2")
    assert cli(["render", str(path)]).exit_code == 0
    for args, words in ((["nope", "1"], "no clip named 'nope'"), (["opening", "9"], "from 1 to 8, not 9"),
                        (["opening", "3"], "take 3 of opening has not been rendered"),
                        (["second", "0"], "from 1 to 8, not 0")):
        r = cli(["pick", str(path), *args])
        assert r.exit_code == 1 and words in r.text, r.output
    assert not picks_path(path).exists()
    r = cli(["pick", str(path), "opening", "2"])
    assert r.exit_code == 0, r.output
    pick = read_picks(path).of("preview")["opening"]
    assert pick.take == 2 and pick.tier == "final" and len(pick.sha256) == 64
    text = picks_path(path).read_text(encoding="utf-8")
    assert text.startswith("# The takes this film plays") and "[preview.opening]" in text
    path.write_text(path.read_text(encoding="utf-8").replace("shot opening", "shot dawn"), encoding="utf-8")
    r = cli(["check", str(path)])
    assert r.exit_code == 0 and "takes.picks.toml:4:1: warning[SB622]" in r.text
    assert "[preview.opening]" in picks_path(path).read_text(encoding="utf-8")  # kept
    assert cli(["unpick", str(path), "opening"]).exit_code == 0
    assert not picks_path(path).exists()
    r = cli(["unpick", str(path), "opening"])
    assert r.exit_code == 1 and "has no pick" in r.text


def _report(path: Path, *args: str) -> dict:
    r = cli(["render", str(path), "--json", *args])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def _rendered(report: dict) -> set[str]:
    return {c["name"] for c in report["clips"] if c["status"] == "rendered"}


@pytest.mark.slow
def test_picking_re_renders_exactly_the_dependants_and_a_pinned_take_survives_edits(tmp_path):
    path = write(tmp_path, "takes: 2")
    first = _report(path)
    assert _rendered(first) == {"opening", "opening#2", "second", "second#2", "second+1", "second+1#2"}
    assert first["film"].endswith("Takes Film.animatic.mp4")
    assert cli(["pick", str(path), "second", "2"]).exit_code == 0
    after_pick = _report(path)
    assert _rendered(after_pick) == {"second+1", "second+1#2"}  # made from the picked take
    listed = json.loads(cli(["takes", str(path), "second", "--json"]).stdout)["takes"]
    assert [(t["take"], t["picked"], t["played"], t["state"]) for t in listed] == [
        (1, False, False, "rendered"), (2, True, True, "rendered")]
    film = sha256_file(Path(after_pick["film"]))
    # pinned: a global edit that changes every prompt regenerates nothing picked
    assert cli(["pick", str(path), "opening", "2"]).exit_code == 0
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("title: Takes Film", "title: Takes Film\nstyle: film noir"), encoding="utf-8")
    r = cli(["check", str(path)])
    assert "takes.story:4:6: warning[SB623]: `opening` has changed since its take 2 (final) was picked" in r.text
    report = _report(path)
    assert sorted(d["message"].split("`")[1] for d in report["diagnostics"] if d["code"] == "SB623") == [
        "opening", "second"]
    assert _rendered(report) == {"second+1", "second+1#2"}  # the picked clips' takes are not regenerated
    assert sha256_file(Path(report["film"])) != film  # the unpicked clips follow the edit ...
    listed = json.loads(cli(["takes", str(path), "opening", "--json"]).stdout)["takes"]
    assert [(t["take"], t["pinned"]) for t in listed] == [(2, True)]  # ... the pinned one is kept
    r = cli(["render", str(path), "--repick", "opening", "--json"])
    assert "opening: pick released" in r.stderr
    assert {"opening", "opening#2"} <= _rendered(json.loads(r.stdout))


@pytest.mark.slow
def test_render_takes_adds_takes_to_chosen_clips_and_shot_renders_all_of_them(tmp_path):
    path = write(tmp_path)
    report = _report(path, "--shot", "opening", "--takes", "3")
    assert _rendered(report) == {"opening", "opening#2", "opening#3"}
    assert cli(["pick", str(path), "opening", "3"]).exit_code == 0  # a take the story does not list
    report = _report(path)
    assert "opening" in {c["name"] for c in report["clips"]} and "opening#2" not in _rendered(report)
    assert report["film"]
    r = cli(["render", str(path), "--takes", "9"])
    assert r.exit_code == 2 and "--takes must be a number of takes from 1 to 8" in r.text


@pytest.mark.slow
def test_preview_takes_look_different(tmp_path):
    import av
    import numpy as np

    path = write(tmp_path, "", "  takes: 2")
    _report(path, "--shot", "opening")
    rows = json.loads(cli(["takes", str(path), "opening", "--json"]).stdout)["takes"]

    def frame(file: str, at: float) -> np.ndarray:
        with av.open(file) as c:
            for i, f in enumerate(c.decode(video=0)):
                if i >= at * 24:
                    return f.to_ndarray(format="rgb24").astype(int)
        raise AssertionError("no frame")

    a, b = (frame(r["file"], 3.0) for r in rows)
    assert np.abs(a - b).mean() > 2.0  # another seed, another camera move


# ---- film names ---------------------------------------------------------------------------------------

def test_the_animatic_draft_and_final_films_have_distinct_names():
    from storyboard.names import film_stem

    names = {film_stem("Kit", p, t) for p in ("preview", "together") for t in ("final", "draft")}
    assert names == {"Kit.animatic", "Kit.animatic.draft", "Kit", "Kit.draft"}


# ---- against the fake Together server ---------------------------------------------------------------

class SeedCard:
    """A fake-server renderer: a solid colour from the prompt *and* the seed (takes differ), and a
    record of every body it rendered."""

    def __init__(self):
        self.bodies: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, body: dict, out: Path) -> None:
        import hashlib

        import imageio_ffmpeg

        with self.lock:
            self.bodies.append(body)
        colour = hashlib.sha256(f"{body.get('prompt')}|{body.get('seed')}".encode()).hexdigest()[:6]
        w, h = (160, 96) if body.get("resolution") != "480p" else (80, 48)
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
               f"color=c=0x{colour}:s={w}x{h}:r=24:d={body.get('seconds', '4')}", "-f", "lavfi", "-i",
               "anullsrc=r=48000:cl=stereo", "-c:a", "aac", "-t", str(body.get("seconds", "4")),
               "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-threads", "1", str(out)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)


def _centre(file: str, at: float) -> tuple[int, ...]:
    import av

    with av.open(file) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= at * 24:
                a = f.to_ndarray(format="rgb24")
                return tuple(int(v) for v in a[a.shape[0] // 2, a.shape[1] // 2])
    raise AssertionError("no frame")


def _near(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    return all(abs(x - y) <= 12 for x, y in zip(a, b, strict=True))


@pytest.mark.slow
def test_takes_on_the_fake_together_server(tmp_path, fake_together, monkeypatch):
    fast_cli(monkeypatch, poll=TEST_POLL)
    card = SeedCard()
    fake = fake_together(api_key=SOAK_KEY, latency=0.05, clip_size=None, renderer=card)
    env = {"TOGETHER_API_KEY": SOAK_KEY}
    path = write(tmp_path, "", "  takes: 1")
    base = ["-p", "together", "--base-url", fake.base_url, "--yes"]
    r = cli(["render", str(path), *base, "--shot", "opening", "--takes", "3"], env)
    assert r.exit_code == 0, r.output
    assert fake.stats()["creates"] == 3
    assert len({b.get("seed") for b in card.bodies}) == 3  # three jobs, three seeds
    assert cli(["render", str(path), *base, "--shot", "opening", "--takes", "3"], env).exit_code == 0
    assert fake.stats()["creates"] == 3  # re-running creates none
    r = cli(["render", str(path), *base], env)  # the rest of the film
    assert r.exit_code == 0, r.output
    film = r.stdout.strip()
    assert film.endswith("Takes Film.mp4") and fake.stats()["creates"] == 5
    takes = json.loads(cli(["takes", str(path), "opening", *base[:4], "--json"], env).stdout)["takes"]
    assert len(takes) == 1  # the story lists one take; takes 2 and 3 stay in the cache
    assert cli(["pick", str(path), "opening", "2", "-p", "together", "--base-url", fake.base_url], env).exit_code == 0
    creates = fake.stats()["creates"]
    r = cli(["render", str(path), *base], env)
    assert r.exit_code == 0, r.output
    # the picked take plays; only the clips made from it would render, and none are
    assert fake.stats()["creates"] == creates
    picked = read_picks(path).of("together")["opening"]
    cache_file = Path(path.parent / ".storyboard" / "cache")
    take2 = next(cache_file.rglob(f"{picked.key}.mp4"))
    assert _near(_centre(r.stdout.strip(), 1.0), _centre(str(take2), 1.0))
    # draft, pick a draft take, then final: the final request carries the draft's seed
    card.bodies.clear()
    r = cli(["render", str(path), *base, "--draft", "--shot", "second", "--takes", "2"], env)
    assert r.exit_code == 0, r.output
    drafts = {b["seed"]: b for b in card.bodies}
    assert all(b["resolution"] == "480p" for b in card.bodies) and len(drafts) == 2  # the two takes of second
    assert cli(["pick", str(path), "second", "2", "-p", "together", "--base-url", fake.base_url], env).exit_code == 0
    assert read_picks(path).of("together")["second"].tier == "draft"
    card.bodies.clear()
    r = cli(["render", str(path), *base], env)
    assert r.exit_code == 0, r.output
    finals = [b for b in card.bodies if b["prompt"] == drafts[read_picks(path).of("together")["second"].seed]["prompt"]]
    assert finals and finals[0]["resolution"] == "720p"
    assert finals[0]["seed"] == read_picks(path).of("together")["second"].seed
    assert "does not promise that a seed reproduces a draft" in r.stderr


@pytest.mark.slow
def test_a_takes_render_killed_mid_create_resumes_without_a_second_create(tmp_path, fake_together):
    fake = fake_together(api_key=SOAK_KEY, latency=0.05, clip_size=(64, 36), create_delay=30)
    path = write(tmp_path, "", "  takes: 3")
    env = {**os.environ, "TOGETHER_API_KEY": SOAK_KEY}
    args = [sys.executable, "-m", "storyboard", "render", str(path), "-p", "together", "--base-url", fake.base_url,
            "--yes", "-j", "1", "--shot", "opening"]
    kill_after_first_create(args, env, fake)
    assert fake.stats()["creates"] == 1
    fake.set_faults(create_delay=0)
    # the user's recovery: the one in-doubt take is looked up on the dashboard and adopted
    first = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    # the other two takes are other generations: made now; the one in doubt is not sent again
    assert first.returncode == 3 and "in doubt" in first.stderr and fake.stats()["creates"] == 3
    in_doubt = re.findall(r"error: clip (\S+) in-doubt", first.stderr)
    assert len(in_doubt) == 1 and in_doubt[0].startswith("opening"), first.stderr
    job = min(fake.stats()["jobs"], key=lambda j: j["created_at"])["id"]
    adopt = subprocess.run(args[:-2] + ["--adopt", f"{in_doubt[0]}={job}"], env=env, capture_output=True, text=True)
    assert adopt.returncode == 0, adopt.stderr
    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert fake.stats()["creates"] == 3  # each take created exactly once


@pytest.mark.slow
def test_a_pinned_take_whose_file_is_gone_is_never_generated_from_the_new_request(tmp_path):
    path = write(tmp_path)
    _report(path, "--shot", "opening")
    assert cli(["pick", str(path), "opening", "1"]).exit_code == 0
    pick = read_picks(path).of("preview")["opening"]
    path.write_text(path.read_text(encoding="utf-8").replace("sunny", "rainy"), encoding="utf-8")
    next((tmp_path / ".storyboard" / "cache").rglob(f"{pick.key}.mp4")).unlink()
    r = cli(["render", str(path), "--shot", "opening", "--resubmit-in-doubt"])
    assert r.exit_code == 3 and "from an older version of the clip and its file is not in the cache" in r.text
    assert "nothing was generated" in r.text
    assert not list((tmp_path / ".storyboard" / "cache").rglob(f"{pick.key}.mp4"))
